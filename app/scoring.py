"""How well an attempt matched a reference: score, rating, limbs, timing, worst moments, words.

The scorer aligns the attempt to the reference (:func:`app.align.align_offline`), then
measures, for every reference frame, each feature's difference in tolerance units over the
attempt frames matched to it (:class:`Matches`). From there (the same code for offline
scoring and for the live session's summary):

* each limb of an attempt frame is compared with the reference's pose of that limb at the
  best moment within :data:`TIME_SLACK_S` (0.2 s) of the matched frame: two people dancing
  the same step never move every limb on the same frame;
* a measurement's error (a joint angle, or a bone's direction) is the root mean square of its
  differences over the whole reference, each feature capped at three tolerances; reference
  frames the learner left out count as capped errors;
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

Timing (ahead or behind, tempo) is reported and spoken about but never lowers the score: a
correct movement done slower, faster or later is correct.

Rating tiers: Perfect from 90, Great from 80, Good from 65, Almost from 50, Miss below.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numba
import numpy as np
import numpy.typing as npt

from app.align import COST_CAP, AlignSettings, align_offline
from app.align import warm_up as warm_up_alignment
from app.errors import NoAlignmentError, UserError
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
from app.report_schema import Report
from app.schema import SKELETON
from app.sequence import PoseSequence
from app.skeleton import (
    Features,
    Space,
    common_space,
    feature_matrix,
    hip_centre,
    landmark_jitter,
    landmark_weights,
    out_of_view,
    torso_length,
)
from app.skeleton import warm_up as warm_up_features

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

RATINGS: tuple[tuple[str, float], ...] = (
    ("Perfect", 90.0), ("Great", 80.0), ("Good", 65.0), ("Almost", 50.0), ("Miss", 0.0),
)
"""Rating tiers: the first whose threshold the score reaches."""
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
TIME_SLACK_S = 0.2
"""Each limb of a learner's frame is compared with the reference's pose of that limb at the
best moment within this many seconds of the matched frame: two people dancing the same step
never move every limb on the same frame."""
LIMB_IMPORTANCE: dict[Limb, float] = {
    Limb.LEFT_ARM: 1.0, Limb.RIGHT_ARM: 1.0, Limb.LEFT_LEG: 1.0, Limb.RIGHT_LEG: 1.0,
    Limb.TORSO: 1.0, Limb.HEAD: 0.5,
}
UNSEEN_SHARE = 0.3
"""A limb judged on less than this share of what the reference shows is unseen."""
MIN_COUNTED = 1e-6
"""A measurement whose weights add up to less than this is not judged."""
SPREAD_FACTOR = 2.0
"""Tolerance = sqrt(default^2 + (SPREAD_FACTOR x instructor's spread)^2)."""
GOOD_LIMB = 80.0
"""Limbs scoring below this get a correction."""
MOMENT_SCORE = 60.0
"""Moments where a limb scores below this are candidates for the worst moments."""
MOMENT_MIN_S = 0.2
MAX_MOMENTS = 3
CAMERA_JITTER = 60.0
"""Landmark jitter (:func:`app.skeleton.landmark_jitter`, torso lengths per second squared) of
a dancer seen well: 15-95 on the real clips and pose files of ``../shared/testdata``."""
POORLY_SEEN_JITTER = 4.0
"""An attempt jittering this many times more than the reference (or than
:data:`CAMERA_JITTER`, whichever is more) was seen poorly, and the report says so first."""
MIN_COVERAGE = 0.9
"""Below this share of the reference matched, the feedback says part of it was left out."""
_IMPORTANCE = np.array([LIMB_IMPORTANCE[limb] for limb in SKELETON.limbs])


def rating(score: float) -> str:
    """The tier for a score 0-100."""
    return next(name for name, threshold in RATINGS if score >= threshold)


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


def error_score(error: FloatArray) -> FloatArray:
    """Scores 0-100 of limb errors in tolerance units: 100 at none, 50 at
    :data:`HALF_SCORE_ERROR`."""
    return 100.0 / (1.0 + (np.asarray(error) / HALF_SCORE_ERROR) ** SCORE_STEEPNESS)


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
                out[r, k] = 100.0 / (1.0 + (error / HALF_SCORE_ERROR) ** SCORE_STEEPNESS)
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


@dataclass(frozen=True, eq=False)
class Reference:
    """What the learner is compared with.

    Attributes
    ----------
    sequence : PoseSequence
        The (mean) movement.
    tolerance : (n_frames, n_features) float64 or None
        Per moment and feature, the spread the instructor's own takes show, in feature units
        (0 where unknown); None: no measured spread. The scorer widens the default tolerance
        by it (:meth:`tolerance_matrix`), never narrows it.
    """

    sequence: PoseSequence
    tolerance: FloatArray | None = None

    def __post_init__(self) -> None:
        if len(self.sequence) == 0:
            raise UserError(f"reference {self.sequence.name or '(unnamed)'} has no frames")
        if not self.sequence.present.any():
            raise UserError(f"reference {self.sequence.name or '(unnamed)'} shows nobody")
        if self.tolerance is not None:
            expected = (len(self.sequence), SKELETON.n_features)
            if self.tolerance.shape != expected:
                raise ValueError(f"reference tolerance has shape {self.tolerance.shape}, "
                                 f"expected {expected}")
            if not (np.isfinite(self.tolerance).all() and np.all(self.tolerance >= 0)):
                raise ValueError("reference tolerance must be finite and not negative")

    @classmethod
    def from_sequence(cls, seq: PoseSequence) -> Reference:
        """The reference a stored sequence stands for.

        With one take, the sequence itself and the default tolerance. With several, the mean
        movement of the takes and their spread (:func:`tolerance_from_takes`), named, titled
        and split into steps like the first take.
        """
        if not seq.takes:
            return cls(seq)
        takes = [replace(seq, takes=())] + [replace(take, steps=seq.steps) for take in seq.takes]
        mean, spread = tolerance_from_takes(takes)
        return cls(replace(mean, name=seq.name, title=seq.title, steps=seq.steps, takes=()),
                   spread)

    @property
    def name(self) -> str:
        return self.sequence.name

    def tolerance_matrix(self) -> FloatArray:
        """(n_frames, F) tolerance in feature units used for scoring and alignment."""
        n = len(self.sequence)
        if self.tolerance is None:
            return np.broadcast_to(SKELETON.default_tolerance, (n, SKELETON.n_features)).copy()
        return np.sqrt(SKELETON.default_tolerance ** 2 + (SPREAD_FACTOR * self.tolerance) ** 2)


def as_reference(reference: Reference | PoseSequence) -> Reference:
    """A :class:`Reference` for a bare sequence (default tolerance)."""
    return reference if isinstance(reference, Reference) else Reference(reference)


@dataclass(frozen=True)
class Timing:
    """When the learner moved compared with the reference.

    Attributes
    ----------
    offset_s : float
        Median lag, seconds: positive when behind the count (both counted from their first
        frame, the reference at the practised speed).
    tempo : float
        The learner's speed over the reference's at the practised speed (1: on tempo).
    """

    offset_s: float = 0.0
    tempo: float = 1.0

    @property
    def description(self) -> str:
        if abs(self.offset_s) < 0.15:
            return "on the count"
        return f"{abs(self.offset_s):.1f} s {'behind' if self.offset_s > 0 else 'ahead'}"


@dataclass(frozen=True)
class Moment:
    """A stretch of time where one limb went wrong.

    ``start_s`` / ``end_s`` are attempt seconds (None when the learner left that part out),
    ``reference_start_s`` / ``reference_end_s`` the reference's.
    """

    start_s: float | None
    end_s: float | None
    reference_start_s: float
    reference_end_s: float
    limb: Limb
    score: float
    error: str


@dataclass(frozen=True)
class StepScore:
    """The score of one named step of the reference."""

    name: str
    score: float
    rating: str
    limbs: Mapping[Limb, float]
    reference_start_s: float
    reference_end_s: float


@dataclass(frozen=True)
class ScoreReport:
    """The verdict on one attempt.

    Attributes
    ----------
    score : float
        0-100.
    rating : str
        Perfect, Great, Good, Almost or Miss.
    limbs : mapping of Limb to float
        0-100 per limb seen (the learner's own sides).
    unseen : tuple of Limb
        Limbs not scored because the camera did not see them.
    not_visible : tuple of str
        Body parts out of view for most of the attempt ("feet").
    timing : Timing
    feedback : tuple of str
        Most important first.
    corrections : tuple of Correction
        The limb corrections behind the feedback.
    steps : tuple of StepScore
        Per named step of the reference.
    worst_moments : tuple of Moment
    coverage : float
        Share of the reference the attempt was matched to.
    poorly_seen : bool
        The pose model's points of the attempt jumped about far more than a camera's usually
        do (a dim, blurred or tiny picture): the score may say more about the camera than
        about the dancing, and the feedback says so first.
    """

    score: float
    rating: str
    limbs: Mapping[Limb, float]
    unseen: tuple[Limb, ...] = ()
    not_visible: tuple[str, ...] = ()
    timing: Timing = field(default_factory=Timing)
    feedback: tuple[str, ...] = ()
    corrections: tuple[Correction, ...] = ()
    steps: tuple[StepScore, ...] = ()
    worst_moments: tuple[Moment, ...] = ()
    coverage: float = 1.0
    poorly_seen: bool = False
    reference: str = ""
    mirror: bool = False
    space: Space = "image"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the :class:`app.report_schema.Report` (numbers rounded, limbs by name)."""

        return Report.of(self).model_dump(mode="json")


class Matches:
    """Per reference frame, sums over the attempt frames matched to it.

    An attempt frame matched to reference frame ``i`` is compared, limb by limb, with the
    reference frame within ``slack`` frames of ``i`` where that limb matches best
    (:data:`TIME_SLACK_S`). For a pair the difference is ``d = (attempt - reference) /
    tolerance`` per feature and the weight ``w = reference_weight * attempt_weight``; the sums,
    kept at ``i``, are of ``w d``, ``w min(d^2, cap)`` and ``w``, all (n, F). Memory is
    bounded by the reference, however many frames are added (a live session loops over the
    reference many times).
    """

    def __init__(self, reference: Features, tolerance: FloatArray,
                 slack: int | None = None) -> None:
        n = len(reference)
        if tolerance.shape != (n, SKELETON.n_features):
            raise ValueError(f"tolerance has shape {tolerance.shape}, expected "
                             f"{(n, SKELETON.n_features)}")
        self.reference = reference
        self.tolerance = np.ascontiguousarray(tolerance, dtype=np.float64)
        self.slack = round(TIME_SLACK_S * reference.fps) if slack is None else slack
        self._ref_v = np.ascontiguousarray(reference.values, dtype=np.float64)
        self._ref_w = np.ascontiguousarray(reference.weights, dtype=np.float64)
        self.signed = np.zeros((n, SKELETON.n_features))
        self.squared = np.zeros((n, SKELETON.n_features))
        self.weight = np.zeros((n, SKELETON.n_features))
        self.visits = np.zeros(n, dtype=np.int64)
        self.attempt_t = np.full(n, np.nan)

    def __len__(self) -> int:
        return len(self.reference)

    def add(self, i: int, values: FloatArray, weights: FloatArray, t: float,
            first: int | None = None) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Add one attempt frame, (F,) values and weights at ``t`` s, matched to frame ``i``.

        With ``first``, the frame is matched to every reference frame from ``first`` to ``i``
        (frames the learner passed through between two camera frames). Returns, for the match
        at frame ``i``, the (F,) differences in tolerance units, pair weights and the weights
        of the reference frames compared.
        """
        start = i if first is None else first
        if not 0 <= start <= i < len(self):
            raise ValueError(f"reference frames {start}..{i} are not in 0..{len(self) - 1}")
        d = np.empty(SKELETON.n_features)
        w = np.empty(SKELETON.n_features)
        ref_w = np.empty(SKELETON.n_features)
        values = np.ascontiguousarray(values, dtype=np.float64)
        weights = np.ascontiguousarray(weights, dtype=np.float64)
        for r in range(start, i + 1):
            _match_kernel(self._ref_v, self._ref_w, self.tolerance, values, weights, r,
                          self.slack, SKELETON.feature_limb_index, len(SKELETON.limbs),
                          SKELETON.shares, d, w, ref_w)
            _accumulate_match(r, t, d, w, self.signed, self.squared, self.weight, self.visits,
                              self.attempt_t)
        return d, w, ref_w

    def add_path(self, path: npt.NDArray[np.int64], attempt: Features) -> None:
        """Add every ``(reference_index, attempt_index)`` pair of a warping path."""
        _path_kernel(self._ref_v, self._ref_w, self.tolerance,
                     np.ascontiguousarray(attempt.values, dtype=np.float64),
                     np.ascontiguousarray(attempt.weights, dtype=np.float64),
                     np.ascontiguousarray(attempt.t, dtype=np.float64),
                     np.ascontiguousarray(path, dtype=np.int64), self.slack,
                     SKELETON.feature_limb_index, len(SKELETON.limbs), SKELETON.shares,
                     self.signed, self.squared, self.weight, self.visits, self.attempt_t)

    @property
    def coverage(self) -> float:
        """Share of reference frames matched at least once."""
        return float(np.mean(self.visits > 0))

    def penalised(self) -> tuple[FloatArray, FloatArray]:
        """(squared, weight) with reference frames never matched counted as capped errors."""
        missing = self.visits == 0
        squared = self.squared.copy()
        weight = self.weight.copy()
        squared[missing] = COST_CAP * self.reference.weights[missing]
        weight[missing] = self.reference.weights[missing]
        return squared, weight


@numba.njit(cache=True, nogil=True)
def _match_kernel(ref_v: FloatArray, ref_w: FloatArray, tolerance: FloatArray,
                  values: FloatArray, weights: FloatArray, i: int, slack: int,
                  limb_of: npt.NDArray[np.int64], n_limbs: int, share: FloatArray,
                  d_out: FloatArray, w_out: FloatArray,
                  ref_w_out: FloatArray) -> None:  # pragma: no cover
    """Differences of one attempt row matched to reference frame ``i``: each limb (of
    ``n_limbs``, ``limb_of`` each feature's) against the reference frame within ``slack`` of
    ``i`` where its mean capped squared difference is least (ties go to the frame nearest
    ``i``)."""
    n = ref_v.shape[0]
    best = np.full(n_limbs, np.inf)
    chosen = np.full(n_limbs, i)
    num = np.zeros(n_limbs)
    den = np.zeros(n_limbs)
    for step in range(2 * slack + 1):
        offset = (step + 1) // 2 if step % 2 else -(step // 2)
        r = i + offset
        if r < 0 or r >= n:
            continue
        num[:] = 0.0
        den[:] = 0.0
        for f in range(values.shape[0]):
            w = ref_w[r, f] * weights[f]
            d = (values[f] - ref_v[r, f]) / tolerance[r, f]
            num[limb_of[f]] += w * min(d * d, COST_CAP)
            den[limb_of[f]] += w * share[f]
        for k in range(n_limbs):
            if den[k] >= MIN_COUNTED and num[k] / den[k] < best[k]:
                best[k] = num[k] / den[k]
                chosen[k] = r
    for f in range(values.shape[0]):
        r = chosen[limb_of[f]]
        d_out[f] = (values[f] - ref_v[r, f]) / tolerance[r, f]
        w_out[f] = ref_w[r, f] * weights[f]
        ref_w_out[f] = ref_w[r, f]


@numba.njit(cache=True, nogil=True)
def _accumulate_match(i: int, t: float, d: FloatArray, w: FloatArray, signed: FloatArray,
                      squared: FloatArray, weight: FloatArray, visits: npt.NDArray[np.int64],
                      attempt_t: FloatArray) -> None:  # pragma: no cover
    for f in range(d.shape[0]):
        signed[i, f] += w[f] * d[f]
        squared[i, f] += w[f] * min(d[f] * d[f], COST_CAP)
        weight[i, f] += w[f]
    visits[i] += 1
    attempt_t[i] = t


@numba.njit(cache=True, nogil=True)
def _path_kernel(ref_v: FloatArray, ref_w: FloatArray, tolerance: FloatArray,
                 att_v: FloatArray, att_w: FloatArray, att_t: FloatArray,
                 path: npt.NDArray[np.int64], slack: int, limb_of: npt.NDArray[np.int64],
                 n_limbs: int, share: FloatArray, signed: FloatArray, squared: FloatArray,
                 weight: FloatArray, visits: npt.NDArray[np.int64],
                 attempt_t: FloatArray) -> None:  # pragma: no cover
    d = np.empty(att_v.shape[1])
    w = np.empty(att_v.shape[1])
    ref_w_used = np.empty(att_v.shape[1])
    for k in range(path.shape[0]):
        i, j = path[k, 0], path[k, 1]
        _match_kernel(ref_v, ref_w, tolerance, att_v[j], att_w[j], i, slack, limb_of, n_limbs,
                      share, d, w, ref_w_used)
        _accumulate_match(i, att_t[j], d, w, signed, squared, weight, visits, attempt_t)


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
    window = max(1, round(0.2 * fps))
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


def _steps(reference: Reference, squared: FloatArray, weight: FloatArray, seen: FloatArray,
           mirror: bool) -> list[StepScore]:
    steps = []
    seq = reference.sequence
    for step in seq.steps:
        start, stop = seq.step_frames(step)
        if stop == start:
            continue
        limbs = _limb_scores(squared[start:stop], weight[start:stop], seen)
        if not limbs:
            continue
        score = overall_score(limbs)
        steps.append(StepScore(step.name, score, rating(score), _learner_keys(limbs, mirror),
                               step.start_s, step.end_s))
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
    visited = matches.visits > 0
    corrections = []
    for k, limb in enumerate(SKELETON.limbs):
        if limb in limbs and limbs[limb] < GOOD_LIMB:
            emphasis = np.nan_to_num(frame_errors[:, k]) ** 2
            correction = _correction(matches, visited, emphasis, limb, mirror)
            if correction is not None:
                corrections.append(((limbs[limb] - 100.0) * LIMB_IMPORTANCE[limb], correction))
    corrections.sort(key=lambda item: item[0])
    spoken = merged([c for _, c in corrections])
    lines = [POORLY_SEEN_LINE] if poorly_seen else []
    lines.extend(c.text for c in spoken)
    extra = [_coverage_line(matches), visibility_line(not_visible)]
    lines.extend(line for line in extra if line)
    if not lines:
        lines.append("well done: your movement matches the reference")
    lines.extend(timing_lines(timing.offset_s, timing.tempo))
    unseen = tuple(learner_limb(limb, mirror) for limb in SKELETON.limbs if limb not in limbs)
    return ScoreReport(
        score=score, rating=rating(score), limbs=_learner_keys(limbs, mirror), unseen=unseen,
        not_visible=tuple(not_visible), timing=timing,
        feedback=tuple(lines[:options.max_feedback]),
        corrections=tuple(c for _, c in corrections),
        steps=tuple(_steps(reference, squared, weight, seen, mirror)),
        worst_moments=tuple(_worst_moments(matches, frame_errors, list(limbs), mirror)),
        coverage=matches.coverage, poorly_seen=poorly_seen, reference=reference.name,
        mirror=mirror, space=space,
    )


def path_timing(path: npt.NDArray[np.int64], reference_t: FloatArray, attempt_t: FloatArray,
                speed: float = 1.0, motion: FloatArray | None = None) -> Timing:
    """Lag and tempo along a warping path.

    ``reference_t`` and ``attempt_t`` are the seconds of the rows the path indexes; each is
    counted from its own first row, the reference's divided by ``speed``. ``motion`` (one
    weight per reference row, see :func:`reference_motion`) weights each pair: where the
    reference stands still any pairing costs the same, so those pairs say nothing about
    timing. Tempo is the reference's seconds per attempt second along a weighted
    least-squares line through the path; the lag is the weighted median of attempt minus
    reference seconds.

    >>> import numpy as np
    >>> t = np.arange(5) / 10.0
    >>> path = np.array([[0, 2], [1, 4], [2, 6], [3, 8], [4, 10]])
    >>> timing = path_timing(path, t, np.arange(11) / 10.0)
    >>> round(timing.tempo, 3), round(timing.offset_s, 3)
    (0.5, 0.4)
    """
    ref = (reference_t[path[:, 0]] - reference_t[0]) / speed
    att = attempt_t[path[:, 1]] - attempt_t[0]
    weight = np.ones(len(path)) if motion is None else motion[path[:, 0]]
    if not weight.sum() > 0:
        weight = np.ones(len(path))
    order = np.argsort(att - ref)
    cumulative = np.cumsum(weight[order])
    offset = float((att - ref)[order][np.searchsorted(cumulative, cumulative[-1] / 2)])
    ref_mean = np.average(ref, weights=weight)
    att_mean = np.average(att, weights=weight)
    spread = float(np.sum(weight * (ref - ref_mean) ** 2))
    slope = float(np.sum(weight * (ref - ref_mean) * (att - att_mean))) / spread if spread else 0
    tempo = 1.0 / slope if slope > 0 else 1.0
    return Timing(offset, tempo)


def reference_motion(features: Features) -> FloatArray:
    """(n,) how much the reference moves at each row, in feature units per row.

    The root mean square of the visible features' change from the row before and to the row
    after; 0 where the reference holds still.
    """
    values = features.values
    weights = features.weights
    if len(values) < 2:
        return np.zeros(len(values))
    step = np.diff(values, axis=0) ** 2 * np.minimum(weights[1:], weights[:-1])
    per_step = np.sqrt(step.mean(axis=1))
    motion = np.zeros(len(values))
    motion[1:] += per_step / 2
    motion[:-1] += per_step / 2
    return motion


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


def tolerance_from_takes(takes: Sequence[PoseSequence]) -> tuple[PoseSequence, FloatArray]:
    """A mean sequence and its per-moment tolerance from several takes of one movement.

    The take closest to all others (lowest total alignment cost) is the anchor; every other
    take is aligned to it with :func:`app.align.align_offline`, and at each anchor frame the
    matched frames are averaged: landmarks (placed and sized like the anchor's body) and
    features, whose spread (standard deviation over takes, smoothed over 0.2 s) is the
    tolerance. One take gives itself and zero spread.

    Returns
    -------
    mean : PoseSequence
        Frames, steps and metadata of the anchor with averaged landmarks.
    spread : (n_frames, F) float64
        Feature units; for :class:`Reference`'s ``tolerance``.

    Raises
    ------
    ValueError
        With no takes.
    NoAlignmentError
        When a take cannot be aligned with another (durations more than twice apart).
    """
    if not takes:
        raise ValueError("need at least one take to build a reference")
    space = common_space(*takes)
    features = [feature_matrix(take, space=space) for take in takes]
    if len(takes) == 1:
        return takes[0], np.zeros((len(takes[0]), SKELETON.n_features))
    paths = {}
    totals = np.zeros(len(takes))
    for a in range(len(takes)):
        for b in range(len(takes)):
            if a == b:
                continue
            grid = features[b].resample(features[a].fps)
            try:
                alignment = align_offline(features[a], grid)
            except NoAlignmentError as exc:
                raise NoAlignmentError(f"take {b + 1} cannot be aligned with take {a + 1}: their "
                                 f"durations differ by more than twice") from exc
            paths[a, b] = (alignment.path, grid)
            totals[a] += alignment.cost
    anchor = int(np.argmin(totals))
    return _mean_of_takes(takes, features, anchor, paths)


def _mean_of_takes(takes: Sequence[PoseSequence], features: Sequence[Features], anchor: int,
                   paths: Mapping[tuple[int, int], tuple[npt.NDArray[np.int64], Features]]
                   ) -> tuple[PoseSequence, FloatArray]:
    base = takes[anchor]
    n = len(base)
    k = len(takes)
    values = np.zeros((k, n, SKELETON.n_features))
    weights = np.zeros((k, n, SKELETON.n_features))
    frame_of = np.zeros((k, n), dtype=np.int64)
    matched = np.zeros((k, n), dtype=bool)
    for b in range(k):
        if b == anchor:
            frame_of[b] = np.arange(n)
            matched[b] = True
            values[b], weights[b] = features[b].values, features[b].weights
            continue
        path, grid = paths[anchor, b]
        i, j = path[:, 0], path[:, 1]
        frame_of[b, i] = np.clip(np.searchsorted(takes[b].t, grid.t[j] - 1e-9), 0,
                                 len(takes[b]) - 1)
        matched[b, i] = True
        values[b, i], weights[b, i] = grid.values[j], grid.weights[j]
    weights *= matched[:, :, None]
    total = np.maximum(weights.sum(axis=0), 1e-12)
    mean = (weights * values).sum(axis=0) / total
    spread = np.sqrt((weights * (values - mean) ** 2).sum(axis=0) / total)
    window = max(1, round(0.2 * features[anchor].fps))
    kernel = np.ones(window) / window
    spread = np.apply_along_axis(lambda col: np.convolve(col, kernel, mode="same"), 0, spread)
    return _mean_landmarks(takes, anchor, frame_of, matched), spread


def _mean_landmarks(takes: Sequence[PoseSequence], anchor: int,
                    frame_of: npt.NDArray[np.int64], matched: npt.NDArray[np.bool_]
                    ) -> PoseSequence:
    """Anchor frames with landmarks averaged over takes, each take's body moved and sized
    onto the anchor's (image space isotropic), visibility averaged, world averaged."""
    base = takes[anchor]
    base_xy = base.image_xyz * np.array([base.aspect, 1.0, base.aspect])
    base_hips = hip_centre(base_xy)
    base_size = torso_length(base_xy, landmark_weights(base.image_xyz, base.visibility))
    image_sum = np.zeros_like(base.image_xyz)
    vis_sum = np.zeros_like(base.visibility)
    world_sum = np.zeros_like(base.world_xyz)
    world_count = np.zeros(len(base))
    count = np.zeros(len(base))
    for b, take in enumerate(takes):
        rows = frame_of[b]
        use = matched[b] & take.present[rows] & base.present
        iso = take.image_xyz[rows] * np.array([take.aspect, 1.0, take.aspect])
        size = torso_length(iso, landmark_weights(take.image_xyz[rows], take.visibility[rows]))
        placed = (iso - hip_centre(iso)) * (base_size / size) + base_hips
        image_sum[use] += placed[use] / np.array([base.aspect, 1.0, base.aspect])
        vis_sum[use] += take.visibility[rows][use]
        count[use] += 1
        has_world = use & take.has_world[rows]
        world_sum[has_world] += take.world_xyz[rows][has_world]
        world_count[has_world] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        image = np.where(count[:, None, None] > 0, image_sum / count[:, None, None],
                         base.image_xyz)
        visibility = np.where(count[:, None] > 0, vis_sum / count[:, None], base.visibility)
        world = np.where(world_count[:, None, None] > 0,
                         world_sum / world_count[:, None, None], base.world_xyz)
    return replace(base, image_xyz=image, visibility=visibility, world_xyz=world, takes=())


def warm_up() -> None:
    """Compile or load every kernel the scorer and the live session use."""
    warm_up_features()
    warm_up_alignment()
