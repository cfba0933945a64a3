"""Beat-grid accuracy: :func:`app.music.find_beat_grid` against baselines, in one run.

Three sets of music:

1. **Rendered tracks of known grid**: the dombra accompaniment (``app/dombra.py``) and a click
   track (a short noise burst a beat, every fourth louder, starting one beat before its first
   accented beat half the time: a pickup), over :data:`TEMPOS` and :data:`OFFSETS`, clean and
   under white noise at :data:`NOISE_SNR_DB`, :data:`TRACK_S` seconds each, written and read
   as Ogg/Vorbis as an upload would be. The truth is the grid the track was made on; its
   first beat is the first accented one.
2. **The shipped steps' tracks**, their grids recorded in their ``.pose.json``.
3. **Real music**: the sound of the clips in ``../shared/testdata`` that have sound (read
   with PyAV when it is installed, ``pip install av``). It has no known grid, so the table
   says what each method finds and how far the tracked beats lie from the fitted grid.

Methods, each on the same audio:

- ``librosa``: ``librosa.beat.beat_track`` as it comes (hop 512, its own tempo estimate),
  first beat = its first tracked beat;
- ``median``: the beats of :func:`app.music.track_beats`, tempo from their median interval,
  first beat = the first of them (no attack refinement, no fit, no downbeat choice);
- ``grid``: :func:`app.music.find_beat_grid` without a tempo hint;
- ``grid+hint``: with the true tempo as the hint, as the library passes the step's tempo.

Tempo error is in percent of the true tempo; first-beat error in milliseconds, as found (a beat
or a bar off counts in full). Run from the repository root::

    python -m benchmarks.beat_grid [--quick]
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soundfile as sf

from app import dombra, music
from app.beats import BeatGrid
from app.library import Library, default_poses_dir

FloatArray = npt.NDArray[np.float64]
RATE = music.TRACK_RATE
TEMPOS = (48.0, 60.0, 72.0, 90.0, 110.0, 130.0, 160.0)
OFFSETS = (0.0, 0.23, 0.61, 1.37)
NOISE_SNR_DB = 10.0
TRACK_S = 20.0
METER = 4
TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
TEMPO_OK_PCT = 1.0
FIRST_OK_MS = 20.0
METHODS = ("librosa", "median", "grid", "grid+hint")


@dataclass(frozen=True)
class Case:
    kind: str
    truth: BeatGrid
    noisy: bool
    data: bytes


@dataclass(frozen=True)
class Found:
    tempo_bpm: float
    first_beat_s: float


def clicks(grid: BeatGrid, pickup: int) -> FloatArray:
    """A click track on ``grid``, ``pickup`` unaccented clicks before its first beat."""
    rng = np.random.default_rng(11)
    length = round(0.03 * RATE)
    burst = rng.uniform(-1, 1, length) * np.exp(-np.arange(length) / (0.005 * RATE))
    out = np.zeros(round((TRACK_S + 1.0) * RATE))
    first = grid.first_beat_s - pickup * grid.period_s
    for beat in range(int((TRACK_S - first) / grid.period_s)):
        start = round((first + beat * grid.period_s) * RATE)
        loud = 0.9 if (beat - pickup) % grid.meter == 0 else 0.35
        out[start:start + length] += loud * burst
    return out


def with_noise(samples: FloatArray, snr_db: float, seed: int) -> FloatArray:
    rms = float(np.sqrt(np.mean(samples ** 2)))
    noise = np.random.default_rng(seed).normal(0.0, rms / 10 ** (snr_db / 20), len(samples))
    out = samples + noise
    return np.asarray(0.9 * out / np.max(np.abs(out)))


def as_ogg(samples: FloatArray) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples.astype(np.float32), RATE, format="OGG", subtype="VORBIS")
    return buffer.getvalue()


def rendered_cases(quick: bool) -> Iterator[Case]:
    tempos = TEMPOS[::3] if quick else TEMPOS
    offsets = OFFSETS[::2] if quick else OFFSETS
    seed = 0
    for tempo in tempos:
        for offset in offsets:
            for noisy in (False, True):
                seed += 1
                pickup = seed % 2
                # a pickup click needs room before the first beat
                grid = BeatGrid(tempo, max(offset, pickup * 60.0 / tempo), METER)
                tracks = {
                    "dombra": dombra.render(grid, dombra.beats_in(grid, TRACK_S)),
                    "clicks": clicks(grid, pickup),
                }
                for kind, samples in tracks.items():
                    if noisy:
                        samples = with_noise(samples, NOISE_SNR_DB, seed)
                    yield Case(kind, grid, noisy, as_ogg(samples))


def shipped_cases() -> Iterator[tuple[str, float | None, Case]]:
    library = Library(default_poses_dir())
    for info in library.list():
        found = library.music(info.name)
        if found is not None:
            data = library.audio_path(found).read_bytes()
            yield info.name, info.metadata.tempo_bpm, Case("shipped", found.grid, False, data)


def run_methods(samples: FloatArray, hint: float | None) -> dict[str, Found | None]:
    """Every method's grid for ``samples`` (None where it found too few beats)."""
    import librosa

    out: dict[str, Found | None] = {}
    tempo, frames = librosa.beat.beat_track(y=samples.astype(np.float32), sr=RATE,
                                            units="time")
    out["librosa"] = Found(float(np.atleast_1d(tempo)[0]), float(frames[0])) if len(
        frames) else None
    beats = music.track_beats(samples)
    times = beats.times_s
    out["median"] = Found(60.0 / float(np.median(np.diff(times))), float(times[0])) if len(
        times) >= 2 else None
    for label, tempo_hint in (("grid", None), ("grid+hint", hint)):
        tracked = beats if tempo_hint is None else music.track_beats(samples, tempo_hint)
        if len(tracked.attacks_s) < music.MIN_BEATS:
            out[label] = None
            continue
        grid = music.fit_grid(tracked, METER)
        out[label] = Found(grid.tempo_bpm, grid.first_beat_s)
    return out


@dataclass
class Errors:
    tempo_pct: list[float]
    first_ms: list[float]
    missed: int = 0

    def add(self, truth: BeatGrid, found: Found | None) -> None:
        if found is None:
            self.missed += 1
            return
        self.tempo_pct.append(abs(found.tempo_bpm / truth.tempo_bpm - 1) * 100)
        self.first_ms.append(abs(found.first_beat_s - truth.first_beat_s) * 1000)


def table(title: str, rows: dict[str, Errors]) -> None:
    print(f"\n{title}")
    print(f"{'method':<12} {'n':>4} {'tempo err % med':>15} {'p90':>7} "
          f"{'<1 %':>6} {'first ms med':>12} {'p90':>8} {'<20 ms':>7} {'none':>5}")
    for method, errors in rows.items():
        tempo, first = np.asarray(errors.tempo_pct), np.asarray(errors.first_ms)
        n = len(tempo) + errors.missed
        if not len(tempo):
            print(f"{method:<12} {n:>4} {'-':>15}")
            continue
        print(f"{method:<12} {n:>4} {np.median(tempo):>15.3f} {np.percentile(tempo, 90):>7.2f} "
              f"{np.mean(tempo < TEMPO_OK_PCT) * len(tempo) / n:>6.0%} "
              f"{np.median(first):>12.1f} {np.percentile(first, 90):>8.0f} "
              f"{np.mean(first < FIRST_OK_MS) * len(first) / n:>7.0%} {errors.missed:>5}")


def real_music() -> Iterator[tuple[str, FloatArray]]:
    """The sound of the test clips that have some, mono at :data:`RATE` (needs PyAV)."""
    try:
        import av
    except ImportError:
        print("\nreal music: skipped (PyAV is not installed: pip install av)")
        return
    import librosa

    for path in sorted(TESTDATA.glob("*.mp4")):
        with av.open(str(path)) as container:
            if not container.streams.audio:
                continue
            chunks = [frame.to_ndarray() for frame in container.decode(audio=0)]
            rate = container.streams.audio[0].rate
        samples = np.concatenate([c if c.ndim == 2 and c.shape[0] <= 8 else c.reshape(1, -1)
                                  for c in chunks], axis=1).mean(axis=0)
        yield path.name, np.asarray(librosa.resample(samples.astype(np.float64),
                                                     orig_sr=rate, target_sr=RATE))


def real_table() -> None:
    rows = list(real_music())
    if not rows:
        return
    print(f"\nreal music from {TESTDATA} (no known grid): tempo found by each method, and the "
          f"RMS distance of the tracked beats' attacks from the fitted grid")
    print(f"{'clip':<40} {'s':>5} {'librosa':>8} {'median':>7} {'grid':>7} {'first s':>7} "
          f"{'beats':>5} {'rms ms':>7}")
    for name, samples in rows:
        found = run_methods(samples, None)
        beats = music.track_beats(samples)
        grid = found["grid"]
        cells = [f"{found[m].tempo_bpm:.1f}" if found[m] else "-"  # type: ignore[union-attr]
                 for m in ("librosa", "median", "grid")]
        rms = "-"
        if grid is not None:
            period = 60.0 / grid.tempo_bpm
            phase = (beats.attacks_s - grid.first_beat_s) / period
            rms = f"{np.sqrt(np.mean(((phase - np.rint(phase)) * period) ** 2)) * 1000:.0f}"
        print(f"{name:<40} {len(samples) / RATE:>5.1f} {cells[0]:>8} {cells[1]:>7} "
              f"{cells[2]:>7} {grid.first_beat_s if grid else float('nan'):>7.2f} "
              f"{len(beats.attacks_s):>5} {rms:>7}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a third of the tempos and half the offsets")
    args = parser.parse_args(argv)

    groups: dict[str, dict[str, Errors]] = {}

    def record(case: Case, hint: float | None, *titles: str) -> None:
        for method, found in run_methods(music.decode_mono(case.data), hint).items():
            for title in titles:
                rows = groups.setdefault(title, {m: Errors([], []) for m in METHODS})
                rows[method].add(case.truth, found)

    for case in rendered_cases(args.quick):
        noise = f"noise {NOISE_SNR_DB:g} dB SNR" if case.noisy else "clean"
        record(case, case.truth.tempo_bpm, f"{case.kind}, {noise}", "all rendered tracks")
    for _name, tempo, case in shipped_cases():
        record(case, tempo, "the shipped steps' tracks")
    tempos = TEMPOS[::3] if args.quick else TEMPOS
    print(f"rendered tracks: {len(tempos)} tempos {tempos[0]:g}-{tempos[-1]:g} BPM, "
          f"{TRACK_S:g} s each, {METER} beats a bar; ok = tempo within {TEMPO_OK_PCT:g} %, "
          f"first beat within {FIRST_OK_MS:g} ms")
    for title, rows in groups.items():
        table(title, rows)
    real_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
