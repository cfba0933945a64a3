"""One learner's live practice: each camera frame in, a score and calm feedback out.

Per frame (:meth:`LiveSession.push`): landmarks are smoothed (One-Euro), turned into features
exactly as the offline scorer does (camera roll estimated from the frames so far), followed
through the reference by the online aligner, compared with the reference frame the learner is
at, and added to the same per-reference-frame sums the offline scorer uses, so
:meth:`LiveSession.finish` closes with a :class:`~app.scoring.ScoreReport` built by the same
code. Limb states and corrections come from the last half second or so (exponential
averages), feedback lines pass through :class:`~app.feedback.FeedbackTracker` so they hold
still. No web types here: the server adapts :class:`LiveUpdate` to its messages.

Memory is bounded by the reference's length, however long the session; ``push`` costs O(n F)
for a reference of n frames and F features, with no compilation at session time (call
:func:`warm_up` once at start-up).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from app.align import COST_CAP, OnlineAligner
from app.feedback import Correction, FeedbackTracker, corrections, learner_limb, merged
from app.landmarks import Limb
from app.scoring import (
    GOOD_LIMB,
    LIMB_COUNTED,
    LIMB_IMPORTANCE,
    LIMB_MEMBERSHIP,
    LIMBS,
    Matches,
    Reference,
    ScoreOptions,
    ScoreReport,
    Timing,
    build_report,
    limb_scores,
    overall_of,
    rating,
)
from app.scoring import warm_up as warm_up_scoring
from app.sequence import N_LANDMARKS
from app.skeleton import (
    BODY_PART_MATRIX,
    BODY_PARTS,
    FEATURE_LIMBS,
    Features,
    FrameFeatures,
    Space,
    common_space,
    feature_matrix,
    landmark_weights,
)
from app.smoothing import LandmarkSmoother

FloatArray = npt.NDArray[np.float64]
LimbStateName = Literal["good", "warn", "bad", "unseen"]

WARN_LIMB = 50.0
"""Limb scores from here up to :data:`~app.scoring.GOOD_LIMB` are "warn", below "bad"."""
LIMB_MEMORY_S = 0.5
"""Time constant of the limb states and corrections, seconds."""
VISIBILITY_MEMORY_S = 1.0
"""Time constant of the out-of-view hints, seconds."""
MIN_CONFIDENCE = 0.25
"""Below this aligner confidence a frame still counts for the score but not for timing."""
_LIMB_COUNT = LIMB_COUNTED.sum(axis=0)
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


@dataclass(frozen=True)
class LimbState:
    """A limb's recent score (None when unseen) and its state for colouring."""

    score: float | None
    state: LimbStateName

    def to_dict(self) -> dict[str, Any]:
        return {"score": None if self.score is None else round(self.score, 1),
                "state": self.state}


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

    Notes
    -----
    The landmarks compared are chosen on the first frame showing someone: world landmarks
    when that frame and the reference both carry them, image landmarks otherwise (see
    :func:`app.skeleton.common_space`); a later frame missing them is then not judged.
    """

    def __init__(self, reference: Reference, options: ScoreOptions,
                 fps_hint: float = 30.0) -> None:
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
        self._ref_parts = _part_visibility(landmark_weights(seq.image_xyz, seq.visibility)
                                           [seq.present])
        self._smoother = LandmarkSmoother()
        self._frame_features = {space: FrameFeatures(space, options.mirror,
                                                     options.align_facing)
                                for space in self._features}
        self._aligners = {space: OnlineAligner(features, self._tolerance)
                          for space, features in self._features.items()}
        self.reset()

    # --- public -----------------------------------------------------------------------------

    def reset(self, start_frame: int = 0, end_frame: int | None = None) -> None:
        """Restart the attempt; with a range, loop reference frames ``start:end`` only."""
        n = len(self.reference.sequence)
        end = n if end_frame is None else end_frame
        if not 0 <= start_frame < end <= n:
            raise ValueError(f"reference frames {start_frame}:{end} are not a part of 0:{n}")
        self._span = (start_frame, end)
        loop = end_frame is not None or start_frame > 0
        for aligner in self._aligners.values():
            aligner.reset(start_frame, end, loop=loop)
        for features in self._frame_features.values():
            features.reset()
        self._smoother.reset()
        self._tracker = FeedbackTracker()
        self._steps = self._spans(start_frame, end)
        self._matches = {space: Matches(f, self._tolerance) for space, f in self._features.items()}
        self._space: Space | None = None
        self._limb_num = np.zeros(len(LIMBS))
        self._limb_den = np.zeros(len(LIMBS))
        self._expected = np.zeros(len(LIMBS))
        self._recent_d = np.zeros(len(FEATURE_LIMBS))
        self._recent_d2 = np.zeros(len(FEATURE_LIMBS))
        self._recent_w = np.zeros(len(FEATURE_LIMBS))
        self._parts = np.ones(len(BODY_PARTS))
        self._part_hidden = np.zeros(len(BODY_PARTS))
        self._present_frames = 0
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
        matches = self._matches[space]
        for passed in range(previous + 1, index) if index - previous <= 4 else ():
            matches.add(passed, values, weights, t)
        d = matches.add(index, values, weights, t)
        w = self._features[space].weights[index] * weights
        self._accumulate(d, w, self._features[space].weights[index], dt)
        self._track_visibility(landmark_w, dt)
        if state.confidence >= MIN_CONFIDENCE:
            self._lag_sum += self._lag(t, index)
            self._lag_count += 1
        limbs = self._limb_states()
        good = {limb: s.state == "good" for limb, s in limbs.items()}
        messages = tuple(self._tracker.update(t, self._corrections(t, index, limbs), good))
        landmarks = np.concatenate([image, vis[:, None]], axis=1)
        return LiveUpdate(
            t=t, landmarks=landmarks, ref_position=state.position,
            ref_time_s=float(self._ref_t[index]), tempo=state.tempo,
            confidence=state.confidence, score=self._running_score(), limbs=limbs,
            messages=messages, step_event=self._step_event(index, d, w),
            visible_hint=self._visible_hint(),
        )

    def finish(self) -> ScoreReport:
        """The closing summary over everything pushed since the start or the last reset."""
        if self._space is None or not self._matches[self._space].visits.any():
            raise ValueError("nothing to score: no frame showed the learner")
        matches = self._matches[self._space]
        offset = self._lag_sum / self._lag_count if self._lag_count else 0.0
        hidden = [part for k, part in enumerate(BODY_PARTS)
                  if self._part_hidden[k] > 0.5 * self._present_frames
                  and self._ref_parts[part] >= 0.5]
        return build_report(self.reference, matches, Timing(offset, self._tempo), self.options,
                            hidden, self._space)

    # --- internals --------------------------------------------------------------------------

    def _spans(self, start: int, end: int) -> list[_Span]:
        spans = []
        for step in self.reference.sequence.steps:
            lo = int(np.searchsorted(self._ref_t, step.start_s, side="left"))
            hi = int(np.searchsorted(self._ref_t, step.end_s, side="left"))
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
        if self._absent_since is None:
            self._absent_since = t
        hint = _NOBODY_HINT if t - self._absent_since >= 0.5 else None
        unseen = {learner_limb(limb, self.options.mirror): LimbState(None, "unseen")
                  for limb in LIMBS}
        index = min(max(round(self._position), 0), len(self._ref_t) - 1)
        return LiveUpdate(t=t, landmarks=None, ref_position=self._position,
                          ref_time_s=float(self._ref_t[index]), tempo=self._tempo,
                          confidence=0.0, score=self._running_score(), limbs=unseen,
                          messages=tuple(self._tracker.update(t, [], {})),
                          visible_hint=hint)

    def _accumulate(self, d: FloatArray, w: FloatArray, ref_w: FloatArray, dt: float) -> None:
        squared = np.minimum(d * d, COST_CAP)
        self._limb_num += (w * squared) @ LIMB_MEMBERSHIP
        self._limb_den += w @ LIMB_COUNTED
        self._expected += ref_w @ LIMB_COUNTED
        a = 1.0 - math.exp(-dt / LIMB_MEMORY_S) if self._recent_w.any() else 1.0
        self._recent_d += a * (w * d - self._recent_d)
        self._recent_d2 += a * (w * squared - self._recent_d2)
        self._recent_w += a * (w - self._recent_w)

    def _running_score(self) -> float:
        seen = np.divide(self._limb_den, self._expected, out=np.zeros(len(LIMBS)),
                         where=self._expected > 0)
        return overall_of(limb_scores(self._limb_num, self._limb_den, seen))

    def _limb_states(self) -> dict[Limb, LimbState]:
        den = self._recent_w @ LIMB_COUNTED
        scores = limb_scores(self._recent_d2 @ LIMB_MEMBERSHIP, den, den / _LIMB_COUNT)
        states = {}
        for k, limb in enumerate(LIMBS):
            own = learner_limb(limb, self.options.mirror)
            value = float(scores[k])
            if not math.isfinite(value):
                states[own] = LimbState(None, "unseen")
                continue
            state: LimbStateName = ("good" if value >= GOOD_LIMB
                                    else "warn" if value >= WARN_LIMB else "bad")
            states[own] = LimbState(value, state)
        return states

    def _corrections(self, t: float, index: int, limbs: Mapping[Limb, LimbState]
                     ) -> list[Correction]:
        """Recent corrections for the limbs not good now, most important first."""
        if t - self._corrections_t < CORRECTION_INTERVAL_S:
            return self._recent_corrections
        self._corrections_t = t
        mirror = self.options.mirror
        wanted = [limb for limb in LIMBS if limbs[learner_limb(limb, mirror)].state
                  in ("warn", "bad")]
        found: list[Correction] = []
        if wanted:
            with np.errstate(invalid="ignore", divide="ignore"):
                delta = np.nan_to_num(self._recent_d / self._recent_w) * self._tolerance[index]
                severity = np.where(self._recent_w > 0.05,
                                    np.sqrt(self._recent_d2 / self._recent_w), np.nan)
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

    def _track_visibility(self, landmark_w: FloatArray, dt: float) -> None:
        self._present_frames += 1
        a = 1.0 - math.exp(-dt / VISIBILITY_MEMORY_S)
        seen = landmark_w @ BODY_PART_MATRIX
        self._parts += a * (seen - self._parts)
        self._part_hidden += seen < 0.5

    def _visible_hint(self) -> str | None:
        for k, part in enumerate(BODY_PARTS):
            if self._parts[k] < 0.5 and self._ref_parts[part] >= 0.5:
                return _HINTS[part]
        return None

    def _step_event(self, index: int, d: FloatArray, w: FloatArray) -> StepEvent | None:
        event = None
        for span in self._steps:
            inside = span.start <= index < span.end
            if inside:
                if span.name not in self._step_entered and index < span.start + max(
                        1, (span.end - span.start) // 3):
                    self._step_entered.add(span.name)
                    self._step_sums[span.name] = np.zeros((2, len(LIMBS)))
                if span.name in self._step_entered:
                    sums = self._step_sums[span.name]
                    sums[0] += (w * np.minimum(d * d, COST_CAP)) @ LIMB_MEMBERSHIP
                    sums[1] += w @ LIMB_COUNTED
            completed = index >= span.end - max(1, round(0.1 * self._ref_fps)) and inside
            if completed and span.name in self._step_entered:
                self._step_entered.discard(span.name)
                sums = self._step_sums.pop(span.name)
                scores = limb_scores(sums[0], sums[1], np.ones(len(LIMBS)))
                if np.isfinite(scores).any():
                    value = overall_of(scores)
                    event = StepEvent(span.name, value, rating(value))
        return event


def _part_visibility(weights: FloatArray) -> dict[str, float]:
    """Share of frames where each body part shows, from (n, 33) landmark weights."""
    return {part: float(np.mean(weights[:, [int(lm) for lm in landmarks]].mean(axis=1) >= 0.5))
            if len(weights) else 0.0 for part, landmarks in BODY_PARTS.items()}


def warm_up() -> None:
    """Compile or load every kernel a session uses; call once before the first session."""
    warm_up_scoring()
