"""Routine scoring speed: a 2-minute routine scored offline, beside one step, in one run.

The routine is the library's steps in story order, again and again until it lasts at least
:data:`ROUTINE_S` seconds (with the default blends between them), built with
:func:`app.routine.build_reference`; the attempt is a noisy copy of it (detector jitter, as
``tests/scoring_fixtures.noisy``). The single step is ``wing-beat`` against a noisy copy of
itself. Each timing is the median of several runs in this process after a warm-up (the
kernels compiled); the ratio is the routine's time over the step's. Target: the routine in
under a second.

Live, the cost of one frame (``LiveSession.push``: smoothing, features, the online aligner,
scoring, feedback) within the routine against within the single step, over the first
:data:`LIVE_FRAMES` frames of each attempt (the step's danced again and again): the online
aligner's work per frame grows with the reference's length.

Run from the repository root::

    python -m benchmarks.routine_speed [--repeat 5] [--poses DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import cycle
from pathlib import Path

import numpy as np

from app.library import Library, default_poses_dir
from app.live import LiveSession
from app.live import warm_up as warm_up_live
from app.reference import Reference
from app.routine import DEFAULT_TRANSITION_S, Routine, RoutineEntry, build_reference, score_routine
from app.scoring import ScoreOptions, score
from app.sequence import PoseSequence
from benchmarks.align_speed import timed
from tests.scoring_fixtures import noisy

ROUTINE_S = 120.0
STEP = "wing-beat"
TARGET_S = 1.0
LIVE_FRAMES = 300


def two_minute_routine(library: Library) -> Routine:
    """The library's steps in story order, cycled until the routine lasts ``ROUTINE_S``."""
    entries: list[RoutineEntry] = []
    total = 0.0
    for info in cycle(library.list()):
        if total >= ROUTINE_S:
            break
        entries.append(RoutineEntry(step=info.name))
        total += info.duration_s + (DEFAULT_TRANSITION_S if len(entries) > 1 else 0.0)
    return Routine("two-minutes", "Two minutes", "", DEFAULT_TRANSITION_S, tuple(entries))


def push_times(reference: Reference, attempt: PoseSequence) -> tuple[float, float]:
    """Median and 99th percentile seconds of a live push over :data:`LIVE_FRAMES` frames of
    ``attempt``, looped if shorter, in a session following ``reference``."""
    session = LiveSession(reference, ScoreOptions())
    times = []
    period = attempt.duration_s + 1.0 / attempt.fps
    for k in range(LIVE_FRAMES):
        i = k % len(attempt)
        t = float(attempt.t[i]) + (k // len(attempt)) * period
        start = time.perf_counter()
        session.push(t, attempt.image_xyz[i], attempt.visibility[i], attempt.world_xyz[i],
                     attempt.image_size)
        times.append(time.perf_counter() - start)
    return float(np.median(times)), float(np.percentile(times, 99))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--poses", type=Path, default=None)
    args = parser.parse_args(argv)
    warm_up_live()
    library = Library(args.poses or default_poses_dir())
    routine = two_minute_routine(library)
    references = {step: library.reference(step) for step in dict.fromkeys(routine.steps)}
    reference = build_reference(routine, references)
    rng = np.random.default_rng(0)
    attempt = noisy(reference.sequence, rng)
    step = library.reference(STEP)
    step_attempt = noisy(step.sequence, rng)

    build_s = timed(lambda: build_reference(routine, references), args.repeat)
    routine_s = timed(lambda: score_routine(routine, reference, attempt), args.repeat)
    step_s = timed(lambda: score(step, step_attempt), args.repeat)
    report = score_routine(routine, reference, attempt)
    lowest = min(part.score for part in report.parts)

    seq = reference.sequence
    print(f"routine: {len(routine.parts)} parts, {seq.duration_s:.1f} s, {len(seq)} frames at "
          f"{seq.fps:g} fps; score {report.score:.1f}, lowest part {lowest:.1f}")
    print(f"build the routine's reference: {build_s * 1000:8.1f} ms")
    print(f"score the routine:             {routine_s * 1000:8.1f} ms "
          f"(target under {TARGET_S * 1000:.0f} ms)")
    print(f"score one step ({STEP}, {step.sequence.duration_s:.1f} s): {step_s * 1000:8.1f} ms")
    print(f"routine / step: {routine_s / step_s:.1f}x for "
          f"{seq.duration_s / step.sequence.duration_s:.1f}x the length")
    live_routine = push_times(reference, attempt)
    live_step = push_times(step, step_attempt)
    print(f"live push within the routine: p50 {live_routine[0] * 1000:.3f} ms, "
          f"p99 {live_routine[1] * 1000:.3f} ms; within the step: p50 "
          f"{live_step[0] * 1000:.3f} ms, p99 {live_step[1] * 1000:.3f} ms; "
          f"routine / step p50 {live_routine[0] / live_step[0]:.1f}x")
    return 0 if routine_s < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
