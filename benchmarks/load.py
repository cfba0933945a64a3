"""Load on loopback: many practice sessions at once against ``dance-tutor serve``.

The server runs as a subprocess; this process is the client (asyncio, one WebSocket per
session), so the two do not share an interpreter. Two kinds of session run side by side:

- landmark mode: ``--sessions`` learners (default 100), each sending the poses of a real
  extracted clip at 30 fps, as a client that runs the pose model itself does: binary
  landmarks frames, or JSON ``landmarks`` messages with ``--format json``;
- image mode: ``--camera-sessions`` learners (default: the server's camera limit, 4), each
  sending a real clip's JPEG frames as fast as the server answers them (one awaiting answer).

Reported: sessions held to the end, frames sent, processed and dropped, feedback latency (frame
sent to its ``update`` received) p50/p95/p99 per mode, errors (``error`` messages and unexpected
closes), and the server's resident memory (``VmRSS`` from ``/proc/<pid>/status``) sampled every
half second; growth is the last sample against the first one after every session has had its
first answer.

Targets: no errors, memory growth at most 10 % over a 2-minute run, landmark-mode p99 latency
under 50 ms with 100 sessions.

Run from the repository root::

    python -m benchmarks.load [--sessions 100] [--camera-sessions 4] [--seconds 120]
                              [--format binary|json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import orjson
import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.models import ensure_model
from app.pose import extract_video
from app.sequence import PoseSequence
from app.server.protocol import FRAME_HEADER, landmarks_frame
from tests.conftest import TESTDATA
from tests.server_fixtures import copy_library, running_server

Bodies = list[str] | list[Callable[[int, float], bytes]]
"""Landmark frames: JSON bodies without seq and time, or makers of binary frames."""
LANDMARK_FPS = 30.0
LANDMARK_CLIP = "tfjs_pose_1.mp4"
IMAGE_CLIP = "tfjs_pose_1.mp4"
IMAGE_WIDTH = 640
RSS_PERIOD_S = 0.5
P99_TARGET_MS = 50.0
GROWTH_TARGET = 0.10


@dataclass
class SessionResult:
    """What one client saw."""

    mode: str
    sent: int = 0
    updates: int = 0
    processed: int = 0
    dropped: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    processing_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    held: bool = False


@dataclass
class LoadReport:
    """The whole run: every session's result and the server's memory samples (kB)."""

    sessions: list[SessionResult]
    rss_kb: list[int]
    seconds: float

    def of(self, mode: str) -> list[SessionResult]:
        return [s for s in self.sessions if s.mode == mode]

    @property
    def errors(self) -> list[str]:
        return [e for s in self.sessions for e in s.errors]

    @property
    def memory_growth(self) -> float:
        """Last RSS sample against the first one taken once every session was answered."""
        return self.rss_kb[-1] / self.rss_kb[0] - 1.0 if self.rss_kb else 0.0


def binary_landmark_frames(seq: PoseSequence) -> list[Callable[[int, float], bytes]]:
    """Each frame of ``seq`` as a maker of its binary landmarks frame: ``make(seq, ms)``."""
    makers: list[Callable[[int, float], bytes]] = []
    for i in range(len(seq)):
        landmarks = (np.column_stack([seq.image_xyz[i], seq.visibility[i]])
                     if seq.present[i] else None)
        world = seq.world_xyz[i] if seq.present[i] and seq.has_world[i] else None
        makers.append(partial(landmarks_frame, image_size=seq.image_size, landmarks=landmarks,
                              world=world))
    return makers


def landmark_frames(seq: PoseSequence) -> list[str]:
    """Each frame of ``seq`` as the body of a ``landmarks`` message, without seq and time."""
    bodies = []
    for i in range(len(seq)):
        landmarks = None
        if seq.present[i]:
            landmarks = np.column_stack([seq.image_xyz[i], seq.visibility[i]]).round(5).tolist()
        world = seq.world_xyz[i].round(5).tolist() if seq.has_world[i] else None
        body = json.dumps({"type": "landmarks", "image": {"width": seq.image_size[0],
                                                          "height": seq.image_size[1]},
                           "landmarks": landmarks, "world": world})
        bodies.append(body[1:-1])
    return bodies


def jpeg_frames(path: Path) -> list[bytes]:
    """The clip's frames at 640 pixels wide, JPEG-encoded as the page sends them."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        height = round(bgr.shape[0] * IMAGE_WIDTH / bgr.shape[1])
        bgr = cv2.resize(bgr, (IMAGE_WIDTH, height), interpolation=cv2.INTER_AREA)
        frames.append(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 75])[1].tobytes())
    capture.release()
    return frames


async def _open(url: str, mode: str, result: SessionResult) -> ClientConnection | None:
    ws = await connect(url, max_size=2**24, open_timeout=60)
    await ws.send(json.dumps({"type": "start", "reference": "wing-spread", "mode": mode}))
    ready = json.loads(await ws.recv())
    if ready["type"] != "ready":
        result.errors.append(f"opening refused: {ready}")
        await ws.close()
        return None
    return ws


async def _receive(ws: ClientConnection, result: SessionResult, sent_at: dict[int, float],
                   answered: asyncio.Event) -> None:
    """Collect updates until the summary; anything else is an error."""
    try:
        async for raw in ws:
            message = orjson.loads(raw)
            if message["type"] == "update":
                result.updates += 1
                result.latencies_ms.append(
                    (time.perf_counter() - sent_at.pop(message["seq"])) * 1000)
                result.processing_ms.append(message["timing"]["processing_ms"])
                result.processed = message["frames"]["processed"]
                result.dropped = message["frames"]["dropped"]
                answered.set()
            elif message["type"] == "summary":
                result.held = True
                return
            else:
                result.errors.append(f"{message.get('code')}: {message.get('message')}")
    except ConnectionClosed as closed:
        result.errors.append(f"closed early: {closed}")


async def landmark_session(url: str, bodies: Bodies, stop_at: float,
                           result: SessionResult) -> None:
    """Send poses at 30 fps until ``stop_at`` (a ``perf_counter`` time), then stop."""
    ws = await _open(url, "landmarks", result)
    if ws is None:
        return
    sent_at: dict[int, float] = {}
    receiver = asyncio.create_task(_receive(ws, result, sent_at, asyncio.Event()))
    begin = time.perf_counter()
    seq = ticks = 0
    while (now := time.perf_counter()) < stop_at and not receiver.done():
        sent_at[seq] = now
        body = bodies[seq % len(bodies)]
        if callable(body):
            await ws.send(body(seq, now * 1000))
        else:
            await ws.send(f'{{"seq": {seq}, "capture_ms": {now * 1000:.3f}, {body}}}')
        result.sent += 1
        seq += 1
        ticks += 1
        if begin + ticks / LANDMARK_FPS < time.perf_counter():
            # Behind schedule: a camera skips the frames it missed, it never bursts.
            ticks = math.ceil((time.perf_counter() - begin) * LANDMARK_FPS)
        due = begin + ticks / LANDMARK_FPS
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
    await _finish(ws, receiver)


async def image_session(url: str, jpegs: list[bytes], stop_at: float,
                        result: SessionResult) -> None:
    """Send the next JPEG as soon as the previous one is answered, until ``stop_at``."""
    ws = await _open(url, "image", result)
    if ws is None:
        return
    sent_at: dict[int, float] = {}
    answered = asyncio.Event()
    receiver = asyncio.create_task(_receive(ws, result, sent_at, answered))
    seq = 0
    while time.perf_counter() < stop_at and not receiver.done():
        answered.clear()
        sent_at[seq] = time.perf_counter()
        await ws.send(FRAME_HEADER.pack(seq, sent_at[seq] * 1000) + jpegs[seq % len(jpegs)])
        result.sent += 1
        seq += 1
        await asyncio.wait([receiver, asyncio.create_task(answered.wait())],
                           return_when=asyncio.FIRST_COMPLETED, timeout=30)
    await _finish(ws, receiver)


async def _finish(ws: ClientConnection, receiver: asyncio.Task[None]) -> None:
    if not receiver.done():
        try:
            await ws.send(json.dumps({"type": "stop"}))
            await asyncio.wait_for(receiver, timeout=60)
        except (ConnectionClosed, TimeoutError):
            receiver.cancel()
    await ws.close()


def rss_kb(pid: int) -> int:
    """The process's resident memory in kB, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError(f"/proc/{pid}/status has no VmRSS line")


async def _sample_rss(pid: int, samples: list[int], results: list[SessionResult],
                      start_at: float, stop_at: float) -> None:
    """Sample from when every session has had its first answer (the pose models allocate
    their memory on their first frame), or ``start_at`` if later."""
    await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
    while time.perf_counter() < stop_at and not all(r.updates or r.errors for r in results):
        await asyncio.sleep(RSS_PERIOD_S)
    while time.perf_counter() < stop_at:
        samples.append(rss_kb(pid))
        await asyncio.sleep(RSS_PERIOD_S)


async def run_load(url: str, pid: int, bodies: Bodies, jpegs: list[bytes], sessions: int,
                   camera_sessions: int, seconds: float) -> LoadReport:
    """Open every session (staggered over a second), stream for ``seconds``, stop them all."""
    results = ([SessionResult("landmarks") for _ in range(sessions)]
               + [SessionResult("image") for _ in range(camera_sessions)])
    ramp_s = 1.0 + 0.02 * len(results)
    begin = time.perf_counter()
    stop_at = begin + ramp_s + seconds
    samples: list[int] = []
    tasks = [asyncio.create_task(
        _sample_rss(pid, samples, results, begin + ramp_s + 2.0, stop_at))]
    for i, result in enumerate(results):
        if result.mode == "landmarks":
            tasks.append(asyncio.create_task(landmark_session(url, bodies, stop_at, result)))
        else:
            tasks.append(asyncio.create_task(image_session(url, jpegs, stop_at, result)))
        await asyncio.sleep(ramp_s / len(results) if i < len(results) - 1 else 0)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for result, outcome in zip(results, outcomes[1:], strict=True):
        if isinstance(outcome, BaseException):
            result.errors.append(f"client failed: {outcome!r}")
    return LoadReport(results, samples, seconds)


def _percentiles(values: list[float]) -> str:
    if not values:
        return "no answers"
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return f"p50 {p50:6.1f} ms, p95 {p95:6.1f} ms, p99 {p99:6.1f} ms"


def describe(report: LoadReport) -> list[str]:
    """The report as lines of text."""
    lines = []
    for mode in ("landmarks", "image"):
        group = report.of(mode)
        if not group:
            continue
        sent = sum(s.sent for s in group)
        processed = sum(s.processed for s in group)
        latencies = [v for s in group for v in s.latencies_ms]
        processing = [v for s in group for v in s.processing_ms]
        lines.append(
            f"{mode:9s}: {sum(s.held for s in group)}/{len(group)} sessions held, "
            f"{sent} frames sent, {processed} processed ({processed / report.seconds:.0f}/s), "
            f"{sum(s.dropped for s in group)} dropped, {sent - sum(s.updates for s in group)} "
            f"unanswered; latency {_percentiles(latencies)}; server processing per frame "
            f"{_percentiles(processing)}"
        )
    rss = report.rss_kb
    if rss:
        lines.append(f"server RSS: {rss[0] / 1024:.0f} MiB with all sessions open, peak "
                     f"{max(rss) / 1024:.0f} MiB, last {rss[-1] / 1024:.0f} MiB "
                     f"(growth {report.memory_growth:+.1%}, {len(rss)} samples)")
    lines.append(f"errors: {len(report.errors)}"
                 + "".join(f"\n  {e}" for e in sorted(set(report.errors))[:10]))
    return lines


def run(sessions: int, camera_sessions: int, seconds: float,
        landmark_format: str = "binary") -> LoadReport:
    """Start a server on a copy of the library and put it under load; the server is stopped."""
    model = ensure_model()
    clip = extract_video(TESTDATA / LANDMARK_CLIP, model_path=model)
    bodies = (binary_landmark_frames(clip) if landmark_format == "binary"
              else landmark_frames(clip))
    jpegs = jpeg_frames(TESTDATA / IMAGE_CLIP)
    folder = Path(tempfile.mkdtemp(prefix="dance-tutor-load-"))
    try:
        poses = copy_library(folder / "poses")
        env = {"DANCE_TUTOR_MAX_SESSIONS": str(sessions + camera_sessions + 8),
               "DANCE_TUTOR_MAX_CAMERA_SESSIONS": str(max(1, camera_sessions))}
        with running_server(poses, model, folder / "server.log", **env) as server:
            url = f"ws://127.0.0.1:{server.port}/ws/practice"
            # uvloop and orjson keep the client light: it shares the machine with the server.
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                return runner.run(run_load(url, server.process.pid, bodies, jpegs, sessions,
                                          camera_sessions, seconds))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=100,
                        help="landmark-mode sessions at 30 fps (default 100)")
    parser.add_argument("--camera-sessions", type=int, default=4,
                        help="image-mode sessions, as fast as served (default 4)")
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="how long to stream once all are open (default 120)")
    parser.add_argument("--format", choices=("binary", "json"), default="binary",
                        help="how landmark sessions send poses (default binary)")
    args = parser.parse_args(argv)
    report = run(args.sessions, args.camera_sessions, args.seconds, args.format)
    print(f"{args.sessions} landmark sessions ({args.format}) at {LANDMARK_FPS:g} fps and "
          f"{args.camera_sessions} image sessions for {args.seconds:g} s on loopback")
    for line in describe(report):
        print("  " + line)
    p99 = np.percentile([v for s in report.of("landmarks") for v in s.latencies_ms] or [0], 99)
    print(f"  targets: errors 0 ({'met' if not report.errors else 'missed'}), memory growth "
          f"<= {GROWTH_TARGET:.0%} ({'met' if report.memory_growth <= GROWTH_TARGET else 'missed'}"
          f"), landmark p99 < {P99_TARGET_MS:g} ms ({'met' if p99 < P99_TARGET_MS else 'missed'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
