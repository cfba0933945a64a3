"""Rhythm, judged apart from shape: do the learner's accents land on the beats of the music?

An *accent* is a moment a movement stops, turns or starts. The body's speed (the mean speed
of the head, elbows, wrists, hips, knees and ankles, in torso lengths per second, from
landmarks lightly smoothed) dips at every stop and turn: the bottom of a clear dip is a turn,
found between camera frames by a parabola through the lowest three samples; a dip with a flat
floor is a hold, and gives two accents, where the movement stopped and where it started again
(each end of the floor, the speed's fall and rise followed down to the floor). Dips no deeper
than the landmarks' own jitter are not accents (:func:`find_accents`).

The measure (:func:`measure`) takes the accents and the beats the learner heard, both in one
clock (seconds): for each beat the accent that answers it (the clearest within half a beat;
the nearest of those at least half as clear), its signed offset (late positive), their median
(:attr:`Rhythm.offset_ms`), the median per count of the bar (rushing the third count), the
beat alignment score of the dance-generation literature (mean over beats of
``exp(-d^2 / (2 sigma^2))``, ``d`` the distance to the nearest accent, ``sigma`` 50 ms) and a
0-100 rhythm score. Without the device's measured delays (:class:`Latency`) a constant offset
cannot be told from the camera's and the speakers' delay: the score then judges how evenly the
accents keep time with the beat, and the words say the timing is not calibrated rather than
blame the learner. docs/scoring.md gives the method and its figures.

Pure numpy; no pose model and no web types here.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from app.beats import BeatGrid
from app.errors import UserError
from app.landmarks import Landmark
from app.normalise import torso_length
from app.sequence import N_LANDMARKS
from app.visibility import landmark_weights

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

L = Landmark
ACCENT_LANDMARKS = (L.NOSE, L.LEFT_ELBOW, L.RIGHT_ELBOW, L.LEFT_WRIST, L.RIGHT_WRIST,
                    L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE,
                    L.RIGHT_ANKLE)
"""The landmarks whose mean speed makes the accents."""
_KEPT = np.array([int(lm) for lm in (*ACCENT_LANDMARKS, L.LEFT_SHOULDER, L.RIGHT_SHOULDER)])
_MOVING = np.arange(len(ACCENT_LANDMARKS))

SMOOTH_S = 0.04
"""Standard deviation of the Gaussian that smooths the landmarks before their speed, seconds."""
GRID_S = 1.0 / 60.0
"""The speed is worked out at least this often, seconds (frames further apart are interpolated
between)."""
MAX_GAP_S = 0.25
"""Frames further apart than this (nobody seen between them) are not joined."""
MIN_PROMINENCE = 0.05
"""Depth of the shallowest dip taken for an accent, torso lengths per second..."""
JITTER_PROMINENCE = 1.5
"""...at least this many times the speed's own jitter (the landmarks' jitter measured from the
frames, through the smoothing: a still body's jitter alone dips by up to about one)..."""
RELATIVE_PROMINENCE = 0.15
"""...and at least this share of the speed the learner reaches (its 90th percentile over a
stretch), so a wobble during a fast move is not an accent."""
HOLD_S = 0.12
"""A dip whose floor lasts this long is a hold: the movement stopped and started again."""
START_SHARE = 0.4
"""A start's strength against its stop's: a beat with both a stop and a start near it is
answered by the stop (a move arrives on the beat)."""
EDGE_LEVELS = (0.15, 0.35)
"""The levels of a hold's fall and rise (shares of the dip's depth) whose line gives its ends."""
EDGE_SMOOTH_S = 0.015
"""The smoothing of the speed a hold's ends are read on, seconds: less than :data:`SMOOTH_S`,
which would blur a quick stroke's last frames and put the stop late."""
WINDOW_S = 15.0
"""Accents are found :data:`WINDOW_S` seconds at a time as frames come (memory stays bounded
however long a session), with :data:`CONTEXT_S` seconds either side of what is kept."""
CONTEXT_S = 2.5

SIGMA_S = 0.05
"""The beat alignment score's sigma, seconds: 3 frames at 60 fps, as in the literature's code
(Li et al. 2021, AIST++ / FACT; Siyao et al. 2022, Bailando)."""
SCORE_SIGMA_S = 0.08
"""The rhythm score's sigma, seconds: an accent off by this much earns 61 % of a beat."""
ON_BEAT_S = 0.04
"""A median offset within this is on the beat."""
WANDER_S = 0.07
"""Spread of the offsets (robust standard deviation) beyond which the timing wanders."""
EVERY_BEAT_SHARE = 0.8
"""Share of the answered beats on the median's side for "on every beat"."""
RUSH_S = 0.05
"""A count whose median offset is this much earlier (later) than the other counts' is rushed
(dragged)."""
MIN_COUNT_BEATS = 2
"""Answered beats a count needs before it is named."""
MIN_BEATS = 4
"""Beats in view needed to judge rhythm at all."""
MARK_SHARE = 0.25
"""A beat of the reference is danced when one of its accents is within this share of a beat."""
GUIDE_SHARE = 0.25
"""The reference guides which beats are judged when it dances at least this share of them (and
two); else its accents do not follow the grid and every beat is judged."""
MISSED_SHARE = 0.5
"""Below this share of beats answered, the learner is told to mark the beats."""

_ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
             "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
             "sixteenth")


@dataclass(frozen=True)
class Latency:
    """A device's measured delays, seconds: the camera's and its processing's (a frame's
    capture time comes this long after the movement it shows), and the audio output's (a beat
    is heard this long after it is played)."""

    camera_s: float
    audio_s: float


@dataclass(frozen=True)
class Accents:
    """Accents found in a learner's movement.

    Attributes
    ----------
    times : (k,) float64
        Seconds, increasing.
    strength : (k,) float64
        Depth of each accent's dip, torso lengths per second.
    spans : (m, 2) float64
        Where the learner was in view (start, end seconds): beats elsewhere are not judged.
    """

    times: FloatArray
    strength: FloatArray
    spans: FloatArray

    def shifted(self, seconds: float) -> Accents:
        """The same accents ``seconds`` later (negative: earlier)."""
        return Accents(self.times + seconds, self.strength, self.spans + seconds)


@dataclass(frozen=True)
class CountOffset:
    """The learner's timing on one count of the bar."""

    count: int
    """1 for the first beat of a bar."""
    offset_ms: float | None
    """Median offset of this count's answered beats (late positive); None below
    :data:`MIN_COUNT_BEATS`."""
    beats: int
    """Beats of this count judged."""
    hits: int
    """Of those, beats an accent answered."""


@dataclass(frozen=True)
class Rhythm:
    """The verdict on an attempt's rhythm.

    Attributes
    ----------
    score : float
        0-100: the mean over the judged beats of ``exp(-e^2 / (2 SCORE_SIGMA_S^2))``, ``e`` the
        offset of the accent answering the beat (a beat unanswered counts 0); without
        calibration ``e`` is taken from the median offset, so only evenness counts.
    offset_ms : float or None
        Median offset of the accents from their beats, ms, late positive (None when no beat was
        answered). Without calibration it holds the device's delays too.
    spread_ms : float or None
        Robust standard deviation of the offsets (1.4826 median absolute deviations), ms.
    beat_align : float
        0-1, the beat alignment score (sigma :data:`SIGMA_S`), on the clocks as given.
    beats : int
        Beats judged: beats the reference dances, heard while the learner was in view.
    hits : int
        Of those, beats an accent answered (within half a beat).
    counts : tuple of CountOffset
        Per count of the bar, in order.
    calibrated : bool
        The device's delays were measured and taken off.
    feedback : tuple of str
        The rhythm in words, most important first.
    """

    score: float
    offset_ms: float | None
    spread_ms: float | None
    beat_align: float
    beats: int
    hits: int
    counts: tuple[CountOffset, ...]
    calibrated: bool
    feedback: tuple[str, ...]


# --- accents ----------------------------------------------------------------------------------


def find_accents(t: FloatArray, points: FloatArray, weights: FloatArray,
                 smooth_s: float = SMOOTH_S, interpolate: bool = True) -> tuple[FloatArray,
                                                                               FloatArray]:
    """Accent times and strengths in frames that show the learner.

    Parameters
    ----------
    t : (n,) float64
        Seconds, increasing. Frames further apart than :data:`MAX_GAP_S` are not joined.
    points : (n, 13, 2) float64
        Isotropic image points (``x`` times the aspect ratio, ``y``) of
        :data:`ACCENT_LANDMARKS` then the shoulders (:func:`accent_points`).
    weights : (n, 13) float64
        Their weights, 0-1.
    smooth_s : float
        Standard deviation of the landmarks' Gaussian smoothing, seconds (0: none).
    interpolate : bool
        Place accents between frames: the speed on a grid of at most :data:`GRID_S`, a turn
        at the bottom of a parabola through its three lowest samples, a hold's ends where its
        lines cross the floor; without, every accent at a frame (the speed at the frames' own
        rate, a turn at its lowest frame, a hold's ends at the frames nearest).
    """
    if len(t) == 0:
        return np.zeros(0), np.zeros(0)
    torso = _torso(points, weights)
    breaks = np.flatnonzero(np.diff(t) > MAX_GAP_S) + 1
    jitter = _jitter(points, weights, breaks) / torso
    found_t: list[FloatArray] = []
    found_s: list[FloatArray] = []
    for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, len(t)], strict=True):
        if hi - lo >= 5:
            grid, (speed, sharp) = _speed(t[lo:hi], points[lo:hi], weights[lo:hi],
                                          (smooth_s, EDGE_SMOOTH_S),
                                          GRID_S if interpolate else math.inf)
            frame_s = float(np.median(np.diff(t[lo:hi])))
            floor = max(MIN_PROMINENCE,
                        JITTER_PROMINENCE * _speed_jitter(jitter, frame_s, smooth_s),
                        RELATIVE_PROMINENCE * float(np.percentile(speed / torso, 90)))
            times, strength = _dips(grid, speed / torso, sharp / torso, floor, interpolate)
            found_t.append(times)
            found_s.append(strength)
    if not found_t:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(found_t), np.concatenate(found_s)


def accent_points(image_xyz: FloatArray, visibility: FloatArray, aspect: float
                  ) -> tuple[FloatArray, FloatArray]:
    """(..., 13, 2) isotropic points and (..., 13) weights (:func:`~app.visibility.
    landmark_weights`) of :data:`ACCENT_LANDMARKS` and the shoulders, from (..., 33, 3)
    normalised image landmarks and (..., 33) visibility."""
    weights = landmark_weights(image_xyz.reshape(-1, N_LANDMARKS, 3),
                               visibility.reshape(-1, N_LANDMARKS)).reshape(visibility.shape)
    kept = weights[..., _KEPT]
    xy = image_xyz[..., _KEPT, :2] * np.array([aspect, 1.0])
    return np.where(kept[..., None] > 0, xy, 0.0), kept


def _jitter(points: FloatArray, weights: FloatArray, breaks: IntArray) -> float:
    """The landmarks' jitter, a standard deviation per axis (image heights), from the third
    differences of the moving landmarks on consecutive frames (a dancer's movement barely
    shows in them at a camera's rate; their median makes the estimate robust)."""
    if len(points) < 4:
        return 0.0
    xy = points[:, _MOVING]
    third = xy[3:] - 3.0 * xy[2:-1] + 3.0 * xy[1:-2] - xy[:-3]
    seen = (weights[3:, _MOVING] > 0.5) & (weights[:-3, _MOVING] > 0.5) & (
        weights[1:-2, _MOVING] > 0.5) & (weights[2:-1, _MOVING] > 0.5)
    joined = np.ones(len(third), dtype=bool)
    for b in breaks.tolist():
        joined[max(0, b - 3):b] = False
    values = np.abs(third[seen & joined[:, None]])
    if not values.size:
        return 0.0
    return float(np.median(values) / 0.6745 / math.sqrt(20.0))


def _speed_jitter(jitter: float, dt: float, smooth_s: float) -> float:
    """The standard deviation, per axis, of the velocity of white noise of ``jitter`` sampled
    every ``dt`` and smoothed by a Gaussian of ``smooth_s``."""
    sigma = max(smooth_s, 0.5 * dt)
    return jitter * math.sqrt(dt / (4.0 * math.sqrt(math.pi) * sigma ** 3))


def _torso(points: FloatArray, weights: FloatArray) -> float:
    """Median torso length (:func:`~app.normalise.torso_length`), image heights."""
    full = np.zeros((len(points), N_LANDMARKS, 2))
    full_weights = np.zeros((len(points), N_LANDMARKS))
    full[:, _KEPT] = points
    full_weights[:, _KEPT] = weights
    return torso_length(full, full_weights)


def _speed(t: FloatArray, points: FloatArray, weights: FloatArray,
           smooth_s: Sequence[float], grid_s: float) -> tuple[FloatArray, list[FloatArray]]:
    """The body's mean speed on a uniform grid (the frames' median interval, at most
    ``grid_s``), once per smoothing: landmarks resampled, smoothed (a weighted Gaussian of
    each standard deviation, seconds; 0 for none), differentiated, and averaged by weight."""
    dt = float(np.clip(np.median(np.diff(t)), 1.0 / 240.0, min(grid_s, 0.1)))
    grid = t[0] + np.arange(math.floor((t[-1] - t[0]) / dt + 1e-9) + 1) * dt
    moving = points[:, _MOVING]
    w = weights[:, _MOVING]
    flat = np.concatenate([moving * w[..., None], w[..., None]], axis=-1).reshape(len(t), -1)
    resampled = np.stack([np.interp(grid, t, flat[:, c]) for c in range(flat.shape[1])], axis=1)
    speeds = []
    for sigma in smooth_s:
        smoothed = resampled
        if sigma > 0:
            half = max(1, math.ceil(3.0 * sigma / dt))
            kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * dt / sigma) ** 2)
            # "full" cut to the signal's own length: "same" gives the kernel's length when the
            # kernel is the longer (a short stretch of frames between gaps).
            smoothed = np.stack([np.convolve(resampled[:, c], kernel)[half:half + len(grid)]
                                 for c in range(resampled.shape[1])], axis=1)
        shaped = smoothed.reshape(len(grid), len(_MOVING), 3)
        weight = shaped[..., 2]
        xy = shaped[..., :2] / np.maximum(weight, 1e-9)[..., None]
        speed = np.linalg.norm(np.gradient(xy, dt, axis=0), axis=-1)
        total = weight.sum(axis=1)
        mean = (speed * weight).sum(axis=1) / np.maximum(total, 1e-9)
        speeds.append(np.where(total > 1e-6, mean, 0.0))
    return grid, speeds


def _dips(grid: FloatArray, speed: FloatArray, sharp: FloatArray, floor: float,
          interpolate: bool) -> tuple[FloatArray, FloatArray]:
    """Accents in one stretch of speed on a uniform grid, dips at least ``floor`` deep: turns,
    and the ends of holds (on the less smoothed ``sharp`` speed, whose ramps the smoothing has
    not yet blurred)."""
    n = len(speed)
    if n < 3:
        return np.zeros(0), np.zeros(0)
    dt = float(grid[1] - grid[0])
    lows = np.flatnonzero((speed[1:-1] < speed[:-2]) & (speed[1:-1] <= speed[2:])) + 1
    times: list[float] = []
    strength: list[float] = []
    for i in lows.tolist():
        bounds = _dip_bounds(speed, i)
        if bounds is None:
            continue
        left, right = bounds
        depth = min(float(speed[left]), float(speed[right])) - float(speed[i])
        if depth < floor:
            continue
        if (_edge(grid, speed, speed, i, 1, depth)
                - _edge(grid, speed, speed, i, -1, depth) >= HOLD_S):
            ends = np.array([_edge(grid, speed, sharp, i, -1, depth),
                             _edge(grid, speed, sharp, i, 1, depth)])
            if not interpolate:
                ends = grid[0] + np.round((ends - grid[0]) / dt) * dt
            times.extend(ends.tolist())
            strength.extend((depth, START_SHARE * depth))
        else:
            times.append(_vertex(grid, speed, i, dt) if interpolate else float(grid[i]))
            strength.append(depth)
    order = np.argsort(times)
    return np.asarray(times)[order], np.asarray(strength)[order]


def _dip_bounds(speed: FloatArray, i: int) -> tuple[int, int] | None:
    """The highest samples either side of the dip at ``i`` before the speed falls below it
    again (the peaks its depth is measured from), or None when the stretch ends first."""
    value = speed[i]
    lower_left = np.flatnonzero(speed[:i] < value)
    lower_right = np.flatnonzero(speed[i + 1:] < value)
    lo = int(lower_left[-1]) + 1 if len(lower_left) else 0
    hi = i + int(lower_right[0]) + 1 if len(lower_right) else len(speed)
    left = lo + int(np.argmax(speed[lo:i + 1]))
    right = i + int(np.argmax(speed[i:hi]))
    if (left == 0 and not len(lower_left)) or (right == len(speed) - 1 and not len(lower_right)):
        return None
    if left == i or right == i:
        return None
    return left, right


def _edge(grid: FloatArray, speed: FloatArray, sharp: FloatArray, i: int, step: int,
          depth: float) -> float:
    """Where the fall into the dip at ``i`` ends (``step`` -1) or the rise out of it begins
    (``step`` 1): on ``sharp``, between the dip and the nearest peak of ``speed`` at least
    half ``depth`` above it, the line through the crossings of two levels between the floor
    and the top (:data:`EDGE_LEVELS`), followed down to the floor."""
    k = i
    half = speed[i] + 0.5 * depth
    while 0 < k < len(speed) - 1 and (speed[k] < half or speed[k + step] >= speed[k]):
        k += step
    lo, hi = min(i, k), max(i, k)
    part = sharp[lo:hi + 1]
    base = float(part.min())
    top_at = lo + int(np.argmax(part))
    top = float(sharp[top_at])
    low_level, high_level = EDGE_LEVELS
    high = _crossing(grid, sharp, top_at, i, base + high_level * (top - base))
    low = _crossing(grid, sharp, top_at, i, base + low_level * (top - base))
    return low + (low - high) * low_level / (high_level - low_level)


def _crossing(grid: FloatArray, speed: FloatArray, top: int, i: int, level: float) -> float:
    """Going from the peak at ``top`` toward the dip at ``i``, the first time the speed falls
    to ``level``."""
    step = 1 if i > top else -1
    k = top
    while k != i and speed[k + step] >= level:
        k += step
    if k == i:
        return float(grid[i])
    a, b = float(speed[k]), float(speed[k + step])
    share = (a - level) / (a - b) if a != b else 0.0
    return float(grid[k] + step * share * (grid[1] - grid[0]))


def _vertex(grid: FloatArray, speed: FloatArray, i: int, dt: float) -> float:
    """The bottom of a parabola through the samples ``i - 1, i, i + 1``."""
    a, b, c = float(speed[i - 1]), float(speed[i]), float(speed[i + 1])
    curve = a - 2.0 * b + c
    shift = 0.5 * (a - c) / curve if curve > 0 else 0.0
    return float(grid[i] + max(-0.5, min(0.5, shift)) * dt)


class AccentTracker:
    """Collects a learner's accents frame by frame, cheaply (a few array rows a frame); the
    accents are found :data:`WINDOW_S` seconds at a time, so memory stays bounded."""

    def __init__(self, smooth_s: float = SMOOTH_S, interpolate: bool = True) -> None:
        self.smooth_s = smooth_s
        self.interpolate = interpolate
        self.reset()

    def reset(self) -> None:
        self._t: list[float] = []
        self._points: list[FloatArray] = []
        self._weights: list[FloatArray] = []
        self._times: list[FloatArray] = []
        self._strength: list[FloatArray] = []
        self._spans: list[list[float]] = []
        self._done = -math.inf

    def add(self, t: float, image_xyz: FloatArray | None, visibility: FloatArray | None,
            aspect: float) -> None:
        """One frame at ``t`` seconds (increasing); None when nobody is in view."""
        if image_xyz is None:
            return
        points, weights = accent_points(
            image_xyz, np.ones(len(image_xyz)) if visibility is None else visibility, aspect)
        if not weights.any():
            return
        if self._spans and t - self._spans[-1][1] <= MAX_GAP_S:
            self._spans[-1][1] = t
        else:
            self._spans.append([t, t])
        self._t.append(t)
        self._points.append(points)
        self._weights.append(weights)
        if t - self._t[0] > WINDOW_S + 2.0 * CONTEXT_S:
            self._settle()

    def accents(self) -> Accents:
        """Every accent since the last reset (frames may follow: this changes nothing)."""
        times, strength = self._times, self._strength
        if self._t:
            found, depth = self._settled_until(math.inf)
            times, strength = [*times, found], [*strength, depth]
        spans = np.array(self._spans, dtype=np.float64).reshape(-1, 2)
        if not times:
            return Accents(np.zeros(0), np.zeros(0), spans)
        return Accents(np.concatenate(times), np.concatenate(strength), spans)

    def _settle(self) -> None:
        """Keep the accents of the frames so far but the last :data:`CONTEXT_S`, and forget the
        frames no later accent needs."""
        until = self._t[-1] - CONTEXT_S
        found, depth = self._settled_until(until)
        self._times.append(found)
        self._strength.append(depth)
        self._done = until
        drop = bisect.bisect_left(self._t, until - CONTEXT_S)
        del self._t[:drop], self._points[:drop], self._weights[:drop]

    def _settled_until(self, until: float) -> tuple[FloatArray, FloatArray]:
        """The accents of the buffered frames from where the last window stopped to
        ``until``."""
        times, strength = find_accents(np.array(self._t), np.stack(self._points),
                                       np.stack(self._weights), self.smooth_s, self.interpolate)
        kept = (times >= self._done) & (times < until)
        return times[kept], strength[kept]


def accents_of(t: FloatArray, image_xyz: FloatArray, visibility: FloatArray, aspect: float,
               smooth_s: float = SMOOTH_S, interpolate: bool = True) -> Accents:
    """The accents of a whole sequence: (n,) seconds, (n, 33, 3) image landmarks (NaN rows for
    nobody) and (n, 33) visibility, found as a live session finds them."""
    tracker = AccentTracker(smooth_s, interpolate)
    present = np.asarray(np.isfinite(image_xyz).all(axis=(1, 2)))
    for k in range(len(t)):
        tracker.add(float(t[k]), image_xyz[k] if present[k] else None, visibility[k], aspect)
    return tracker.accents()


# --- beats ------------------------------------------------------------------------------------


def danced_beats(grid: BeatGrid, accents: Accents, end_s: float) -> npt.NDArray[np.bool_]:
    """Per beat of ``grid`` up to ``end_s`` (reference seconds), whether the reference's own
    dancer marks it: an accent within :data:`MARK_SHARE` of a beat. When it marks fewer than
    :data:`GUIDE_SHARE` of them or fewer than two, every beat (the reference is no guide)."""
    beats = grid.beats(end_s)
    if not len(accents.times):
        return np.ones(len(beats), dtype=bool)
    nearest = np.abs(accents.times[None, :] - beats[:, None]).min(axis=1)
    marked = nearest <= MARK_SHARE * grid.period_s
    guided = marked.sum() >= max(2.0, GUIDE_SHARE * len(beats))
    return marked if guided else np.ones(len(beats), dtype=bool)


def heard_beats(grid: BeatGrid, start_s: float, rate: float, part: tuple[float, float],
                loop: bool, until_s: float) -> tuple[FloatArray, IntArray]:
    """When the learner hears the beats of a part of the reference, and their indices.

    The music of ``part`` (reference seconds, start and end) started playing at ``start_s``
    (the session's clock) at ``rate`` times its speed, again and again when ``loop``. Returns
    the beat times up to ``until_s`` as played (add the audio output's delay for heard) and
    each beat's number in ``grid`` (for its count in the bar).
    """
    lo, hi = part
    beats = grid.beats(hi, lo)
    first = max(0, math.ceil((lo - grid.first_beat_s) / grid.period_s - 1e-9))
    index = np.arange(first, first + len(beats), dtype=np.int64)
    length = (hi - lo) / rate
    passes = max(1, math.ceil((until_s - start_s) / length)) if loop and length > 0 else 1
    times = np.concatenate([start_s + p * length + (beats - lo) / rate for p in range(passes)])
    numbers = np.tile(index, passes)
    kept = times < until_s
    return times[kept], numbers[kept]


# --- the measure ------------------------------------------------------------------------------


def measure(accents: Accents, beats: FloatArray, counts: IntArray, meter: int,
            calibrated: bool, judged: npt.NDArray[np.bool_] | None = None) -> Rhythm | None:
    """The rhythm of ``accents`` against ``beats``.

    Parameters
    ----------
    accents : Accents
    beats : (b,) float64
        The beats heard, seconds in the accents' clock, increasing (any tempo, drifting or
        not); only those whose half-beat either side lies where the learner was in view are
        judged.
    counts : (b,) int64
        Each beat's count in the bar, 1 to ``meter``.
    meter : int
    calibrated : bool
        The clocks already have the device's delays taken off.
    judged : (b,) bool or None
        The beats to judge (those the reference dances, :func:`danced_beats`); None: all.
        A beat not judged still bounds its neighbours' half-beats.

    Returns
    -------
    Rhythm or None
        None with fewer than :data:`MIN_BEATS` beats to judge.
    """
    if len(beats) < 2:
        return None
    cells = _cells(beats)
    inside = _in_view(cells, accents.spans) & (True if judged is None else judged)
    beats, counts, cells = beats[inside], counts[inside], cells[inside]
    if len(beats) < MIN_BEATS:
        return None
    offsets = np.array([_answer(accents, beat, cell) for beat, cell in
                        zip(beats.tolist(), cells.tolist(), strict=True)])
    hit = np.isfinite(offsets)
    found = offsets[hit]
    median = float(np.median(found)) if len(found) else None
    spread = (float(1.4826 * np.median(np.abs(found - median)))
              if median is not None and len(found) >= 2 else None)
    error = offsets - (0.0 if calibrated or median is None else median)
    score = 100.0 * float(np.mean(np.where(hit, np.exp(-0.5 * (np.nan_to_num(error)
                                                                 / SCORE_SIGMA_S) ** 2), 0.0)))
    per_count = tuple(_count(c, offsets[counts == c]) for c in range(1, meter + 1))
    rhythm = Rhythm(
        score=score, offset_ms=None if median is None else 1000.0 * median,
        spread_ms=None if spread is None else 1000.0 * spread,
        beat_align=beat_align(accents.times, beats), beats=len(beats), hits=int(hit.sum()),
        counts=per_count, calibrated=calibrated, feedback=())
    return replace(rhythm, feedback=words(rhythm, offsets, counts))


def beat_align(accents: FloatArray, beats: FloatArray, sigma_s: float = SIGMA_S) -> float:
    """The beat alignment score: mean over ``beats`` of ``exp(-d^2 / (2 sigma^2))``, ``d`` the
    distance to the nearest accent (0 with no accent)."""
    if not len(beats):
        return 0.0
    if not len(accents):
        return 0.0
    d = np.abs(accents[None, :] - beats[:, None]).min(axis=1)
    return float(np.mean(np.exp(-0.5 * (d / sigma_s) ** 2)))


def _cells(beats: FloatArray) -> FloatArray:
    """(b, 2): the times nearer each beat than its neighbours (the first and last beat reach
    as far out as in)."""
    middles = 0.5 * (beats[1:] + beats[:-1])
    first = beats[0] - (middles[0] - beats[0])
    last = beats[-1] + (beats[-1] - middles[-1])
    return np.stack([np.r_[first, middles], np.r_[middles, last]], axis=1)


def _in_view(cells: FloatArray, spans: FloatArray) -> npt.NDArray[np.bool_]:
    if not len(spans):
        return np.zeros(len(cells), dtype=bool)
    inside = (spans[None, :, 0] <= cells[:, None, 0]) & (cells[:, None, 1] <= spans[None, :, 1])
    return np.asarray(inside.any(axis=1))


def _answer(accents: Accents, beat: float, cell: Sequence[float]) -> float:
    """Signed offset of the accent answering ``beat`` in its ``cell``: of the accents there at
    least half as strong as the strongest, the nearest; NaN when there is none."""
    lo, hi = np.searchsorted(accents.times, cell)
    if hi <= lo:
        return math.nan
    times = accents.times[lo:hi]
    strength = accents.strength[lo:hi]
    strong = times[strength >= 0.5 * strength.max()]
    return float(strong[np.argmin(np.abs(strong - beat))] - beat)


def _count(count: int, offsets: FloatArray) -> CountOffset:
    found = offsets[np.isfinite(offsets)]
    median = 1000.0 * float(np.median(found)) if len(found) >= MIN_COUNT_BEATS else None
    return CountOffset(count, median, len(offsets), len(found))


# --- words ------------------------------------------------------------------------------------


def words(rhythm: Rhythm, offsets: FloatArray, counts: IntArray) -> tuple[str, ...]:
    """The rhythm in words, most important first: the lateness (or that it cannot be told
    without calibration), a count rushed or dragged, wandering timing, beats left unmarked;
    praise when all is well."""
    lines: list[str] = []
    median = None if rhythm.offset_ms is None else rhythm.offset_ms / 1000.0
    if median is None:
        return (f"no move landed near any of the {rhythm.beats} beats: let each move stop or "
                f"turn on a beat",)
    found = offsets[np.isfinite(offsets)]
    amount = f"about {round(abs(median) * 100) * 10} ms {'late' if median > 0 else 'early'}"
    on_beat = abs(median) < ON_BEAT_S
    if not rhythm.calibrated:
        looks = "on the beat" if on_beat else amount
        lines.append(f"your timing looks {looks}, but this device's delay is not measured yet: "
                     f"calibrate to be sure")
    elif not on_beat:
        same_side = float(np.mean(np.sign(found) == np.sign(median)))
        every = same_side >= EVERY_BEAT_SHARE and (rhythm.spread_ms or 0.0) <= 1000 * WANDER_S
        lines.append(f"you are {amount} on {'every beat' if every else 'most beats'}")
    count_line = _count_line(rhythm, offsets, counts)
    if count_line:
        lines.append(count_line)
    if rhythm.spread_ms is not None and rhythm.spread_ms > 1000 * WANDER_S:
        lines.append("your timing wanders: some moves land early and some late; count along "
                     "with the music")
    if rhythm.hits < MISSED_SHARE * rhythm.beats:
        lines.append(f"only {rhythm.hits} of the {rhythm.beats} beats had a move landing on "
                     f"them: let each move stop or turn on a beat")
    if not lines:
        lines.append("on the beat: your moves land with the music")
    return tuple(lines)


def _count_line(rhythm: Rhythm, offsets: FloatArray, counts: IntArray) -> str | None:
    """The count most consistently early or late against the other counts, in words."""
    worst: tuple[float, int] | None = None
    for count in rhythm.counts:
        if count.offset_ms is None:
            continue
        mine = offsets[(counts == count.count) & np.isfinite(offsets)]
        others = offsets[(counts != count.count) & np.isfinite(offsets)]
        if len(others) < MIN_COUNT_BEATS:
            continue
        shift = count.offset_ms / 1000.0 - float(np.median(others))
        side = float(np.mean(np.sign(mine - np.median(others)) == np.sign(shift)))
        if abs(shift) >= RUSH_S and side >= EVERY_BEAT_SHARE and (
                worst is None or abs(shift) > abs(worst[0])):
            worst = (shift, count.count)
    if worst is None:
        return None
    shift, number = worst
    return f"you {'rush' if shift < 0 else 'drag'} the {_ORDINALS[number - 1]} count"


@dataclass(frozen=True)
class Delay:
    """A device's delay measured with clicks: the median time from each click as played to
    the learner's accent answering it, and how much that varied."""

    delay_ms: float
    spread_ms: float
    clicks: int
    answered: int


MIN_CALIBRATION_CLICKS = 6
"""Answered clicks a calibration needs before its figure is trusted."""


def delay_of(accents: Accents, clicks: FloatArray) -> Delay:
    """The delay between ``clicks`` (seconds, as played) and the accents answering them (in the
    frames' clock): the median over clicks answered within half their spacing. A learner moving
    on the clicks lands on them, so what remains is the camera's, the pose model's and the
    speakers' delay together.

    Raises
    ------
    UserError
        When fewer than :data:`MIN_CALIBRATION_CLICKS` clicks were answered.
    """
    clicks = np.sort(np.asarray(clicks, dtype=np.float64))
    half = 0.5 * float(np.median(np.diff(clicks))) if len(clicks) > 1 else 0.25
    offsets = []
    for click in clicks:
        near = accents.times[np.abs(accents.times - click - half * 0.5) <= half]
        if near.size:
            offsets.append(float(near[np.argmin(np.abs(near - click - half * 0.5))] - click))
    if len(offsets) < MIN_CALIBRATION_CLICKS:
        raise UserError(f"only {len(offsets)} of {len(clicks)} clicks were answered by a movement "
                        f"(at least {MIN_CALIBRATION_CLICKS} are needed): move sharply on each "
                        "click, in full view")
    values = np.asarray(offsets)
    median = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - median)))
    return Delay(round(1000 * median, 1), round(1000 * spread, 1), len(clicks), len(offsets))
