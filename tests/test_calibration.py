"""POST /api/calibration: a device's delay from a learner moving on clicks."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.rhythm_fixtures import dancer, music_beats
from tests.server_fixtures import client, settings, state

__all__ = ["client", "settings", "state"]  # pytest fixtures this module uses


def body(delay_s: float, seed: int = 0, clicks: int = 16) -> dict[str, object]:
    played = music_beats(100.0, clicks, first_s=1.0)
    seq = dancer(played + delay_s, np.random.default_rng(seed))
    frames = []
    for i in range(len(seq)):
        landmarks = None
        if seq.present[i]:
            landmarks = np.concatenate([seq.image_xyz[i], seq.visibility[i][:, None]],
                                       axis=1).tolist()
        frames.append({"capture_ms": 1000 * float(seq.t[i]), "landmarks": landmarks})
    return {"image": {"width": 720, "height": 720}, "frames": frames,
            "clicks_ms": (1000 * played).tolist()}


@pytest.mark.parametrize("delay_ms", [60, 150, 240])
def test_the_delay_of_a_device_is_measured_within_20_ms(client: TestClient,
                                                         delay_ms: int) -> None:
    answer = client.post("/api/calibration", json=body(delay_ms / 1000))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["delay_ms"] == pytest.approx(delay_ms, abs=20)
    assert result["answered"] >= 12 and result["clicks"] == 16


def test_a_learner_who_did_not_move_gets_one_sentence(client: TestClient) -> None:
    still = body(0.1)
    first = still["frames"][0]["landmarks"]  # type: ignore[index]
    for frame in still["frames"]:  # type: ignore[attr-defined]
        frame["landmarks"] = first
    answer = client.post("/api/calibration", json=still)
    assert answer.status_code == 422
    assert "clicks were answered by a movement" in answer.json()["detail"]
