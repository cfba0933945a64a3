"""One-Euro filtering of landmarks for live practice (Casiez, Roussel and Vogel, CHI 2012).

A first-order low-pass filter whose cutoff rises with speed: a still pose is smoothed hard
(no jitter in the drawn skeleton or in the features), a fast sweep of the arm barely lags.
Per element::

    cutoff = min_cutoff + beta * |smoothed derivative|
    alpha  = 1 / (1 + 1 / (2 pi cutoff dt))
    x_hat  = x_hat + alpha (x - x_hat)

Elements that go missing (NaN) restart from their next value; a gap longer than ``max_gap_s``
restarts everything.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from app.sequence import N_LANDMARKS

FloatArray = npt.NDArray[np.float64]


class OneEuroFilter:
    """One-Euro filter over arrays of a fixed shape.

    Parameters
    ----------
    shape : tuple of int
        Shape of every value filtered.
    min_cutoff : float
        Cutoff frequency (Hz) at rest: lower is smoother.
    beta : float
        How fast the cutoff rises with speed (per unit of the value per second).
    d_cutoff : float
        Cutoff frequency (Hz) for the derivative.
    max_gap_s : float
        A longer pause between values restarts the filter.
    """

    def __init__(self, shape: tuple[int, ...], min_cutoff: float = 1.5, beta: float = 4.0,
                 d_cutoff: float = 1.0, max_gap_s: float = 0.5) -> None:
        for name, value in (("min_cutoff", min_cutoff), ("d_cutoff", d_cutoff),
                            ("max_gap_s", max_gap_s)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value}")
        if not (math.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must not be negative, got {beta}")
        self.shape = shape
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.max_gap_s = max_gap_s
        self._value = np.full(shape, np.nan)
        self._speed = np.zeros(shape)
        self._last_t: float | None = None

    def reset(self) -> None:
        """Forget the past: the next value passes through unchanged."""
        self._value.fill(np.nan)
        self._speed.fill(0.0)
        self._last_t = None

    def __call__(self, t: float, value: FloatArray) -> FloatArray:
        """The filtered value at time ``t`` s (NaN elements stay NaN and restart)."""
        if value.shape != self.shape:
            raise ValueError(f"value has shape {value.shape}, expected {self.shape}")
        dt = self.advance(t)
        _one_euro(np.ascontiguousarray(value, dtype=np.float64).reshape(-1),
                  self._value.reshape(-1), self._speed.reshape(-1), dt, self.min_cutoff,
                  self.beta, self.d_cutoff)
        return self._value.copy()

    def advance(self, t: float) -> float:
        """Move the clock to ``t`` s (restarting after a long gap); the step in seconds."""
        if self._last_t is not None and t <= self._last_t:
            raise ValueError(f"time {t} s is not after the previous {self._last_t} s")
        if self._last_t is None or t - self._last_t > self.max_gap_s:
            self.reset()
        dt = 1.0 if self._last_t is None else t - self._last_t
        self._last_t = t
        return dt


@numba.njit(cache=True, nogil=True)
def _one_euro(value: FloatArray, state: FloatArray, speed: FloatArray, dt: float,
              min_cutoff: float, beta: float, d_cutoff: float) -> None:  # pragma: no cover
    """One step of the filter over flat arrays; ``state`` NaN means "start from the value"."""
    a_d = 1.0 / (1.0 + 1.0 / (2.0 * math.pi * d_cutoff * dt))
    for k in range(value.shape[0]):
        x = value[k]
        previous = state[k]
        if np.isnan(previous) or np.isnan(x):
            state[k] = x
            speed[k] = 0.0
            continue
        speed[k] += a_d * ((x - previous) / dt - speed[k])
        cutoff = min_cutoff + beta * abs(speed[k])
        a = 1.0 / (1.0 + 1.0 / (2.0 * math.pi * cutoff * dt))
        state[k] = previous + a * (x - previous)


class LandmarkSmoother:
    """One-Euro filtering of one person's image and world landmarks together.

    Image landmarks are filtered in units of the image height (``x`` and ``z`` scaled by the
    aspect ratio first), so ``beta`` means the same along every axis; world landmarks in
    metres. Visibility passes through unfiltered: it decides what is judged and must react at
    once.
    """

    def __init__(self, min_cutoff: float = 1.5, beta: float = 4.0) -> None:
        self._filter = OneEuroFilter((2, N_LANDMARKS, 3), min_cutoff, beta)

    def reset(self) -> None:
        self._filter.reset()

    def __call__(self, t: float, image_xyz: FloatArray, aspect: float,
                 world_xyz: FloatArray | None) -> tuple[FloatArray, FloatArray | None]:
        """Smoothed ``(image_xyz, world_xyz)``: (33, 3) each, world None when not given."""
        f = self._filter
        dt = f.advance(t)
        image = np.empty((N_LANDMARKS, 3))
        world = np.empty((N_LANDMARKS, 3))
        _smooth_landmarks(np.ascontiguousarray(image_xyz, dtype=np.float64),
                          np.ascontiguousarray(image_xyz if world_xyz is None else world_xyz,
                                               dtype=np.float64),
                          world_xyz is not None, aspect, f._value, f._speed, dt, f.min_cutoff,
                          f.beta, f.d_cutoff, image, world)
        return image, None if world_xyz is None else world


@numba.njit(cache=True, nogil=True)
def _smooth_landmarks(image: FloatArray, world: FloatArray, has_world: bool, aspect: float,
                      state: FloatArray, speed: FloatArray, dt: float, min_cutoff: float,
                      beta: float, d_cutoff: float, image_out: FloatArray,
                      world_out: FloatArray) -> None:  # pragma: no cover
    """One filter step over (2, 33, 3) ``state``: image landmarks in units of the image height
    (``x`` and ``z`` times ``aspect``), then world landmarks (NaN when not given)."""
    frame = np.empty((2, image.shape[0], 3))
    for k in range(image.shape[0]):
        frame[0, k, 0] = image[k, 0] * aspect
        frame[0, k, 1] = image[k, 1]
        frame[0, k, 2] = image[k, 2] * aspect
        for axis in range(3):
            frame[1, k, axis] = world[k, axis] if has_world else np.nan
    _one_euro(frame.reshape(-1), state.reshape(-1), speed.reshape(-1), dt, min_cutoff, beta,
              d_cutoff)
    for k in range(image.shape[0]):
        image_out[k, 0] = state[0, k, 0] / aspect
        image_out[k, 1] = state[0, k, 1]
        image_out[k, 2] = state[0, k, 2] / aspect
        for axis in range(3):
            world_out[k, axis] = state[1, k, axis]
