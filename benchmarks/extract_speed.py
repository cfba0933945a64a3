"""Extraction speed against the bare model, and peak memory on a long 720p video.

Throughput: runs MediaPipe's bare ``PoseLandmarker`` (VIDEO mode, the options ``extract_video``
uses) over a clip, timing only its ``detect_for_video`` calls, then ``dance-tutor extract``'s
own path (``extract_video`` and ``sequence.save``: decoding, conversion, tracking and writing
included) over the same clip, and prints frames per second for both and their ratio. The
target is a ratio of at least 0.9: everything around the model costs under 10%. The two runs
alternate for ``--rounds`` rounds and the fastest round of each counts; the ratio is given in
wall-clock time and in CPU time, which other processes on the machine disturb less.

Memory: writes a long 720p video by looping the clip (``--minutes``, 5 by default) into a
temporary folder, extracts it in a fresh process and prints that process's peak resident
memory and Python's peak allocations (target: under 1 GB, because frames are streamed).

Run from the repository root::

    python -m benchmarks.extract_speed [--clip hybrik_taiji.mp4] [--rounds 2] [--minutes 5]
                                       [--no-memory]

On a shared machine, pin it to one core: ``taskset -c 0 python -m benchmarks.extract_speed``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import cv2
import mediapipe as mp
from mediapipe.tasks.python import vision

from app import sequence
from app.models import ensure_model
from app.pose import extract_video
from tests.conftest import TESTDATA

TARGET_RATIO = 0.9
MEMORY_LIMIT_MIB = 1024.0
LONG_SIZE = (1280, 720)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.extract_speed", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clip", default="hybrik_taiji.mp4",
                        help="clip in the test footage folder (default hybrik_taiji.mp4, 720p)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each run (default 3)")
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="length of the long video for the memory run (default 5)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory run")
    parser.add_argument("--measure-memory", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure_memory is not None:
        print(json.dumps(_measure_memory(args.measure_memory)))
        return 0
    model = ensure_model()
    path = TESTDATA / args.clip
    bare: list[_Timing] = []
    ours: list[_Timing] = []
    for _ in range(args.rounds):
        bare.append(_bare_run(path, model))
        ours.append(_extract_run(path, model))
    frames = bare[0].frames
    print(f"clip {args.clip}: {frames} frames, best of {args.rounds} rounds")
    for clock in ("wall", "cpu"):
        bare_fps = frames / min(getattr(t, clock) for t in bare)
        ours_fps = frames / min(getattr(t, clock) for t in ours)
        verdict = "meets" if ours_fps / bare_fps >= TARGET_RATIO else "MISSES"
        print(f"  {clock:>4} time: bare PoseLandmarker (model calls only) {bare_fps:5.1f} "
              f"frames/s, extract_video + save {ours_fps:5.1f} frames/s, ratio "
              f"{ours_fps / bare_fps:.3f} ({verdict} the target {TARGET_RATIO})")
    if not args.no_memory:
        _memory_run(path, args.minutes)
    return 0


@dataclass(frozen=True)
class _Timing:
    """Seconds of wall-clock and of CPU time (all threads) spent over ``frames`` frames."""

    wall: float
    cpu: float
    frames: int


def _bare_run(path: Path, model: Path) -> _Timing:
    """Time spent in ``detect_for_video`` only, over the clip."""
    options = vision.PoseLandmarkerOptions(
        base_options=mp.tasks.BaseOptions(model_asset_path=str(model)),
        running_mode=vision.RunningMode.VIDEO,
    )
    capture = cv2.VideoCapture(str(path))
    period_ms = 1000.0 / (capture.get(cv2.CAP_PROP_FPS) or 30.0)
    wall = cpu = 0.0
    count = 0
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            image = mp.Image(image_format=mp.ImageFormat.SRGB,
                             data=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            start, start_cpu = time.perf_counter(), time.process_time()
            landmarker.detect_for_video(image, round(count * period_ms))
            wall += time.perf_counter() - start
            cpu += time.process_time() - start_cpu
            count += 1
    capture.release()
    return _Timing(wall, cpu, count)


def _extract_run(path: Path, model: Path) -> _Timing:
    """Time spent extracting the clip and writing its pose file, everything included."""
    with tempfile.TemporaryDirectory() as folder:
        start, start_cpu = time.perf_counter(), time.process_time()
        seq = extract_video(path, model_path=model)
        sequence.save(seq, Path(folder) / "clip.pose.json")
        return _Timing(time.perf_counter() - start, time.process_time() - start_cpu, len(seq))


def _memory_run(clip: Path, minutes: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        long_video = Path(folder) / "long.mp4"
        start = time.perf_counter()
        frames = _loop_clip(clip, long_video, minutes)
        print(f"long video: {frames} frames of {LONG_SIZE[0]}x{LONG_SIZE[1]} "
              f"({minutes:g} min), written in {time.perf_counter() - start:.0f} s")
        result = subprocess.run(
            [sys.executable, "-m", "benchmarks.extract_speed", "--measure-memory",
             str(long_video)],
            capture_output=True, text=True, check=True,
        )
        report = json.loads(result.stdout.strip().splitlines()[-1])
    peak = report["peak_rss_mib"]
    verdict = "meets" if peak < MEMORY_LIMIT_MIB else "MISSES"
    print(f"  extracted {report['frames']} frames in {report['seconds']:.0f} s "
          f"({report['frames'] / report['seconds']:.1f} frames/s)")
    print(f"  resident memory: {report['rss_at_10pct_mib']:.0f} MiB at 10%, "
          f"{report['rss_at_end_mib']:.0f} MiB at the end, peak {peak:.0f} MiB "
          f"({verdict} the limit of {MEMORY_LIMIT_MIB:.0f} MiB)")
    print(f"  Python allocations: peak {report['python_peak_mib']:.1f} MiB")


def _loop_clip(clip: Path, out: Path, minutes: float) -> int:
    """Write ``minutes`` of ``clip``, looped and resized to 720p, as an MP4; frames written."""
    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, LONG_SIZE)
    total = round(minutes * 60 * fps)
    for written in range(total):
        ok, bgr = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = capture.read()
        if not ok:
            raise ValueError(f"{clip}: frame {written} cannot be decoded")
        writer.write(cv2.resize(bgr, LONG_SIZE) if bgr.shape[1::-1] != LONG_SIZE else bgr)
    writer.release()
    capture.release()
    return total


def _rss_mib() -> float:
    """Current resident memory from /proc (Linux), else the peak so far."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure_memory(video: Path) -> dict[str, float]:
    """Extract ``video`` in this process and report its memory figures."""
    samples: dict[str, float] = {}

    def progress(done: int, expected: int) -> None:
        if expected and done == max(1, expected // 10):
            samples["rss_at_10pct_mib"] = _rss_mib()

    model = ensure_model()
    tracemalloc.start()
    start = time.perf_counter()
    seq = extract_video(video, model_path=model, progress=progress)
    seconds = time.perf_counter() - start
    _, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "frames": len(seq), "seconds": seconds,
        "rss_at_10pct_mib": samples.get("rss_at_10pct_mib", float("nan")),
        "rss_at_end_mib": _rss_mib(),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "python_peak_mib": python_peak / 2**20,
    }


if __name__ == "__main__":
    sys.exit(main())
