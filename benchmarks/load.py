"""Load on loopback: many practice sessions at once against ``dance-tutor serve``.

The server runs as a subprocess and the clients in processes of their own (asyncio on uvloop,
one WebSocket per session), so no two share an interpreter. Two kinds of session run side by
side:

- landmark mode: ``--sessions`` learners (default 200), each sending the poses of a real
  extracted clip at 30 fps, as a client that runs the pose model itself does: binary
  landmarks frames, or JSON ``landmarks`` messages with ``--format json``;
- image mode: ``--camera-sessions`` learners (default: the server's camera limit, 4), each
  sending a real clip's JPEG frames as fast as the server answers them (one awaiting answer).

``--processes N`` runs one ``dance-tutor serve --workers N``: N server processes behind one
address and port, as a teacher gives a class one URL; every session connects to that address
and the kernel hands each connection to whichever worker accepts it first.
``--compare-processes 1,2`` runs the same load once per process count and prints one row
each, with ratios against the first row measured in the same run.

The server's session limit (``DANCE_TUTOR_MAX_SESSIONS``, 128 by default) and camera limit
are raised through the environment for the benchmark, so far that any one worker could hold
every session (each holds its share of the limits), so that the limit is never what is
measured.

Reported: sessions held to the end, frames sent, processed, dropped and unanswered (a busy
server sheds landmark frames without answering them), feedback latency (frame sent to its
``update`` received) p50/p95/p99 per mode, counted once the class is in (from the first memory
sample on: every session has had its first answer, the last opened 2 s before) and, apart,
while it arrives (sessions open one after another over the ramp, each sending every camera
frame until its first answer tells it the pace), errors (``error`` messages and unexpected
closes), the resident memory (``VmRSS`` from ``/proc/<pid>/status``) of each of the server's
processes (the one started and its descendants, found in ``/proc/<pid>/task/*/children``)
sampled every half second, alone and summed, and the CPU time of the server's processes, the
clients and every other process on the machine as a share of one core (the last tells a run
that shared the machine).
Memory growth is the last sample against the first one taken after every session has had its
first answer. Client lag is how late each landmark frame left against its 30 fps schedule: a
high one means the client, not the server, was the limit (split it with
``--client-processes``); a late client skips the frames it missed, as a camera does.

Targets: no errors, landmark-mode p99 latency under 50 ms with the class in and memory
growth at most 10 %, with 200 landmark sessions against one server process.

Run from the repository root::

    python -m benchmarks.load [--sessions 200] [--camera-sessions 4] [--seconds 120]
                              [--format binary|json] [--processes 1 | --compare-processes 1,2]
                              [--client-processes 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import queue
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier
from operator import attrgetter
from pathlib import Path
from typing import Any

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
READY_TIMEOUT_S = 120.0
"""How long client processes may take to import and get ready."""
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class SessionResult:
    """What one client saw."""

    mode: str
    captured: int = 0
    """Landmark mode: camera frames at 30 fps; those sooner than the tutor's pace after the
    last one sent are not sent, as the page does."""
    sent: int = 0
    updates: int = 0
    processed: int = 0
    dropped: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    answered_at: list[float] = field(default_factory=list)
    """When each update arrived (``perf_counter``, one clock for every process)."""
    processing_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    """Landmark mode: how late each frame was captured against its 30 fps schedule."""
    pace_ms: list[float] = field(default_factory=list)
    """The pace each update asked for (``timing.pace_ms``)."""
    errors: list[str] = field(default_factory=list)
    held: bool = False
    streamed_s: float = 0.0
    """From the first frame sent to the last: what the session's rates are per."""


@dataclass
class LoadReport:
    """The whole run: every session's result, each server process's memory samples (kB, taken
    at the same instants) and the CPU seconds of server and client processes."""

    sessions: list[SessionResult]
    rss_kb: list[list[int]]
    wall_s: float
    """From the first session opened to the stop: what the CPU times are shares of."""
    server_cpu_s: list[float]
    client_cpu_s: list[float]
    machine_cpu_s: float
    """Every process on the machine (the benchmark's and anyone else's) over the same time."""
    class_in_at: float
    """When the memory samples began (``perf_counter``): every session had had its first
    answer, and the last one had opened 2 s before. Latency targets count from here; the
    answers before it came while the class was still arriving."""

    def of(self, mode: str) -> list[SessionResult]:
        return [s for s in self.sessions if s.mode == mode]

    @property
    def errors(self) -> list[str]:
        return [e for s in self.sessions for e in s.errors]

    @property
    def total_rss_kb(self) -> list[int]:
        """The server's processes' memory summed, sample by sample."""
        return [sum(at) for at in zip(*self.rss_kb, strict=True)]

    @property
    def memory_growth(self) -> float:
        """Last summed RSS sample against the first one taken once every session was
        answered."""
        return _growth(self.total_rss_kb)

    def latencies(self, mode: str, arriving: bool = False) -> list[float]:
        """Latencies of the answers once the class was in (``arriving``: before)."""
        return [v for s in self.of(mode)
                for v, at in zip(s.latencies_ms, s.answered_at, strict=True)
                if (at < self.class_in_at) == arriving]

    def lags(self) -> list[float]:
        return [v for s in self.of("landmarks") for v in s.lag_ms]

    @property
    def others_cpu_s(self) -> float:
        """CPU seconds spent by processes other than the server's and clients: on a shared
        machine, what competed with the benchmark."""
        return max(0.0, self.machine_cpu_s - sum(self.server_cpu_s) - sum(self.client_cpu_s))


def _growth(samples: list[int]) -> float:
    return samples[-1] / samples[0] - 1.0 if samples else 0.0


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
                arrived = time.perf_counter()
                result.answered_at.append(arrived)
                result.latencies_ms.append((arrived - sent_at.pop(message["seq"])) * 1000)
                result.processing_ms.append(message["timing"]["processing_ms"])
                result.pace_ms.append(message["timing"]["pace_ms"])
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
    last_sent = -math.inf
    while (now := time.perf_counter()) < stop_at and not receiver.done():
        result.lag_ms.append((now - begin - ticks / LANDMARK_FPS) * 1000)
        result.captured += 1
        pace_s = result.pace_ms[-1] / 1000 if result.pace_ms else 0.0
        if now - last_sent >= pace_s:
            last_sent = now
            sent_at[seq] = now
            body = bodies[ticks % len(bodies)]
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
    result.streamed_s = time.perf_counter() - begin
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
    begin = time.perf_counter()
    seq = 0
    while time.perf_counter() < stop_at and not receiver.done():
        answered.clear()
        sent_at[seq] = time.perf_counter()
        await ws.send(FRAME_HEADER.pack(seq, sent_at[seq] * 1000) + jpegs[seq % len(jpegs)])
        result.sent += 1
        seq += 1
        await asyncio.wait([receiver, asyncio.create_task(answered.wait())],
                           return_when=asyncio.FIRST_COMPLETED, timeout=30)
    result.streamed_s = time.perf_counter() - begin
    await _finish(ws, receiver)


async def _finish(ws: ClientConnection, receiver: asyncio.Task[None]) -> None:
    if not receiver.done():
        try:
            await ws.send(json.dumps({"type": "stop"}))
            await asyncio.wait_for(receiver, timeout=60)
        except (ConnectionClosed, TimeoutError):
            receiver.cancel()
    await ws.close()


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, parents first, from ``/proc/<pid>/task/*/children``."""
    children = [int(child) for task in Path(f"/proc/{pid}/task").iterdir()
                for child in (task / "children").read_text().split()]
    return [pid, *(p for child in children for p in process_tree(child))]


def rss_kb(pid: int) -> int:
    """The process's resident memory in kB, from ``/proc/<pid>/status``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError(f"/proc/{pid}/status has no VmRSS line")


def cpu_s(pid: int) -> float:
    """The process's CPU time so far (user and system), from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_cpu_s() -> float:
    """CPU time every process on the machine has spent (all but idle and I/O wait), from
    ``/proc/stat``."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


@dataclass(frozen=True)
class Plan:
    """Who connects where and when, the same in every client process.

    Session ``i`` is opened ``i * ramp_s / len(modes)`` after the common start by client
    process ``i % clients``, on the server's one address ``url``.
    """

    url: str
    modes: list[str]
    clients: int
    seconds: float

    @property
    def ramp_s(self) -> float:
        return 1.0 + 0.02 * len(self.modes)

    def mine(self, client: int) -> list[int]:
        return list(range(client, len(self.modes), self.clients))


async def run_sessions(plan: Plan, client: int, bodies: Bodies, jpegs: list[bytes],
                       answered: Any) -> tuple[list[SessionResult], float]:
    """This client process's sessions, from now (the common start) to the stop; also the
    CPU seconds it spent until the stop. ``answered[client]`` is kept at the number of its
    sessions that have had an answer (or an error)."""
    begin = time.perf_counter()
    stop_at = begin + plan.ramp_s + plan.seconds
    cpu_begin = time.process_time()
    indices = plan.mine(client)
    results = [SessionResult(plan.modes[i]) for i in indices]

    async def count_answered() -> float:
        while time.perf_counter() < stop_at:
            answered[client] = sum(1 for r in results if r.updates or r.errors)
            await asyncio.sleep(RSS_PERIOD_S)
        return time.process_time() - cpu_begin

    counter = asyncio.create_task(count_answered())
    tasks = []
    for i, result in zip(indices, results, strict=True):
        await asyncio.sleep(max(0.0, begin + i * plan.ramp_s / len(plan.modes)
                                - time.perf_counter()))
        if result.mode == "landmarks":
            session = landmark_session(plan.url, bodies, stop_at, result)
        else:
            session = image_session(plan.url, jpegs, stop_at, result)
        tasks.append(asyncio.create_task(session))
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    for result, outcome in zip(results, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            result.errors.append(f"client failed: {outcome!r}")
    return results, await counter


def client_process(plan: Plan, client: int, bodies: Bodies, jpegs: list[bytes],
                   start: Barrier, answered: Any, out: multiprocessing.Queue[Any]) -> None:
    """One client process: wait for the common start, run its sessions, hand back what they
    saw (as plain dicts) and its CPU time."""
    start.wait(READY_TIMEOUT_S)
    # uvloop and orjson keep the client light: it shares the machine with the servers.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        results, spent = runner.run(run_sessions(plan, client, bodies, jpegs, answered))
    out.put((client, [asdict(r) for r in results], spent))


def _sample(pids: list[int], plan: Plan,
            answered: Any) -> tuple[list[list[int]], list[float], float, float]:
    """From the common start to the stop: each server process's RSS, sampled from when every
    session has had its first answer (the pose models allocate their memory on their first
    frame), and at least 2 s after the last session opened; each one's CPU seconds over the
    run, and the whole machine's; and when the sampling began."""
    begin = time.perf_counter()
    start_at, stop_at = begin + plan.ramp_s + 2.0, begin + plan.ramp_s + plan.seconds
    cpu_begin, machine_begin = [cpu_s(pid) for pid in pids], machine_cpu_s()
    samples: list[list[int]] = [[] for _ in pids]
    time.sleep(max(0.0, start_at - time.perf_counter()))
    while time.perf_counter() < stop_at and sum(answered) < len(plan.modes):
        time.sleep(RSS_PERIOD_S)
    class_in_at = time.perf_counter()
    while time.perf_counter() < stop_at:
        for pid, own in zip(pids, samples, strict=True):
            own.append(rss_kb(pid))
        time.sleep(min(RSS_PERIOD_S, max(0.0, stop_at - time.perf_counter())))
    return (samples, [cpu_s(pid) - at for pid, at in zip(pids, cpu_begin, strict=True)],
            machine_cpu_s() - machine_begin, class_in_at)


def _collect(out: multiprocessing.Queue[Any], workers: Sequence[BaseProcess],
             deadline_s: float) -> dict[int, tuple[list[SessionResult], float]]:
    """Every client process's results; a client process that dies without them is a failure
    of the benchmark, not of the server."""
    found: dict[int, tuple[list[SessionResult], float]] = {}
    deadline = time.perf_counter() + deadline_s
    while len(found) < len(workers):
        try:
            client, results, spent = out.get(timeout=1.0)
        except queue.Empty:
            dead = [w.name for w in workers if w.exitcode not in (None, 0)]
            if dead or time.perf_counter() > deadline:
                raise RuntimeError(
                    f"client process failed or hung: {dead or 'timeout'}") from None
            continue
        found[client] = ([SessionResult(**r) for r in results], spent)
    return found


def run_load(url: str, pids: list[int], bodies: Bodies, jpegs: list[bytes],
             sessions: int, camera_sessions: int, seconds: float,
             client_processes: int = 1) -> LoadReport:
    """Open every session (staggered) on ``url``, stream for ``seconds``, stop them all; the
    clients run in ``client_processes`` processes of their own and this one samples the
    server's processes ``pids``."""
    plan = Plan(url, ["landmarks"] * sessions + ["image"] * camera_sessions,
                client_processes, seconds)
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(client_processes + 1)
    answered = context.Array("i", client_processes, lock=False)
    out: multiprocessing.Queue[Any] = context.Queue()
    workers = [context.Process(target=client_process, name=f"load-client-{k}",
                               args=(plan, k, bodies, jpegs, start, answered, out))
               for k in range(client_processes)]
    for worker in workers:
        worker.start()
    try:
        start.wait(READY_TIMEOUT_S)
        samples, server_cpu, machine_cpu, class_in_at = _sample(pids, plan, answered)
        found = _collect(out, workers, deadline_s=READY_TIMEOUT_S)
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    results: list[SessionResult | None] = [None] * len(plan.modes)
    for client, (own, _) in found.items():
        for i, result in zip(plan.mine(client), own, strict=True):
            results[i] = result
    return LoadReport([r for r in results if r is not None], samples,
                      plan.ramp_s + seconds, server_cpu,
                      [found[k][1] for k in range(client_processes)], machine_cpu,
                      class_in_at)


def per_second(group: list[SessionResult], frames: Callable[[SessionResult], int]) -> float:
    """Frames a second over the group, each session's ``frames`` over its own streaming time
    (sessions open one after another, so they stream for different times)."""
    return sum(frames(s) / s.streamed_s for s in group if s.streamed_s > 0)


def _percentiles(values: list[float]) -> str:
    if not values:
        return "no answers"
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return f"p50 {p50:6.1f} ms, p95 {p95:6.1f} ms, p99 {p99:6.1f} ms"


def _p99(values: list[float]) -> float:
    return float(np.percentile(values, 99)) if values else math.nan


def _cores(spent: Sequence[float], wall_s: float) -> str:
    return " + ".join(f"{s / wall_s:.0%}" for s in spent)


def describe(report: LoadReport) -> list[str]:
    """The report as lines of text."""
    lines = []
    for mode in ("landmarks", "image"):
        group = report.of(mode)
        if not group:
            continue
        sent = sum(s.sent for s in group)
        processed = sum(s.processed for s in group)
        processing = [v for s in group for v in s.processing_ms]
        sent_rate, processed_rate = (per_second(group, attrgetter(count))
                                     for count in ("sent", "processed"))
        captured = (f"{sum(s.captured for s in group)} captured at 30 fps "
                    f"({per_second(group, attrgetter('captured')):.0f}/s), "
                    if mode == "landmarks" else "")
        lines.append(
            f"{mode:9s}: {sum(s.held for s in group)}/{len(group)} sessions held, "
            f"{captured}{sent} frames sent ({sent_rate:.0f}/s), {processed} processed "
            f"({processed_rate:.0f}/s), "
            f"{sum(s.dropped for s in group)} dropped, {sent - sum(s.updates for s in group)} "
            f"unanswered; latency with the class in {_percentiles(report.latencies(mode))}, "
            f"while it arrived {_percentiles(report.latencies(mode, arriving=True))}; server "
            f"processing per frame {_percentiles(processing)}"
        )
    if report.of("landmarks"):
        group = report.of("landmarks")
        paces = [v for s in group for v in s.pace_ms]
        lines.append(f"pace asked by the tutor: {_percentiles(paces)}; answered per learner "
                     f"{per_second(group, attrgetter('updates')) / len(group):.1f}/s")
        lines.append(f"client lag (landmark frame captured after its 30 fps due time): "
                     f"{_percentiles(report.lags())}")
    for k, rss in enumerate(report.rss_kb):
        if rss:
            lines.append(f"server process {k + 1} RSS: {rss[0] / 1024:.0f} MiB with all sessions "
                         f"open, "
                         f"peak {max(rss) / 1024:.0f} MiB, last {rss[-1] / 1024:.0f} MiB "
                         f"(growth {_growth(rss):+.1%}, {len(rss)} samples)")
    total = report.total_rss_kb
    if len(report.rss_kb) > 1 and total:
        lines.append(f"server's RSS summed: {total[0] / 1024:.0f} -> {total[-1] / 1024:.0f} "
                     f"MiB (growth {report.memory_growth:+.1%})")
    lines.append(f"CPU, share of one core: server {_cores(report.server_cpu_s, report.wall_s)}"
                 f", clients {_cores(report.client_cpu_s, report.wall_s)}, other processes "
                 f"{_cores([report.others_cpu_s], report.wall_s)} (the machine has "
                 f"{os.cpu_count()} cores)")
    lines.append(f"errors: {len(report.errors)}"
                 + "".join(f"\n  {e}" for e in sorted(set(report.errors))[:10]))
    return lines


def targets(report: LoadReport) -> str:
    """Which of the three targets the run met."""
    p99 = _p99(report.latencies("landmarks"))

    def verdict(met: bool) -> str:
        return "met" if met else "missed"

    return (f"targets: errors 0 ({verdict(not report.errors)}), memory growth <= "
            f"{GROWTH_TARGET:.0%} ({verdict(report.memory_growth <= GROWTH_TARGET)}), landmark "
            f"p99 < {P99_TARGET_MS:g} ms ({verdict(p99 < P99_TARGET_MS)})")


COLUMNS = ("processes", "held", "sent/s", "processed/s", "unanswered", "p50 ms", "p95 ms",
           "p99 ms", "arriving p99 ms", "client lag p99 ms", "errors", "RSS growth", "other CPU",
           "processed/s ratio", "p99 ratio")


def table(rows: list[tuple[int, LoadReport]]) -> list[str]:
    """One row per server process count, landmark sessions, with ratios against the first
    row (measured in the same run)."""
    cells: list[Sequence[str]] = [COLUMNS]
    base_rate = base_p99 = math.nan
    for processes, report in rows:
        group = report.of("landmarks")
        sent = sum(s.sent for s in group)
        sent_rate, processed = (per_second(group, attrgetter(count))
                                for count in ("sent", "processed"))
        latencies = report.latencies("landmarks")
        p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if latencies else [math.nan] * 3
        if math.isnan(base_rate):
            base_rate, base_p99 = processed, p99
        cells.append([
            str(processes), f"{sum(s.held for s in group)}/{len(group)}", f"{sent_rate:.0f}",
            f"{processed:.0f}",
            f"{1 - sum(s.updates for s in group) / sent if sent else math.nan:.1%}",
            f"{p50:.1f}", f"{p95:.1f}", f"{p99:.1f}",
            f"{_p99(report.latencies('landmarks', arriving=True)):.1f}",
            f"{_p99(report.lags()):.1f}",
            str(len(report.errors)), f"{report.memory_growth:+.1%}",
            _cores([report.others_cpu_s], report.wall_s), f"{processed / base_rate:.2f}",
            f"{p99 / base_p99:.2f}"])
    widths = [max(len(row[k]) for row in cells) for k in range(len(COLUMNS))]
    return [" | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells]


def prepare(landmark_format: str = "binary") -> tuple[Path, Bodies, list[bytes]]:
    """The pose model, the landmark frames of a real clip and a real clip's JPEG frames."""
    model = ensure_model()
    clip = extract_video(TESTDATA / LANDMARK_CLIP, model_path=model)
    bodies = (binary_landmark_frames(clip) if landmark_format == "binary"
              else landmark_frames(clip))
    return model, bodies, jpeg_frames(TESTDATA / IMAGE_CLIP)


def run(sessions: int, camera_sessions: int, seconds: float, landmark_format: str = "binary",
        processes: int = 1, client_processes: int = 1,
        prepared: tuple[Path, Bodies, list[bytes]] | None = None) -> LoadReport:
    """Start one server of ``processes`` workers on a copy of the library and put it under
    load; the server is stopped."""
    model, bodies, jpegs = prepared or prepare(landmark_format)
    folder = Path(tempfile.mkdtemp(prefix="dance-tutor-load-"))
    try:
        poses = copy_library(folder / "poses")
        env = {"DANCE_TUTOR_WORKERS": str(processes),
               "DANCE_TUTOR_MAX_SESSIONS": str((sessions + camera_sessions + 8) * processes),
               "DANCE_TUTOR_MAX_CAMERA_SESSIONS": str(max(1, camera_sessions) * processes)}
        with running_server(poses, model, folder / "server.log", **env) as server:
            return run_load(f"ws://127.0.0.1:{server.port}/ws/practice",
                            process_tree(server.process.pid), bodies, jpegs, sessions,
                            camera_sessions, seconds, client_processes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of counts like 1,2") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: every count must be at least 1")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=200,
                        help="landmark-mode sessions at 30 fps (default 200)")
    parser.add_argument("--camera-sessions", type=int, default=4,
                        help="image-mode sessions, as fast as served (default 4)")
    parser.add_argument("--seconds", type=float, default=120.0,
                        help="how long to stream once all are open (default 120)")
    parser.add_argument("--format", choices=("binary", "json"), default="binary",
                        help="how landmark sessions send poses (default binary)")
    parser.add_argument("--processes", type=int, default=1,
                        help="server processes: one dance-tutor serve --workers N on one "
                             "address (default 1)")
    parser.add_argument("--compare-processes", type=_counts, default=None, metavar="N,M,...",
                        help="run once per server process count and print a table with "
                             "ratios against the first count (overrides --processes)")
    parser.add_argument("--client-processes", type=int, default=1,
                        help="processes the clients run in, sessions spread over them "
                             "(default 1)")
    args = parser.parse_args(argv)
    prepared = prepare(args.format)
    rows = []
    for processes in args.compare_processes or [args.processes]:
        report = run(args.sessions, args.camera_sessions, args.seconds, args.format, processes,
                     args.client_processes, prepared)
        print(f"{args.sessions} landmark sessions ({args.format}) at {LANDMARK_FPS:g} fps and "
              f"{args.camera_sessions} image sessions for {args.seconds:g} s on loopback, "
              f"against dance-tutor serve --workers {processes} (one address), "
              f"from {args.client_processes} client process(es)")
        for line in describe(report):
            print("  " + line)
        print("  " + targets(report))
        rows.append((processes, report))
    if len(rows) > 1:
        print("landmark sessions by server worker count; ratios against the first row:")
        for line in table(rows):
            print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
