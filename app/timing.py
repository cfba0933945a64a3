"""When the learner moved compared with the reference: lag and tempo along a warping path.

Timing is reported and spoken about but never lowers the score: a correct movement done slower,
faster or later is correct.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.features import Features
from app.report import Timing

FloatArray = npt.NDArray[np.float64]


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
