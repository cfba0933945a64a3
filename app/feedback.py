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
from app.skeleton import FEATURE_NAMES, FEATURES

FloatArray = npt.NDArray[np.float64]

MIN_SEVERITY = 1.0
"""A feature is worth a correction from one tolerance off (on average over the bad moments)."""
LOW_VISIBILITY_SHARE = 0.5
"""A body part out of view for more than this share of the time earns a visibility hint."""

_SWAP = {"left": "right", "right": "left"}
_NOUNS = {"knee": "knees", "arm": "arms", "elbow": "elbows", "hand": "hands", "foot": "feet",
          "hip": "hips"}

# Phrases per feature (side stripped), for a positive and a negative difference. ``{side}``
# becomes "left " / "right " (empty when both sides merge), nouns in braces turn plural then;
# ``{left}`` / ``{right}`` are sides that swap with the mirror option.
_PHRASES: dict[str, tuple[str, str]] = {
    "elbow_angle": ("bend your {side}{elbow} more", "straighten your {side}{arm}"),
    "shoulder_angle": ("lower your {side}{arm}", "raise your {side}{arm} higher"),
    "hip_angle": ("bend more at your {side}{hip}", "bend less at your {side}{hip}"),
    "knee_angle": ("bend your {side}{knee} more", "straighten your {side}{knee}"),
    "torso_lean": ("stand up straighter", "lean your upper body further"),
    "upper_arm_x": ("bring your {side}{arm} closer to your body",
                    "open your {side}{arm} wider to the side"),
    "upper_arm_y": ("raise your {side}{arm} higher", "lower your {side}{arm}"),
    "upper_arm_z": ("bring your {side}{arm} further forward",
                    "take your {side}{arm} further back"),
    "forearm_x": ("bring your {side}{hand} in closer", "reach your {side}{hand} further out"),
    "forearm_y": ("raise your {side}{hand} higher", "lower your {side}{hand}"),
    "forearm_z": ("bring your {side}{hand} further forward",
                  "take your {side}{hand} further back"),
    "thigh_x": ("bring your {side}{knee} in", "open your {side}{knee} further out"),
    "thigh_y": ("lift your {side}{knee} higher", "lower your {side}{knee}"),
    "thigh_z": ("bring your {side}{knee} further forward", "take your {side}{knee} further back"),
    "shin_x": ("bring your {side}{foot} in closer", "place your {side}{foot} wider"),
    "shin_y": ("bend your {side}{knee} more", "lower your {side}{foot}"),
    "shin_z": ("bring your {side}{foot} further forward", "take your {side}{foot} further back"),
    "torso_x": ("shift your upper body toward your {right}",
                "shift your upper body toward your {left}"),
    "torso_y": ("stand up straighter", "lean your upper body further"),
    "torso_z": ("lean forward more", "lean forward less"),
    "shoulders_x": ("turn your upper body further", "turn your shoulders to face the front"),
    "shoulders_y": ("raise your {left} shoulder a little", "raise your {right} shoulder a little"),
    "shoulders_z": ("turn your upper body toward your {right}",
                    "turn your upper body toward your {left}"),
    "gaze_x": ("turn your head more to your {right}", "turn your head more to your {left}"),
    "gaze_y": ("lift your head", "lower your chin a little"),
    "gaze_z": ("turn your head less", "turn your head further"),
    "ears_x": ("turn your head further", "turn your head less"),
    "ears_y": ("tilt your head toward your {right}", "tilt your head toward your {left}"),
    "ears_z": ("turn your head more to your {right}", "turn your head more to your {left}"),
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


def rounded_degrees(amount: float) -> float:
    """Degrees to say for a difference in feature units, rounded to 5 (at least 5)."""
    degrees = math.degrees(abs(amount))
    return float(max(5.0, 5.0 * round(degrees / 5.0)))


def _phrase(feature: str, delta: float, mirror: bool, merged: bool) -> tuple[str, str]:
    """(text without amount, key) for one feature and the sign of its difference."""
    side, generic = _generic(feature)
    positive, negative = _PHRASES[generic]
    if side == "right" and generic.endswith("_x"):
        delta = -delta  # a right limb's "outward" is toward -x
    template = positive if delta > 0 else negative
    sides = {"left": "left", "right": "right"} if not mirror else dict(_SWAP)
    own_side = sides[side] if side else ""
    fill = dict(side="" if merged or not own_side else own_side + " ", left=sides["left"],
                right=sides["right"])
    fill.update({noun: plural if merged else noun for noun, plural in _NOUNS.items()})
    return template.format(**fill), f"{generic}:{'+' if delta > 0 else '-'}"


def limb_correction(limb: Limb, delta: FloatArray, severity: FloatArray,
                    mirror: bool = False) -> Correction | None:
    """The most useful correction for one limb of the compared skeleton.

    Parameters
    ----------
    limb : Limb
        A limb of the compared skeleton (mirrored when ``mirror``).
    delta : (F,) float64
        Attempt minus reference in feature units (radians or unit-vector components), averaged
        over the moments that went wrong.
    severity : (F,) float64
        How far each feature was off, in tolerance units; NaN or 0 where not judged.
    mirror : bool
        The attempt was compared as its mirror image.

    Returns
    -------
    Correction or None
        None when no feature of the limb is off by at least :data:`MIN_SEVERITY`.
    """
    best = -1
    for i, spec in enumerate(FEATURES):
        if spec.limb is not limb or not np.isfinite(severity[i]) or severity[i] < MIN_SEVERITY:
            continue
        if best < 0 or severity[i] > severity[best]:
            best = i
    if best < 0:
        return None
    feature = FEATURE_NAMES[best]
    text, key = _phrase(feature, float(delta[best]), mirror, merged=False)
    both, _ = _phrase(feature, float(delta[best]), mirror, merged=True)
    degrees = rounded_degrees(float(delta[best]))
    own = learner_limb(limb, mirror)
    return Correction(own, feature, f"{own.value}:{key}", f"{text}, about {degrees:.0f}°",
                      float(severity[best]), degrees, both)


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
