"""Pose estimation on real footage with the real model, and the pure parts around it."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from app import frames, models, pose
from app.landmarks import Bone
from app.landmarks import Landmark as L
from app.sequence import N_LANDMARKS
from tests.conftest import TESTDATA, Extracted, clip

CLIPS = (
    "tfjs_pose_squats.mp4", "tfjs_pose_1.mp4", "tfjs_dance_crop.avi",
    "romp_sample_video2_jumpingjacks.mp4", "hybrik_taiji.mp4",
    "pose2sim_singleperson_cam01.mp4", "musepose_dance.mp4",
)
FACING_CAMERA = ("tfjs_pose_squats.mp4", "tfjs_pose_1.mp4", "hybrik_taiji.mp4",
                 "musepose_dance.mp4")


# --- pure parts ---------------------------------------------------------------------------


def _standing(centre_x: float, torso: float, arm_span: float = 0.1) -> pose.FramePose:
    """A crude upright skeleton: torso of height ``torso`` centred at ``centre_x``."""
    xyz = np.zeros((N_LANDMARKS, 3))
    xyz[:, 0], xyz[:, 1] = centre_x, 0.5
    for side, sign in ((L.LEFT_SHOULDER, 1), (L.RIGHT_SHOULDER, -1)):
        xyz[side] = (centre_x + sign * torso / 4, 0.5 - torso / 2, 0)
    for side, sign in ((L.LEFT_HIP, 1), (L.RIGHT_HIP, -1)):
        xyz[side] = (centre_x + sign * torso / 6, 0.5 + torso / 2, 0)
    xyz[L.LEFT_WRIST, 0], xyz[L.RIGHT_WRIST, 0] = centre_x + arm_span, centre_x - arm_span
    return pose.FramePose(xyz, np.ones(N_LANDMARKS), np.zeros((N_LANDMARKS, 3)))


def test_frame_pose_validates_shapes_and_dtype() -> None:
    good = np.zeros((N_LANDMARKS, 3))
    with pytest.raises(ValueError, match=r"image_xyz has shape \(32, 3\), expected \(33, 3\)"):
        pose.FramePose(np.zeros((32, 3)), np.zeros(N_LANDMARKS), good)
    with pytest.raises(ValueError, match="visibility has shape"):
        pose.FramePose(good, np.zeros((N_LANDMARKS, 1)), good)
    with pytest.raises(ValueError, match="world_xyz has dtype float32"):
        pose.FramePose(good, np.zeros(N_LANDMARKS), good.astype(np.float32))


def test_pick_main_prefers_the_larger_torso_not_the_wider_arms() -> None:
    near = _standing(0.3, torso=0.4, arm_span=0.1)
    far_waving = _standing(0.7, torso=0.2, arm_span=0.3)
    assert pose.pick_main([far_waving, near], followed=None, aspect=1.0) == 1


def test_pick_main_keeps_following_the_same_person() -> None:
    near = _standing(0.3, torso=0.4)
    far = _standing(0.7, torso=0.2)
    followed = np.array([0.68, 0.5])
    assert pose.pick_main([near, far], followed=followed, aspect=1.0) == 1
    gone = np.array([0.05, 0.9])
    assert pose.pick_main([near, far], followed=gone, aspect=1.0) == 0


# --- the real model -----------------------------------------------------------------------


@pytest.mark.model
def test_estimator_refuses_bad_frames_and_repairs_timestamps(model_path: Path) -> None:
    rgb = next(frames.read_video(clip("tfjs_pose_1.mp4"))).rgb
    with pose.PoseEstimator(model_path) as estimator:
        with pytest.raises(ValueError, match="uint8"):
            estimator.detect(rgb.astype(np.float32), 0)
        with pytest.raises(ValueError, match=r"shape \(height, width, 3\)"):
            estimator.detect(rgb[..., 0], 0)
        with pytest.raises(ValueError, match="timestamp_ms"):
            estimator.detect(rgb, None)
        first = estimator.detect(rgb, 1000)
        again = estimator.detect(rgb, 1000)
        earlier = estimator.detect(rgb, 500)
    assert first is not None and again is not None and earlier is not None


@pytest.mark.model
def test_an_empty_scene_has_nobody(model_path: Path) -> None:
    with pose.PoseEstimator(model_path, mode="image") as estimator:
        assert estimator.detect(np.full((240, 320, 3), 128, np.uint8)) is None


@pytest.mark.model
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SCHED_IDLE is Linux's")
def test_a_background_estimator_runs_the_model_on_idle_priority_threads(
    model_path: Path
) -> None:
    def policies() -> dict[int, int]:
        return {int(t.name): os.sched_getscheduler(int(t.name))
                for t in Path(f"/proc/{os.getpid()}/task").iterdir()}

    # The first estimator of a process also starts the thread that keeps MediaPipe's native log
    # lines off stderr; it lives as long as the process and is no model thread.
    pose.PoseEstimator(model_path, mode="video", background=True).close()
    before = policies()
    with pose.PoseEstimator(model_path, mode="video", background=True) as estimator:
        after = policies()
        started = {tid: policy for tid, policy in after.items() if tid not in before}
        assert started and set(started.values()) == {os.SCHED_IDLE}
        assert after[threading.get_native_id()] == os.sched_getscheduler(0) != os.SCHED_IDLE
        assert estimator.detect(np.zeros((64, 64, 3), np.uint8), 0.0) is None


@pytest.mark.model
def test_a_corrupt_model_file_is_refused(tmp_path: Path, model_path: Path) -> None:
    broken = tmp_path / "broken.task"
    broken.write_bytes(model_path.read_bytes()[:100_000])
    with pytest.raises(models.ModelVerificationError, match="truncated"):
        pose.PoseEstimator(broken)


@pytest.mark.model
def test_landmarks_match_the_golden_file(extracted: Extracted) -> None:
    seq = extracted("tfjs_pose_squats.mp4")
    golden = np.array(json.loads((TESTDATA / "tfjs_pose_squats.full.json").read_text()))
    assert golden.shape == (len(seq), N_LANDMARKS, 3)
    width, height = seq.image_size
    pixels = seq.image_xyz[..., :2] * np.array([width, height])
    error = np.linalg.norm(pixels - golden[..., :2], axis=-1)
    # Measured with the offline build: mean 6.0 px, median 4.8 px, 95% within 15 px; the
    # body is about 900 px tall.
    assert error.mean() < 8.0
    assert np.median(error) < 6.0
    assert (error < 15.0).mean() > 0.9


@pytest.mark.model
@pytest.mark.parametrize("name", CLIPS)
def test_detection_rate_and_sequence_shape(extracted: Extracted, name: str) -> None:
    seq = extracted(name)
    info = frames.probe_video(clip(name))
    assert len(seq) == info.frame_count
    assert seq.image_size == (info.width, info.height)
    assert info.fps is not None and seq.fps == pytest.approx(info.fps)
    assert seq.t[0] == 0.0 and np.all(np.diff(seq.t) > 0)
    assert seq.present.mean() >= 0.95
    present = seq.present
    assert np.all(seq.has_world == present)
    assert np.all((seq.visibility >= 0) & (seq.visibility <= 1))
    inside = (seq.image_xyz[present, :, :2] > -0.2) & (seq.image_xyz[present, :, :2] < 1.2)
    assert inside.mean() > 0.97


@pytest.mark.model
@pytest.mark.parametrize("name", FACING_CAMERA)
def test_left_and_right_are_not_swapped_for_a_person_facing_the_camera(
    extracted: Extracted, name: str,
) -> None:
    seq = extracted(name)
    image = seq.image_xyz[seq.present]
    for left, right in ((L.LEFT_SHOULDER, L.RIGHT_SHOULDER), (L.LEFT_HIP, L.RIGHT_HIP)):
        assert (image[:, left, 0] > image[:, right, 0]).mean() > 0.95


@pytest.mark.model
@pytest.mark.parametrize("name", CLIPS)
def test_world_landmarks_are_metres_around_the_hips(extracted: Extracted, name: str) -> None:
    world = extracted(name).world_xyz
    world = world[np.isfinite(world).all(axis=(1, 2))]
    hips = (world[:, L.LEFT_HIP] + world[:, L.RIGHT_HIP]) / 2
    assert np.abs(hips).max() < 0.05
    plausible = {
        Bone.LEFT_UPPER_ARM: (0.18, 0.35), Bone.RIGHT_UPPER_ARM: (0.18, 0.35),
        Bone.LEFT_FOREARM: (0.17, 0.33), Bone.RIGHT_FOREARM: (0.17, 0.33),
        Bone.LEFT_THIGH: (0.25, 0.5), Bone.RIGHT_THIGH: (0.25, 0.5),
        Bone.LEFT_SHIN: (0.28, 0.48), Bone.RIGHT_SHIN: (0.28, 0.48),
        Bone.SHOULDERS: (0.25, 0.45), Bone.HIPS: (0.17, 0.3),
    }
    for bone, (low, high) in plausible.items():
        length = np.median(np.linalg.norm(world[:, bone.start] - world[:, bone.end], axis=-1))
        assert low < length < high, f"{bone.name} is {length:.3f} m"


@pytest.mark.model
def test_extracting_twice_gives_the_same_result(extracted: Extracted, model_path: Path) -> None:
    first = extracted("tfjs_pose_squats.mp4")
    second = pose.extract_video(clip("tfjs_pose_squats.mp4"), model_path=model_path)
    np.testing.assert_array_equal(first.t, second.t)
    np.testing.assert_array_equal(first.present, second.present)
    np.testing.assert_array_equal(first.image_xyz, second.image_xyz)
    np.testing.assert_array_equal(first.world_xyz, second.world_xyz)
    np.testing.assert_array_equal(first.visibility, second.visibility)


@pytest.mark.model
def test_portrait_clip_keeps_its_aspect(extracted: Extracted) -> None:
    seq = extracted("musepose_dance.mp4")
    assert seq.image_size == (1080, 1920) and seq.aspect == pytest.approx(0.5625)
    image = seq.image_xyz[seq.present]
    shoulders_px = np.abs(image[:, L.LEFT_SHOULDER, 0] - image[:, L.RIGHT_SHOULDER, 0]) * 1080
    hips_px = np.abs(image[:, L.LEFT_HIP, 0] - image[:, L.RIGHT_HIP, 0]) * 1080
    torso_px = np.abs(image[:, L.LEFT_SHOULDER, 1] - image[:, L.LEFT_HIP, 1]) * 1920
    ratio = np.median(torso_px / shoulders_px)
    assert 1.2 < ratio < 2.5, "in pixels a torso is taller than the shoulders are wide"
    assert np.median(shoulders_px / hips_px) > 1.0


@pytest.mark.model
def test_the_main_person_is_followed_with_a_bystander_in_view(
    extracted: Extracted, model_path: Path,
) -> None:
    name = "pose2sim_singleperson_cam01.mp4"
    for seq in (extracted(name), pose.extract_video(clip(name), model_path, num_poses=2)):
        image = seq.image_xyz[seq.present]
        assert seq.present.all()
        height = image[:, :, 1].max(axis=1) - image[:, :, 1].min(axis=1)
        assert height.min() > 0.3, "the skeleton is the man in front, not the one behind"
        hips = (image[:, L.LEFT_HIP, :2] + image[:, L.RIGHT_HIP, :2]) / 2
        assert np.abs(np.diff(hips, axis=0)).max() < 0.05, "no jump to another person"


def _two_people(prominent_on_left: bool) -> tuple[np.ndarray, float]:
    """A real frame of a woman standing close, and a smaller one of a dancer waving her arms
    side by side; returns the image and the close woman's expected centre x."""
    close = cv2.resize(next(frames.read_video(clip("tfjs_pose_squats.mp4"))).rgb, (540, 960))
    waving = cv2.resize(next(frames.read_video(clip("musepose_dance.mp4"))).rgb, (360, 640))
    canvas = np.full((960, 960, 3), 255, np.uint8)
    if prominent_on_left:
        canvas[:, :540], canvas[160:800, 580:940] = close, waving
        return canvas, 0.27
    canvas[:, 420:], canvas[160:800, 20:380] = close, waving
    return canvas, 0.7


@pytest.mark.model
@pytest.mark.parametrize("prominent_on_left", [True, False])
def test_with_two_people_the_most_prominent_is_chosen(model_path: Path,
                                                      prominent_on_left: bool) -> None:
    canvas, centre_x = _two_people(prominent_on_left)
    with pose.PoseEstimator(model_path, mode="image", num_poses=2) as estimator:
        chosen = estimator.detect(canvas)
    assert chosen is not None
    assert abs(float(np.mean(chosen.image_xyz[:, 0])) - centre_x) < 0.08


@pytest.mark.model
def test_every_start_and_end(model_path: Path) -> None:
    seq = pose.extract_video(clip("tfjs_pose_1.mp4"), model_path, every=2, start_s=1.0,
                             end_s=2.0)
    assert len(seq) == 15 and seq.fps == 15.0
    assert seq.t[0] == 0.0 and seq.t[-1] == pytest.approx(28 / 30, abs=1e-3)
    assert seq.source.detail == "tfjs_pose_1.mp4 from 1 s"


@pytest.mark.model
def test_still_image(tmp_path: Path, model_path: Path) -> None:
    rgb = next(frames.read_video(clip("hybrik_taiji.mp4"))).rgb
    photo = tmp_path / "taiji.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    seq = pose.extract_image(photo, model_path)
    assert len(seq) == 1 and seq.present[0] and seq.image_size == (1280, 720)
    assert "still image" in seq.source.detail


@pytest.mark.model
def test_frames_with_nobody_are_kept_as_missing(tmp_path: Path, model_path: Path) -> None:
    path = tmp_path / "person-leaves.mp4"
    decoded = frames.read_video(clip("tfjs_pose_1.mp4"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (576, 576))
    for i, frame in zip(range(20), decoded, strict=False):
        empty = np.full_like(frame.rgb, 200)
        writer.write(cv2.cvtColor(frame.rgb if i < 10 else empty, cv2.COLOR_RGB2BGR))
    writer.release()
    decoded.close()
    seq = pose.extract_video(path, model_path)
    assert len(seq) == 20
    assert seq.present[:10].all() and not seq.present[12:].any()
    assert np.isnan(seq.image_xyz[15]).all() and not seq.has_world[15]


@pytest.mark.parametrize("content", [b"", b"not a video at all\n" * 50], ids=["empty", "text"])
def test_unreadable_video_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(content)
    with pytest.raises(frames.DecodeError, match=str(path)):
        pose.extract_video(path)
