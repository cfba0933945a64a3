"""Where in the reference is the learner? Offline DTW and an online aligner, one shared cost.

The cost of pairing reference frame ``i`` with attempt frame ``j`` (:func:`pair_cost`) is the
weighted mean, over features both frames show, of the squared difference in tolerance units,
each term capped at :data:`COST_CAP` so one glitching landmark cannot outweigh the body::

    cost(i, j) = sum_f w_f min(((r_if - a_jf) / tol_if)^2, CAP) / sum_f w_f s_f,
    w_f = ref_weight_if * attempt_weight_jf

where ``s_f`` is the feature's share of a measurement (1 for an angle, 1/3 for each component
of a direction: see :attr:`app.schema.FeatureSchema.shares`), so the cost is a mean over
measurements. The functions on raw arrays take the tolerance and the shares as arguments (1
when not given); those on :class:`~app.features.Features` pass the skeleton's
(:data:`app.schema.SKELETON`).

A pair that shares no visible feature costs :data:`EMPTY_COST`, as much as a reference
frame left out.

Offline (:func:`align_offline`) every reference frame is matched to exactly one attempt frame,
so the total cost is a sum over the reference and does not reward skipping the attempt. Each
step advances the reference by one frame and the attempt by 0, 1 or 2 frames, never 0 twice in
a row: the learner's tempo may vary between 0.5x and 2x of the reference, locally and
globally. The attempt may start and end anywhere (a late start, a tail of standing still) and
the reference may be left out at its ends within a slack, at :data:`SKIP_COST` per frame left
out. Both sequences must be at the same frame rate (the scorer resamples the attempt).

Online (:class:`OnlineAligner`) keeps, for every reference frame, an exponentially weighted
average cost of the best path ending there. Each new attempt frame extends the paths by 0 to
``ceil(2 x dt x fps)`` reference frames, or starts a new path anywhere at a fixed
:data:`RESTART_COST`, which is how it recovers when the learner stops, restarts or skips:
time and memory per frame are bounded by the reference's length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from app.errors import NoAlignmentError
from app.features import Features
from app.schema import SKELETON

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

COST_CAP = 9.0
"""A feature adds at most this (three tolerances, squared) to a pair's cost."""
SKIP_COST = 3.0
"""Cost of each reference frame left out at the ends, here and in the report alike
(:meth:`app.matches.Matches.penalised`): about the square of the error that scores 50 (1.7
tolerances), so a frame left out counts as one danced half right, and the path leaves a frame
out only when matching it would be judged worse."""
EMPTY_COST = SKIP_COST
"""Cost of a pair with no feature visible in both frames: as much as leaving the reference
frame out, so a path never prefers frames that show nobody (or nothing the reference shows)
to a real but imperfect pose."""
MIN_SHARED_WEIGHT = 1e-6
RESTART_COST = 2.0
"""Online: the average cost a fresh path starts from when the aligner jumps."""
_INF = math.inf

_START, _DIAG_FROM_MOVE, _DIAG_FROM_HOLD, _KNIGHT_FROM_MOVE, _KNIGHT_FROM_HOLD = range(5)


@dataclass(frozen=True)
class AlignSettings:
    """Options of the offline alignment.

    Attributes
    ----------
    band : float or None
        Sakoe-Chiba band: attempt frame ``j`` may pair with reference frame ``i`` only if
        ``|j - i * (m - 1) / (n - 1)| <= band * max(n, m)``. None: no band (only the tempo
        limits restrict the path).
    attempt_start_slack, attempt_end_slack : int or None
        Attempt frames that may go unmatched at the start / end (a late start, standing still
        after the end). None: any number.
    reference_start_slack, reference_end_slack : int
        Reference frames that may go unmatched at the start / end (the recording began late
        or stopped early), each costing ``skip_cost``.
    skip_cost : float
        Cost of each reference frame left out.
    """

    band: float | None = None
    attempt_start_slack: int | None = None
    attempt_end_slack: int | None = None
    reference_start_slack: int = 0
    reference_end_slack: int = 0
    skip_cost: float = SKIP_COST

    def __post_init__(self) -> None:
        if self.band is not None and not self.band > 0:
            raise ValueError(f"band must be positive or None, got {self.band}")
        for name in ("attempt_start_slack", "attempt_end_slack", "reference_start_slack",
                     "reference_end_slack"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        if not (math.isfinite(self.skip_cost) and self.skip_cost >= 0):
            raise ValueError(f"skip_cost must be a non-negative number, got {self.skip_cost}")


@dataclass(frozen=True, eq=False)
class Alignment:
    """The best warping path.

    Attributes
    ----------
    path : (k, 2) int64
        ``(reference_index, attempt_index)`` pairs; reference indices run without gaps from
        the first matched reference frame to the last, attempt indices never go back.
    cost : float
        Total cost divided by the reference's length (frames left out count ``skip_cost``).
    step_costs : (k,) float64
        :func:`pair_cost` of each pair on the path.
    """

    path: IntArray
    cost: float
    step_costs: FloatArray

    @property
    def reference_span(self) -> tuple[int, int]:
        """First and last reference frame matched."""
        return int(self.path[0, 0]), int(self.path[-1, 0])

    @property
    def attempt_span(self) -> tuple[int, int]:
        """First and last attempt frame matched."""
        return int(self.path[0, 1]), int(self.path[-1, 1])


def inverse_tolerance(tolerance: FloatArray | None, n_frames: int, n_features: int) -> FloatArray:
    """(n_frames, n_features) ``1 / tolerance**2`` from a per-frame, per-feature or no tolerance.

    ``tolerance`` may be (n_frames, n_features), (n_features,) or None (1 for every feature).
    """
    tol = np.ones(n_features) if tolerance is None else np.asarray(tolerance, dtype=np.float64)
    if tol.shape not in ((n_features,), (n_frames, n_features)):
        raise ValueError(f"tolerance has shape {tol.shape}, expected ({n_features},) or "
                         f"({n_frames}, {n_features})")
    if not (np.isfinite(tol).all() and np.all(tol > 0)):
        raise ValueError("tolerance must be positive and finite")
    # always a fresh writable array: a read-only view (a per-frame tolerance broadcasts to
    # itself) is another array type to numba, and would compile the kernels a second time
    return np.array(np.broadcast_to(1.0 / (tol * tol), (n_frames, n_features)), order="C")


def feature_shares(shares: FloatArray | None, n_features: int) -> FloatArray:
    """(n_features,) share of a measurement per column: ``shares``, or 1 for each when None."""
    if shares is None:
        return np.ones(n_features)
    share = np.ascontiguousarray(shares, dtype=np.float64)
    if share.shape != (n_features,):
        raise ValueError(f"shares have shape {share.shape}, expected ({n_features},)")
    if not (np.isfinite(share).all() and np.all(share > 0)):
        raise ValueError("shares must be positive and finite")
    return share


def _checked(values: FloatArray, weights: FloatArray | None, label: str
             ) -> tuple[FloatArray, FloatArray]:
    v = np.ascontiguousarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] == 0 or v.shape[1] == 0:
        raise ValueError(f"{label} must be a non-empty (frames, features) array, got shape "
                         f"{v.shape}")
    if not np.isfinite(v).all():
        raise ValueError(f"{label} holds a value that is not finite")
    w = np.ones_like(v) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    if w.shape != v.shape:
        raise ValueError(f"{label} weights have shape {w.shape}, expected {v.shape}")
    if not (np.isfinite(w).all() and np.all(w >= 0)):
        raise ValueError(f"{label} weights must be finite and not negative")
    return v, w


def _band_limits(n: int, m: int, band: float | None) -> tuple[IntArray, IntArray]:
    """Per reference row, the first and one-past-last attempt column inside the band."""
    if band is None:
        return np.zeros(n, dtype=np.int64), np.full(n, m, dtype=np.int64)
    width = band * max(n, m)
    centre = np.arange(n) * ((m - 1) / (n - 1) if n > 1 else 0.0)
    lo = np.clip(np.ceil(centre - width - 1e-9), 0, m).astype(np.int64)
    hi = np.clip(np.floor(centre + width + 1e-9) + 1, 0, m).astype(np.int64)
    return lo, hi


def warping_path(reference: FloatArray, attempt: FloatArray,
                 settings: AlignSettings = AlignSettings(),
                 reference_weights: FloatArray | None = None,
                 attempt_weights: FloatArray | None = None,
                 tolerance: FloatArray | None = None,
                 shares: FloatArray | None = None) -> Alignment:
    """Offline alignment of raw feature arrays (any number of features).

    Parameters
    ----------
    reference : (n, F) float64
    attempt : (m, F) float64
    settings : AlignSettings
    reference_weights, attempt_weights : (n, F) and (m, F) float64 or None
        Per-value weights 0..1; None means all 1.
    tolerance : (n, F) or (F,) float64 or None
        Tolerance in feature units; None: 1.
    shares : (F,) float64 or None
        Each column's share of a measurement in the cost's denominator; None: 1.

    Returns
    -------
    Alignment

    Raises
    ------
    ValueError
        On empty, non-finite or mismatched input.
    NoAlignmentError
        When no path fits the tempo limits (an attempt shorter than half the reference, or
        longer than twice it with no slack).

    Examples
    --------
    >>> ref = np.array([[0.0], [1.0], [2.0], [1.0]])
    >>> warping_path(ref, ref).path.tolist()
    [[0, 0], [1, 1], [2, 2], [3, 3]]
    """
    ref_v, ref_w = _checked(reference, reference_weights, "reference")
    att_v, att_w = _checked(attempt, attempt_weights, "attempt")
    n, f = ref_v.shape
    m = att_v.shape[0]
    if att_v.shape[1] != f:
        raise ValueError(f"reference has {f} features and the attempt {att_v.shape[1]}")
    inv_tol2 = inverse_tolerance(tolerance, n, f)
    lo, hi = _band_limits(n, m, settings.band)
    start_max = m - 1 if settings.attempt_start_slack is None else settings.attempt_start_slack
    end_min = 0 if settings.attempt_end_slack is None else m - 1 - settings.attempt_end_slack
    path_buffer = np.empty((n, 2), dtype=np.int64)
    costs_buffer = np.empty(n)
    k, total = _dtw_kernel(ref_v, ref_w, inv_tol2, feature_shares(shares, f), att_v, att_w,
                           lo, hi, start_max, end_min,
                           min(settings.reference_start_slack, n - 1),
                           min(settings.reference_end_slack, n - 1), settings.skip_cost,
                           path_buffer, costs_buffer)
    if k == 0:
        raise NoAlignmentError(
            f"no alignment fits: the attempt ({m} frames) must last between half and twice "
            f"the reference ({n} frames) at the same frame rate, within the band"
        )
    return Alignment(path_buffer[:k].copy(), total / n, costs_buffer[:k].copy())


def align_offline(reference: Features, attempt: Features,
                  settings: AlignSettings = AlignSettings(),
                  tolerance: FloatArray | None = None) -> Alignment:
    """The whole attempt against the whole reference (both at the same frame rate).

    Parameters
    ----------
    reference, attempt : Features
        (n, F) and (m, F) rows.
    settings : AlignSettings
    tolerance : (n, F) or (F,) float64 or None
        Tolerance in feature units; None: the skeleton's default tolerance.
    """
    return warping_path(reference.values, attempt.values, settings, reference.weights,
                        attempt.weights,
                        SKELETON.default_tolerance if tolerance is None else tolerance,
                        SKELETON.shares)


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract", "nsz", "arcp"})
def _cost_line(fixed_v: FloatArray, fixed_w: FloatArray, fixed_inv: FloatArray,
               other_v: FloatArray, other_w: FloatArray, other_inv: FloatArray,
               share: FloatArray, lo: int, hi: int, out: FloatArray) -> None:  # pragma: no cover
    """The cost of one row against rows ``lo:hi`` of a block, into ``out[lo:hi]``.

    ``fixed_*`` are (F,), ``other_*`` (K, F). The inverse squared tolerance of a pair is
    ``fixed_inv[f] * other_inv[k, f]`` (one side's is all ones). Sums over features may be
    reordered for speed (vectorised), so results can differ from a plain loop in the last
    bits.
    """
    for k in range(lo, hi):
        num = 0.0
        den = 0.0
        for f in range(fixed_v.shape[0]):
            w = fixed_w[f] * other_w[k, f]
            d = fixed_v[f] - other_v[k, f]
            e = d * d * (fixed_inv[f] * other_inv[k, f])
            num += w * (e if e < COST_CAP else COST_CAP)
            den += w * share[f]
        out[k] = num / den if den >= MIN_SHARED_WEIGHT else EMPTY_COST


@numba.njit(cache=True, nogil=True)
def _dtw_kernel(ref_v: FloatArray, ref_w: FloatArray, inv_tol2: FloatArray, share: FloatArray,
                att_v: FloatArray, att_w: FloatArray, lo: IntArray, hi: IntArray,
                start_max: int, end_min: int, ref_start_slack: int, ref_end_slack: int,
                skip_cost: float, path: IntArray,
                step_costs: FloatArray) -> tuple[int, float]:  # pragma: no cover
    n = ref_v.shape[0]
    m = att_v.shape[0]
    ones = np.ones_like(att_v)
    cost = np.empty(m)
    # move[j + 2]: best cost of a path reaching (i, j) by a step that advanced the attempt;
    # hold[j + 2]: ... by a step that kept the attempt frame (allowed only after a move).
    # Two leading infinities stand for the cells left of the matrix.
    prev_move = np.full(m + 2, _INF)
    prev_hold = np.full(m + 2, _INF)
    cur_move = np.full(m + 2, _INF)
    cur_hold = np.full(m + 2, _INF)
    choice = np.empty((n, m), dtype=np.int8)
    best_end = _INF
    end_i = -1
    end_j = -1
    end_hold = False
    for i in range(n):
        cur_move[:] = _INF
        cur_hold[:] = _INF
        _cost_line(ref_v[i], ref_w[i], inv_tol2[i], att_v, att_w, ones, share, lo[i], hi[i],
                   cost)
        can_start = i <= ref_start_slack
        start = i * skip_cost
        for j in range(lo[i], hi[i]):
            c = cost[j]
            # written as selects, not branches: the winner is unpredictable
            best = prev_move[j + 1]
            code = _DIAG_FROM_MOVE
            other = prev_hold[j + 1]
            better = other < best
            best = other if better else best
            code = _DIAG_FROM_HOLD if better else code
            other = prev_move[j]
            better = other < best
            best = other if better else best
            code = _KNIGHT_FROM_MOVE if better else code
            other = prev_hold[j]
            better = other < best
            best = other if better else best
            code = _KNIGHT_FROM_HOLD if better else code
            if can_start and j <= start_max and start < best:
                best = start
                code = _START
            cur_move[j + 2] = best + c
            cur_hold[j + 2] = prev_move[j + 2] + c
            choice[i, j] = code
        if i >= n - 1 - ref_end_slack:
            tail = (n - 1 - i) * skip_cost
            for j in range(max(lo[i], end_min), hi[i]):
                if cur_move[j + 2] + tail < best_end:
                    best_end = cur_move[j + 2] + tail
                    end_i, end_j, end_hold = i, j, False
                if cur_hold[j + 2] + tail < best_end:
                    best_end = cur_hold[j + 2] + tail
                    end_i, end_j, end_hold = i, j, True
        prev_move, cur_move = cur_move, prev_move
        prev_hold, cur_hold = cur_hold, prev_hold
    if end_i < 0:
        return 0, _INF
    k = 0
    i, j, hold = end_i, end_j, end_hold
    while True:
        path[k, 0] = i
        path[k, 1] = j
        _cost_line(ref_v[i], ref_w[i], inv_tol2[i], att_v, att_w, ones, share, j, j + 1, cost)
        step_costs[k] = cost[j]
        k += 1
        if hold:
            i -= 1
            hold = False
            continue
        code = choice[i, j]
        if code == _START:
            break
        i -= 1
        j -= 1 if code <= _DIAG_FROM_HOLD else 2
        hold = code in (_DIAG_FROM_HOLD, _KNIGHT_FROM_HOLD)
    path[:k] = path[:k][::-1].copy()
    step_costs[:k] = step_costs[:k][::-1].copy()
    return k, best_end


def pair_cost(reference_row: FloatArray, reference_weights: FloatArray,
              attempt_row: FloatArray, attempt_weights: FloatArray,
              tolerance: FloatArray | None = None, shares: FloatArray | None = None) -> float:
    """The cost of pairing one reference row with one attempt row, each (F,).

    The same function both aligners use (see the module docstring for the formula);
    ``tolerance`` and ``shares`` as for :func:`warping_path`.
    """
    ref_v, ref_w = _checked(np.atleast_2d(reference_row), np.atleast_2d(reference_weights),
                            "reference row")
    att_v, att_w = _checked(np.atleast_2d(attempt_row), np.atleast_2d(attempt_weights),
                            "attempt row")
    f = ref_v.shape[1]
    inv_tol2 = inverse_tolerance(tolerance, 1, f)
    out = np.empty(1)
    _cost_line(ref_v[0], ref_w[0], inv_tol2[0], att_v, att_w, np.ones((1, f)),
               feature_shares(shares, f), 0, 1, out)
    return float(out[0])


def warping_path_reference(reference: FloatArray, attempt: FloatArray,
                           settings: AlignSettings = AlignSettings(),
                           reference_weights: FloatArray | None = None,
                           attempt_weights: FloatArray | None = None,
                           tolerance: FloatArray | None = None,
                           shares: FloatArray | None = None) -> Alignment:
    """:func:`warping_path` written plainly in Python, to check the fast kernel against.

    Slow (about a microsecond per cell and feature); same arguments, same path, and costs
    equal up to rounding (the kernel sums features in a vectorised order).
    """
    ref_v, ref_w = _checked(reference, reference_weights, "reference")
    att_v, att_w = _checked(attempt, attempt_weights, "attempt")
    n, f = ref_v.shape
    m = att_v.shape[0]
    inv_tol2 = inverse_tolerance(tolerance, n, f).tolist()
    share = feature_shares(shares, f).tolist()
    rv, rw, av, aw = ref_v.tolist(), ref_w.tolist(), att_v.tolist(), att_w.tolist()

    def cost(i: int, j: int) -> float:
        num = den = 0.0
        for k in range(f):
            w = rw[i][k] * aw[j][k]
            if w > 0.0:
                d = rv[i][k] - av[j][k]
                num += w * min(d * d * inv_tol2[i][k], COST_CAP)
                den += w * share[k]
        return EMPTY_COST if den < MIN_SHARED_WEIGHT else num / den

    lo, hi = _band_limits(n, m, settings.band)
    start_max = m - 1 if settings.attempt_start_slack is None else settings.attempt_start_slack
    end_min = 0 if settings.attempt_end_slack is None else m - 1 - settings.attempt_end_slack
    start_slack = min(settings.reference_start_slack, n - 1)
    end_slack = min(settings.reference_end_slack, n - 1)
    move: dict[tuple[int, int], tuple[float, tuple[int, int, bool] | None]] = {}
    hold: dict[tuple[int, int], tuple[float, tuple[int, int, bool]]] = {}
    for i in range(n):
        for j in range(int(lo[i]), int(hi[i])):
            c = cost(i, j)
            options: list[tuple[float, tuple[int, int, bool] | None]] = []
            for dj in (1, 2):
                for was_hold, table in ((False, move), (True, hold)):
                    if (i - 1, j - dj) in table:
                        options.append((table[(i - 1, j - dj)][0], (i - 1, j - dj, was_hold)))
            if i <= start_slack and j <= start_max:
                options.append((i * settings.skip_cost, None))
            if options:
                best = min(options, key=lambda option: option[0])
                move[(i, j)] = (best[0] + c, best[1])
            if (i - 1, j) in move:
                hold[(i, j)] = (move[(i - 1, j)][0] + c, (i - 1, j, False))
    ends = [(value[0] + (n - 1 - i) * settings.skip_cost, (i, j, is_hold))
            for is_hold, table in ((False, move), (True, hold))
            for (i, j), value in table.items()
            if i >= n - 1 - end_slack and j >= end_min]
    if not ends:
        raise NoAlignmentError("no alignment fits the tempo limits and the band")
    total, end = min(ends, key=lambda e: (e[0], e[1][0], e[1][1], e[1][2]))
    cells = []
    node: tuple[int, int, bool] | None = end
    while node is not None:
        cells.append(node[:2])
        node = hold[node[:2]][1] if node[2] else move[node[:2]][1]
    cells.reverse()
    path = np.array(cells, dtype=np.int64)
    return Alignment(path, total / n, np.array([cost(i, j) for i, j in cells]))


@dataclass(frozen=True)
class AlignerState:
    """Where the online aligner thinks the learner is.

    Attributes
    ----------
    position : float
        Reference frame (fractional) the learner's latest frame matches.
    tempo : float
        Learner's speed over the reference's (1: on tempo, 0.5: half as fast); smoothed.
    confidence : float
        0..1: 1 when the recent frames match the reference closely, 0 when they do not
        match anywhere better than a fresh start.
    cost : float
        The recent average cost of the path ending at ``position``.
    """

    position: float
    tempo: float
    confidence: float
    cost: float


@dataclass(frozen=True)
class OnlineSettings:
    """Options of the online aligner.

    Attributes
    ----------
    memory_s : float
        Time constant of the running cost average, seconds.
    tempo_memory_s : float
        Time constant of the tempo estimate, seconds.
    max_tempo : float
        Fastest learner tempo followed without a jump.
    restart_cost : float
        Average cost a fresh path starts from (lower: jumps sooner).
    hold_cost : float
        Added to a path that stays on its reference frame (the learner paused).
    switch_margin : float
        The position moves to a place that is not just ahead of the last one only when the
        path there is better by this much (a repeated movement is ambiguous).
    drift_cost : float
        Added per reference frame between a place just ahead and where the learner's tempo says
        they are: where the reference holds still every place matches alike, and the position
        must keep pace (at 15 camera frames a second it fell behind by a frame each frame).
    """

    memory_s: float = 0.5
    tempo_memory_s: float = 1.5
    max_tempo: float = 2.0
    restart_cost: float = RESTART_COST
    hold_cost: float = 0.02
    switch_margin: float = 0.1
    drift_cost: float = 0.002

    def __post_init__(self) -> None:
        for name in ("memory_s", "tempo_memory_s", "max_tempo", "restart_cost"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value}")
        for name in ("hold_cost", "switch_margin", "drift_cost"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative number, got {value}")


MAX_ADVANCE = 16
"""Most reference frames one online step may advance (a longer gap is bridged by a jump)."""


class OnlineAligner:
    """Follows a learner through the reference, one frame at a time.

    Parameters
    ----------
    reference : Features
        (n, F) reference rows at ``reference.fps``.
    tolerance : (n, F) or (F,) float64 or None
        As for :func:`align_offline` (None: the skeleton's default tolerance).
    settings : OnlineSettings
    start, end : int
        The part of the reference followed (``end`` exclusive, None: to the end).
    loop : bool
        After ``end``, continue at ``start`` (practising one part over and over).

    Notes
    -----
    :meth:`push` costs O(n F) time and no allocation beyond its result; memory is O(n).
    """

    def __init__(self, reference: Features, tolerance: FloatArray | None = None,
                 settings: OnlineSettings = OnlineSettings(), start: int = 0,
                 end: int | None = None, loop: bool = False) -> None:
        if len(reference) == 0:
            raise ValueError("the reference has no frames to follow")
        self.settings = settings
        n = len(reference)
        self._ref_v = np.ascontiguousarray(reference.values)
        self._ref_w = np.ascontiguousarray(reference.weights)
        self._inv_tol2 = inverse_tolerance(
            SKELETON.default_tolerance if tolerance is None else tolerance, n,
            SKELETON.n_features)
        self._fps = reference.fps
        self._ones = np.ones(SKELETON.n_features)
        self._cost = np.empty(n)
        self._next_cost = np.empty(n)
        self._pair = np.empty(n)
        self._out = np.zeros(2)
        self.reset(start, end, loop)

    def __len__(self) -> int:
        return int(self._ref_v.shape[0])

    @property
    def span(self) -> tuple[int, int]:
        """The reference frames followed: ``(start, end)``, end exclusive."""
        return self._start, self._end

    def reset(self, start: int = 0, end: int | None = None, loop: bool = False) -> None:
        """Forget the past and follow reference frames ``start:end`` from ``start``."""
        n = len(self)
        end = n if end is None else end
        if not 0 <= start < end <= n:
            raise ValueError(f"reference frames {start}:{end} are not a part of 0:{n}")
        self._start, self._end, self._loop = start, end, loop
        self._cost[:] = _INF
        self._cost[start] = self.settings.restart_cost * 0.5
        self._last_t: float | None = None
        self._state = AlignerState(float(start), 1.0, 0.0, self.settings.restart_cost)

    @property
    def state(self) -> AlignerState:
        """The latest estimate."""
        return self._state

    def push(self, values: FloatArray, weights: FloatArray, t: float | None = None
             ) -> AlignerState:
        """Take the learner's next frame, (F,) feature values and weights, at time ``t`` s.

        A frame with nothing visible leaves the position where it was and lowers the
        confidence.
        """
        n_features = SKELETON.n_features
        if values.shape != (n_features,) or weights.shape != (n_features,):
            raise ValueError(f"a feature row has shape ({n_features},), got {values.shape} and "
                             f"{weights.shape}")
        dt = 1.0 / self._fps if t is None or self._last_t is None else t - self._last_t
        if t is not None:
            if self._last_t is not None and dt <= 0:
                raise ValueError(f"frame time {t} s is not after the previous {self._last_t} s")
            self._last_t = t
        # np.add.reduce: the same sum as weights.sum() at a fraction of its call cost, per frame
        if float(np.add.reduce(weights)) < MIN_SHARED_WEIGHT:
            old = self._state
            self._state = AlignerState(old.position, old.tempo, old.confidence * 0.8, old.cost)
            return self._state
        s = self.settings
        frames = dt * self._fps
        max_advance = min(MAX_ADVANCE, max(1, math.ceil(s.max_tempo * frames)))
        previous = round(self._state.position)
        _online_kernel(self._ref_v, self._ref_w, self._inv_tol2, SKELETON.shares,
                       np.ascontiguousarray(values, dtype=np.float64),
                       np.ascontiguousarray(weights, dtype=np.float64), self._ones,
                       self._cost, self._next_cost, self._pair, self._start, self._end,
                       self._loop, max_advance, 1.0 - math.exp(-dt / s.memory_s),
                       s.restart_cost, s.hold_cost, previous, s.switch_margin,
                       self._state.tempo * frames, s.drift_cost, self._out)
        self._cost, self._next_cost = self._next_cost, self._cost
        position, cost = float(self._out[0]), float(self._out[1])
        self._state = AlignerState(position, self._tempo_after(position, frames, max_advance),
                                   min(1.0, max(0.0, 1.0 - cost / s.restart_cost)), cost)
        return self._state

    def _tempo_after(self, position: float, frames: float, max_advance: int) -> float:
        """Smoothed tempo from how far the position moved; a jump leaves the tempo as it was."""
        old = self._state
        moved = position - old.position
        if self._loop and moved < -0.5 * (self._end - self._start):
            moved += self._end - self._start
        if not -1.0 <= moved <= max_advance + 1.0:
            return old.tempo
        beta = 1.0 - math.exp(-frames / (self._fps * self.settings.tempo_memory_s))
        return (1.0 - beta) * old.tempo + beta * max(0.0, moved) / frames


@numba.njit(cache=True, nogil=True)
def _online_kernel(ref_v: FloatArray, ref_w: FloatArray, inv_tol2: FloatArray,
                   share: FloatArray, row_v: FloatArray, row_w: FloatArray, ones: FloatArray,
                   cost: FloatArray, next_cost: FloatArray, pair: FloatArray, start: int,
                   end: int, loop: bool,
                   max_advance: int, alpha: float, restart_cost: float, hold_cost: float,
                   previous: int, switch_margin: float, expected_advance: float,
                   drift_cost: float, out: FloatArray) -> None:  # pragma: no cover
    span = end - start
    _cost_line(row_v, row_w, ones, ref_v, ref_w, inv_tol2, share, start, end, pair)
    best_i = start
    best_value = _INF
    best_judged = _INF
    for i in range(start, end):
        best = cost[i] + hold_cost
        for a in range(1, max_advance + 1):
            k = i - a
            if k < start:
                if not loop:
                    break
                k += span
            if cost[k] < best:
                best = cost[k]
        if restart_cost < best:
            best = restart_cost
        value = (1.0 - alpha) * best + alpha * pair[i]
        next_cost[i] = value
        ahead = i - previous
        if loop and ahead < 0:
            ahead += span
        if 0 <= ahead <= max_advance + 1:
            judged = value + drift_cost * abs(ahead - expected_advance)
        else:
            judged = value + switch_margin
        if judged < best_judged:
            best_judged = judged
            best_value = value
            best_i = i
    position = float(best_i)
    if start < best_i < end - 1:
        left = next_cost[best_i - 1]
        right = next_cost[best_i + 1]
        curvature = left - 2.0 * next_cost[best_i] + right
        if curvature > 1e-12:
            position += min(0.5, max(-0.5, 0.5 * (left - right) / curvature))
    out[0] = position
    out[1] = best_value


def warm_up() -> None:
    """Compile (or load from cache) the alignment kernels so the first real call is fast."""
    rows = np.zeros((3, SKELETON.n_features))
    features = Features(rows, np.ones_like(rows), np.arange(3) / 30.0)
    align_offline(features, features)
    OnlineAligner(features).push(rows[0], np.ones(SKELETON.n_features), 0.0)
