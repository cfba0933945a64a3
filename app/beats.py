"""A step's beat grid: where the beats of its music fall, in the reference's own seconds.

A grid is a tempo, the time of the first beat and the meter (beats per bar). It is found from
the step's audio by a beat tracker (``app/music.py``), or typed or tapped by the instructor,
and kept in the step's ``.pose.json`` under ``music``. The rhythm measure (``app/rhythm.py``)
reads the beats from it; the page counts in and loops bars with the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.errors import UserError

MIN_TEMPO_BPM = 30.0
MAX_TEMPO_BPM = 300.0
MAX_METER = 16


@dataclass(frozen=True)
class BeatGrid:
    """``tempo_bpm`` beats a minute, the first at ``first_beat_s``, ``meter`` to a bar."""

    tempo_bpm: float
    first_beat_s: float
    meter: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.tempo_bpm) and MIN_TEMPO_BPM <= self.tempo_bpm <= MAX_TEMPO_BPM):
            raise UserError(f"a tempo of {self.tempo_bpm} BPM is outside {MIN_TEMPO_BPM:g} to "
                            f"{MAX_TEMPO_BPM:g}")
        if not (math.isfinite(self.first_beat_s) and self.first_beat_s >= 0):
            raise UserError(f"the first beat at {self.first_beat_s} s must be at 0 s or later")
        if not 1 <= self.meter <= MAX_METER:
            raise UserError(f"a meter of {self.meter} beats a bar is outside 1 to {MAX_METER}")

    @property
    def period_s(self) -> float:
        """Seconds from one beat to the next."""
        return 60.0 / self.tempo_bpm

    def beats(self, end_s: float, start_s: float = 0.0) -> npt.NDArray[np.float64]:
        """Every beat time from ``start_s`` up to ``end_s`` (exclusive), in seconds."""
        first = max(0, math.ceil((start_s - self.first_beat_s) / self.period_s - 1e-9))
        last = math.ceil((end_s - self.first_beat_s) / self.period_s - 1e-9)
        counts = np.arange(first, max(first, last), dtype=np.float64)
        return np.asarray(self.first_beat_s + counts * self.period_s, dtype=np.float64)

    def bar_of(self, beat_index: int) -> tuple[int, int]:
        """Bar (from 0) and count in the bar (from 1) of beat number ``beat_index``."""
        return beat_index // self.meter, beat_index % self.meter + 1
