"""Scoring an uploaded pose file or video as a background job with progress."""

from __future__ import annotations

import json
import logging
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.routine import Target
from app.server.settings import Settings
from tests.conftest import clip
from tests.server_fixtures import client, settings, state

__all__ = ["client", "settings", "state"]  # pytest fixtures this module uses


def uploads() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("dance-tutor-upload-*"))


def wait_for(client: TestClient, job_id: str, timeout_s: float = 120.0) -> list[dict[str, Any]]:
    """Poll the job until it finishes; every answer seen."""
    seen = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = client.get(f"/api/jobs/{job_id}")
        assert response.status_code == 200
        seen.append(response.json())
        if seen[-1]["status"] in ("done", "failed"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {seen[-1]}")


def submit(client: TestClient, name: str, data: bytes, reference: str,
           **form: str) -> dict[str, Any]:
    response = client.post("/api/jobs", files={"file": (name, data)},
                           data={"reference": reference, **form})
    assert response.status_code == 202, response.text
    job: dict[str, Any] = response.json()
    assert job["status"] in ("queued", "running")
    return job


def test_a_pose_file_scored_against_its_own_reference_scores_high(
    client: TestClient, settings: Settings
) -> None:
    before = uploads()
    data = (settings.poses_dir / "wing-beat.pose.json").read_bytes()
    job = submit(client, "my-attempt.pose.json", data, "wing-beat", mirror="false")
    final = wait_for(client, job["id"])[-1]
    assert final["status"] == "done", final["error"]
    assert final["progress"] == 1.0
    assert final["result"]["reference"] == "wing-beat"
    assert final["result"]["score"] >= 90
    assert final["label"] == "my-attempt.pose.json against wing-beat"
    assert uploads() - before == set()


def test_the_openapi_schema_shows_the_report_a_job_returns(
    client: TestClient, settings: Settings
) -> None:
    data = (settings.poses_dir / "wing-beat.pose.json").read_bytes()
    report = wait_for(client, submit(client, "a.pose.json", data, "wing-beat")["id"])[-1]["result"]
    schema = client.get("/openapi.json").json()
    models = schema["components"]["schemas"]
    answer = schema["paths"]["/api/jobs/{job_id}"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/JobPublic"}
    assert {"$ref": "#/components/schemas/Report"} in models["JobPublic"]["properties"][
        "result"]["anyOf"]

    def fields(name: str) -> set[str]:
        assert models[name]["additionalProperties"] is False
        return set(models[name]["properties"])

    assert fields("Report") == set(report) >= {"score", "rating", "limbs", "timing", "steps",
                                                "worst_moments", "coverage", "space"}
    assert fields("TimingReport") == set(report["timing"])
    assert fields("StepReport") == set(report["steps"][0])
    assert fields("MomentReport") >= {"start_s", "limb", "score", "error"}
    limbs = models["Report"]["properties"]["limbs"]
    assert limbs["propertyNames"] == {"$ref": "#/components/schemas/Limb"}
    assert set(report["limbs"]) <= set(models["Limb"]["enum"])
    assert models["Report"]["properties"]["space"]["enum"] == ["world", "image"]


@pytest.mark.model
def test_a_video_is_extracted_then_scored_with_progress(client: TestClient) -> None:
    job = submit(client, "arms.mp4", clip("tfjs_pose_1.mp4").read_bytes(), "wing-spread")
    seen = wait_for(client, job["id"])
    final = seen[-1]
    assert final["status"] == "done", final["error"]
    assert 0 <= final["result"]["score"] <= 100
    progress = [answer["progress"] for answer in seen]
    assert progress == sorted(progress)


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("attempt.pose.json", b'{"format": "other"}', "attempt.pose.json: format"),
        ("attempt.pose.json", b"\xff\xfe not text", "attempt.pose.json: is not UTF-8"),
        ("clip.mp4", b"this is not a video at all", "clip.mp4"),
    ],
)
def test_a_bad_upload_is_refused_at_once_with_one_sentence_naming_it(
    client: TestClient, name: str, data: bytes, words: str
) -> None:
    before = uploads()
    response = client.post("/api/jobs", files={"file": (name, data)},
                           data={"reference": "wing-beat"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert words in detail
    assert tempfile.gettempdir() not in detail
    assert "\n" not in detail
    assert uploads() - before == set()


def test_an_empty_upload_is_refused_at_once(client: TestClient) -> None:
    response = client.post("/api/jobs", files={"file": ("empty.mp4", b"")},
                           data={"reference": "wing-beat"})
    assert response.status_code == 422
    assert response.json()["detail"] == "empty.mp4: is empty (0 bytes)."


def test_an_unknown_reference_or_job_is_404(client: TestClient) -> None:
    response = client.post("/api/jobs", files={"file": ("a.pose.json", b"{}")},
                           data={"reference": "no-such-step"})
    assert response.status_code == 404
    assert client.get("/api/jobs/0123456789abcdef").status_code == 404


def test_an_attempt_showing_nobody_fails_its_job_with_that_sentence(
    client: TestClient, settings: Settings
) -> None:
    doc = json.loads((settings.poses_dir / "wing-beat.pose.json").read_text())
    for frame in doc["frames"]:
        frame["landmarks"] = frame["world"] = None
    job = submit(client, "empty-room.pose.json", json.dumps(doc).encode(), "wing-beat")
    final = wait_for(client, job["id"])[-1]
    assert final["status"] == "failed"
    assert final["error"] == "the attempt shows nobody: no frame has a pose"


def test_a_bug_in_a_job_is_logged_with_its_trace_and_not_blamed_on_the_upload(
    client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> object:
        raise IndexError(f"index 40 is out of bounds in {tempfile.gettempdir()}")

    monkeypatch.setattr(Target, "score", broken)
    before = uploads()
    data = (settings.poses_dir / "wing-beat.pose.json").read_bytes()
    with caplog.at_level(logging.ERROR, logger="app.server.tasks"):
        final = wait_for(client, submit(client, "mine.pose.json", data, "wing-beat")["id"])[-1]
    assert final["status"] == "failed"
    assert final["error"] == "The job failed inside the server; the log has the details."
    logged = [r for r in caplog.records if r.name == "app.server.tasks"]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "in broken" in "".join(traceback.format_exception(*logged[0].exc_info))
    assert uploads() - before == set()
