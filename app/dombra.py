"""A dombra-style accompaniment, synthesized: two plucked strings a fourth apart, strummed.

The shipped steps have no recorded music, so the project renders an accompaniment for each
from its beat grid: a down-stroke of both strings on every beat (the low string first), a
lighter up-stroke two thirds into the beat (the lilt of a dombra küy's strumming), the bar's
first beat accented, the top string playing a small tune over the open low string. Each
string is a Karplus-Strong string (a delay line one period long with a damping low-pass in its
loop, excited by a burst of noise) and the mix goes through a few resonances of a wooden body.
It is synthesized, not a recorded küy (``docs/music.md``).

Everything is deterministic: the noise comes from a generator seeded per stroke, and
:func:`ogg_vorbis` gives the Ogg stream a fixed serial number, so the same grid renders the
same bytes every time.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import soundfile as sf
from scipy import signal

from app.beats import BeatGrid
from app.music import ogg_with_serial

FloatArray = npt.NDArray[np.float64]

SAMPLE_RATE = 22050
STRINGS_HZ = (146.83, 196.00)
"""The open strings: D3 and G3, a fourth above."""
DOWN_RING_S = 1.6
"""60 dB decay of a string after a down-stroke."""
UP_RING_S = 0.25
"""60 dB decay after an up-stroke: the hand mutes it."""
MUTE_S = 0.006
"""A ringing string struck again stops this quickly."""
STRUM_SPREAD_S = 0.014
"""How long the plectrum takes from one string to the other."""
UP_STROKE_AT = 2 / 3
"""Where in the beat the up-stroke falls."""
RING_OUT_S = 1.2
"""Decay after the last beat."""
PLUCK_S = 2.5
"""How long a string is computed to ring (it has fallen by 90 dB by then)."""
VORBIS_QUALITY = 0.3
OGG_SERIAL = 0x64_6F_6D_62
"""The Ogg stream's serial number, fixed so that renders are byte for byte the same."""
SEED = 1402
TUNE = ((0, 2, 3, 2), (5, 3, 2, 0))
"""The top string's frets, a bar to a row, count by count (cycled for other meters): over the
open D a small tune in G minor, G A Bb A | C Bb A G."""

BODY_MODES = ((118.0, 0.06, 0.5), (236.0, 0.05, 0.35), (410.0, 0.03, 0.25), (780.0, 0.02, 0.12))
"""Resonances of the wooden body: (Hz, decay seconds, gain)."""


@dataclass(frozen=True)
class Pluck:
    """One string struck at ``at_s``: ``string`` 0 is the low one, ``fret`` semitones up;
    it rings with a 60 dB decay of ``ring_s`` until the same string is struck again."""

    at_s: float
    string: int
    fret: int
    loudness: float
    brightness: float
    ring_s: float

    @property
    def freq(self) -> float:
        return float(STRINGS_HZ[self.string] * 2.0 ** (self.fret / 12))


def plucks(grid: BeatGrid, n_beats: int) -> list[Pluck]:
    """The strumming pattern over ``n_beats`` beats of ``grid``, in time order.

    On every beat a down-stroke, low string first, the bar's first beat louder and brighter:
    the low string open (a drone), the top string playing :data:`TUNE`. Two thirds into
    every beat a light, muted up-stroke of the top string.
    """
    out = []
    period = grid.period_s
    for beat in range(n_beats):
        bar, count = grid.bar_of(beat)
        at = grid.first_beat_s + beat * period
        downbeat = count == 1
        loudness, brightness = (1.0, 0.9) if downbeat else (0.55, 0.6)
        tune = TUNE[bar % len(TUNE)]
        fret = tune[(count - 1) % len(tune)]
        out.append(Pluck(at, 0, 0, loudness, brightness, DOWN_RING_S))
        out.append(Pluck(at + STRUM_SPREAD_S, 1, fret, loudness, brightness, DOWN_RING_S))
        out.append(Pluck(at + UP_STROKE_AT * period, 1, fret, 0.25, 0.3, UP_RING_S))
    return out


def string_tone(pluck: Pluck, duration_s: float, rng: np.random.Generator) -> FloatArray:
    """One Karplus-Strong string: a noise burst one period long circulating through a delay
    line of that period and a two-point average that damps its highs."""
    delay = max(2, round(SAMPLE_RATE / pluck.freq - 0.5))  # the average delays half a sample
    n = round(duration_s * SAMPLE_RATE)
    n_blocks = math.ceil(n / delay)
    burst = rng.uniform(-1.0, 1.0, delay)
    # A softer pluck has fewer highs in its burst.
    burst = signal.lfilter([pluck.brightness], [1.0, pluck.brightness - 1.0], burst)
    out = np.zeros((n_blocks + 1) * delay + 1)
    out[1:delay + 1] = burst - np.mean(burst)
    gain = 10.0 ** (-3.0 / (pluck.ring_s * pluck.freq)) / 2
    # y[n] = x[n] + g/2 (y[n - D] + y[n - D - 1]): each block of D samples from the one before.
    for block in range(1, n_blocks):
        start = 1 + block * delay
        out[start:start + delay] = gain * (out[start - delay:start]
                                           + out[start - delay - 1:start - 1])
    tone = out[1:1 + n]
    fade = min(n, round(MUTE_S * SAMPLE_RATE))
    tone[n - fade:] *= np.linspace(1.0, 0.0, fade)
    return np.asarray(pluck.loudness * tone)


def body(samples: FloatArray) -> FloatArray:
    """``samples`` through the body's resonances, added to the dry strings."""
    out = samples.copy()
    for freq, decay_s, gain in BODY_MODES:
        radius = math.exp(-1.0 / (decay_s * SAMPLE_RATE))
        theta = 2 * math.pi * freq / SAMPLE_RATE
        b = [gain * (1 - radius)]
        a = [1.0, -2 * radius * math.cos(theta), radius * radius]
        out += signal.lfilter(b, a, samples)
    return out


def render(grid: BeatGrid, n_beats: int) -> FloatArray:
    """``n_beats`` beats of accompaniment on ``grid``, mono at :data:`SAMPLE_RATE`, peak 0.9."""
    end_s = grid.first_beat_s + n_beats * grid.period_s + RING_OUT_S
    mix = np.zeros(round(end_s * SAMPLE_RATE))
    pattern = plucks(grid, n_beats)
    for index, pluck in enumerate(pattern):
        following = (p.at_s for p in pattern[index + 1:] if p.string == pluck.string)
        stop_s = min(next(following, end_s), pluck.at_s + PLUCK_S, end_s)
        start = round(pluck.at_s * SAMPLE_RATE)
        tone = string_tone(pluck, stop_s - pluck.at_s, np.random.default_rng([SEED, index]))
        mix[start:start + len(tone)] += tone[:len(mix) - start]
    mix = body(mix)
    peak = float(np.max(np.abs(mix))) or 1.0
    return np.asarray(0.9 * mix / peak)


def beats_in(grid: BeatGrid, duration_s: float) -> int:
    """How many beats of ``grid`` a step of ``duration_s`` holds: every beat that starts
    before its end, less a last one that would start in its final tenth of a beat."""
    return max(1, math.ceil((duration_s - grid.first_beat_s) / grid.period_s - 0.1))


def ogg_vorbis(samples: FloatArray) -> bytes:
    """``samples`` (mono, :data:`SAMPLE_RATE`) as Ogg/Vorbis bytes, the same for the same
    samples."""
    buffer = io.BytesIO()
    sf.write(buffer, samples.astype(np.float32), SAMPLE_RATE, format="OGG", subtype="VORBIS",
             compression_level=1.0 - VORBIS_QUALITY)
    return ogg_with_serial(buffer.getvalue(), OGG_SERIAL)


def accompaniment(grid: BeatGrid, duration_s: float) -> bytes:
    """The Ogg/Vorbis accompaniment of a step of ``duration_s`` on ``grid``."""
    return ogg_vorbis(render(grid, beats_in(grid, duration_s)))
