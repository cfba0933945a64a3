"""The scorer: report contents, fairness, honesty on a fixed-seed suite, tolerance from takes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from app import sequence
from app.errors import NoAlignmentError, UserError
from app.landmarks import LIMB_LANDMARKS, Landmark, Limb
from app.library import default_poses_dir
from app.reference import Reference, tolerance_from_takes
from app.report import RATINGS, rating
from app.schema import SKELETON
from app.scoring import ScoreOptions, overall_score, score
from app.sequence import PoseSequence, Step
from app.timing import path_timing
from tests.scoring_fixtures import (
    REPO,
    auc,
    build_suite,
    feet_cut_off,
    late_start,
    mirrored_performance,
    moves_enough,
    noisy,
    paired_cases,
    paired_files,
    plain_json,
    rotated_limb,
    segments,
    squats_sequence,
    stick_figure,
    still_sequence,
    time_warp,
    verdicts,
)


@pytest.fixture(scope="module")
def squats() -> PoseSequence:
    return squats_sequence()


@pytest.fixture(scope="module")
def part(squats: PoseSequence) -> PoseSequence:
    """A 4-second part of the squats with two named steps."""
    seq = squats.trim_seconds(0.0, 4.0)
    return replace(seq, steps=(Step("down", 0.0, 2.0), Step("up", 2.0, 4.0)))


def test_identical_attempt_is_perfect(part: PoseSequence) -> None:
    report = score(part, part)
    assert report.score == pytest.approx(100.0)
    assert report.rating == "Perfect"
    assert set(report.limbs) == set(Limb)
    assert report.feedback == ("well done: your movement matches the reference",)
    assert report.coverage == 1.0


def test_report_is_json_with_the_promised_keys(part: PoseSequence) -> None:
    report = score(part, rotated_limb(part, Limb.RIGHT_ARM, np.random.default_rng(0)))
    assert plain_json(report.to_dict())
    doc = json.loads(json.dumps(report.to_dict()))
    assert {"score", "rating", "limbs", "timing", "feedback", "steps",
            "worst_moments"} <= set(doc)
    assert 0 <= doc["score"] <= 100
    assert doc["rating"] in {name for name, _ in RATINGS}
    assert set(doc["limbs"]) == {limb.value for limb in Limb}
    assert all(0 <= v <= 100 for v in doc["limbs"].values())
    assert {"offset_s", "tempo"} <= set(doc["timing"])
    assert [s["name"] for s in doc["steps"]] == ["down", "up"]
    assert doc["worst_moments"][0]["limb"] == "right_arm"
    assert "right arm" in doc["feedback"][0]


def test_rating_tiers() -> None:
    assert [rating(s) for s in (100, 90, 89.9, 80, 65, 50, 49.9, 0)] == [
        "Perfect", "Perfect", "Great", "Great", "Good", "Almost", "Miss", "Miss"]


def test_one_bad_limb_pulls_the_score_down_more_than_an_average() -> None:
    limbs = {limb: 100.0 for limb in Limb} | {Limb.LEFT_ARM: 30.0}
    assert overall_score(limbs) < 60.0
    assert overall_score({limb: 90.0 for limb in Limb}) == pytest.approx(90.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fair_variants_score_high(part: PoseSequence, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for attempt in (time_warp(part, rng), late_start(part, rng), noisy(part, rng)):
        assert score(part, attempt).score >= 85.0


def test_mirrored_performance_needs_the_mirror_option(part: PoseSequence) -> None:
    other_side = mirrored_performance(part, np.random.default_rng(3))
    assert score(part, other_side, ScoreOptions(mirror=True)).score >= 95.0
    assert score(part, other_side).score < 60.0


def test_mirror_names_the_learners_own_limb(part: PoseSequence) -> None:
    """A learner mirroring the reference moves their left arm wrongly: we say "left arm"."""
    other_side = mirrored_performance(part, np.random.default_rng(4))
    wrong = rotated_limb(other_side, Limb.LEFT_ARM, np.random.default_rng(5))
    report = score(part, wrong, ScoreOptions(mirror=True))
    assert min(report.limbs, key=lambda limb: report.limbs[limb]) is Limb.LEFT_ARM
    assert "left arm" in report.feedback[0]


def test_feet_out_of_view_are_not_blamed(part: PoseSequence) -> None:
    report = score(part, feet_cut_off(part, np.random.default_rng(6)))
    assert report.score >= 90.0
    assert report.not_visible == ("feet",)
    assert any("feet" in line and "out of view" in line for line in report.feedback)


def test_timing_is_reported_but_not_punished(part: PoseSequence) -> None:
    rng = np.random.default_rng(7)
    late = late_start(part, rng)
    delay = late.duration_s - part.duration_s
    report = score(part, late)
    assert report.timing.offset_s == pytest.approx(delay, abs=0.25)
    assert report.score >= 95.0
    slow = replace(part, t=part.t * 1.5)
    slow_report = score(part, slow)
    assert slow_report.timing.tempo == pytest.approx(1 / 1.5, rel=0.1)
    assert any("speed up" in line for line in slow_report.feedback)
    practised = score(part, slow, ScoreOptions(speed=1 / 1.5))
    assert practised.timing.tempo == pytest.approx(1.0, rel=0.1)


def test_stopping_early_is_said_first_and_costs(part: PoseSequence) -> None:
    """What left part of the step out costs most, so it is said before any correction."""
    half = part.slice_frames(0, len(part) * 2 // 3)
    report = score(part, rotated_limb(half, Limb.LEFT_ARM, np.random.default_rng(2)))
    assert report.coverage < 0.9
    assert report.score < 80.0
    assert "stopped before the end" in report.feedback[0]
    assert any("left arm" in line for line in report.feedback[1:])


def test_bad_input(part: PoseSequence) -> None:
    nobody = replace(part, present=np.zeros(len(part), dtype=bool))
    with pytest.raises(UserError, match="shows nobody"):
        score(part, nobody)
    with pytest.raises(NoAlignmentError, match="too short"):
        score(part, part.slice_frames(0, 2), ScoreOptions(reference_slack=0.0))
    glimpse = score(part, part.slice_frames(0, 2))
    assert glimpse.score < 20.0 and glimpse.coverage < 0.2
    with pytest.raises(ValueError, match="tolerance has shape"):
        Reference(part, np.zeros((3, SKELETON.n_features)))
    with pytest.raises(UserError, match="speed"):
        ScoreOptions(speed=0.0)


def small_suite_references() -> list[PoseSequence]:
    """The squats golden file and the library's references that move (fixed, no model)."""
    refs = segments(squats_sequence(), 3.5, 3)
    library = sorted((REPO / "poses").glob(f"*{sequence.SUFFIX}"))
    refs += [sequence.load(path) for path in library[:4]]
    return [r for r in refs if moves_enough(r)]


def test_scores_separate_right_from_wrong_on_a_fixed_suite() -> None:
    """The validity targets of benchmarks/validity.py, pinned on a small fixed-seed suite."""
    cases = build_suite(small_suite_references(), seed=11)
    reports = [score(c.reference, c.attempt, ScoreOptions(mirror=c.mirror)) for c in cases]
    named = [r.corrections[0].limb if r.corrections else None for r in reports]
    result = verdicts(cases, [r.score for r in reports], named)
    assert result.auc >= 0.99
    assert result.correct_p10 >= 80.0
    assert result.wrong_p90 <= 60.0
    assert result.limb_named_first >= 0.9


def test_frozen_and_turned_limbs_stay_under_good_on_the_fixed_suite() -> None:
    """A limb held still while the step moves it, or turned 35-60 degrees all through the
    step, is not the step: it never reaches Good (65), and the limb is the worst scored."""
    cases = [c for c in build_suite(small_suite_references(), seed=11)
             if c.kind in ("limb_held_still", "limb_rotated")]
    assert len(cases) >= 6
    for case in cases:
        report = score(case.reference, case.attempt)
        assert report.score < 65.0, case.kind
        assert case.wrong_limb is not None
        assert report.limbs[case.wrong_limb] == min(report.limbs.values())


def test_a_limb_score_agrees_with_its_correction(part: PoseSequence) -> None:
    """The score of a limb and the size of its correction tell the same story: the further
    the arm is turned, the lower its score and the larger the correction's angle."""
    seen = []
    for degrees in (30.0, 45.0, 60.0):
        attempt = _arm_turned(part, degrees)
        report = score(part, attempt)
        correction = next(c for c in report.corrections if c.limb is Limb.LEFT_ARM)
        seen.append((report.limbs[Limb.LEFT_ARM], correction.degrees))
    scores, angles = zip(*seen, strict=True)
    assert list(scores) == sorted(scores, reverse=True)
    assert list(angles) == sorted(angles)
    assert scores[1] < 50.0 and angles[1] >= 30.0


def _arm_turned(seq: PoseSequence, degrees: float) -> PoseSequence:
    """The left arm turned outward by ``degrees`` about the shoulder, in the image plane."""
    iso = seq.image_xyz * np.array([seq.aspect, 1.0, 1.0])
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shoulder = iso[:, int(Landmark.LEFT_SHOULDER), :2]
    out = iso.copy()
    for landmark in LIMB_LANDMARKS[Limb.LEFT_ARM][1:]:
        out[:, int(landmark), :2] = shoulder + (iso[:, int(landmark), :2] - shoulder) @ rotation.T
    return replace(seq, image_xyz=out / np.array([seq.aspect, 1.0, 1.0]))


def test_real_people_dancing_the_same_routine_score_above_other_dances() -> None:
    """The cross-person targets of benchmarks/validity.py on the real pairs, in small: windows
    of each paired file against the other files, one every 4 s."""
    files = paired_files()
    assert len(files) >= 4
    cases = [c for c in paired_cases(files, step_s=4.0) if c.kind == "window"]
    values = [max(score(c.reference, c.attempt, ScoreOptions(mirror=m)).score
                  for m in (False, True)) for c in cases]
    same = [v for c, v in zip(cases, values, strict=True) if c.same]
    other = [v for c, v in zip(cases, values, strict=True) if not c.same]
    assert auc(same, other) >= 0.90
    assert np.median(same) >= 60.0
    assert np.percentile(other, 90) <= 35.0


def test_tolerance_from_takes(part: PoseSequence) -> None:
    rng = np.random.default_rng(8)
    takes = [part, noisy(part, rng, level=0.03), time_warp(part, rng)]
    mean, spread = tolerance_from_takes(takes)
    assert len(mean) in {len(t) for t in takes}
    assert spread.shape == (len(mean), SKELETON.n_features)
    assert np.all(spread >= 0) and spread.max() > 0
    reference = Reference(mean, spread)
    assert np.all(reference.tolerance_matrix() >= SKELETON.default_tolerance - 1e-12)
    wrong = rotated_limb(part, Limb.LEFT_LEG, np.random.default_rng(9))
    assert score(reference, wrong).score >= score(Reference(mean), wrong).score
    single, zero = tolerance_from_takes([part])
    assert single is part and not zero.any()
    with pytest.raises(ValueError, match="at least one take"):
        tolerance_from_takes([])


def test_reference_from_a_file_with_takes(part: PoseSequence) -> None:
    rng = np.random.default_rng(10)
    other = replace(time_warp(part, rng), steps=(), name="", title="")
    stored = replace(part, name="squat", title="Squat", takes=(noisy(other, rng, level=0.03),))
    reference = Reference.from_sequence(stored)
    assert reference.tolerance is not None and reference.tolerance.max() > 0
    assert (reference.name, reference.sequence.title) == ("squat", "Squat")
    assert reference.sequence.steps == part.steps and reference.sequence.takes == ()
    one_take = Reference.from_sequence(part)
    assert one_take.sequence is part and one_take.tolerance is None


def test_library_reference_scores_itself() -> None:
    library = sorted((REPO / "poses").glob(f"*{sequence.SUFFIX}"))
    if not library:
        pytest.skip("the reference library is empty")
    seq = sequence.load(library[0])
    report = score(seq, seq)
    assert report.score == pytest.approx(100.0, abs=0.5)
    if seq.steps:
        assert len(report.steps) == len(seq.steps)


@pytest.mark.parametrize("name", ["wing-spread", "perched", "landing"])
def test_timing_ignores_held_poses_where_any_pairing_fits(name: str) -> None:
    """A step that starts and ends still: the copy is on the count and at the same tempo."""
    step = sequence.load(default_poses_dir() / f"{name}.pose.json")
    report = score(step, step)
    assert report.timing.tempo == pytest.approx(1.0, abs=0.02)
    assert report.timing.offset_s == pytest.approx(0.0, abs=0.05)
    slow = score(step, replace(step, t=step.t * 1.25, fps=step.fps / 1.25))
    assert slow.timing.tempo == pytest.approx(0.8, abs=0.04)


def test_path_timing_weights_moving_reference_rows() -> None:
    t = np.arange(6) / 10.0
    # rows 0-2 hold still and pair loosely; rows 3-5 move and pair one to one, 0.2 s late
    path = np.array([[0, 0], [1, 0], [2, 1], [3, 5], [4, 6], [5, 7]])
    motion = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0])
    timing = path_timing(path, t, np.arange(8) / 10.0, motion=motion)
    assert timing.tempo == pytest.approx(1.0)
    assert timing.offset_s == pytest.approx(0.2)


def test_a_body_the_camera_saw_poorly_is_said_first() -> None:
    """Points that jump about from frame to frame (a dim or blurred picture) are not blamed on
    the learner without a word: the report says first that the camera saw them poorly."""
    step = sequence.load(REPO / "poses" / "wing-beat.pose.json")
    rng = np.random.default_rng(4)
    steady = score(step, noisy(step, rng, level=0.01))
    assert not steady.poorly_seen
    shaky = score(step, noisy(step, rng, level=0.15))
    assert shaky.poorly_seen
    assert shaky.feedback[0].startswith("the camera saw you poorly")


def test_takes_shorter_than_the_spread_smoothing_make_a_reference() -> None:
    """Three takes of a few frames (less than the 0.2 s the spread is smoothed over)."""
    short = still_sequence(stick_figure(), n=4)
    rng = np.random.default_rng(5)
    mean, spread = tolerance_from_takes([short, noisy(short, rng, level=0.02),
                                         noisy(short, rng, level=0.02)])
    assert len(mean) == 4 and spread.shape == (4, SKELETON.n_features)
