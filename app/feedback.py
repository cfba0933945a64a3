"""Corrections in words a learner can act on, their ranking, and calm live feedback.

A correction comes from the feature of a limb that is furthest from the reference, in
tolerance units, and the sign of the difference (attempt minus reference, in the skeleton's
axes: ``x`` toward the person's left when they face the camera, ``y`` down, ``z`` away from the
camera). Each feature has two phrases, one per sign; amounts are rounded to 5 degrees. With the
mirror option the attempt was compared as its mirror image, so sides are swapped back before
speaking: the learner hears about their own left arm.

Live, :class:`FeedbackTracker` shows at most two messages, only once a problem has lasted a
moment, holds each for a while so the text does not flicker, and praises a correction once the
limb is right again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.landmarks import Limb
from app.schema import SKELETON, Measurement

FloatArray = npt.NDArray[np.float64]

MIN_SEVERITY = 1.0
"""A feature is worth a correction from one tolerance off (on average over the bad moments)."""

_SWAP = {"left": "right", "right": "left"}

# Phrases per feature (side stripped): for a positive and for a negative difference, each as
# (one side, both sides). ``{side}`` is the limb's side; ``{left}`` / ``{right}`` are sides
# that swap with the mirror option. Every phrase names the limb ("left arm", "torso", "head").
_PHRASES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "elbow_angle": (("bend your {side} arm more at the elbow", "bend your arms more at the elbows"),
                    ("straighten your {side} arm", "straighten your arms")),
    "shoulder_angle": (("lower your {side} arm", "lower your arms"),
                       ("raise your {side} arm higher", "raise your arms higher")),
    "upper_arm_x": (("bring your {side} arm closer to your body",
                     "bring your arms closer to your body"),
                    ("open your {side} arm wider to the side", "open your arms wider")),
    "upper_arm_y": (("raise your {side} arm higher", "raise your arms higher"),
                    ("lower your {side} arm", "lower your arms")),
    "upper_arm_z": (("bring your {side} arm further forward", "bring your arms further forward"),
                    ("take your {side} arm further back", "take your arms further back")),
    "forearm_x": (("bring the hand of your {side} arm in closer", "bring your hands in closer"),
                  ("reach further out with your {side} arm", "reach further out with your hands")),
    "forearm_y": (("raise the hand of your {side} arm higher", "raise your hands higher"),
                  ("lower the hand of your {side} arm", "lower your hands")),
    "forearm_z": (("bring the hand of your {side} arm further forward",
                   "bring your hands further forward"),
                  ("take the hand of your {side} arm further back",
                   "take your hands further back")),
    "hip_angle": (("bend your {side} leg more at the hip", "bend more at the hips"),
                  ("bend your {side} leg less at the hip", "bend less at the hips")),
    "knee_angle": (("bend your {side} leg more at the knee", "bend your knees more"),
                   ("straighten your {side} leg", "straighten your legs")),
    "thigh_x": (("bring your {side} leg in closer", "bring your legs closer together"),
                ("open your {side} leg further out", "open your legs wider")),
    "thigh_y": (("lift the knee of your {side} leg higher", "lift your knees higher"),
                ("lower the knee of your {side} leg", "lower your knees")),
    "thigh_z": (("bring the knee of your {side} leg further forward",
                 "bring your knees further forward"),
                ("take the knee of your {side} leg further back", "take your knees further back")),
    "shin_x": (("bring the foot of your {side} leg in closer", "bring your feet closer together"),
               ("place the foot of your {side} leg wider", "place your feet wider")),
    "shin_y": (("bend your {side} leg more at the knee", "bend your knees more"),
               ("lower the foot of your {side} leg", "lower your feet")),
    "shin_z": (("bring the foot of your {side} leg further forward",
                "bring your feet further forward"),
               ("take the foot of your {side} leg further back", "take your feet further back")),
    "torso_lean": (("straighten up: keep your torso more upright",) * 2,
                   ("lean your torso further",) * 2),
    "torso_x": (("shift your torso toward your {right}",) * 2,
                ("shift your torso toward your {left}",) * 2),
    "torso_y": (("straighten up: keep your torso more upright",) * 2,
                ("lean your torso further",) * 2),
    "torso_z": (("lean your torso forward more",) * 2, ("lean your torso forward less",) * 2),
    "shoulders_x": (("turn your torso further",) * 2,
                    ("turn your torso to face the front",) * 2),
    "shoulders_y": (("level your torso: raise your {left} shoulder a little",) * 2,
                    ("level your torso: raise your {right} shoulder a little",) * 2),
    "shoulders_z": (("turn your torso toward your {right}",) * 2,
                    ("turn your torso toward your {left}",) * 2),
    "gaze_x": (("turn your head more to your {right}",) * 2,
               ("turn your head more to your {left}",) * 2),
    "gaze_y": (("lift your head",) * 2, ("lower your head a little",) * 2),
    "gaze_z": (("turn your head less",) * 2, ("turn your head further to the side",) * 2),
    "ears_x": (("turn your head further",) * 2, ("turn your head less",) * 2),
    "ears_y": (("tilt your head toward your {right}",) * 2,
               ("tilt your head toward your {left}",) * 2),
    "ears_z": (("turn your head more to your {right}",) * 2,
               ("turn your head more to your {left}",) * 2),
}


@dataclass(frozen=True)
class Correction:
    """One thing to fix.

    Attributes
    ----------
    limb : Limb
        The learner's own limb (already swapped back under the mirror option).
    feature : str
        The feature name it came from (in the compared, possibly mirrored, skeleton).
    key : str
        Same for the same fix on the same limb, whatever the amount: used to hold messages.
    text : str
        "raise your left arm higher, about 30°".
    severity : float
        How far off, in tolerance units (higher first).
    degrees : float
        The amount, rounded to 5°.
    both : str
        The fix said for both sides at once, without the amount ("bend your knees more").
    """

    limb: Limb
    feature: str
    key: str
    text: str
    severity: float
    degrees: float
    both: str = ""


def learner_limb(limb: Limb, mirror: bool) -> Limb:
    """The learner's limb for a limb of the compared skeleton."""
    if not mirror:
        return limb
    side, _, part = limb.value.partition("_")
    return Limb(f"{_SWAP[side]}_{part}") if side in _SWAP else limb


def _generic(feature: str) -> tuple[str | None, str]:
    for side in ("left", "right"):
        if feature.startswith(side + "_"):
            return side, feature[len(side) + 1:]
    return None, feature


def rounded_degrees(radians: float) -> float:
    """Degrees to say for an angle, rounded to 5 (at least 5)."""
    return float(max(5.0, 5.0 * round(math.degrees(abs(radians)) / 5.0)))


def _phrase(feature: str, delta: float, mirror: bool, merged: bool) -> tuple[str, str]:
    """(text without amount, key) for one feature and the sign of its difference."""
    side, generic = _generic(feature)
    positive, negative = _PHRASES[generic]
    if side == "right" and generic.endswith("_x"):
        delta = -delta  # a right limb's "outward" is toward -x
    single, both = positive if delta > 0 else negative
    sides = dict(_SWAP) if mirror else {"left": "left", "right": "right"}
    template = both if merged else single
    text = template.format(side=sides[side] if side else "", left=sides["left"],
                           right=sides["right"])
    return text, f"{generic}:{'+' if delta > 0 else '-'}"


def corrections(delta: FloatArray, severity: FloatArray, mirror: bool = False,
                limbs: Iterable[Limb] = tuple(Limb)) -> list[Correction]:
    """The most useful correction for each of ``limbs`` that has one, in ``limbs`` order.

    For each limb the measurement (a joint angle or a bone's direction) furthest off is
    chosen; a bone is spoken about along the axis where it is most off, with the whole angle
    between where it is and where it should be.

    Parameters
    ----------
    delta : (F,) float64
        Attempt minus reference in feature units (radians or unit-vector components), averaged
        over the moments that went wrong.
    severity : (F,) float64
        How far each feature was off, in tolerance units; NaN where not judged.
    mirror : bool
        The attempt was compared as its mirror image (``limbs`` are of the compared skeleton).
    limbs : iterable of Limb
        Limbs of the compared skeleton to look at.

    Returns
    -------
    list of Correction
        One per limb whose worst measurement is off by at least :data:`MIN_SEVERITY`.
    """
    judged = np.isfinite(severity)
    membership = SKELETON.measurement_membership
    per_measurement = np.sqrt(np.where(judged, severity, 0.0) ** 2 @ membership)
    per_measurement[(judged @ membership) == 0] = 0.0
    out = []
    for limb in limbs:
        candidates = SKELETON.limb_measurements[limb]
        best = int(candidates[np.argmax(per_measurement[candidates])])
        if per_measurement[best] < MIN_SEVERITY:
            continue
        out.append(_correction(SKELETON.measurements[best], delta, float(per_measurement[best]),
                               mirror))
    return out


def limb_correction(limb: Limb, delta: FloatArray, severity: FloatArray,
                    mirror: bool = False) -> Correction | None:
    """The most useful correction for one limb (see :func:`corrections`), or None."""
    found = corrections(delta, severity, mirror, (limb,))
    return found[0] if found else None


def _correction(measurement: Measurement, delta: FloatArray, severity: float,
                mirror: bool) -> Correction:
    columns = list(measurement.columns)
    if len(columns) == 1:
        column = columns[0]
        radians = float(delta[column])
    else:
        column = columns[int(np.argmax(np.abs(delta[columns])))]
        chord = float(np.linalg.norm(delta[columns]))
        radians = 2.0 * math.asin(min(1.0, chord / 2.0))
    feature = SKELETON.names[column]
    text, key = _phrase(feature, float(delta[column]), mirror, merged=False)
    both, _ = _phrase(feature, float(delta[column]), mirror, merged=True)
    degrees = rounded_degrees(radians)
    own = learner_limb(measurement.limb, mirror)
    return Correction(own, feature, f"{own.value}:{key}", f"{text}, about {degrees:.0f}°",
                      severity, degrees, both)


def merged(corrections: Sequence[Correction]) -> list[Correction]:
    """Corrections with left and right twins (same fix on both sides) said once, in order."""
    out: list[Correction] = []
    used: set[int] = set()
    for i, first in enumerate(corrections):
        if i in used:
            continue
        twin = next((j for j in range(i + 1, len(corrections)) if j not in used
                     and _twins(first, corrections[j])), None)
        if twin is None:
            out.append(first)
            continue
        used.add(twin)
        second = corrections[twin]
        degrees = max(first.degrees, second.degrees)
        out.append(Correction(first.limb, first.feature, "both:" + first.key.split(":", 1)[1],
                              f"{first.both}, about {degrees:.0f}°",
                              max(first.severity, second.severity), degrees, first.both))
    return out


def _twins(a: Correction, b: Correction) -> bool:
    side_a, generic_a = _generic(a.feature)
    side_b, generic_b = _generic(b.feature)
    if side_a is None or side_b is None or side_a == side_b or generic_a != generic_b:
        return False
    return a.key.split(":", 1)[1] == b.key.split(":", 1)[1]


def timing_lines(offset_s: float, tempo: float) -> list[str]:
    """Words for timing: ahead or behind the count (from 0.3 s) and too slow or fast (15 %)."""
    lines = []
    if abs(offset_s) >= 0.3:
        where = "behind" if offset_s > 0 else "ahead of"
        lines.append(f"you are about {abs(offset_s):.1f} s {where} the count")
    if tempo < 0.85:
        lines.append(f"speed up a little: you move at {tempo * 100:.0f}% of the reference's "
                     f"speed")
    elif tempo > 1.15:
        lines.append(f"slow down a little: you move at {tempo * 100:.0f}% of the reference's "
                     f"speed")
    return lines


def visibility_line(parts: Iterable[str]) -> str | None:
    """"your feet were out of view: step back so the camera sees your whole body"."""
    names = list(parts)
    if not names:
        return None
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    verb = "was" if len(names) == 1 and not names[0].endswith(("s", "feet")) else "were"
    return (f"your {joined} {verb} out of view, so they were not judged: step back so the "
            f"camera sees your whole body")


POORLY_SEEN_LINE = ("the camera saw you poorly (your body's points jump about from frame to "
                    "frame), so the score and these corrections may be wrong: more light in "
                    "front of you, a steady camera and standing closer help")
"""Said first when the pose model's points of the attempt jump about far more than a camera's
usually do (see :func:`app.visibility.landmark_jitter`)."""


@dataclass
class _Shown:
    key: str
    limb: Limb
    text: str
    since: float
    praise: bool = False


class FeedbackTracker:
    """Turns per-frame corrections into a calm list of at most ``max_messages`` lines.

    Parameters
    ----------
    max_messages : int
        Lines shown at once.
    persist_s : float
        A problem must last this long before it is mentioned.
    hold_s : float
        A message stays at least this long.
    praise_s : float
        How long praise for a fixed correction stays.
    """

    def __init__(self, max_messages: int = 2, persist_s: float = 0.6, hold_s: float = 2.5,
                 praise_s: float = 2.0) -> None:
        self.max_messages = max_messages
        self.persist_s = persist_s
        self.hold_s = hold_s
        self.praise_s = praise_s
        self.reset()

    def reset(self) -> None:
        """Forget everything shown and pending."""
        self._pending: dict[str, float] = {}
        self._shown: list[_Shown] = []

    def update(self, t: float, corrections: Sequence[Correction],
               limb_good: Mapping[Limb, bool]) -> list[str]:
        """The lines to show at time ``t`` s.

        Parameters
        ----------
        t : float
            Seconds, increasing.
        corrections : sequence of Correction
            This frame's corrections, most important first.
        limb_good : mapping of Limb to bool
            The learner's limbs that look right at this frame.
        """
        current = {c.key: c for c in corrections}
        self._pending = {key: self._pending.get(key, t) for key in current}
        kept: list[_Shown] = []
        for shown in self._shown:
            age = t - shown.since
            if shown.praise:
                if age < self.praise_s:
                    kept.append(shown)
            elif limb_good.get(shown.limb, False) and shown.key not in current:
                kept.append(_Shown(shown.key, shown.limb, _praise(shown.limb), t, praise=True))
            elif shown.key in current or age < self.hold_s:
                kept.append(shown)
        busy = {s.limb for s in kept}
        for correction in corrections:
            if len(kept) >= self.max_messages:
                break
            if correction.limb in busy or t - self._pending[correction.key] < self.persist_s:
                continue
            kept.append(_Shown(correction.key, correction.limb, correction.text, t))
            busy.add(correction.limb)
        self._shown = kept
        return [s.text for s in kept]


def _praise(limb: Limb) -> str:
    return f"that's it: your {limb.words} is right now"
