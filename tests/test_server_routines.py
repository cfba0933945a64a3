"""Routines over the API: an instructor makes, changes and deletes them; a routine naming a
missing step is refused with one sentence, and nothing is written."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.server.settings import Settings
from tests.server_fixtures import AUTH, client, library_files, settings, state

__all__ = ["client", "settings", "state"]  # pytest fixtures this module uses

ROUTINE = {"title": "The eagle's hunt", "description": "Scan, swoop, talons.",
           "steps": [{"step": "scanning", "repeat": 2}, {"step": "swoop"},
                     {"step": "talons"}], "transition_s": 0.4}


def test_an_instructor_makes_a_routine_that_is_listed_and_danced(client: TestClient) -> None:
    made = client.put("/api/routines/eagle-hunt", headers=AUTH, json=ROUTINE)
    assert made.status_code == 200, made.text
    assert made.json()["steps"] == ["scanning", "swoop", "talons"]
    listed = {r["name"]: r for r in client.get("/api/routines").json()}
    assert listed["eagle-hunt"]["repeats"] == [2, 1, 1]
    detail = client.get("/api/routines/eagle-hunt").json()
    assert [s["name"] for s in detail["steps"]] == ["scanning", "scanning 2", "swoop", "talons"]
    assert detail["title"] == "The eagle's hunt" and len(detail["ghost"]["xy"]) == detail["frames"]

    changed = client.put("/api/routines/eagle-hunt", headers=AUTH,
                         json={**ROUTINE, "steps": [{"step": "swoop"}]})
    assert changed.json()["steps"] == ["swoop"]
    assert client.delete("/api/routines/eagle-hunt", headers=AUTH).status_code == 204
    assert "eagle-hunt" not in {r["name"] for r in client.get("/api/routines").json()}
    assert client.delete("/api/routines/eagle-hunt", headers=AUTH).status_code == 404


def test_a_routine_naming_a_missing_step_or_without_the_token_changes_nothing(
    client: TestClient, settings: Settings
) -> None:
    before = library_files(settings.poses_dir)
    missing = client.put("/api/routines/eagle-hunt", headers=AUTH,
                         json={**ROUTINE, "steps": [{"step": "moonwalk"}]})
    assert missing.status_code == 422
    detail = missing.json()["detail"]
    assert "moonwalk" in detail and "\n" not in detail
    assert client.put("/api/routines/eagle-hunt", json=ROUTINE).status_code == 401
    assert client.delete("/api/routines/burkit-bi").status_code == 401
    assert library_files(settings.poses_dir) == before
