"""Timing error of the live rhythm measure, against baselines measured in the same run.

Many synthetic performances (``tests/rhythm_fixtures.py``): a dancer turning (or stopping, for a
hitting dancer) at known times, a known offset from beats whose tempo drifts +-3 %, human
scatter (10 ms), the pose model's jitter (1-3 % of the torso a frame), capture-time jitter,
dropped frames and frames with nobody, filmed at 30 or 15 fps. Each is fed frame by frame to
:class:`app.rhythm.AccentTracker` as a live session feeds it, and :func:`app.rhythm.measure`
gives the median offset; its error is against the dancer's true median offset. Variants:

- ours: landmarks smoothed (Gaussian, 40 ms), accents between frames (parabola), holds' ends;
- no sub-frame: the same, each accent at its lowest frame;
- raw speed: the same without smoothing;
- kinematic beats: the dance-generation literature's motion beats (Bailando's and AIST++'s
  evaluation code): mean joint speed from frame differences, a Gaussian of 5 frames at 60 fps
  (83 ms), every local minimum, the nearest to each beat.

Prints p50 / p95 / max of the absolute offset error (ms), the share within 20 ms, and each
variant's p50 and p95 over ours; and the per-frame cost of ``AccentTracker.add``.

Run from the repository root::

    python -m benchmarks.rhythm [--performances 200]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.rhythm import ACCENT_LANDMARKS, Accents, AccentTracker, accent_points, measure
from app.sequence import PoseSequence
from tests.rhythm_fixtures import Camera, dancer, music_beats

FloatArray = npt.NDArray[np.float64]
BEATS = 24
METER = 4
COUNTS = (np.arange(BEATS) % METER + 1).astype(np.int64)
LITERATURE_SIGMA_S = 5.0 / 60.0


@dataclass(frozen=True)
class Performance:
    seq: PoseSequence
    beats: FloatArray
    true_offset_ms: float
    true_counts_ms: FloatArray
    """The dancer's median offset on each count of the bar."""
    kind: str


def performances(count: int, fps: float, seed: int) -> list[Performance]:
    rng = np.random.default_rng(seed)
    made = []
    for k in range(count):
        tempo = rng.uniform(50.0, 140.0)
        beats = music_beats(tempo, BEATS, drift=rng.uniform(-0.03, 0.03),
                            cycles=rng.uniform(0.5, 2.0))
        offset = rng.uniform(-0.15, 0.15)
        accents = beats + offset + rng.normal(0.0, 0.01, BEATS)
        hits = k % 2 == 1
        camera = Camera(fps=fps, noise=rng.uniform(0.01, 0.03))
        offsets = accents - beats
        made.append(Performance(
            dancer(accents, rng, camera, hits=hits), beats, 1000.0 * float(np.median(offsets)),
            1000.0 * np.array([np.median(offsets[np.equal(COUNTS, count)])
                               for count in range(1, METER + 1)]),
            "hitting" if hits else "turning"))
    return made


def tracked(smooth_s: float, interpolate: bool) -> Callable[[PoseSequence], Accents]:
    def find(seq: PoseSequence) -> Accents:
        tracker = AccentTracker(smooth_s, interpolate)
        for i in range(len(seq)):
            present = bool(seq.present[i])
            tracker.add(float(seq.t[i]), seq.image_xyz[i] if present else None,
                        seq.visibility[i], seq.aspect)
        return tracker.accents()
    return find


def kinematic_beats(seq: PoseSequence) -> Accents:
    """The literature's motion beats: local minima of the mean joint speed (frame differences)
    after a Gaussian of 5 frames at 60 fps."""
    present = seq.present
    t = seq.t[present]
    points, _ = accent_points(seq.image_xyz[present], seq.visibility[present], seq.aspect)
    moving = points[:, :len(ACCENT_LANDMARKS)]
    speed = np.linalg.norm(np.diff(moving, axis=0), axis=-1).mean(axis=1) / np.diff(t)
    mid = 0.5 * (t[1:] + t[:-1])
    dt = float(np.median(np.diff(t)))
    half = int(np.ceil(3 * LITERATURE_SIGMA_S / dt))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * dt / LITERATURE_SIGMA_S) ** 2)
    smooth = np.convolve(speed, kernel / kernel.sum(), mode="same")
    lows = np.flatnonzero((smooth[1:-1] < smooth[:-2]) & (smooth[1:-1] < smooth[2:])) + 1
    times = mid[lows]
    return Accents(times, np.ones(len(times)), np.array([[float(t[0]), float(t[-1])]]))


VARIANTS: dict[str, Callable[[PoseSequence], Accents]] = {
    "ours": tracked(0.04, True),
    "no sub-frame": tracked(0.04, False),
    "raw speed": tracked(0.0, True),
    "kinematic beats": kinematic_beats,
}


def errors(found: Callable[[PoseSequence], Accents], runs: list[Performance]
           ) -> tuple[FloatArray, FloatArray]:
    """Per performance the median offset's error, and per count of each the count's offset
    error, ms (infinite where nothing was measured)."""
    offset, counts = [], []
    for run in runs:
        rhythm = measure(found(run.seq), run.beats, COUNTS, METER, True)
        if rhythm is None or rhythm.offset_ms is None:
            offset.append(np.inf)
            counts.extend([np.inf] * METER)
            continue
        offset.append(abs(rhythm.offset_ms - run.true_offset_ms))
        counts.extend(np.inf if c.offset_ms is None else abs(c.offset_ms - truth)
                      for c, truth in zip(rhythm.counts, run.true_counts_ms, strict=True))
    return np.asarray(offset), np.asarray(counts)


def add_cost(runs: list[Performance]) -> FloatArray:
    """Milliseconds per ``AccentTracker.add`` over the performances, as a session calls it."""
    costs = []
    for run in runs:
        tracker = AccentTracker()
        seq = run.seq
        for i in range(len(seq)):
            present = bool(seq.present[i])
            start = time.perf_counter()
            tracker.add(float(seq.t[i]), seq.image_xyz[i] if present else None,
                        seq.visibility[i], seq.aspect)
            costs.append(time.perf_counter() - start)
    return 1000.0 * np.asarray(costs)


def quantile(values: FloatArray, share: float) -> float:
    """A quantile that is one of the values (a performance measured nothing: infinite)."""
    return float(np.percentile(values, 100.0 * share, method="nearest"))


def row(name: str, found: tuple[FloatArray, FloatArray],
        ours: tuple[FloatArray, FloatArray] | None) -> str:
    offset, counts = found
    cells = [f"{quantile(offset, 0.5):.1f}", f"{quantile(offset, 0.95):.1f}",
             f"{offset.max():.1f}", f"{100 * np.mean(offset <= 20):.0f} %",
             f"{quantile(counts, 0.95):.1f}"]
    if ours is not None:
        cells += [f"{quantile(offset, 0.5) / quantile(ours[0], 0.5):.1f}x",
                  f"{quantile(offset, 0.95) / quantile(ours[0], 0.95):.1f}x",
                  f"{quantile(counts, 0.95) / quantile(ours[1], 0.95):.1f}x"]
    return " | ".join([name, *cells])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--performances", type=int, default=200,
                        help="performances per camera rate (half turning, half hitting)")
    args = parser.parse_args()
    print(f"{args.performances} performances of {BEATS} beats per camera rate, 50-140 BPM, "
          f"offsets -150..+150 ms, tempo drift +-3 %, jitter 1-3 % of the torso")
    for fps in (30.0, 15.0):
        runs = performances(args.performances, fps, seed=int(fps))
        print(f"\n{fps:.0f} fps | offset p50 ms | p95 | max | within 20 ms | per count p95 | "
              f"p50 / ours | p95 / ours | per count p95 / ours")
        print(" | ".join(["---"] * 9))
        ours = errors(VARIANTS["ours"], runs)
        for name, variant in VARIANTS.items():
            print(row(name, ours if name == "ours" else errors(variant, runs), ours))
        for kind in ("turning", "hitting"):
            mine = [k for k, run in enumerate(runs) if run.kind == kind]
            counts = np.concatenate([ours[1][METER * k:METER * (k + 1)] for k in mine])
            print(row(f"ours, {kind} dancers", (ours[0][mine], counts), None))
    cost = add_cost(performances(20, 30.0, seed=1))
    print(f"\nAccentTracker.add per frame: p50 {quantile(cost, 0.5):.3f} ms, p99 "
          f"{quantile(cost, 0.99):.3f} ms, max {cost.max():.1f} ms (a window of accents "
          f"found every 15 s)")


if __name__ == "__main__":
    main()
