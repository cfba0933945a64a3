"""The wire formats of /ws/practice that need no server: binary landmarks and updates."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from app.server.protocol import (
    LANDMARKS_FRAME_SIZES,
    LANDMARKS_HEADER,
    SERVER_MESSAGE,
    SESSION_MESSAGE,
    FrameCounts,
    FrameError,
    LivePayload,
    Update,
    landmarks_frame,
    read_landmarks_frame,
    update_json,
)


def pose_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((33, 4)), rng.normal(size=(33, 3))


def test_a_binary_frame_with_world_landmarks_reads_back_as_sent() -> None:
    landmarks, world = pose_arrays()
    data = landmarks_frame(7, 1234.5, (640, 480), landmarks, world)
    assert len(data) == LANDMARKS_FRAME_SIZES[2]
    seq, capture_ms, client = read_landmarks_frame(data)
    assert (seq, capture_ms, client.image_size) == (7, 1234.5, (640, 480))
    assert client.pose is not None
    np.testing.assert_allclose(client.pose.image_xyz, landmarks[:, :3], atol=1e-6)
    np.testing.assert_allclose(client.pose.visibility, landmarks[:, 3], atol=1e-6)
    np.testing.assert_allclose(client.pose.world_xyz, world, atol=1e-6)


def test_a_binary_frame_without_world_landmarks_has_nan_world() -> None:
    landmarks, _ = pose_arrays()
    _, _, client = read_landmarks_frame(landmarks_frame(1, 0.0, (1280, 720), landmarks))
    assert client.pose is not None and np.isnan(client.pose.world_xyz).all()


def test_a_header_alone_means_nobody_is_in_view() -> None:
    seq, _, client = read_landmarks_frame(landmarks_frame(3, 10.0, (640, 480)))
    assert seq == 3 and client.pose is None and client.image_size == (640, 480)


def test_visibility_is_clipped_to_zero_one() -> None:
    landmarks, _ = pose_arrays()
    landmarks[:, 3] = 1.5
    _, _, client = read_landmarks_frame(landmarks_frame(0, 0.0, (10, 10), landmarks))
    assert client.pose is not None and (client.pose.visibility == 1.0).all()


@pytest.mark.parametrize(("data", "problem"), [
    (b"", "16, 544 or 940 bytes long, not 0"),
    (landmarks_frame(0, 0.0, (640, 480), pose_arrays()[0])[:-4], "not 540"),
    (landmarks_frame(0, 0.0, (0, 480)), "image size 0x480"),
    (LANDMARKS_HEADER.pack(0, float("nan"), 640, 480), "capture time"),
    (landmarks_frame(0, 0.0, (640, 480), np.full((33, 4), np.inf)), "not finite"),
    (landmarks_frame(0, 0.0, (640, 480), np.full((33, 4), 1e30)), "more than 10 image widths"),
    (landmarks_frame(0, 0.0, (640, 480), pose_arrays()[0], np.full((33, 3), -50.0)),
     "more than 10 m from the hips"),
])
def test_a_broken_binary_frame_is_refused_with_a_reason(data: bytes, problem: str) -> None:
    with pytest.raises(FrameError, match=problem):
        read_landmarks_frame(data)


def test_an_update_written_without_pydantic_is_a_valid_update() -> None:
    live = LivePayload(
        t=1.5, landmarks=[[0.5, 0.5, 0.0, 1.0]] * 33, ref_position=12.25, ref_time_s=0.4,
        tempo=1.0, confidence=0.8, score=87.5,
        limbs={"left_arm": {"score": 90.0, "state": "good"}, "head": {"score": None,
                                                                    "state": "unseen"}},
        messages=["raise your left wing"], step_event=None, visible_hint=None,
    )
    counts = FrameCounts(received=5, processed=4, dropped=1)
    timing = {"capture_ms": 100.0, "queued_ms": 0.5, "processing_ms": 0.3}
    text = update_json(4, timing, counts, live.model_dump())
    message = SERVER_MESSAGE.validate_json(text)
    assert message == Update(seq=4, timing=timing, frames=counts, live=live)


def test_json_landmarks_out_of_range_are_refused_naming_the_field() -> None:
    landmarks, world = pose_arrays()
    message = {"type": "landmarks", "seq": 1, "capture_ms": 0.0,
               "image": {"width": 640, "height": 480},
               "landmarks": landmarks.tolist(), "world": (world * 100).tolist()}
    with pytest.raises(ValidationError) as info:
        SESSION_MESSAGE.validate_python(message)
    assert "world" in str(info.value)
    message["world"] = world.tolist()
    message["landmarks"][3][1] = -1e6
    with pytest.raises(ValidationError) as info:
        SESSION_MESSAGE.validate_python(message)
    assert "landmarks" in str(info.value)
