"""Normalisation, mirroring and features: invariances that make scores fair, and sensitivity."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from app.features import Features
from app.landmarks import Landmark, Limb
from app.normalise import FrameFeatures, body_points, common_space, feature_matrix
from app.schema import SKELETON
from app.sequence import N_LANDMARKS, PoseSequence
from app.visibility import landmark_weights, out_of_view
from tests.scoring_fixtures import (
    feet_cut_off,
    mirrored_performance,
    other_proportions,
    rolled,
    rotated_limb,
    scaled,
    squats_sequence,
    stick_figure,
    still_sequence,
    translated,
)

ANGLES = [i for i, name in enumerate(SKELETON.names) if name.endswith("_angle")]


@pytest.fixture(scope="module")
def squats() -> PoseSequence:
    return squats_sequence()


def bone_angles(features: Features, limb: Limb) -> np.ndarray:
    """(n, bones) degrees between a limb's direction features and a reference's, per frame."""
    return np.array([m.columns for m in SKELETON.measurements
                     if m.limb is limb and len(m.columns) == 3])


def direction_change(a: Features, b: Features, limb: Limb) -> np.ndarray:
    """(n,) largest angle (degrees) any of the limb's bone directions turned between a and b."""
    worst = np.zeros(len(a))
    for columns in bone_angles(a, limb):
        cos = np.clip(np.sum(a.values[:, columns] * b.values[:, columns], axis=1), -1, 1)
        worst = np.maximum(worst, np.degrees(np.arccos(cos)))
    return worst


def test_shapes_and_empty_sequence(squats: PoseSequence) -> None:
    features = feature_matrix(squats)
    assert features.values.shape == (len(squats), SKELETON.n_features)
    assert features.weights.shape == (len(squats), SKELETON.n_features)
    assert np.isfinite(features.values).all()
    assert features.space == "image"
    assert len(feature_matrix(PoseSequence.empty())) == 0


def test_position_size_and_frame_do_not_matter(squats: PoseSequence) -> None:
    rng = np.random.default_rng(1)
    base = feature_matrix(squats)
    for variant in (scaled(squats, rng), translated(squats, rng)):
        moved = feature_matrix(variant)
        np.testing.assert_allclose(moved.values, base.values, atol=1e-6)


def test_aspect_ratio_is_corrected(squats: PoseSequence) -> None:
    """The same pixels in a wider canvas: normalised x shrinks, features do not change."""
    width, height = squats.image_size
    wider = replace(squats, image_size=(2 * width, height),
                    image_xyz=squats.image_xyz * np.array([0.5, 1.0, 0.5]))
    np.testing.assert_allclose(feature_matrix(wider).values, feature_matrix(squats).values,
                               atol=1e-9)


def test_camera_roll_is_undone(squats: PoseSequence) -> None:
    base = feature_matrix(squats)
    tilted = feature_matrix(rolled(squats, np.random.default_rng(2)))
    np.testing.assert_allclose(tilted.values[:, ANGLES], base.values[:, ANGLES], atol=1e-6)
    for limb in Limb:
        assert np.median(direction_change(base, tilted, limb)) < 3.0


def test_body_proportions_do_not_matter(squats: PoseSequence) -> None:
    base = feature_matrix(squats)
    other = feature_matrix(other_proportions(squats, np.random.default_rng(3)))
    np.testing.assert_allclose(other.values, base.values, atol=1e-6)


def test_a_rotated_limb_changes_that_limb_only(squats: PoseSequence) -> None:
    base = feature_matrix(squats)
    turned = feature_matrix(rotated_limb(squats, Limb.LEFT_ARM, np.random.default_rng(4)))
    assert direction_change(base, turned, Limb.LEFT_ARM).min() >= 34.0
    for limb in (Limb.RIGHT_ARM, Limb.LEFT_LEG, Limb.RIGHT_LEG, Limb.HEAD):
        assert direction_change(base, turned, limb).max() < 1e-3


def test_mirror_undoes_a_mirrored_performance(squats: PoseSequence) -> None:
    other_side = mirrored_performance(squats, np.random.default_rng(5))
    base = feature_matrix(squats)
    np.testing.assert_allclose(feature_matrix(other_side, mirror=True).values, base.values,
                               atol=1e-6)
    unmirrored = feature_matrix(other_side)
    left = SKELETON.columns_of(Limb.LEFT_ARM)
    assert np.abs(unmirrored.values[:, left] - base.values[:, left]).max() > 0.5


def test_low_visibility_is_not_judged(squats: PoseSequence) -> None:
    cut = feature_matrix(feet_cut_off(squats, np.random.default_rng(6)))
    for name in ("left_knee_angle", "right_knee_angle", "left_shin_y", "right_shin_x"):
        assert cut.weights[:, SKELETON.index[name]].max() < 0.01
    for name in ("left_hip_angle", "left_thigh_y", "left_elbow_angle", "torso_lean"):
        assert cut.weights[:, SKELETON.index[name]].min() > 0.5
    weights = landmark_weights(feet_cut_off(squats, np.random.default_rng(6)).image_xyz,
                               feet_cut_off(squats, np.random.default_rng(6)).visibility)
    assert out_of_view(weights, squats.present) == ["feet"]


def test_missing_frames_weigh_nothing(squats: PoseSequence) -> None:
    present = squats.present.copy()
    present[3] = False
    image = squats.image_xyz.copy()
    image[3] = np.nan
    features = feature_matrix(replace(squats, present=present, image_xyz=image))
    assert features.weights[3].max() == 0.0
    assert np.isfinite(features.values).all()


def test_visibility_ramp_and_frame_edges() -> None:
    image = np.full((1, N_LANDMARKS, 3), 0.5)
    visibility = np.ones((1, N_LANDMARKS))
    visibility[0, :5] = [0.0, 0.4, 0.55, 0.7, 1.0]
    image[0, 5, 0] = 1.05
    image[0, 6, 1] = -0.05
    image[0, 7] = np.nan
    weights = landmark_weights(image, visibility)
    np.testing.assert_allclose(weights[0, :9], [0.0, 0.0, 0.5, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0])


def test_world_landmarks_are_used_only_when_both_have_them(squats: PoseSequence) -> None:
    world = np.repeat(np.random.default_rng(7).normal(size=(1, N_LANDMARKS, 3)), len(squats), 0)
    with_world = replace(squats, world_xyz=world)
    assert common_space(with_world) == "world"
    assert common_space(with_world, squats) == "image"
    assert feature_matrix(with_world).space == "world"
    with pytest.raises(ValueError, match="no world landmarks"):
        body_points(squats, space="world")


def test_body_points_are_centred_and_scaled(squats: PoseSequence) -> None:
    points = body_points(squats)
    hips = points.xyz[:, [int(Landmark.LEFT_HIP), int(Landmark.RIGHT_HIP)]].mean(axis=1)
    np.testing.assert_allclose(hips, 0.0, atol=1e-9)
    shoulders = points.xyz[:, [int(Landmark.LEFT_SHOULDER), int(Landmark.RIGHT_SHOULDER)]]
    assert np.median(np.linalg.norm(shoulders.mean(axis=1), axis=-1)) == pytest.approx(1.0)


def test_frame_by_frame_features_match_the_batch(squats: PoseSequence) -> None:
    batch = feature_matrix(squats)
    frames = FrameFeatures("image")
    for i in range(len(squats)):
        values, weights, landmark_w = frames(squats.image_xyz[i], squats.visibility[i], None,
                                             squats.aspect)
        np.testing.assert_allclose(values[ANGLES], batch.values[i, ANGLES], atol=1e-9)
        np.testing.assert_allclose(values, batch.values[i], atol=0.15)
        np.testing.assert_allclose(weights, batch.weights[i])
        assert landmark_w.shape == (N_LANDMARKS,)


def test_resampling_makes_a_uniform_grid(squats: PoseSequence) -> None:
    features = feature_matrix(squats)
    faster = features.resample(30.0)
    assert faster.fps == pytest.approx(30.0)
    assert faster.t[-1] == pytest.approx(features.t[-1])
    np.testing.assert_allclose(faster.values[::6], features.values, atol=1e-9)
    half_speed = features.resample(30.0, speed=0.5)
    assert len(half_speed) == pytest.approx(len(faster) / 2, abs=1)


def test_features_refuse_bad_shapes() -> None:
    with pytest.raises(ValueError, match="expected"):
        Features(np.zeros((3, 4)), np.zeros((3, 4)), np.arange(3.0))
    with pytest.raises(ValueError, match="finite"):
        Features(np.full((1, SKELETON.n_features), np.nan), np.zeros((1, SKELETON.n_features)),
                 np.zeros(1))
    with pytest.raises(ValueError, match="positive"):
        Features(np.zeros((2, SKELETON.n_features)), np.zeros((2, SKELETON.n_features)),
                 np.arange(2.0)).resample(0.0)


def test_torso_lean_measures_the_lean() -> None:
    """An upright body bent 20 degrees forward at the hips leans 20 degrees."""
    upright = stick_figure()
    hips = upright[[int(Landmark.LEFT_HIP), int(Landmark.RIGHT_HIP)]].mean(axis=0)
    angle = math.radians(20.0)
    rotation = np.array([[1, 0, 0], [0, math.cos(angle), -math.sin(angle)],
                         [0, math.sin(angle), math.cos(angle)]])
    bent = upright.copy()
    for landmark in Landmark:
        if landmark < Landmark.LEFT_HIP:
            bent[landmark] = (upright[landmark] - hips) @ rotation.T + hips
    lean = SKELETON.index["torso_lean"]
    assert feature_matrix(still_sequence(upright, 2)).values[0, lean] == pytest.approx(0.0)
    assert math.degrees(feature_matrix(still_sequence(bent, 2)).values[0, lean]) == \
        pytest.approx(20.0)
