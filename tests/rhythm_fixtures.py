"""Synthetic dancers whose accents fall at known times, for the rhythm measure.

A dancer is the standing stick figure of :mod:`tests.scoring_fixtures` swinging both arms
from the shoulders and bouncing at the knees: a turning dancer's arms swing to and fro and turn
(their speed touches zero) at every one of its accent times, where the bounce bottoms out too.
A hitting dancer moves arms and knees in a quick stroke that stops on each accent and holds
until the next stroke; a stroke has the smooth speed of a person's reach (minimum jerk, Flash
and Hogan 1985), so it comes to rest gently. Music beats may
drift in tempo; the dancer's accents are the beats plus a known offset and a little human
scatter, seen at a camera's rate with jitter, dropped frames and the pose model's noise.
Used by ``tests/test_rhythm.py`` and ``benchmarks/rhythm.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.landmarks import Landmark
from app.normalise import IMAGE_DEPTH_SCALE
from app.sequence import N_LANDMARKS, PoseSequence
from tests.scoring_fixtures import stick_figure

FloatArray = npt.NDArray[np.float64]
L = Landmark

TORSO = 0.28
"""The stick figure's torso length, image heights."""
_ARMS = ((L.LEFT_SHOULDER, (L.LEFT_ELBOW, L.LEFT_WRIST, L.LEFT_PINKY, L.LEFT_INDEX,
                            L.LEFT_THUMB), 1.0),
         (L.RIGHT_SHOULDER, (L.RIGHT_ELBOW, L.RIGHT_WRIST, L.RIGHT_PINKY, L.RIGHT_INDEX,
                             L.RIGHT_THUMB), -1.0))
_BELOW_KNEES = {L.LEFT_ANKLE, L.RIGHT_ANKLE, L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX,
                L.RIGHT_FOOT_INDEX}
_KNEES = {L.LEFT_KNEE, L.RIGHT_KNEE}


def music_beats(tempo_bpm: float, n: int, first_s: float = 0.5, drift: float = 0.0,
                cycles: float = 1.0) -> FloatArray:
    """``n`` beat times from ``first_s``, the tempo swinging by ``drift`` (0.03: +-3 %) around
    ``tempo_bpm``, ``cycles`` times over the piece."""
    period = 60.0 / tempo_bpm
    k = np.arange(n - 1)
    intervals = period * (1.0 + drift * np.sin(2.0 * math.pi * cycles * k / max(1, n - 1)))
    return np.asarray(first_s + np.r_[0.0, np.cumsum(intervals)], dtype=np.float64)


@dataclass(frozen=True)
class Camera:
    """How the dancer is filmed."""

    fps: float = 30.0
    noise: float = 0.02
    """The pose model's jitter, a share of the torso per axis and frame."""
    capture_jitter_s: float = 0.003
    dropped: float = 0.05
    """Share of frames lost."""
    nobody: float = 0.01
    """Share of frames where the pose model found nobody."""


def dancer(accents: FloatArray, rng: np.random.Generator, camera: Camera = Camera(),
           hits: bool = False, end_s: float | None = None,
           still_until_s: float = 0.0) -> PoseSequence:
    """A dancer turning (or, with ``hits``, stopping) at ``accents`` seconds, filmed by
    ``camera`` from 0 to ``end_s`` (one beat after the last accent by default); still before
    ``still_until_s``."""
    period = float(np.median(np.diff(accents)))
    end = float(accents[-1] + period) if end_s is None else end_s
    n = int(end * camera.fps)
    t = np.arange(n) / camera.fps + rng.normal(0.0, camera.capture_jitter_s, n)
    t = np.sort(np.clip(t, 0.0, None)) + np.arange(n) * 1e-6
    keep = rng.uniform(size=n) >= camera.dropped
    t = t[keep]
    phase = _phase(t, accents, period, hits)
    phase = np.where(t < still_until_s, _phase(np.full_like(t, still_until_s), accents, period,
                                               hits), phase)
    points = np.stack([_pose(p, hits) for p in phase])
    points += rng.normal(0.0, camera.noise * TORSO, points.shape) * np.array([1.0, 1.0, 2.0])
    image = points * np.array([1.0, 1.0, IMAGE_DEPTH_SCALE])
    seen = rng.uniform(size=len(t)) >= camera.nobody
    return PoseSequence.from_frames(
        t, [image[i] if seen[i] else None for i in range(len(t))],
        [np.ones(N_LANDMARKS) if seen[i] else None for i in range(len(t))],
        [None] * len(t), fps=camera.fps, image_size=(720, 720))


def _phase(t: FloatArray, accents: FloatArray, period: float, hits: bool) -> FloatArray:
    """Beat phase: integer k at accent k, linear between (extended at the mean period); a
    hitting dancer's phase moves in a minimum-jerk stroke over the 0.35 beat before each
    accent and holds."""
    k = np.arange(len(accents), dtype=np.float64)
    before = (t - accents[0]) / period
    after = len(accents) - 1 + (t - accents[-1]) / period
    phase = np.where(t < accents[0], before, np.where(t > accents[-1], after,
                                                      np.interp(t, accents, k)))
    if not hits:
        return phase
    whole = np.floor(phase)
    s = np.clip((phase - whole - 0.65) / 0.35, 0.0, 1.0)
    return whole + s ** 3 * (10.0 - 15.0 * s + 6.0 * s * s)


def _shape(phase: float, hits: bool) -> float:
    """0..1 at a beat phase, 1 on even beats and 0 on odd ones: a cosine for a turning
    dancer (its speed crosses zero on the beat), straight lines for a hitting one (its
    strokes' own profile)."""
    if hits:
        return abs(phase % 2.0 - 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * phase))


def _pose(phase: float, hits: bool) -> FloatArray:
    """(33, 3) points of the figure at a beat phase: arms at an extreme and the knees at the
    bottom of a bounce on every beat (a turning dancer bounces twice a beat)."""
    points = stick_figure().copy()
    swing = math.radians(20.0 + 70.0 * _shape(phase, hits))
    for shoulder, limb, side in _ARMS:
        pivot = points[shoulder].copy()
        angle = side * swing
        c, s = math.cos(angle), math.sin(angle)
        for lm in limb:
            x, y = points[lm, 0] - pivot[0], points[lm, 1] - pivot[1]
            points[lm, 0] = pivot[0] + c * x - s * y
            points[lm, 1] = pivot[1] + s * x + c * y
    bounce = 0.08 * TORSO * (_shape(phase, hits) if hits else _shape(2.0 * phase, hits))
    for lm in Landmark:
        if lm in _KNEES:
            points[lm, 1] += 0.5 * bounce
        elif lm not in _BELOW_KNEES:
            points[lm, 1] += bounce
    return points
