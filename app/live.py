"""One learner's live practice: each camera frame in, a score and calm feedback out.

Per frame (:meth:`LiveSession.push`): landmarks are smoothed (One-Euro), turned into features
exactly as the offline scorer does (camera roll estimated from the frames so far), followed
through the reference by the online aligner, compared with the reference frame the learner is
at, and added to the same per-reference-frame sums the offline scorer uses, so
:meth:`LiveSession.finish` closes with a :class:`~app.report.ScoreReport` built by the same
code. Limb states and corrections come from the last half second or so (exponential
averages), feedback lines pass through :class:`~app.feedback.FeedbackTracker` so they hold
still. With the step's beat grid and the moment its music started, each frame's accents are
collected too (:class:`~app.rhythm.AccentTracker`), and the closing report judges them against
the beats the learner heard (:mod:`app.rhythm`), apart from the shape. No web types here: the
server adapts :class:`LiveUpdate` to its messages.

Memory is bounded by the reference's length, however long the session; ``push`` costs O(n F)
for a reference of n frames and F features, with no compilation at session time (call
:func:`warm_up` once at start-up).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

import numba
import numpy as np
import numpy.typing as npt

from app.align import COST_CAP, OnlineAligner
from app.beats import BeatGrid
from app.errors import UserError
from app.features import Features, Space
from app.feedback import Correction, FeedbackTracker, corrections, learner_limb, merged
from app.landmarks import Limb
from app.matches import Matches
from app.normalise import FrameFeatures, common_space, feature_matrix
from app.reference import Reference
from app.report import RATINGS, ScoreReport, Timing, rating
from app.rhythm import (
    AccentTracker,
    Latency,
    Rhythm,
    danced_beats,
    heard_beats,
    measure,
)
from app.schema import SKELETON
from app.scoring import (
    GOOD_LIMB,
    LIMB_IMPORTANCE,
    ScoreOptions,
    build_report,
    limb_scores,
    overall_of,
    seen_poorly,
)
from app.scoring import warm_up as warm_up_scoring
from app.sequence import N_LANDMARKS, PoseSequence
from app.smoothing import LandmarkSmoother
from app.visibility import (
    BODY_PART_MATRIX,
    BODY_PARTS,
    JitterMeter,
    jitter_of,
    landmark_jitter,
    landmark_weights,
)

FloatArray = npt.NDArray[np.float64]
LimbStateName = Literal["good", "warn", "bad", "unseen"]

WARN_LIMB = 50.0
"""Limb scores from here up to :data:`~app.scoring.GOOD_LIMB` are "warn", below "bad"."""
MASTERED_SCORE = dict(RATINGS)["Great"]
"""A step or a run scoring this or more ("Great" or better) is mastered."""
MASTERED_ROUNDS = 3
"""Rounds in a row of a looped step at :data:`MASTERED_SCORE` or more that master it: the page
then offers the next step."""
LIMB_MEMORY_S = 0.5
"""Time constant of the limb states and corrections, seconds."""
VISIBILITY_MEMORY_S = 1.0
"""Time constant of the out-of-view hints, seconds."""
JITTER_MEMORY_S = 2.0
"""Time constant of the recent landmark jitter behind the "seen poorly" hint, seconds."""
MIN_JITTER_EVIDENCE = 60.0
"""Accelerations (decayed) needed before the recent jitter is trusted for a hint."""
MIN_CONFIDENCE = 0.25
"""Below this aligner confidence a frame still counts for the score but not for timing."""
CORRECTION_INTERVAL_S = 0.2
"""Corrections are worked out again at most this often (they must last longer to be shown)."""
_HINTS = {
    "feet": "step back: your feet are out of view",
    "knees": "step back: your knees are out of view",
    "hands": "step back or to the middle: your hands are out of view",
    "head": "step back: your head is out of view",
    "hips": "step back: your hips are out of view",
}
_NOBODY_HINT = "step into the frame: the camera cannot see you"
_POORLY_SEEN_HINT = "more light, please: the camera sees you poorly"


class NothingToScore(UserError):
    """A session closed before any frame showed the learner."""


@dataclass(frozen=True)
class LimbState:
    """A limb's recent score (None when unseen) and its state for colouring."""

    score: float | None
    state: LimbStateName

    def to_dict(self) -> dict[str, Any]:
        return {"score": None if self.score is None else round(self.score, 1),
                "state": self.state}


_UNSEEN = LimbState(None, "unseen")


@dataclass(frozen=True)
class StepEvent:
    """A reference step the learner just completed."""

    step: str
    score: float
    rating: str

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "score": round(self.score, 1), "rating": self.rating}


@dataclass(frozen=True, eq=False)
class LiveUpdate:
    """What the page shows after one frame.

    Attributes
    ----------
    t : float
        The frame's time, seconds.
    landmarks : (33, 4) float64 or None
        Smoothed image landmarks (normalised x, y, z) and visibility, for drawing; None when
        nobody is in view.
    ref_position : float
        Reference frame the learner is at (fractional).
    ref_time_s : float
        The same in reference seconds.
    tempo : float
        Learner's speed over the practised speed (1: on tempo).
    confidence : float
        0..1, how sure the aligner is of the position.
    score : float
        Running score 0-100 since the start (or the last reset).
    limbs : mapping of Limb to LimbState
        The learner's own limbs.
    messages : tuple of str
        At most two lines, held for a while.
    step_event : StepEvent or None
        Set on the frame a reference step is completed.
    visible_hint : str or None
        What to do so the camera sees the body.
    """

    t: float
    landmarks: FloatArray | None
    ref_position: float
    ref_time_s: float
    tempo: float
    confidence: float
    score: float
    limbs: Mapping[Limb, LimbState]
    messages: tuple[str, ...] = ()
    step_event: StepEvent | None = None
    visible_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (landmarks as lists rounded to 4 decimals)."""
        return {
            "t": round(self.t, 4),
            "landmarks": None if self.landmarks is None
            else np.round(self.landmarks, 4).tolist(),
            "ref_position": round(self.ref_position, 2),
            "ref_time_s": round(self.ref_time_s, 3),
            "tempo": round(self.tempo, 3),
            "confidence": round(self.confidence, 3),
            "score": round(self.score, 1),
            "limbs": {limb.value: state.to_dict() for limb, state in self.limbs.items()},
            "messages": list(self.messages),
            "step_event": None if self.step_event is None else self.step_event.to_dict(),
            "visible_hint": self.visible_hint,
        }


@dataclass(frozen=True)
class _Span:
    """A named part of the reference, in frames (``end`` exclusive)."""

    name: str
    start: int
    end: int


class LiveSession:
    """One learner practising one reference, frame by frame.

    Parameters
    ----------
    reference : Reference
    options : ScoreOptions
        ``mirror``, ``align_facing`` and ``speed`` (the playback speed the learner follows)
        apply live as offline.
    fps_hint : float
        Expected camera frame rate, for the time constants before timestamps tell.
    beats : BeatGrid or None
        The reference's beat grid (reference seconds from its first frame), for the rhythm.
    latency : Latency or None
        The device's measured camera and audio delays; None: uncalibrated (the rhythm's words
        say so rather than blame the learner).

    Notes
    -----
    The landmarks compared are chosen on the first frame showing someone: world landmarks
    when that frame and the reference both carry them, image landmarks otherwise (see
    :func:`app.normalise.common_space`); a later frame missing them is then not judged.
    """

    def __init__(self, reference: Reference, options: ScoreOptions,
                 fps_hint: float = 30.0, beats: BeatGrid | None = None,
                 latency: Latency | None = None) -> None:
        if not (math.isfinite(fps_hint) and fps_hint > 0):
            raise ValueError(f"fps_hint must be a positive number, got {fps_hint}")
        self.reference = reference
        self.options = options
        self.fps_hint = fps_hint
        seq = reference.sequence
        self._tolerance = reference.tolerance_matrix()
        self._features: dict[Space, Features] = {"image": feature_matrix(
            seq, space="image", align_facing=options.align_facing)}
        if common_space(seq) == "world":
            self._features["world"] = feature_matrix(seq, space="world",
                                                     align_facing=options.align_facing)
        self._ref_t = seq.t - seq.t[0]
        self._ref_fps = self._features["image"].fps
        self._ref_jitter = landmark_jitter(seq)
        self._ref_parts = _part_visibility(landmark_weights(seq.image_xyz, seq.visibility)
                                           [seq.present])
        self._own_limbs = tuple(learner_limb(limb, options.mirror) for limb in SKELETON.limbs)
        self._smoother = LandmarkSmoother()
        self._frame_features = {space: FrameFeatures(space, options.mirror,
                                                     options.align_facing)
                                for space in self._features}
        self._aligners = {space: OnlineAligner(features, self._tolerance)
                          for space, features in self._features.items()}
        self.beats = beats
        self.latency = latency
        self._accents = AccentTracker()
        self._danced = None if beats is None else danced_beats(
            beats, reference.accents,
            seq.duration_s)
        self.reset()

    # --- public -----------------------------------------------------------------------------

    def reset(self, start_frame: int = 0, end_frame: int | None = None,
              music_start_s: float | None = None, rate: float | None = None) -> None:
        """Restart the attempt; with a range, loop reference frames ``start:end`` only.

        ``music_start_s`` is when the music of that part (or of the whole reference) started
        playing, in the clock of :meth:`push`'s times, at ``rate`` times its speed (None: the
        practised ``speed``); looping a part, its music is taken to loop with it. Without it
        (or without a beat grid) the report has no rhythm.
        """
        n = len(self.reference.sequence)
        end = n if end_frame is None else end_frame
        if not 0 <= start_frame < end <= n:
            raise ValueError(f"reference frames {start_frame}:{end} are not a part of 0:{n}")
        for label, value in (("music_start_s", music_start_s), ("rate", rate)):
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{label} must be finite, got {value}")
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self._span = (start_frame, end)
        loop = end_frame is not None or start_frame > 0
        self._loop = loop
        self._music = None if music_start_s is None else (
            music_start_s, self.options.speed if rate is None else rate)
        self._accents.reset()
        for aligner in self._aligners.values():
            aligner.reset(start_frame, end, loop=loop)
        for features in self._frame_features.values():
            features.reset()
        self._smoother.reset()
        self._tracker = FeedbackTracker()
        self._steps = self._spans(start_frame, end)
        self._matches = {space: Matches(f, self._tolerance) for space, f in self._features.items()}
        self._space: Space | None = None
        self._totals = np.zeros((3, len(SKELETON.measurements)))
        self._recent = np.zeros((3, SKELETON.n_features))
        self._frame_sums = np.zeros((3, len(SKELETON.measurements)))
        self._judged = np.zeros((2, 2, len(SKELETON.measurements)))
        self._seen = np.zeros((2, len(SKELETON.limbs)))
        self._scores = np.full((2, len(SKELETON.limbs)), np.nan)
        self._score = 0.0
        self._parts = np.ones(len(BODY_PARTS))
        self._part_hidden = np.zeros(len(BODY_PARTS))
        self._present_frames = 0
        self._jitter = JitterMeter(JITTER_MEMORY_S)
        self._absent_since: float | None = None
        self._last_t: float | None = None
        self._t0: float | None = None
        self._position = float(start_frame)
        self._index = start_frame - 1
        self._tempo = 1.0
        self._confidence = 0.0
        self._lag_sum = 0.0
        self._lag_count = 0
        self._step_sums: dict[str, FloatArray] = {}
        self._corrections_t = -math.inf
        self._recent_corrections: list[Correction] = []
        self._step_entered: set[str] = set()

    def push(self, t: float, image_xyz: FloatArray | None, visibility: FloatArray | None,
             world_xyz: FloatArray | None, image_size: tuple[int, int]) -> LiveUpdate:
        """Take one camera frame and say how the learner is doing.

        Parameters
        ----------
        t : float
            Capture time, seconds, increasing.
        image_xyz : (33, 3) float64 or None
            Normalised image landmarks; None when nobody is in view.
        visibility : (33,) float64 or None
        world_xyz : (33, 3) float64 or None
            World landmarks (metres) when the pose model gives them.
        image_size : (int, int)
            Width and height of the frame, for the aspect ratio.
        """
        self._check(t, image_xyz, visibility, world_xyz, image_size)
        dt = 1.0 / self.fps_hint if self._last_t is None else t - self._last_t
        self._last_t = t
        if self._t0 is None:
            self._t0 = t
        if image_xyz is None:
            return self._nobody(t)
        self._absent_since = None
        vis = np.ones(N_LANDMARKS) if visibility is None else visibility
        aspect = image_size[0] / image_size[1]
        self._jitter.add(t, image_xyz, vis, aspect)
        if self.beats is not None:
            self._accents.add(t, image_xyz, vis, aspect)
        image, world = self._smoother(t, image_xyz, aspect, world_xyz)
        if self._space is None:
            self._space = "world" if world is not None and "world" in self._features else "image"
        space = self._space
        values, weights, landmark_w = self._frame_features[space](image, vis, world, aspect)
        state = self._aligners[space].push(values, weights, (t - self._t0) * self.options.speed)
        self._position, self._tempo, self._confidence = (state.position, state.tempo,
                                                         state.confidence)
        previous = self._index
        index = min(max(round(state.position), 0), len(self._ref_t) - 1)
        self._index = index
        first = previous + 1 if 0 < index - previous <= 4 else index
        d, pair_w, ref_w = self._matches[space].add(index, values, weights, t, first)
        self._accumulate(d, pair_w, ref_w, landmark_w, dt)
        if state.confidence >= MIN_CONFIDENCE:
            self._lag_sum += self._lag(t, index)
            self._lag_count += 1
        limbs = self._limb_states()
        good = {limb: s.state == "good" for limb, s in limbs.items()}
        messages = tuple(self._tracker.update(t, self._corrections(t, index, limbs), good))
        landmarks = np.empty((N_LANDMARKS, 4))
        landmarks[:, :3] = image
        landmarks[:, 3] = vis
        return LiveUpdate(
            t=t, landmarks=landmarks, ref_position=state.position,
            ref_time_s=float(self._ref_t[index]), tempo=state.tempo,
            confidence=state.confidence, score=self._score, limbs=limbs,
            messages=messages, step_event=self._step_event(index),
            visible_hint=self._visible_hint(),
        )

    def finish(self) -> ScoreReport:
        """The closing summary over everything pushed since the start or the last reset.

        Raises
        ------
        NothingToScore
            When no frame showed the learner.
        """
        if self._space is None or not self._matches[self._space].visits.any():
            raise NothingToScore("nothing to score: no frame showed the learner")
        matches = self._matches[self._space]
        offset = self._lag_sum / self._lag_count if self._lag_count else 0.0
        hidden = [part for k, part in enumerate(BODY_PARTS)
                  if self._part_hidden[k] > 0.5 * self._present_frames
                  and self._ref_parts[part] >= 0.5]
        report = build_report(self.reference, matches, Timing(offset, self._tempo),
                              self.options, hidden, self._space,
                              seen_poorly(jitter_of(self._jitter.counts), self._ref_jitter))
        return replace(report, rhythm=self._rhythm())

    # --- internals --------------------------------------------------------------------------

    def _rhythm(self) -> Rhythm | None:
        """The learner's accents against the beats they heard, both in the movement's own
        time (capture times less the camera's delay; beats as played plus the audio's)."""
        if (self.beats is None or self._danced is None or not len(self._danced)
                or self._music is None):
            return None
        assert self._last_t is not None
        camera_s, audio_s = ((0.0, 0.0) if self.latency is None
                             else (self.latency.camera_s, self.latency.audio_s))
        start, end = self._span
        part_start = float(self._ref_t[start])
        part = (part_start, part_start + (end - start) / self._ref_fps)
        music_start, rate = self._music
        times, numbers = heard_beats(self.beats, music_start + audio_s, rate, part, self._loop,
                                     self._last_t + audio_s)
        numbers = np.minimum(numbers, len(self._danced) - 1)
        counts = np.array([self.beats.bar_of(int(k))[1] for k in numbers], dtype=np.int64)
        return measure(self._accents.accents().shifted(-camera_s), times, counts,
                       self.beats.meter, self.latency is not None, self._danced[numbers])

    def _spans(self, start: int, end: int) -> list[_Span]:
        spans = []
        seq = self.reference.sequence
        for step in seq.steps:
            lo, hi = seq.step_frames(step)
            lo, hi = max(lo, start), min(hi, end)
            if hi > lo:
                spans.append(_Span(step.name, lo, hi))
        if not spans:
            spans.append(_Span(self.reference.name or "reference", start, end))
        return spans

    def _check(self, t: float, image_xyz: FloatArray | None, visibility: FloatArray | None,
               world_xyz: FloatArray | None, image_size: tuple[int, int]) -> None:
        if not math.isfinite(t):
            raise ValueError(f"frame time must be finite, got {t}")
        if self._last_t is not None and t <= self._last_t:
            raise ValueError(f"frame time {t} s is not after the previous {self._last_t} s")
        width, height = image_size
        if width <= 0 or height <= 0:
            raise ValueError(f"image size must be positive, got {width}x{height}")
        for label, array, shape in (("image_xyz", image_xyz, (N_LANDMARKS, 3)),
                                    ("visibility", visibility, (N_LANDMARKS,)),
                                    ("world_xyz", world_xyz, (N_LANDMARKS, 3))):
            if array is not None and array.shape != shape:
                raise ValueError(f"{label} has shape {array.shape}, expected {shape}")

    def _nobody(self, t: float) -> LiveUpdate:
        self._jitter.gap()
        if self._absent_since is None:
            self._absent_since = t
        hint = _NOBODY_HINT if t - self._absent_since >= 0.5 else None
        unseen = dict.fromkeys(self._own_limbs, _UNSEEN)
        index = min(max(round(self._position), 0), len(self._ref_t) - 1)
        return LiveUpdate(t=t, landmarks=None, ref_position=self._position,
                          ref_time_s=float(self._ref_t[index]), tempo=self._tempo,
                          confidence=0.0, score=self._score, limbs=unseen,
                          messages=tuple(self._tracker.update(t, [], {})),
                          visible_hint=hint)

    def _accumulate(self, d: FloatArray, weights: FloatArray, ref_w: FloatArray,
                    landmark_w: FloatArray, dt: float) -> None:
        """Add a frame's (F,) differences and weights to the running and recent sums, and its
        (33,) landmark weights to what the camera sees of each body part."""
        self._present_frames += 1
        _accumulate_kernel(d, weights, ref_w, SKELETON.measurement_of,
                           SKELETON.measurement_limb, SKELETON.shares, SKELETON.limb_count,
                           1.0 - math.exp(-dt / LIMB_MEMORY_S), self._recent,
                           self._totals, self._frame_sums, self._judged, self._seen,
                           landmark_w, BODY_PART_MATRIX,
                           1.0 - math.exp(-dt / VISIBILITY_MEMORY_S), self._parts,
                           self._part_hidden)
        self._scores = limb_scores(self._judged[:, 0], self._judged[:, 1], self._seen)
        self._score = overall_of(self._scores[0])

    def _limb_states(self) -> dict[Limb, LimbState]:
        states = {}
        for own, value in zip(self._own_limbs, self._scores[1].tolist(), strict=True):
            if not math.isfinite(value):
                states[own] = _UNSEEN
            else:
                states[own] = LimbState(value, "good" if value >= GOOD_LIMB
                                        else "warn" if value >= WARN_LIMB else "bad")
        return states

    def _corrections(self, t: float, index: int, limbs: Mapping[Limb, LimbState]
                     ) -> list[Correction]:
        """Recent corrections for the limbs not good now, most important first."""
        if t - self._corrections_t < CORRECTION_INTERVAL_S:
            return self._recent_corrections
        self._corrections_t = t
        mirror = self.options.mirror
        wanted = [limb for limb in SKELETON.limbs if limbs[learner_limb(limb, mirror)].state
                  in ("warn", "bad")]
        found: list[Correction] = []
        if wanted:
            recent_d, recent_d2, recent_w = self._recent
            with np.errstate(invalid="ignore", divide="ignore"):
                delta = np.nan_to_num(recent_d / recent_w) * self._tolerance[index]
                severity = np.where(recent_w > 0.05, np.sqrt(recent_d2 / recent_w), np.nan)
            found = corrections(delta, severity, mirror, wanted)
            found.sort(key=lambda c: -c.severity * LIMB_IMPORTANCE[c.limb])
        self._recent_corrections = merged(found)
        return self._recent_corrections

    def _lag(self, t: float, index: int) -> float:
        """Seconds the learner is behind the reference playing since the session start."""
        assert self._t0 is not None
        expected = (t - self._t0) * self.options.speed
        start, end = self._span
        span_s = (end - start) / self._ref_fps
        lag = (expected - (self._ref_t[index] - self._ref_t[start])) / self.options.speed
        if end - start < len(self._ref_t) or start > 0:
            lag = (lag + span_s / 2) % span_s - span_s / 2
        return float(lag)

    def _visible_hint(self) -> str | None:
        for k, part in enumerate(BODY_PARTS):
            if self._parts[k] < 0.5 and self._ref_parts[part] >= 0.5:
                return _HINTS[part]
        if (self._jitter.recent.sum() >= MIN_JITTER_EVIDENCE
                and seen_poorly(jitter_of(self._jitter.recent), self._ref_jitter)):
            return _POORLY_SEEN_HINT
        return None

    def _step_event(self, index: int) -> StepEvent | None:
        event = None
        for span in self._steps:
            inside = span.start <= index < span.end
            if inside:
                if span.name not in self._step_entered and index < span.start + max(
                        1, (span.end - span.start) // 3):
                    self._step_entered.add(span.name)
                    self._step_sums[span.name] = np.zeros((2, len(SKELETON.measurements)))
                if span.name in self._step_entered:
                    self._step_sums[span.name] += self._frame_sums[:2]
            completed = index >= span.end - max(1, round(0.1 * self._ref_fps)) and inside
            if completed and span.name in self._step_entered:
                self._step_entered.discard(span.name)
                sums = self._step_sums.pop(span.name)
                scores = limb_scores(sums[0], sums[1], np.ones(len(SKELETON.limbs)))
                if np.isfinite(scores).any():
                    value = overall_of(scores)
                    event = StepEvent(span.name, value, rating(value))
        return event


@numba.njit(cache=True, nogil=True)
def _accumulate_kernel(d: FloatArray, w: FloatArray, ref_w: FloatArray,
                       measurement_of: npt.NDArray[np.int64],
                       limb_of: npt.NDArray[np.int64], share: FloatArray,
                       limb_count: FloatArray, decay: float, recent: FloatArray,
                       totals: FloatArray, frame: FloatArray, judged: FloatArray,
                       seen: FloatArray, landmark_w: FloatArray, part_matrix: FloatArray,
                       part_decay: float, parts: FloatArray,
                       part_hidden: FloatArray) -> None:  # pragma: no cover
    """One frame's sums, and the error sums to score the session and the recent past.

    ``d``, ``w`` and ``ref_w`` are the frame's (F,) differences, pair weights and the weights
    of the reference frames compared (see :meth:`~app.matches.Matches.add`). Updates
    ``recent`` (3, F): exponential averages (``decay`` per frame, starting at the first frame
    seen) of ``w d``, ``w min(d^2, cap)`` and ``w``; sets ``frame`` (3, M): the frame's
    per-measurement squared errors, counted weights and counted reference weights, and adds
    it to ``totals``. Sets ``judged`` (2, 2, M): squared and counted sums for
    :func:`~app.scoring.limb_scores`, row 0 since the start, row 1 recent, and ``seen``
    (2, 6): the share of each limb that was judged, since the start and recently.

    Also moves ``parts`` (an exponential average, ``part_decay`` per frame, of each body part's
    mean landmark weight, ``landmark_w @ part_matrix``) and counts in ``part_hidden`` the
    frames where a part showed less than half.
    """
    a = 1.0
    for f in range(recent.shape[1]):
        if recent[2, f] != 0.0:
            a = decay
            break
    frame[:] = 0.0
    judged[:] = 0.0
    seen[:] = 0.0
    expected = np.zeros(seen.shape[1])
    for f in range(d.shape[0]):
        m = measurement_of[f]
        squared = w[f] * min(d[f] * d[f], COST_CAP)
        frame[0, m] += squared
        frame[1, m] += w[f] * share[f]
        frame[2, m] += ref_w[f] * share[f]
        recent[0, f] += a * (w[f] * d[f] - recent[0, f])
        recent[1, f] += a * (squared - recent[1, f])
        recent[2, f] += a * (w[f] - recent[2, f])
        judged[1, 0, m] += recent[1, f]
        judged[1, 1, m] += recent[2, f] * share[f]
    for m in range(frame.shape[1]):
        k = limb_of[m]
        totals[0, m] += frame[0, m]
        totals[1, m] += frame[1, m]
        totals[2, m] += frame[2, m]
        judged[0, 0, m] = totals[0, m]
        judged[0, 1, m] = totals[1, m]
        seen[0, k] += totals[1, m]
        seen[1, k] += judged[1, 1, m]
        expected[k] += totals[2, m]
    for k in range(seen.shape[1]):
        seen[0, k] = seen[0, k] / expected[k] if expected[k] > 0.0 else 0.0
        seen[1, k] = seen[1, k] / limb_count[k]
    for part in range(parts.shape[0]):
        shown = 0.0
        for lm in range(landmark_w.shape[0]):
            shown += landmark_w[lm] * part_matrix[lm, part]
        parts[part] += part_decay * (shown - parts[part])
        if shown < 0.5:
            part_hidden[part] += 1.0


def _part_visibility(weights: FloatArray) -> dict[str, float]:
    """Share of frames where each body part shows, from (n, 33) landmark weights."""
    return {part: float(np.mean(weights[:, [int(lm) for lm in landmarks]].mean(axis=1) >= 0.5))
            if len(weights) else 0.0 for part, landmarks in BODY_PARTS.items()}


def warm_up() -> None:
    """Compile or load every kernel a session uses; call once before the first session."""
    warm_up_scoring()
    points = np.random.default_rng(0).uniform(0.3, 0.7, (2, N_LANDMARKS, 3))
    reference = PoseSequence.from_frames([0.0, 1 / 30], list(points), [None, None],
                                         list(points), fps=30.0, image_size=(640, 480))
    session = LiveSession(Reference(reference), ScoreOptions())
    for k, world in enumerate((points[0], None)):
        session.push(float(k), points[k], np.ones(N_LANDMARKS), world, (640, 480))
    session.finish()
