"""One-Euro filter: steady when still, quick when moving, restarts on gaps and missing values."""

from __future__ import annotations

import numpy as np
import pytest

from app.sequence import N_LANDMARKS
from app.smoothing import LandmarkSmoother, OneEuroFilter

FPS = 30.0


def run(flt: OneEuroFilter, values: np.ndarray) -> np.ndarray:
    return np.array([flt(i / FPS, v) for i, v in enumerate(values)])


def test_a_constant_passes_unchanged() -> None:
    values = np.full((20, 3), 0.25)
    np.testing.assert_allclose(run(OneEuroFilter((3,)), values), values)


def test_jitter_is_smoothed_when_still() -> None:
    rng = np.random.default_rng(0)
    values = 0.5 + rng.normal(scale=0.01, size=(300, 1))
    out = run(OneEuroFilter((1,)), values)
    assert out[30:].std() < 0.5 * values[30:].std()


def test_fast_motion_lags_less_than_a_plain_low_pass() -> None:
    ramp = np.linspace(0.0, 2.0, 60)[:, None]
    adaptive = run(OneEuroFilter((1,), min_cutoff=1.0, beta=4.0), ramp)
    plain = run(OneEuroFilter((1,), min_cutoff=1.0, beta=0.0), ramp)
    assert abs(ramp[-1, 0] - adaptive[-1, 0]) < 0.5 * abs(ramp[-1, 0] - plain[-1, 0])


def test_missing_values_restart_alone() -> None:
    flt = OneEuroFilter((2,))
    flt(0.0, np.array([0.0, 0.0]))
    flt(1 / FPS, np.array([np.nan, 0.0]))
    out = flt(2 / FPS, np.array([5.0, 1.0]))
    assert out[0] == 5.0
    assert 0.0 < out[1] < 1.0


def test_a_long_gap_restarts_everything() -> None:
    flt = OneEuroFilter((1,), max_gap_s=0.5)
    flt(0.0, np.array([0.0]))
    assert flt(1.0, np.array([3.0]))[0] == 3.0


def test_bad_use_is_refused() -> None:
    flt = OneEuroFilter((2,))
    flt(1.0, np.zeros(2))
    with pytest.raises(ValueError, match="not after"):
        flt(1.0, np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        flt(2.0, np.zeros(3))
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroFilter((1,), min_cutoff=0.0)


def test_landmark_smoother_keeps_shapes_and_missing_world() -> None:
    smoother = LandmarkSmoother()
    rng = np.random.default_rng(1)
    image = rng.uniform(size=(N_LANDMARKS, 3))
    world = rng.normal(size=(N_LANDMARKS, 3))
    first_image, first_world = smoother(0.0, image, 16 / 9, world)
    np.testing.assert_allclose(first_image, image)
    assert first_world is not None
    np.testing.assert_allclose(first_world, world)
    later_image, later_world = smoother(1 / FPS, image + 0.01, 16 / 9, None)
    assert later_world is None
    assert np.all(later_image > image) and np.all(later_image < image + 0.01)
