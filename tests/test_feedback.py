"""Corrections in words: sides, directions, amounts, merging, ranking and calm live messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.feedback import (
    Correction,
    FeedbackTracker,
    corrections,
    learner_limb,
    limb_correction,
    merged,
    rounded_degrees,
    timing_lines,
    visibility_line,
)
from app.landmarks import Limb
from app.schema import SKELETON


def off(**deltas: float) -> tuple[np.ndarray, np.ndarray]:
    """(delta, severity) with the named features off by the given radians (2 tolerances)."""
    delta = np.zeros(SKELETON.n_features)
    severity = np.zeros(SKELETON.n_features)
    for name, value in deltas.items():
        delta[SKELETON.index[name]] = value
        severity[SKELETON.index[name]] = 2.0
    return delta, severity


def test_arm_too_low_says_raise_it() -> None:
    correction = limb_correction(Limb.LEFT_ARM, *off(left_shoulder_angle=-math.radians(30)))
    assert correction is not None
    assert correction.text == "raise your left arm higher, about 30°"
    assert correction.limb is Limb.LEFT_ARM
    assert correction.degrees == 30.0


def test_knees_too_straight_on_both_sides_are_said_once() -> None:
    found = corrections(*off(left_knee_angle=math.radians(40), right_knee_angle=math.radians(30)))
    assert [c.limb for c in found] == [Limb.LEFT_LEG, Limb.RIGHT_LEG]
    assert found[0].text == "bend your left leg more at the knee, about 40°"
    together = merged(found)
    assert [c.text for c in together] == ["bend your knees more, about 40°"]


def test_opposite_fixes_are_not_merged() -> None:
    found = corrections(*off(left_knee_angle=0.5, right_knee_angle=-0.5))
    assert len(merged(found)) == 2


def test_mirror_speaks_of_the_learners_own_side() -> None:
    correction = limb_correction(Limb.LEFT_ARM, *off(left_elbow_angle=0.6), mirror=True)
    assert correction is not None
    assert correction.limb is Limb.RIGHT_ARM
    assert "right arm" in correction.text
    head = limb_correction(Limb.HEAD, *off(gaze_x=0.6), mirror=True)
    plain = limb_correction(Limb.HEAD, *off(gaze_x=0.6))
    assert head is not None and plain is not None
    assert head.text == plain.text.replace("right", "left")
    assert learner_limb(Limb.TORSO, mirror=True) is Limb.TORSO


def test_right_limbs_outward_is_the_other_way() -> None:
    left = limb_correction(Limb.LEFT_ARM, *off(left_upper_arm_x=0.6))
    right = limb_correction(Limb.RIGHT_ARM, *off(right_upper_arm_x=-0.6))
    assert left is not None and right is not None
    assert left.text.replace("left", "right") == right.text
    assert "closer to your body" in left.text


def test_bone_amount_is_the_whole_angle() -> None:
    delta, severity = off(left_upper_arm_y=0.3, left_upper_arm_x=-0.4)
    severity[SKELETON.index["left_upper_arm_z"]] = 0.1
    correction = limb_correction(Limb.LEFT_ARM, delta, severity)
    assert correction is not None
    assert correction.feature == "left_upper_arm_x"
    assert correction.degrees == rounded_degrees(2 * math.asin(0.25))


def test_small_or_unjudged_differences_say_nothing() -> None:
    delta, severity = off(left_knee_angle=0.1)
    severity[:] = 0.5
    assert corrections(delta, severity) == []
    assert corrections(delta, np.full(SKELETON.n_features, np.nan)) == []


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_every_phrase_names_its_limb(sign: float) -> None:
    for measurement in SKELETON.measurements:
        for column in measurement.columns:
            delta = np.zeros(SKELETON.n_features)
            severity = np.zeros(SKELETON.n_features)
            delta[column] = sign * 0.5
            severity[column] = 2.0
            correction = limb_correction(measurement.limb, delta, severity)
            assert correction is not None
            assert measurement.limb.words in correction.text, correction.text
            assert correction.text.endswith("°")


def test_every_feature_has_both_phrases() -> None:
    for spec in SKELETON.features:
        for sign in (1.0, -1.0):
            delta, severity = off(**{spec.name: sign * 0.4})
            assert limb_correction(spec.limb, delta, severity) is not None


def test_timing_lines() -> None:
    assert timing_lines(0.1, 1.0) == []
    assert timing_lines(0.42, 1.0) == ["you are about 0.4 s behind the count"]
    assert timing_lines(-0.5, 1.0) == ["you are about 0.5 s ahead of the count"]
    assert "speed up" in timing_lines(0.0, 0.7)[0]
    assert "slow down" in timing_lines(0.0, 1.3)[0]


def test_visibility_line() -> None:
    assert visibility_line([]) is None
    line = visibility_line(["feet"])
    assert line is not None and line.startswith("your feet were out of view")
    assert "head and hands were" in (visibility_line(["head", "hands"]) or "")


def correction(limb: Limb, key: str, severity: float = 2.0) -> Correction:
    return Correction(limb, key, f"{limb.value}:{key}", f"fix your {limb.words} ({key})",
                      severity, 20.0)


def test_tracker_waits_holds_and_praises() -> None:
    tracker = FeedbackTracker(max_messages=2, persist_s=0.6, hold_s=2.5, praise_s=2.0)
    arm = correction(Limb.LEFT_ARM, "raise")
    bad = {Limb.LEFT_ARM: False}
    assert tracker.update(0.0, [arm], bad) == []
    assert tracker.update(0.3, [arm], bad) == []
    assert tracker.update(0.7, [arm], bad) == [arm.text]
    # the problem comes and goes: the message holds still
    assert tracker.update(0.8, [], bad) == [arm.text]
    assert tracker.update(1.5, [arm], bad) == [arm.text]
    # fixed: praised, the praise stays a while, then goes
    shown = tracker.update(2.0, [], {Limb.LEFT_ARM: True})
    assert shown == ["that's it: your left arm is right now"]
    assert tracker.update(3.5, [], {Limb.LEFT_ARM: True}) == shown
    assert tracker.update(4.1, [], {Limb.LEFT_ARM: True}) == []


def test_tracker_shows_at_most_two_one_per_limb() -> None:
    tracker = FeedbackTracker(max_messages=2, persist_s=0.0)
    many = [correction(Limb.LEFT_ARM, "a"), correction(Limb.LEFT_ARM, "b"),
            correction(Limb.RIGHT_LEG, "c"), correction(Limb.HEAD, "d")]
    shown = tracker.update(0.0, many, {})
    assert shown == [many[0].text, many[2].text]
    # a new, more severe problem waits until a slot frees up: no flicker
    assert tracker.update(0.1, [correction(Limb.TORSO, "e", 5.0), *many], {}) == shown
