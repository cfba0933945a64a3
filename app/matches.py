"""The attempt's frames against the reference's: per reference frame, sums over the matches.

Offline the scorer adds every pair of the warping path (:meth:`Matches.add_path`); live, the
session adds each camera frame where the online aligner puts it (:meth:`Matches.add`). Both
are then judged from the same sums (:func:`app.scoring.build_report`).
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from app.align import COST_CAP, SKIP_COST
from app.features import Features
from app.schema import SKELETON

FloatArray = npt.NDArray[np.float64]

TIME_SLACK_S = 0.2
"""Each limb of a learner's frame is compared with the reference's pose of that limb at the
best moment within this many seconds of the matched frame: two people dancing the same step
never move every limb on the same frame."""
MIN_COUNTED = 1e-6
"""A measurement whose weights add up to less than this is not judged."""


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
        """(squared, weight) with reference frames never matched counting :data:`SKIP_COST`
        per feature, the aligner's cost of leaving a frame out."""
        missing = self.visits == 0
        squared = self.squared.copy()
        weight = self.weight.copy()
        squared[missing] = SKIP_COST * self.reference.weights[missing]
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
