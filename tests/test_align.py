"""Offline DTW (against a plain reference implementation) and the online aligner."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.align import (
    EMPTY_COST,
    AlignSettings,
    OnlineAligner,
    OnlineSettings,
    align_offline,
    pair_cost,
    warping_path,
    warping_path_reference,
)
from app.errors import NoAlignmentError
from app.features import Features
from app.normalise import feature_matrix
from app.schema import SKELETON
from app.sequence import PoseSequence
from tests.scoring_fixtures import squats_sequence


@pytest.fixture(scope="module")
def squats() -> Features:
    return feature_matrix(squats_sequence()).resample(15.0)


def warped(features: Features, factor: float, wobble: float = 0.0) -> tuple[Features, np.ndarray]:
    """``features`` played ``factor`` times as long (unevenly with ``wobble``) on the same grid,
    and for each new row the (fractional) original row it shows."""
    n = len(features)
    m = round((n - 1) * factor) + 1
    x = np.linspace(0.0, 1.0, m)
    source = (x + wobble * np.sin(2 * math.pi * x) / (2 * math.pi)) * (n - 1)
    lo = np.floor(source).astype(int).clip(0, n - 2)
    frac = (source - lo)[:, None]
    values = features.values[lo] * (1 - frac) + features.values[lo + 1] * frac
    weights = np.minimum(features.weights[lo], features.weights[lo + 1])
    return Features(values, weights, np.arange(m) / features.fps), source


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 9), m=st.integers(1, 14), f=st.integers(1, 4), seed=st.integers(0, 999),
       band=st.sampled_from([None, 0.3, 0.6]), start=st.sampled_from([None, 0, 2]),
       end=st.sampled_from([None, 0, 1]), ref_slack=st.integers(0, 2))
def test_kernel_equals_the_reference_implementation(n: int, m: int, f: int, seed: int,
                                                    band: float | None, start: int | None,
                                                    end: int | None, ref_slack: int) -> None:
    rng = np.random.default_rng(seed)
    ref, att = rng.normal(size=(n, f)), rng.normal(size=(m, f))
    ref_w = rng.uniform(0, 1, (n, f)) * (rng.uniform(size=(n, f)) > 0.2)
    att_w = rng.uniform(0, 1, (m, f))
    options = AlignSettings(band=band, attempt_start_slack=start, attempt_end_slack=end,
                            reference_start_slack=ref_slack, reference_end_slack=ref_slack)
    try:
        fast = warping_path(ref, att, options, ref_w, att_w)
    except NoAlignmentError:
        with pytest.raises(NoAlignmentError):
            warping_path_reference(ref, att, options, ref_w, att_w)
        return
    slow = warping_path_reference(ref, att, options, ref_w, att_w)
    np.testing.assert_array_equal(fast.path, slow.path)
    assert fast.cost == pytest.approx(slow.cost, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(fast.step_costs, slow.step_costs, rtol=1e-12, atol=1e-15)


def test_a_sequence_against_itself_costs_nothing(squats: Features) -> None:
    alignment = align_offline(squats, squats)
    np.testing.assert_array_equal(alignment.path[:, 0], alignment.path[:, 1])
    assert len(alignment.path) == len(squats)
    assert alignment.cost == 0.0


def test_hand_computed_path() -> None:
    ref = np.array([[0.0], [1.0], [2.0], [3.0]])
    att = np.array([[0.0], [0.0], [1.0], [1.0], [2.0], [3.0]])
    alignment = warping_path(ref, att)
    assert alignment.path.tolist() == [[0, 1], [1, 3], [2, 4], [3, 5]]
    assert alignment.cost == 0.0
    assert alignment.reference_span == (0, 3)
    assert alignment.attempt_span == (1, 5)


@pytest.mark.parametrize(("factor", "wobble"), [(0.6, 0.0), (1.0, 0.1), (1.6, 0.1), (1.9, 0.0)])
def test_time_warps_are_recovered(squats: Features, factor: float, wobble: float) -> None:
    attempt, source = warped(squats, factor, wobble)
    alignment = align_offline(squats, attempt)
    matched = source[alignment.path[:, 1]]
    assert np.median(np.abs(matched - alignment.path[:, 0])) <= 1.0
    assert alignment.cost < 0.05


def test_tempo_is_limited_to_half_and_double(squats: Features) -> None:
    too_fast, _ = warped(squats, 0.4)
    with pytest.raises(NoAlignmentError, match="half and twice"):
        align_offline(squats, too_fast)
    with pytest.raises(NoAlignmentError, match="half and twice"):
        warping_path(np.zeros((10, 2)), np.zeros((25, 2)),
                     AlignSettings(attempt_start_slack=0, attempt_end_slack=0))


def test_a_late_start_is_skipped(squats: Features) -> None:
    idle = Features(np.repeat(squats.values[:1], 20, 0), np.repeat(squats.weights[:1], 20, 0),
                    np.arange(20) / squats.fps)
    attempt = Features(np.concatenate([idle.values, squats.values]),
                       np.concatenate([idle.weights, squats.weights]),
                       np.arange(20 + len(squats)) / squats.fps)
    alignment = align_offline(squats, attempt)
    assert alignment.path[0, 1] >= 18
    np.testing.assert_array_equal(alignment.path[1:, 1] - 20, alignment.path[1:, 0])


def test_reference_left_out_at_the_end_costs_skips(squats: Features) -> None:
    part = squats.rows(0, 3 * len(squats) // 4)
    strict = AlignSettings(reference_end_slack=0)
    loose = AlignSettings(reference_end_slack=len(squats))
    alignment = align_offline(squats, part, loose)
    assert alignment.reference_span[1] < len(squats) - 1
    assert alignment.cost < align_offline(squats, part, strict).cost


def test_band_limits_the_path(squats: Features) -> None:
    attempt, _ = warped(squats, 1.0, wobble=0.15)
    wide = align_offline(squats, attempt, AlignSettings(band=1.0))
    narrow = align_offline(squats, attempt, AlignSettings(band=0.02))
    n = len(squats)
    assert np.all(np.abs(narrow.path[:, 1] - narrow.path[:, 0]) <= math.ceil(0.02 * n) + 1)
    assert narrow.cost >= wide.cost


def test_raw_arrays_are_judged_with_the_tolerance_and_shares_given(squats: Features) -> None:
    attempt, _ = warped(squats, 1.3, wobble=0.1)
    raw = (squats.values, attempt.values, AlignSettings(), squats.weights, attempt.weights)
    skeleton = warping_path(*raw, SKELETON.default_tolerance, SKELETON.shares)
    offline = align_offline(squats, attempt)
    np.testing.assert_array_equal(skeleton.path, offline.path)
    assert skeleton.cost == offline.cost
    assert warping_path(*raw).cost != offline.cost
    with pytest.raises(ValueError, match="shares"):
        warping_path(*raw, None, np.ones(3))


def test_pair_cost() -> None:
    row = np.arange(SKELETON.n_features, dtype=float)
    ones = np.ones(SKELETON.n_features)
    assert pair_cost(row, ones, row, ones) == 0.0
    assert pair_cost(row, ones, row + 0.1, np.zeros(SKELETON.n_features)) == EMPTY_COST
    tolerance = np.full(3, 0.5)
    cost = pair_cost(np.zeros(3), np.ones(3), np.full(3, 0.5), np.ones(3), tolerance)
    assert cost == pytest.approx(1.0)
    capped = pair_cost(np.zeros(3), np.ones(3), np.full(3, 100.0), np.ones(3), tolerance)
    assert capped == pytest.approx(9.0)


@pytest.mark.parametrize(("reference", "attempt", "message"), [
    (np.zeros((0, 3)), np.zeros((4, 3)), "non-empty"),
    (np.zeros((4, 3)), np.full((4, 3), np.nan), "not finite"),
    (np.zeros((4, 3)), np.zeros((4, 2)), "features"),
    (np.zeros(4), np.zeros((4, 3)), "non-empty"),
])
def test_bad_input_is_refused(reference: np.ndarray, attempt: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        warping_path(reference, attempt)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="band"):
        AlignSettings(band=0.0)
    with pytest.raises(ValueError, match="reference_end_slack"):
        AlignSettings(reference_end_slack=-1)
    with pytest.raises(ValueError, match="memory_s"):
        OnlineSettings(memory_s=0.0)


def follow(aligner: OnlineAligner, attempt: Features, t0: float = 0.0) -> list[float]:
    return [aligner.push(attempt.values[i], attempt.weights[i], t0 + attempt.t[i]).position
            for i in range(len(attempt))]


@pytest.mark.parametrize("factor", [0.6, 1.0, 1.5])
def test_online_aligner_follows_the_learner(squats: Features, factor: float) -> None:
    attempt, source = warped(squats, factor, wobble=0.1)
    positions = np.array(follow(OnlineAligner(squats), attempt))
    settled = slice(len(attempt) // 5, None)
    assert np.median(np.abs(positions[settled] - source[settled])) <= 1.5
    tempo = OnlineAligner(squats)
    follow(tempo, warped(squats, factor)[0])
    assert tempo.state.tempo == pytest.approx(1.0 / factor, rel=0.25)


def test_online_aligner_recovers_from_a_restart_and_a_pause(squats: Features) -> None:
    aligner = OnlineAligner(squats)
    half = len(squats) // 2
    follow(aligner, squats.rows(0, half))
    assert aligner.state.position == pytest.approx(half - 1, abs=2)
    pause = Features(np.repeat(squats.values[half - 1:half], 15, 0),
                     np.repeat(squats.weights[half - 1:half], 15, 0),
                     squats.t[half - 1] + (1 + np.arange(15)) / squats.fps)
    follow(aligner, pause)
    # the pause falls on the bottom of a squat: frames half-2..half+2 differ from the held
    # one by less than a quarter of a tolerance, so the aligner may settle anywhere there
    assert aligner.state.position == pytest.approx(half - 1, abs=4)
    positions = follow(aligner, squats.rows(0, half), t0=pause.t[-1] + 1.0 / squats.fps)
    assert positions[-1] == pytest.approx(half - 1, abs=2)


def test_online_aligner_skips_ahead(squats: Features) -> None:
    aligner = OnlineAligner(squats)
    follow(aligner, squats.rows(0, 10))
    later = squats.rows(2 * len(squats) // 3, len(squats))
    positions = follow(aligner, Features(later.values, later.weights, later.t - later.t[0] + 1.0))
    assert positions[-1] == pytest.approx(len(squats) - 1, abs=2)


def test_online_aligner_loops_a_part(squats: Features) -> None:
    aligner = OnlineAligner(squats, start=10, end=30, loop=True)
    part = squats.rows(10, 30)
    twice = Features(np.concatenate([part.values, part.values]),
                     np.concatenate([part.weights, part.weights]),
                     np.arange(40) / squats.fps)
    positions = np.array(follow(aligner, twice))
    assert positions.min() >= 10 and positions.max() <= 29
    assert positions[-1] == pytest.approx(29, abs=2)
    assert aligner.span == (10, 30)


def test_online_aligner_holds_on_an_empty_frame(squats: Features) -> None:
    aligner = OnlineAligner(squats)
    follow(aligner, squats.rows(0, 10))
    before = aligner.state
    after = aligner.push(np.zeros(SKELETON.n_features), np.zeros(SKELETON.n_features), 10.0)
    assert after.position == before.position
    assert after.confidence < before.confidence


def test_online_aligner_validates(squats: Features) -> None:
    with pytest.raises(ValueError, match="no frames"):
        OnlineAligner(feature_matrix(PoseSequence.empty()))
    aligner = OnlineAligner(squats)
    with pytest.raises(ValueError, match="shape"):
        aligner.push(np.zeros(3), np.zeros(3))
    aligner.push(squats.values[0], squats.weights[0], 1.0)
    with pytest.raises(ValueError, match="not after"):
        aligner.push(squats.values[1], squats.weights[1], 1.0)
    with pytest.raises(ValueError, match="not a part"):
        aligner.reset(5, 5)
