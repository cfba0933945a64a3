"""The containers the normalised body travels in between stages.

:class:`BodyPoints` are landmarks in the body-centred space; :class:`Features` are the rows
compared, one column per feature of :data:`app.schema.SKELETON`. Both are made by
:mod:`app.normalise`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from app.schema import SKELETON

FloatArray = npt.NDArray[np.float64]
Space = Literal["world", "image"]
"""The landmarks compared: MediaPipe's world landmarks (metres) or its image landmarks."""


@dataclass(frozen=True, eq=False)
class Features:
    """Feature rows of a sequence.

    Attributes
    ----------
    values : (n, F) float64
        One row per frame, columns as :attr:`app.schema.SKELETON.names`; 0 where the weight is 0.
    weights : (n, F) float64
        0..1: how far each value can be trusted (visibility); 0 for missing frames.
    t : (n,) float64
        Seconds of each row.
    space : {"world", "image"}
        The landmarks the features were computed from.
    """

    values: FloatArray
    weights: FloatArray
    t: FloatArray
    space: Space = "image"

    def __post_init__(self) -> None:
        n = self.t.shape[0] if self.t.ndim == 1 else -1
        for label, array in (("values", self.values), ("weights", self.weights)):
            if array.shape != (n, SKELETON.n_features):
                raise ValueError(f"feature {label} have shape {array.shape}, expected "
                                 f"{(n, SKELETON.n_features)}")
        if not np.isfinite(self.values).all():
            raise ValueError("feature values must be finite")
        if not (np.all(self.weights >= 0) and np.all(self.weights <= 1)):
            raise ValueError("feature weights must lie in 0..1")

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def fps(self) -> float:
        """Frames per second implied by the median frame interval (1 for a single frame)."""
        if len(self) < 2:
            return 1.0
        return float(1.0 / np.median(np.diff(self.t)))

    def resample(self, fps: float, t0: float | None = None, speed: float = 1.0) -> Features:
        """The features on a uniform grid of ``fps`` rows per second.

        Values are interpolated weighted by their weights (a missing frame borrows from its
        neighbours at reduced weight); gaps and dropped frames come out evenly spaced.
        ``speed`` stretches time: 0.5 turns a performance done at half speed into one at full
        speed, on the grid's clock.
        """
        if not (fps > 0 and speed > 0):
            raise ValueError(f"resampling needs a positive fps and speed, got {fps} and {speed}")
        start = self.t[0] if t0 is None else t0
        if len(self) < 2:
            return Features(self.values, self.weights, start + self.t - self.t[:1], self.space)
        t = (self.t - self.t[0]) * speed
        n_out = math.floor(t[-1] * fps + 1e-9) + 1
        grid = np.arange(n_out) / fps
        hi = np.clip(np.searchsorted(t, grid, side="right"), 1, len(t) - 1)
        lo = hi - 1
        frac = np.clip((grid - t[lo]) / (t[hi] - t[lo]), 0.0, 1.0)
        a = (1.0 - frac)[:, None] * self.weights[lo]
        b = frac[:, None] * self.weights[hi]
        weights = a + b
        values = np.where(weights > 0, (a * self.values[lo] + b * self.values[hi])
                          / np.maximum(weights, 1e-12), 0.0)
        return Features(values, np.clip(weights, 0.0, 1.0), start + grid / speed, self.space)

    def rows(self, start: int, stop: int) -> Features:
        """Rows ``start:stop``."""
        return Features(self.values[start:stop], self.weights[start:stop], self.t[start:stop],
                        self.space)


@dataclass(frozen=True, eq=False)
class BodyPoints:
    """Landmarks in the body-centred, roll-corrected, torso-scaled space.

    Attributes
    ----------
    xyz : (n, 33, 3) float64
        Hip midpoint at the origin, ``y`` down, torso length about 1; 0 where absent.
    weights : (n, 33) float64
        0..1 per landmark from visibility; 0 where absent.
    roll : float
        Radians the points were turned by to undo the camera's roll.
    """

    xyz: FloatArray
    weights: FloatArray
    roll: float = 0.0
