"""From a raw recording to a reference: cut the still lead-in and lead-out, split at pauses.

An instructor starts the camera, walks into place, dances, and stands still before stopping.
:func:`trim_still` keeps the movement only; :func:`pause_steps` names the parts between the
pauses the instructor makes. Both read one signal, :func:`motion_speed`: how fast the body moves
in torso lengths per second, from landmarks smoothed over a fifth of a second so the pose
model's frame-to-frame jitter does not count as movement.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.normalise import body_points, common_space
from app.sequence import PoseSequence, Step

FloatArray = npt.NDArray[np.float64]

STILL_SPEED = 0.35
"""Torso lengths per second below which the body counts as still."""
SMOOTHING_S = 0.2
FASTEST_POINTS = 8
"""Speed is the mean over this many fastest landmarks, so a head turn alone counts."""
MARGIN_S = 0.25
"""Still time kept before the first and after the last movement."""
MIN_PAUSE_S = 0.3
MIN_PART_S = 0.5


def motion_speed(seq: PoseSequence) -> FloatArray:
    """(n,) speed of the body per frame, in torso lengths per second; 0 where nobody shows.

    The body is centred on the hips and scaled by the torso (:func:`app.normalise.body_points`),
    so walking across the room is not movement but raising an arm is. The speed of a frame is
    the mean of its fastest landmarks, so a part of the body moving alone still counts.
    """
    n = len(seq)
    if n < 2 or not seq.present.any():
        return np.zeros(n)
    points = body_points(seq, space=common_space(seq))
    window = max(1, round(SMOOTHING_S * seq.fps))
    xyz = _moving_average(points.xyz, window)
    weights = _moving_average(points.weights, window)
    step = np.linalg.norm(np.diff(xyz, axis=0), axis=-1) * seq.fps
    seen = np.minimum(weights[1:], weights[:-1]) > 0.5
    fastest = np.sort(np.where(seen, step, 0.0), axis=1)[:, -FASTEST_POINTS:]
    speed = fastest.mean(axis=1)
    both = seq.present[1:] & seq.present[:-1]
    speed = np.where(both, speed, 0.0)
    return np.concatenate([speed[:1], speed])


def _moving_average(values: FloatArray, window: int) -> FloatArray:
    """Centred moving average over axis 0, shrinking at the ends."""
    if window <= 1:
        return values
    csum = np.cumsum(np.concatenate([np.zeros_like(values[:1]), values]), axis=0)
    n = len(values)
    lo = np.clip(np.arange(n) - window // 2, 0, n)
    hi = np.clip(np.arange(n) + window - window // 2, 0, n)
    shape = (-1,) + (1,) * (values.ndim - 1)
    return np.asarray((csum[hi] - csum[lo]) / (hi - lo).reshape(shape))


def moving_span(seq: PoseSequence, threshold: float = STILL_SPEED) -> tuple[int, int] | None:
    """Frames ``start:stop`` from the first to the last movement plus a margin; None if still.

    The margin never adds frames with nobody in view at either end.
    """
    moving = np.flatnonzero(motion_speed(seq) > threshold)
    if len(moving) == 0:
        return None
    margin = round(MARGIN_S * seq.fps)
    lo, hi = max(0, int(moving[0]) - margin), min(len(seq), int(moving[-1]) + 1 + margin)
    shown = np.flatnonzero(seq.present[lo:hi])
    return lo + int(shown[0]), lo + int(shown[-1]) + 1


def trim_still(seq: PoseSequence, threshold: float = STILL_SPEED) -> PoseSequence:
    """``seq`` without its still (or empty) lead-in and lead-out; unchanged if it never moves."""
    span = moving_span(seq, threshold)
    if span is None:
        return seq
    return seq.slice_frames(*span)


def pause_steps(seq: PoseSequence, threshold: float = STILL_SPEED,
                min_pause_s: float = MIN_PAUSE_S, min_part_s: float = MIN_PART_S,
                prefix: str = "part") -> tuple[Step, ...]:
    """Sub-steps split in the middle of every pause of at least ``min_pause_s``.

    Parts shorter than ``min_part_s`` merge into the one before. Fewer than two parts give
    no steps: there is nothing to split.

    Returns
    -------
    tuple of Step
        Named ``"part 1"``, ``"part 2"``... covering the whole sequence.
    """
    if len(seq) < 2:
        return ()
    still = motion_speed(seq) <= threshold
    cuts = []
    for start, stop in _runs(still):
        if start > 0 and stop < len(seq) and (stop - start) / seq.fps >= min_pause_s:
            cuts.append(float(seq.t[(start + stop) // 2] - seq.t[0]))
    end = seq.duration_s
    edges = [0.0]
    for cut in cuts:
        if cut - edges[-1] >= min_part_s and end - cut >= min_part_s:
            edges.append(cut)
    if len(edges) < 2:
        return ()
    edges.append(end)
    return tuple(Step(f"{prefix} {i + 1}", edges[i], edges[i + 1])
                 for i in range(len(edges) - 1))


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """``(start, stop)`` of every run of True in ``mask``."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
