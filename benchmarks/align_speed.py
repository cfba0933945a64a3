"""Alignment speed: offline DTW beside dtaidistance and fastdtw, and the online aligner per frame.

Offline: a 1,000-frame attempt against a 1,000-frame reference (real movement: extracted clips
if cached, else the squats golden file, time-warped with noise), warping path included. Ours
(numba kernel, tempo limits 0.5x-2x, open ends) runs with no band and with a 10 % band;
``dtaidistance.dtw_ndim.warping_path(use_c=True)`` runs on the same arrays with a full matrix
and with the same band as a window; ``fastdtw`` with its default radius. Each timing is the
median of several runs measured in this process; ratios are ours over theirs. Our path is
checked to equal the plain-Python reference implementation on the banded problem.

Online: :class:`app.align.OnlineAligner` following a 3,000-frame stream (a warped performance
with a pause and a restart) through a 1,000-frame reference, and :class:`app.live.LiveSession`
(smoothing, features, alignment, scoring, feedback) through a 300-frame reference beside the
online aligner alone on the same frames; per-frame times at the 50th and 99th percentile.

Run from the repository root::

    python -m benchmarks.align_speed [--repeat 5] [--cache DIR]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from dtaidistance import dtw_ndim
from fastdtw import fastdtw

from app import sequence as pose_file
from app.align import AlignSettings, OnlineAligner, warping_path, warping_path_reference
from app.features import Features
from app.live import LiveSession, warm_up
from app.normalise import feature_matrix
from app.reference import Reference
from app.scoring import ScoreOptions
from app.sequence import PoseSequence
from benchmarks.validity import default_cache
from tests.scoring_fixtures import noisy, squats_sequence, time_warp

N = 1000
FEATURES_24 = 24
BAND = 0.1
LIVE_FRAMES = 300


def real_movement(cache: Path) -> list[PoseSequence]:
    """Extracted clips from the validity cache, else the squats golden file."""
    found = [pose_file.load(path) for path in sorted(cache.glob(f"*{pose_file.SUFFIX}"))]
    return [s for s in found if s.present.mean() > 0.9] or [squats_sequence()]


def thousand_frames(sources: Sequence[PoseSequence]) -> Features:
    """1,000 feature rows of real movement: sources end to end, resampled to fit."""
    rows = [feature_matrix(s) for s in sources]
    values = np.concatenate([r.values for r in rows])
    weights = np.concatenate([r.weights for r in rows])
    pick = np.linspace(0, len(values) - 1, N).round().astype(int)
    return Features(values[pick], weights[pick], np.arange(N) / 30.0)


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` calls (after one warm-up call)."""
    fn()
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def offline(reference: np.ndarray, attempt: np.ndarray, repeat: int, label: str) -> None:
    banded = AlignSettings(band=BAND)
    window = int(BAND * N)
    ours_full = timed(lambda: warping_path(reference, attempt), repeat)
    ours_band = timed(lambda: warping_path(reference, attempt, banded), repeat)
    dtai_full = timed(lambda: dtw_ndim.warping_path(reference, attempt, use_c=True), repeat)
    dtai_band = timed(lambda: dtw_ndim.warping_path(reference, attempt, window=window,
                                                    use_c=True), repeat)
    fast = timed(lambda: fastdtw(reference, attempt, dist=2), max(1, repeat // 2))
    print(f"offline DTW, {N} x {N} frames x {reference.shape[1]} features ({label}), "
          f"path included, median of {repeat}:")
    print(f"  ours, no band          {ours_full * 1e3:8.1f} ms")
    print(f"  ours, band {BAND:.0%}         {ours_band * 1e3:8.1f} ms")
    print(f"  dtaidistance C, full   {dtai_full * 1e3:8.1f} ms")
    print(f"  dtaidistance C, window {dtai_band * 1e3:8.1f} ms")
    print(f"  fastdtw                {fast * 1e3:8.1f} ms")
    print(f"  ratios: ours banded / dtaidistance full {ours_band / dtai_full:.2f}, "
          f"ours banded / dtaidistance same window {ours_band / dtai_band:.2f}, "
          f"ours full / dtaidistance full {ours_full / dtai_full:.2f}, "
          f"ours banded / fastdtw {ours_band / fast:.3f}")


def check_against_reference(reference: np.ndarray, attempt: np.ndarray) -> bool:
    settings = AlignSettings(band=BAND)
    fast = warping_path(reference, attempt, settings)
    started = time.perf_counter()
    slow = warping_path_reference(reference, attempt, settings)
    same = bool(np.array_equal(fast.path, slow.path)
                and abs(fast.cost - slow.cost) <= 1e-12 * abs(slow.cost))
    print(f"  banded path equals the pure-Python reference implementation: "
          f"{'yes' if same else 'NO'} ({len(fast.path)} pairs, cost {fast.cost:.6f}; "
          f"reference took {time.perf_counter() - started:.1f} s)")
    return same


def online(reference: Features, attempt: Features) -> tuple[float, float]:
    aligner = OnlineAligner(reference)
    times = []
    for i in range(len(attempt)):
        start = time.perf_counter()
        aligner.push(attempt.values[i], attempt.weights[i], attempt.t[i])
        times.append(time.perf_counter() - start)
    p50, p99 = np.percentile(times, [50, 99]) * 1e3
    print(f"online aligner, {len(reference)}-frame reference, {len(attempt)} frames: "
          f"p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {max(times) * 1e3:.3f} ms")
    return float(p50), float(p99)


def live(reference: PoseSequence, attempt: PoseSequence, rounds: int = 3) -> tuple[float, float]:
    """Per-push times of a live session, beside the online aligner alone on the same frames.

    The learner dances ``attempt`` ``rounds`` times in a row. The aligner follows the same
    frames' features (computed beforehand) through the same reference, so the ratio is what
    smoothing, features, scoring and feedback add to it.
    """
    session = LiveSession(Reference(reference), ScoreOptions())
    has_world = attempt.has_world
    span = float(attempt.t[-1]) + 1.0 / attempt.fps
    times = []
    for i in range(len(attempt) * rounds):
        row = i % len(attempt)
        world = attempt.world_xyz[row] if has_world[row] else None
        t = float(attempt.t[row]) + span * (i // len(attempt))
        start = time.perf_counter()
        session.push(t, attempt.image_xyz[row], attempt.visibility[row], world,
                     attempt.image_size)
        times.append(time.perf_counter() - start)
    space = session.finish().space
    features = feature_matrix(attempt, space=space)
    aligner = OnlineAligner(feature_matrix(reference, space=space),
                            Reference(reference).tolerance_matrix())
    aligner_times = []
    for i in range(len(features) * rounds):
        row = i % len(features)
        t = float(features.t[row]) + span * (i // len(features))
        start = time.perf_counter()
        aligner.push(features.values[row], features.weights[row], t)
        aligner_times.append(time.perf_counter() - start)
    p50, p99 = np.percentile(times, [50, 99]) * 1e3
    a50, a99 = np.percentile(aligner_times, [50, 99]) * 1e3
    print(f"live session push, {len(reference)}-frame reference, {len(times)} frames: "
          f"p50 {p50:.3f} ms, p99 {p99:.3f} ms; online aligner alone on the same frames: "
          f"p50 {a50:.3f} ms, p99 {a99:.3f} ms; push / aligner p50 {p50 / a50:.1f}")
    return float(p50), float(p99)


def live_reference(sources: Sequence[PoseSequence], frames: int) -> PoseSequence:
    """``frames`` frames of the longest source, its frames repeated in time when too short."""
    source = max(sources, key=len)
    if len(source) >= frames:
        return source.slice_frames(0, frames)
    rows = np.arange(frames) * len(source) // frames
    return replace(source, t=np.arange(frames) / source.fps * len(source) / frames,
                   image_xyz=source.image_xyz[rows], visibility=source.visibility[rows],
                   world_xyz=source.world_xyz[rows], present=source.present[rows],
                   fps=source.fps * frames / len(source), steps=())


def stream_with_pause_and_restart(reference: Features, rng: np.random.Generator) -> Features:
    """A warped performance that pauses, then starts again from the beginning."""
    parts = [reference.values[:600], np.repeat(reference.values[599:600], 300, 0),
             reference.values[:N], reference.values[::2], reference.values[:600]]
    weights = [reference.weights[:600], np.repeat(reference.weights[599:600], 300, 0),
               reference.weights[:N], reference.weights[::2], reference.weights[:600]]
    values = np.concatenate(parts)[:3000]
    values = values + rng.normal(scale=0.02, size=values.shape)
    return Features(values, np.concatenate(weights)[:3000], np.arange(len(values)) / 30.0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=default_cache())
    args = parser.parse_args(argv)
    warm_up()
    rng = np.random.default_rng(0)
    sources = real_movement(args.cache)
    reference = thousand_frames(sources)
    attempt = thousand_frames([noisy(time_warp(s, rng), rng) for s in sources])
    ref24 = np.ascontiguousarray(reference.values[:, :FEATURES_24])
    att24 = np.ascontiguousarray(attempt.values[:, :FEATURES_24])
    offline(ref24, att24, args.repeat, "the first 24 skeleton features")
    same = check_against_reference(ref24, att24)
    offline(reference.values, attempt.values, args.repeat, "all skeleton features")
    _, aligner_p99 = online(reference, stream_with_pause_and_restart(reference, rng))
    reference_300 = live_reference(sources, LIVE_FRAMES)
    live(reference_300, noisy(time_warp(reference_300, rng), rng))
    ok = same and aligner_p99 <= 1.0
    print("online aligner p99 <= 1 ms:", "met" if aligner_p99 <= 1.0 else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
