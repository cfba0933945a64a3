"""How well an attempt matched a reference: score, rating, limbs, timing, worst moments, words.

The scorer aligns the attempt to the reference (:class:`app.reference.Reference`, with
:func:`app.align.align_offline`), then measures, for every reference frame, each feature's
difference in tolerance units over the attempt frames matched to it
(:class:`app.matches.Matches`). From there (the same code for offline scoring and for the live
session's summary, :func:`build_report`):

* each limb of an attempt frame is compared with the reference's pose of that limb at the
  best moment within :data:`app.matches.TIME_SLACK_S` (0.2 s) of the matched frame: two
  people dancing the same step never move every limb on the same frame;
* a measurement's error (a joint angle, or a bone's direction) is the root mean square of its
  differences over the whole reference, each feature capped at three tolerances; reference
  frames the learner left out count as :data:`app.align.SKIP_COST`, the aligner's cost of
  leaving them out;
* a limb's error ``E`` is the power mean (exponent 16) of its measurements' errors, close to
  the worst one: an arm turned 40 degrees is not excused by an elbow bent right, and the score
  agrees with the correction, which names the measurement furthest off;
* a limb's score is ``100 / (1 + (E / 1.7) ** 5)``: 100 at no error, 93 at one tolerance off,
  50 at 1.7 tolerances, about 30 at two;
* the overall score is the weighted power mean (exponent -8) of the limb scores (arms, legs and
  torso weigh 1, the head 0.5): a limb done clearly wrong decides the score, as a teacher's
  eye does (five limbs at 100 and one at 40 give 49; all six at 90 give 90);
* limbs the camera did not see (less than 30 % of what the reference shows) are not scored and
  are listed as unseen; they never lower the score.

Timing (ahead or behind, tempo, :mod:`app.timing`) is reported and spoken about but never
lowers the score: a correct movement done slower, faster or later is correct. The report's
types and the rating tiers are in :mod:`app.report`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from app.align import AlignSettings, align_offline
from app.align import warm_up as warm_up_alignment
from app.errors import NoAlignmentError, UserError
from app.features import Features, Space
from app.feedback import (
    POORLY_SEEN_LINE,
    Correction,
    learner_limb,
    limb_correction,
    merged,
    timing_lines,
    visibility_line,
)
from app.landmarks import Limb
from app.matches import MIN_COUNTED, Matches
from app.normalise import common_space, feature_matrix
from app.normalise import warm_up as warm_up_features
from app.reference import Reference, as_reference
from app.report import Moment, ScoreReport, StepScore, Timing, rating
from app.schema import SKELETON
from app.sequence import PoseSequence
from app.timing import path_timing, reference_motion
from app.visibility import landmark_jitter, landmark_weights, out_of_view

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

HALF_SCORE_ERROR = 1.7
"""Limb error (tolerance units) that scores 50."""
SCORE_STEEPNESS = 5.0
"""How sharply a limb's score falls around :data:`HALF_SCORE_ERROR`: 93 at one tolerance,
79 at 1.3, 31 at two."""
POWER_MEAN_EXPONENT = -8.0
"""Exponent of the power mean of limb scores: a limb done clearly wrong decides the score."""
WORST_MEASUREMENT_EXPONENT = 16.0
"""A limb's error is this power mean of its measurements' errors: close to the worst one, so
an arm turned 40 degrees is not excused by an elbow bent right, and the score agrees with the
correction (which names the measurement furthest off)."""
LIMB_IMPORTANCE: dict[Limb, float] = {
    Limb.LEFT_ARM: 1.0, Limb.RIGHT_ARM: 1.0, Limb.LEFT_LEG: 1.0, Limb.RIGHT_LEG: 1.0,
    Limb.TORSO: 1.0, Limb.HEAD: 0.5,
}
UNSEEN_SHARE = 0.3
"""A limb judged on less than this share of what the reference shows is unseen."""
GOOD_LIMB = 80.0
"""Limbs scoring below this get a correction."""
MOMENT_SCORE = 60.0
"""Moments where a limb scores below this are candidates for the worst moments."""
MOMENT_MIN_S = 0.2
MAX_MOMENTS = 3
CAMERA_JITTER = 60.0
"""Landmark jitter (:func:`app.visibility.landmark_jitter`, torso lengths per second squared) of
a dancer seen well: 15-95 on the real clips and pose files of ``../shared/testdata``."""
POORLY_SEEN_JITTER = 4.0
"""An attempt jittering this many times more than the reference (or than
:data:`CAMERA_JITTER`, whichever is more) was seen poorly, and the report says so first."""
MIN_COVERAGE = 0.9
"""Below this share of the reference matched, the feedback says part of it was left out."""
_IMPORTANCE = np.array([LIMB_IMPORTANCE[limb] for limb in SKELETON.limbs])


def limb_errors(squared: FloatArray, counted: FloatArray) -> FloatArray:
    """Limb errors in tolerance units from per-measurement sums; NaN for limbs not judged.

    ``squared`` are sums of weighted squared differences per measurement, ``counted`` the sums
    of weights counted as measurements, both (..., M) with M = ``len(SKELETON.measurements)``. A
    measurement's error is the root mean square of its differences; a limb's is the power mean
    (:data:`WORST_MEASUREMENT_EXPONENT`) of its measurements' errors. Returns (..., 6).
    """
    squared = np.asarray(squared, dtype=np.float64)
    counted = np.asarray(counted, dtype=np.float64)
    rows = squared.reshape(-1, squared.shape[-1])
    out = np.empty((rows.shape[0], len(SKELETON.limbs)))
    _limb_errors_kernel(rows, counted.reshape(rows.shape), SKELETON.measurement_limb, out)
    return out.reshape((*squared.shape[:-1], len(SKELETON.limbs)))


@numba.njit(cache=True, nogil=True)
def error_score(error: FloatArray) -> FloatArray:  # pragma: no cover
    """Scores 0-100 of limb errors in tolerance units (an array, or one number inside a
    kernel): 100 at none, 50 at :data:`HALF_SCORE_ERROR`."""
    return 100.0 / (1.0 + (error / HALF_SCORE_ERROR) ** SCORE_STEEPNESS)


def limb_scores(squared: FloatArray, counted: FloatArray, seen: FloatArray) -> FloatArray:
    """Limb scores 0-100 from per-measurement error sums; NaN for limbs not judged.

    ``squared`` and ``counted`` as for :func:`limb_errors`, (..., M); ``seen`` (..., 6) the
    share of what the reference shows of each limb that was judged (below
    :data:`UNSEEN_SHARE` the limb is not judged). Returns (..., 6) in ``SKELETON.limbs`` order.
    """
    squared = np.asarray(squared, dtype=np.float64)
    rows = squared.reshape(-1, squared.shape[-1])
    out = np.empty((rows.shape[0], len(SKELETON.limbs)))
    _limb_scores_kernel(rows, np.asarray(counted, dtype=np.float64).reshape(rows.shape),
                        np.asarray(seen, dtype=np.float64).reshape(out.shape),
                        SKELETON.measurement_limb, out)
    return out.reshape((*squared.shape[:-1], len(SKELETON.limbs)))


@numba.njit(cache=True, nogil=True)
def _limb_errors_kernel(squared: FloatArray, counted: FloatArray, limb_of: IntArray,
                        out: FloatArray) -> None:  # pragma: no cover
    half = 0.5 * WORST_MEASUREMENT_EXPONENT
    for r in range(out.shape[0]):
        for k in range(out.shape[1]):
            total = 0.0
            count = 0
            for m in range(squared.shape[1]):
                if limb_of[m] == k and counted[r, m] > MIN_COUNTED:
                    total += (squared[r, m] / counted[r, m]) ** half
                    count += 1
            out[r, k] = (total / count) ** (1.0 / WORST_MEASUREMENT_EXPONENT) if count \
                else np.nan


@numba.njit(cache=True, nogil=True)
def _limb_scores_kernel(squared: FloatArray, counted: FloatArray, seen: FloatArray,
                        limb_of: IntArray, out: FloatArray) -> None:  # pragma: no cover
    _limb_errors_kernel(squared, counted, limb_of, out)
    for r in range(out.shape[0]):
        for k in range(out.shape[1]):
            error = out[r, k]
            if np.isfinite(error) and seen[r, k] >= UNSEEN_SHARE:
                out[r, k] = error_score(error)
            else:
                out[r, k] = np.nan


def overall_of(scores: FloatArray) -> float:
    """Weighted power mean of (6,) limb scores in ``SKELETON.limbs`` order, NaN ones left out."""
    return float(_overall_kernel(np.asarray(scores, dtype=np.float64), _IMPORTANCE))


@numba.njit(cache=True, nogil=True)
def _overall_kernel(scores: FloatArray, importance: FloatArray) -> float:  # pragma: no cover
    total = 0.0
    weight = 0.0
    for k in range(scores.shape[0]):
        if np.isfinite(scores[k]):
            total += importance[k] * max(scores[k], 1.0) ** POWER_MEAN_EXPONENT
            weight += importance[k]
    if weight == 0.0:
        return 0.0
    return float((total / weight) ** (1.0 / POWER_MEAN_EXPONENT))


def overall_score(limbs: Mapping[Limb, float]) -> float:
    """Weighted power mean of limb scores (a weak limb counts more than in an average)."""
    return overall_of(np.array([limbs.get(limb, np.nan) for limb in SKELETON.limbs]))


@dataclass(frozen=True)
class ScoreOptions:
    """Everything that changes how an attempt is judged.

    Attributes
    ----------
    mirror : bool
        The learner mirrors the reference (their left copies its right), as in a studio
        mirror. Feedback still names the learner's own limbs.
    align_facing : bool
        Turn both bodies to face the camera on average before comparing (a learner filmed at
        an angle).
    speed : float
        Playback speed of the reference the learner followed (0.5: half speed); timing is
        judged against it.
    band : float or None
        Alignment band as a share of the longer sequence (None: limited by tempo only).
    late_start_s, early_stop_s : float or None
        Attempt seconds that may go unmatched at the start / end (None: any).
    reference_slack : float
        Share of the reference that may be left out at each end (each frame left out counts
        as wrong).
    max_feedback : int
        Most feedback lines in a report.
    """

    mirror: bool = False
    align_facing: bool = False
    speed: float = 1.0
    band: float | None = None
    late_start_s: float | None = None
    early_stop_s: float | None = None
    reference_slack: float = 0.5
    max_feedback: int = 4

    def __post_init__(self) -> None:
        if not (math.isfinite(self.speed) and 0.1 <= self.speed <= 4.0):
            raise UserError(f"speed must be between 0.1 and 4, got {self.speed}")
        if not 0.0 <= self.reference_slack < 1.0:
            raise ValueError(f"reference_slack must be in [0, 1), got {self.reference_slack}")
        for name in ("late_start_s", "early_stop_s"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        if self.max_feedback < 1:
            raise ValueError(f"max_feedback must be at least 1, got {self.max_feedback}")

    def align_settings(self, n_reference: int, fps: float) -> AlignSettings:
        """The alignment settings for a reference of ``n_reference`` frames at ``fps``."""
        slack = int(self.reference_slack * n_reference)
        return AlignSettings(
            band=self.band,
            attempt_start_slack=None if self.late_start_s is None
            else round(self.late_start_s * fps),
            attempt_end_slack=None if self.early_stop_s is None
            else round(self.early_stop_s * fps),
            reference_start_slack=slack,
            reference_end_slack=slack,
        )


def _frame_errors(squared: FloatArray, weight: FloatArray) -> FloatArray:
    """(n, 6) per-frame limb errors (NaN where nothing judged) from (n, F) sums."""
    return limb_errors(squared @ SKELETON.measurement_membership,
                       weight @ SKELETON.measurement_counted)


def _limb_scores(squared: FloatArray, weight: FloatArray, seen: FloatArray
                 ) -> dict[Limb, float]:
    """Scores of limbs seen enough, from (n, F) sums over the frames that count."""
    scores = limb_scores((squared @ SKELETON.measurement_membership).sum(axis=0),
                         (weight @ SKELETON.measurement_counted).sum(axis=0), seen)
    return {limb: float(scores[k]) for k, limb in enumerate(SKELETON.limbs)
            if np.isfinite(scores[k])}


def _seen_share(matches: Matches) -> FloatArray:
    """(6,) share of what the reference shows that was judged, per limb."""
    visited = matches.visits > 0
    expected = ((matches.reference.weights[visited] * matches.visits[visited, None])
                @ SKELETON.limb_membership)
    judged = matches.weight[visited] @ SKELETON.limb_membership
    total = expected.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, judged.sum(axis=0) / total, 0.0)


def _learner_keys(scores: Mapping[Limb, float], mirror: bool) -> dict[Limb, float]:
    return {learner_limb(limb, mirror): s for limb, s in scores.items()}


def _correction(matches: Matches, frames: npt.NDArray[np.bool_], emphasis: FloatArray,
                limb: Limb, mirror: bool) -> Correction | None:
    """The correction for ``limb`` over ``frames``, each weighted by ``emphasis`` (n,)."""
    a = (emphasis * frames)[:, None]
    den = np.sum(a * matches.weight, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = np.sum(a * matches.signed * matches.tolerance, axis=0) / den
        severity = np.sqrt(np.sum(a * matches.squared, axis=0) / den)
    return limb_correction(limb, np.nan_to_num(delta), np.where(den > 0, severity, np.nan),
                           mirror)


def _worst_moments(matches: Matches, frame_errors: FloatArray, scored: Sequence[Limb],
                   mirror: bool) -> list[Moment]:
    ref_t = matches.reference.t
    fps = matches.reference.fps
    window = max(1, min(round(0.2 * fps), len(matches)))
    kernel = np.ones(window) / window
    found: list[tuple[float, Moment]] = []
    for k, limb in enumerate(SKELETON.limbs):
        if limb not in scored:
            continue
        errors = frame_errors[:, k]
        judged = np.isfinite(errors)
        scores = np.where(judged, error_score(np.where(judged, errors, 0.0)), 100.0)
        smooth = np.convolve(scores, kernel, mode="same")
        bad = smooth < MOMENT_SCORE
        for start, stop in _runs(bad):
            if (stop - start) / fps < MOMENT_MIN_S:
                continue
            frames = np.zeros(len(matches), dtype=bool)
            frames[start:stop] = True
            correction = _correction(matches, frames, np.nan_to_num(errors) ** 2, limb, mirror)
            own = learner_limb(limb, mirror)
            error = correction.text if correction else f"your {own.words} differs from the " \
                                                        f"reference"
            attempt_t = matches.attempt_t[start:stop]
            seen_t = attempt_t[np.isfinite(attempt_t)]
            moment = Moment(
                float(seen_t.min()) if seen_t.size else None,
                float(seen_t.max()) + 1.0 / fps if seen_t.size else None,
                float(ref_t[start]), float(ref_t[stop - 1]) + 1.0 / fps, own,
                float(smooth[start:stop].mean()), error,
            )
            found.append((float(np.sum(100.0 - smooth[start:stop])), moment))
    found.sort(key=lambda item: -item[0])
    return [moment for _, moment in found[:MAX_MOMENTS]]


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(),
                    strict=True))


def _limb_corrections(matches: Matches, frames: npt.NDArray[np.bool_], frame_errors: FloatArray,
                      limbs: Mapping[Limb, float], mirror: bool) -> list[Correction]:
    """Corrections for the limbs scoring below :data:`GOOD_LIMB` over ``frames``, the most
    important first."""
    found = []
    for k, limb in enumerate(SKELETON.limbs):
        if limb in limbs and limbs[limb] < GOOD_LIMB:
            emphasis = np.nan_to_num(frame_errors[:, k]) ** 2
            correction = _correction(matches, frames, emphasis, limb, mirror)
            if correction is not None:
                found.append(((limbs[limb] - 100.0) * LIMB_IMPORTANCE[limb], correction))
    found.sort(key=lambda item: item[0])
    return [c for _, c in found]


def _steps(reference: Reference, matches: Matches, squared: FloatArray, weight: FloatArray,
           seen: FloatArray, frame_errors: FloatArray, mirror: bool) -> list[StepScore]:
    steps = []
    seq = reference.sequence
    visited = matches.visits > 0
    for step in seq.steps:
        start, stop = seq.step_frames(step)
        if stop == start:
            continue
        limbs = _limb_scores(squared[start:stop], weight[start:stop], seen)
        if not limbs:
            continue
        score = overall_score(limbs)
        frames = np.zeros(len(matches), dtype=bool)
        frames[start:stop] = visited[start:stop]
        corrections = _limb_corrections(matches, frames, frame_errors, limbs, mirror)
        steps.append(StepScore(step.name, score, rating(score), _learner_keys(limbs, mirror),
                               step.start_s, step.end_s, tuple(corrections)))
    return steps


def _coverage_line(matches: Matches) -> str | None:
    if matches.coverage >= MIN_COVERAGE:
        return None
    visited = np.flatnonzero(matches.visits > 0)
    share = f"{matches.coverage * 100:.0f}%"
    if visited.size and visited[0] > 0.05 * len(matches):
        return f"you started partway into the step: only {share} of it was danced"
    return f"you stopped before the end of the step: only {share} of it was danced"


def build_report(reference: Reference, matches: Matches, timing: Timing,
                 options: ScoreOptions = ScoreOptions(), not_visible: Sequence[str] = (),
                 space: Space = "image", poorly_seen: bool = False) -> ScoreReport:
    """The report from matched frames (the shared last stage of offline and live scoring).

    Parameters
    ----------
    reference : Reference
    matches : Matches
        Sums over the matched frames; its features are the reference's.
    timing : Timing
    options : ScoreOptions
    not_visible : sequence of str
        Body parts the camera missed, for the feedback.
    space : {"world", "image"}
        The landmarks compared, for the record.
    poorly_seen : bool
        The camera saw the learner poorly (see :attr:`ScoreReport.poorly_seen`).
    """
    squared, weight = matches.penalised()
    seen = _seen_share(matches)
    limbs = _limb_scores(squared, weight, seen)
    score = overall_score(limbs)
    mirror = options.mirror
    frame_errors = _frame_errors(matches.squared, matches.weight)
    corrections = _limb_corrections(matches, matches.visits > 0, frame_errors, limbs, mirror)
    spoken = merged(corrections)
    causes = [POORLY_SEEN_LINE if poorly_seen else None, _coverage_line(matches)]
    lines = [line for line in causes if line]
    lines.extend(c.text for c in spoken)
    lines.extend(line for line in [visibility_line(not_visible)] if line)
    if not lines:
        lines.append("well done: your movement matches the reference")
    lines.extend(timing_lines(timing.offset_s, timing.tempo))
    unseen = tuple(learner_limb(limb, mirror) for limb in SKELETON.limbs if limb not in limbs)
    return ScoreReport(
        score=score, rating=rating(score), limbs=_learner_keys(limbs, mirror), unseen=unseen,
        not_visible=tuple(not_visible), timing=timing,
        feedback=tuple(lines[:options.max_feedback]),
        corrections=tuple(corrections),
        steps=tuple(_steps(reference, matches, squared, weight, seen, frame_errors, mirror)),
        worst_moments=tuple(_worst_moments(matches, frame_errors, list(limbs), mirror)),
        coverage=matches.coverage, poorly_seen=poorly_seen, reference=reference.name,
        mirror=mirror, space=space,
    )


def score(reference: Reference | PoseSequence, attempt: PoseSequence,
          options: ScoreOptions = ScoreOptions()) -> ScoreReport:
    """Score ``attempt`` against ``reference``.

    Parameters
    ----------
    reference : Reference or PoseSequence
        A bare sequence is judged with the default tolerance.
    attempt : PoseSequence
        Any frame rate, size and length from half to twice the reference's duration (plus any
        time before the start and after the end).
    options : ScoreOptions

    Returns
    -------
    ScoreReport

    Raises
    ------
    UserError
        When the attempt shows nobody; :class:`~app.errors.NoAlignmentError` when it is far
        too short to be aligned.
    """
    ref = as_reference(reference)
    if not attempt.present.any():
        raise UserError("the attempt shows nobody: no frame has a pose")
    space = common_space(ref.sequence, attempt)
    ref_features = feature_matrix(ref.sequence, space=space, align_facing=options.align_facing)
    fps = ref_features.fps
    attempt_features = feature_matrix(attempt, mirror=options.mirror, space=space,
                                      align_facing=options.align_facing)
    on_grid = attempt_features.resample(fps, speed=options.speed)
    tolerance = ref.tolerance_matrix()
    try:
        alignment = align_offline(ref_features, on_grid,
                                  options.align_settings(len(ref_features), fps), tolerance)
    except NoAlignmentError as exc:
        raise NoAlignmentError(
            f"the attempt ({attempt.duration_s:.1f} s) is too short to compare with reference "
            f"{ref.name or '(unnamed)'} ({ref.sequence.duration_s:.1f} s)"
        ) from exc
    matches = Matches(ref_features, tolerance)
    matches.add_path(alignment.path, on_grid)
    timing = path_timing(alignment.path, ref_features.t, on_grid.t, options.speed,
                         reference_motion(ref_features))
    hidden = out_of_view(landmark_weights(attempt.image_xyz, attempt.visibility),
                         attempt.present,
                         landmark_weights(ref.sequence.image_xyz, ref.sequence.visibility)
                         [ref.sequence.present])
    return build_report(ref, matches, timing, options, hidden, space,
                        seen_poorly(landmark_jitter(attempt), landmark_jitter(ref.sequence)))


def seen_poorly(attempt_jitter: float, reference_jitter: float) -> bool:
    """Whether an attempt's landmark jitter says the camera saw the learner poorly: more than
    :data:`POORLY_SEEN_JITTER` times the reference's, or than :data:`CAMERA_JITTER` when the
    reference is steadier than a camera (an authored step)."""
    return attempt_jitter > POORLY_SEEN_JITTER * max(reference_jitter, CAMERA_JITTER)


def warm_up() -> None:
    """Compile or load every kernel the scorer and the live session use, so none compiles
    while a server answers (a first summary would stall every session for seconds)."""
    warm_up_features()
    warm_up_alignment()
    rows = np.zeros((3, SKELETON.n_features))
    features = Features(rows, np.ones_like(rows), np.arange(3) / 30.0)
    matches = Matches(features, np.ones_like(rows))
    matches.add_path(np.array([[0, 0], [1, 1], [2, 2]]), features)
    _limb_scores(matches.squared, matches.weight, np.ones(len(SKELETON.limbs)))
    _frame_errors(matches.squared, matches.weight)
    error_score(np.zeros(3))
