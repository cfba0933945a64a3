"""REST API of the step library, health, skeleton and the page, through FastAPI's TestClient."""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import recording, sequence
from app.landmarks import LIMB_LANDMARKS, Bone, Limb
from app.live import MASTERED_ROUNDS, MASTERED_SCORE, WARN_LIMB
from app.metadata import DIFFICULTIES
from app.report import RATINGS, rating
from app.scoring import GOOD_LIMB
from app.sequence import PoseSequence
from app.server.main import create_app
from app.server.settings import Settings
from app.server.state import ServerState, open_state
from tests.server_fixtures import (
    AUTH,
    TOKEN,
    client,
    library_files,
    make_settings,
    settings,
    state,
)

__all__ = ["client", "settings", "state"]  # pytest fixtures this module uses

STARTERS = {p.name.removesuffix(".pose.json")
            for p in (Path(__file__).resolve().parents[1] / "poses").glob("*.pose.json")}


def document(settings: Settings, name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((settings.poses_dir / f"{name}.pose.json").read_text())
    return doc


def test_list_shows_every_starter_step_with_its_metadata(client: TestClient) -> None:
    response = client.get("/api/references")
    assert response.status_code == 200
    steps = {item["name"]: item for item in response.json()}
    assert set(steps) == STARTERS
    wing = steps["wing-beat"]
    assert wing["title"] == "Wing beat"
    assert wing["difficulty"] in ("beginner", "intermediate", "advanced")
    assert wing["duration_s"] > 1
    assert wing["frames"] == round(wing["duration_s"] * wing["fps"])
    assert [s["name"] for s in wing["steps"]]


def test_get_carries_the_movement_for_the_ghost(client: TestClient, settings: Settings) -> None:
    detail = client.get("/api/references/wing-beat").json()
    seq = sequence.load(settings.poses_dir / "wing-beat.pose.json")
    ghost = detail["ghost"]
    assert len(ghost["xy"]) == len(ghost["t"]) == detail["frames"] == len(seq)
    assert ghost["aspect"] == pytest.approx(seq.aspect)
    first = ghost["xy"][0]
    assert len(first) == 66
    assert first[0] == pytest.approx(seq.image_xyz[0, 0, 0], abs=1e-4)
    assert first[1] == pytest.approx(seq.image_xyz[0, 0, 1], abs=1e-4)


def test_get_cuts_each_step_into_frames_as_the_scorer_does(
    client: TestClient, settings: Settings
) -> None:
    detail = client.get("/api/references/wing-beat").json()
    seq = sequence.load(settings.poses_dir / "wing-beat.pose.json")
    assert [s["name"] for s in detail["step_frames"]] == [s["name"] for s in detail["steps"]]
    for step, frames in zip(seq.steps, detail["step_frames"], strict=True):
        assert (frames["start_frame"], frames["stop_frame"]) == seq.step_frames(step)
    assert detail["step_frames"][-1]["stop_frame"] == detail["frames"]


@pytest.mark.parametrize(
    ("name", "status"),
    [("nope", 404), ("Bad_Name", 422), ("a" * 65, 422), ("wing-beat%00", 422),
     ("..", 404), ("%2e%2e%2fwing-beat", 404), ("..%2Fsecret", 404)],
)
def test_unknown_invalid_or_escaping_names_are_refused(
    client: TestClient, settings: Settings, name: str, status: int
) -> None:
    response = client.get(f"/api/references/{name}")
    assert response.status_code == status
    assert str(settings.poses_dir) not in response.text


def test_an_unknown_reference_says_which_without_a_server_path(
    client: TestClient, settings: Settings
) -> None:
    response = client.get("/api/references/no-such-step")
    assert response.status_code == 404
    assert response.json() == {"detail": "There is no reference named 'no-such-step'."}
    assert str(settings.poses_dir) not in response.text


def test_a_bug_in_a_route_is_a_logged_500_not_the_clients_fault(
    settings: Settings, state: ServerState, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture
) -> None:
    def broken(seq: PoseSequence) -> object:
        raise ValueError(f"operands could not be broadcast in {settings.poses_dir}")

    monkeypatch.setattr(recording, "motion_speed", broken)
    body = {"name": "new-step", "sequence": document(settings, "wing-spread")}
    with (TestClient(create_app(settings, state), raise_server_exceptions=False) as client,
          caplog.at_level(logging.ERROR, logger="app.server.errors")):
        response = client.post("/api/references", json=body, headers=AUTH)
    assert response.status_code == 500
    assert response.json() == {
        "detail": "The server failed to handle this request; its log has the details."}
    logged = [r for r in caplog.records if r.name == "app.server.errors"]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "in broken" in "".join(traceback.format_exception(*logged[0].exc_info))
    assert not (settings.poses_dir / "new-step.pose.json").exists()


def _writes(settings: Settings) -> list[tuple[str, str, dict[str, Any] | None]]:
    take = {"sequence": document(settings, "wing-spread")}
    return [
        ("POST", "/api/references", {**take, "name": "new-step"}),
        ("PATCH", "/api/references/wing-beat", {"title": "Changed"}),
        ("DELETE", "/api/references/wing-beat", None),
        ("POST", "/api/references/wing-beat/takes", take),
    ]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"},
                                     {"X-Instructor-Token": TOKEN[:-1]},
                                     {"Authorization": f"Basic {TOKEN}"}])
def test_every_write_needs_the_token_and_changes_nothing_without_it(
    client: TestClient, settings: Settings, headers: dict[str, str]
) -> None:
    before = library_files(settings.poses_dir)
    for method, url, body in _writes(settings):
        response = client.request(method, url, json=body, headers=headers)
        assert response.status_code == 401, (method, url)
        assert response.headers["www-authenticate"] == "Bearer"
    assert library_files(settings.poses_dir) == before


def test_the_token_check_endpoint(client: TestClient) -> None:
    assert client.get("/api/instructor").status_code == 401
    assert client.get("/api/instructor", headers=AUTH).status_code == 204
    assert client.get("/api/instructor", headers={"X-Instructor-Token": TOKEN}).status_code == 204


def test_create_trims_splits_at_pauses_and_lists_the_new_step(
    client: TestClient, settings: Settings
) -> None:
    body = {"name": "my-wings", "title": "My wings", "difficulty": "beginner",
            "sequence": document(settings, "wing-beat"), "trim": {"start_s": 0.5, "end_s": 3.5}}
    response = client.post("/api/references", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    created = response.json()
    assert (created["name"], created["title"], created["difficulty"]) == (
        "my-wings", "My wings", "beginner")
    assert created["duration_s"] == pytest.approx(3.0, abs=0.05)
    stored = sequence.load(settings.poses_dir / "my-wings.pose.json")
    assert stored.name == "my-wings"
    assert len(stored) == created["frames"]
    assert "my-wings" in {r["name"] for r in client.get("/api/references").json()}
    again = client.post("/api/references", json=body, headers=AUTH)
    assert again.status_code == 409


def test_create_with_explicit_steps_keeps_them(client: TestClient, settings: Settings) -> None:
    body = {"name": "two-parts", "sequence": document(settings, "wing-spread"),
            "steps": [{"name": "open", "start_s": 0, "end_s": 1},
                      {"name": "hold", "start_s": 1, "end_s": 2}]}
    created = client.post("/api/references", json=body, headers=AUTH).json()
    assert [s["name"] for s in created["steps"]] == ["open", "hold"]
    assert created["title"] == "two-parts"
    # the request's metadata, not the teacher's fields of the document the take came in
    assert (created["description"], created["difficulty"], created["tempo_bpm"]) == ("", "", None)
    assert "order" not in document(settings, "two-parts")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"name": "Bad Name"}, "name"),
        ({"sequence": {"format": "something else"}}, "format"),
        ({"difficulty": "impossible"}, "difficulty"),
        ({"trim": {"start_s": 50, "end_s": 60}}, "no frames"),
        ({"steps": [{"name": "far", "start_s": 0, "end_s": 99}]}, "outside"),
    ],
)
def test_create_refuses_bad_input_with_one_sentence(
    client: TestClient, settings: Settings, change: dict[str, Any], expected: str
) -> None:
    body = {"name": "bad-one", "sequence": document(settings, "wing-spread"), **change}
    response = client.post("/api/references", json=body, headers=AUTH)
    assert response.status_code == 422
    assert expected in json.dumps(response.json()["detail"]).lower()
    assert not (settings.poses_dir / "bad-one.pose.json").exists()


def test_update_changes_metadata_only(client: TestClient, settings: Settings) -> None:
    before = sequence.load(settings.poses_dir / "wing-beat.pose.json")
    response = client.patch("/api/references/wing-beat", headers=AUTH,
                            json={"title": "Heavy wing beat", "difficulty": "advanced"})
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["difficulty"]) == (
        "Heavy wing beat", "advanced")
    after = sequence.load(settings.poses_dir / "wing-beat.pose.json")
    assert (after.image_xyz == before.image_xyz).all()
    bad = client.patch("/api/references/wing-beat", headers=AUTH, json={"difficulty": "x"})
    assert bad.status_code == 422


def test_add_take_then_delete(client: TestClient, settings: Settings) -> None:
    take = {"sequence": document(settings, "wing-beat"), "trim": {"end_s": 3.0}}
    response = client.post("/api/references/wing-beat/takes", json=take, headers=AUTH)
    assert response.status_code == 201, response.text
    assert response.json()["takes"] == 2
    assert client.post("/api/references/no-such/takes", json=take, headers=AUTH).status_code == 404
    assert client.delete("/api/references/wing-beat", headers=AUTH).status_code == 204
    assert client.get("/api/references/wing-beat").status_code == 404
    assert client.delete("/api/references/wing-beat", headers=AUTH).status_code == 404


def test_health_reports_the_library_and_limits(client: TestClient) -> None:
    health = client.get("/api/health").json()
    assert health["status"] == "ok"
    assert health["references"] == len(STARTERS)
    assert health["sessions"] == 0
    assert health["limits"]["max_camera_sessions"] >= 1
    assert health["model"].endswith(".task")


def test_skeleton_groups_every_bone_by_the_limb_holding_both_ends(client: TestClient) -> None:
    skeleton = client.get("/api/skeleton").json()
    assert len(skeleton["bones"]) == len(Bone)
    assert set(skeleton["limbs"]) == {limb.value for limb in Limb}
    for bone in skeleton["bones"]:
        members = LIMB_LANDMARKS[Limb(bone["limb"])]
        assert bone["start"] in members and bone["end"] in members


def test_config_gives_the_page_the_servers_own_thresholds_and_lists(client: TestClient) -> None:
    config = client.get("/api/config").json()
    assert config["states"] == {"good": GOOD_LIMB, "warn": WARN_LIMB}
    assert [(tier["name"], tier["min_score"]) for tier in config["ratings"]] == list(RATINGS)
    for tier in config["ratings"]:
        assert rating(tier["min_score"]) == tier["name"]
    assert config["mastered"] == {"score": MASTERED_SCORE, "rounds": MASTERED_ROUNDS}
    assert rating(config["mastered"]["score"]) == "Great"
    assert config["difficulties"] == list(DIFFICULTIES)


@pytest.mark.parametrize("path", ["/", "/js/main.js", "/api/health", "/api/references/nope"])
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    headers = client.get(path).headers
    csp = headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "camera=(self)" in headers["permissions-policy"]


def test_the_page_and_its_modules_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and '<script type="module" src="/js/main.js">' in page.text
    for module in ("main", "api", "config", "practice", "session", "skeleton", "summary",
                   "instructor"):
        response = client.get(f"/js/{module}.js")
        assert response.status_code == 200
        assert "javascript" in response.headers["content-type"]


def test_cors_is_closed_by_default(client: TestClient) -> None:
    response = client.get("/api/references", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_a_body_over_the_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_request_bytes=4096)
    with TestClient(create_app(settings, open_state(settings))) as small:
        response = small.post("/api/references", headers=AUTH,
                              json={"name": "big", "sequence": {"pad": "x" * 10_000}})
    assert response.status_code == 413
    assert not (settings.poses_dir / "big.pose.json").exists()


def test_the_openapi_schema_documents_both_directions(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    models = set(schema["components"]["schemas"])
    assert {"ReferencePublic", "ReferenceDetail", "ReferenceCreate", "ReferenceUpdate",
            "TakeCreate", "JobPublic", "HealthPublic"} <= models
    create = schema["paths"]["/api/references"]["post"]
    assert create["security"]
