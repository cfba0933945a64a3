"""Live practice speed: a real clip streamed through ``/ws/practice`` against the bare model.

Three runs on the same frames (a real clip scaled to 640 pixels wide and JPEG-encoded, as the
page sends them):

1. bare: MediaPipe's ``PoseLandmarker`` (VIDEO mode) on the decoded frames, timing only its
   ``detect_for_video`` calls: the model's throughput and per-frame inference time;
2. paced: the frames sent to ``dance-tutor serve`` (a subprocess) at 30 fps, as a webcam
   would: frames processed per second, frames dropped (newest frame wins) and latency from
   frame sent to feedback received (median, p95);
3. saturated: each frame sent as soon as fewer than two await an answer (the page's own flow
   control), so the server is never idle: its throughput against the bare model's.

Targets: server throughput at least 0.85 x the bare model's (saturated run; in the paced run
the ceiling is min(bare, 30 fps)); median paced latency at most the bare inference time +
20 ms.

Run from the repository root::

    python -m benchmarks.live_speed [--clip hybrik_taiji.mp4] [--frames 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import vision
from websockets.asyncio.client import connect

from app.models import ensure_model
from tests.conftest import TESTDATA
from tests.server_fixtures import copy_library, running_server

HEADER = struct.Struct("<Id")
WIDTH = 640
JPEG_QUALITY = 75
PACED_FPS = 30.0
THROUGHPUT_TARGET = 0.85
LATENCY_MARGIN_MS = 20.0


@dataclass
class StreamResult:
    sent: int
    processed: int
    dropped: int
    seconds: float
    latencies_ms: list[float]
    queued_ms: list[float]
    processing_ms: list[float]

    @property
    def fps(self) -> float:
        return self.processed / self.seconds


def load_frames(path: Path, count: int) -> tuple[list[bytes], list[np.ndarray]]:
    """The clip's first ``count`` frames at 640 wide: JPEG bytes and the decoded RGB."""
    capture = cv2.VideoCapture(str(path))
    jpegs, rgbs = [], []
    while len(jpegs) < count:
        ok, bgr = capture.read()
        if not ok:
            break
        scale = WIDTH / bgr.shape[1]
        bgr = cv2.resize(bgr, (WIDTH, round(bgr.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes()
        jpegs.append(data)
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        rgbs.append(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB))
    capture.release()
    return jpegs, rgbs


def bare_run(model: Path, rgbs: list[np.ndarray]) -> list[float]:
    """Seconds per ``detect_for_video`` call, the options the server's estimator uses."""
    options = vision.PoseLandmarkerOptions(
        base_options=mp.tasks.BaseOptions(model_asset_path=str(model)),
        running_mode=vision.RunningMode.VIDEO, num_poses=1,
        min_pose_detection_confidence=0.5, min_pose_presence_confidence=0.5,
        min_tracking_confidence=0.5,
    )
    times = []
    with vision.PoseLandmarker.create_from_options(options) as landmarker:
        for i, rgb in enumerate(rgbs):
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
            start = time.perf_counter()
            landmarker.detect_for_video(image, round(i * 1000 / PACED_FPS))
            times.append(time.perf_counter() - start)
    return times


async def stream(url: str, jpegs: list[bytes], fps: float | None,
                 window: int = 2) -> StreamResult:
    """Send every frame and collect the answers.

    With ``fps``, frames go out at that rate whatever happens (a webcam); without, the next
    frame goes out as soon as fewer than ``window`` frames await an answer, which keeps the
    server busy all the time (the page's own flow control).
    """
    sent_at: dict[int, float] = {}
    latencies: list[float] = []
    queued_ms: list[float] = []
    processing_ms: list[float] = []
    answered = -1
    counts: dict[str, int] = {}
    progress = asyncio.Condition()
    async with connect(url, max_size=2**24) as ws:
        await ws.send(json.dumps({"type": "start", "reference": "wing-beat", "mode": "image",
                                  "fps": PACED_FPS}))
        assert json.loads(await ws.recv())["type"] == "ready"

        async def receive() -> None:
            nonlocal answered
            async for raw in ws:
                message = json.loads(raw)
                if message["type"] != "update":
                    continue
                latencies.append((time.perf_counter() - sent_at[message["seq"]]) * 1000)
                queued_ms.append(message["timing"]["queued_ms"])
                processing_ms.append(message["timing"]["processing_ms"])
                counts.update(message["frames"])
                async with progress:
                    answered = message["seq"]
                    progress.notify_all()
                if answered == len(jpegs) - 1:
                    return

        receiver = asyncio.create_task(receive())
        begin = time.perf_counter()
        for seq, jpeg in enumerate(jpegs):
            if fps is not None:
                await asyncio.sleep(max(0.0, begin + seq / fps - time.perf_counter()))
            else:
                async with progress:
                    await progress.wait_for(lambda s=seq: s - 1 - answered < window)
            sent_at[seq] = time.perf_counter()
            await ws.send(HEADER.pack(seq, sent_at[seq] * 1000) + jpeg)
        await asyncio.wait_for(receiver, timeout=120)
        seconds = time.perf_counter() - begin
        await ws.send(json.dumps({"type": "stop"}))
    return StreamResult(sent=len(jpegs), processed=counts["processed"],
                        dropped=counts["dropped"], seconds=seconds, latencies_ms=latencies,
                        queued_ms=queued_ms, processing_ms=processing_ms)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.live_speed", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clip", default="hybrik_taiji.mp4",
                        help="clip in the test footage folder (default hybrik_taiji.mp4)")
    parser.add_argument("--frames", type=int, default=300, help="frames to send (default 300)")
    args = parser.parse_args(argv)
    model = ensure_model()
    jpegs, rgbs = load_frames(TESTDATA / args.clip, args.frames)
    bare = bare_run(model, rgbs)[5:]  # the first calls include the model's warm-up
    bare_fps = len(bare) / sum(bare)
    bare_ms = statistics.median(bare) * 1000
    folder = Path(tempfile.mkdtemp(prefix="live-speed-"))
    try:
        poses = copy_library(folder / "poses")
        env = {"DANCE_TUTOR_MAX_FRAME_RATE": "100000"}
        with running_server(poses, model, folder / "server.log", **env) as server:
            url = f"ws://127.0.0.1:{server.port}/ws/practice"
            asyncio.run(stream(url, jpegs[:10], None))  # warm-up: first session, first frames
            paced = asyncio.run(stream(url, jpegs, PACED_FPS))
            saturated = asyncio.run(stream(url, jpegs, None))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(f"clip {args.clip}: {len(jpegs)} frames at {WIDTH}x{rgbs[0].shape[0]}, "
          f"JPEG quality {JPEG_QUALITY}")
    print(f"  bare PoseLandmarker: {bare_fps:5.1f} fps, inference median {bare_ms:5.1f} ms, "
          f"p95 {percentile(bare, 95) * 1000:5.1f} ms")
    ceiling = min(bare_fps, PACED_FPS)
    median = statistics.median(paced.latencies_ms)
    print(f"  paced at {PACED_FPS:g} fps: processed {paced.fps:5.1f} fps "
          f"({paced.fps / ceiling:.2f} x min(bare, {PACED_FPS:g})), dropped {paced.dropped} of "
          f"{paced.sent}, latency median {median:5.1f} ms, p95 "
          f"{percentile(paced.latencies_ms, 95):5.1f} ms (medians on the server: waiting "
          f"{statistics.median(paced.queued_ms):4.1f} ms for the previous frame, processing "
          f"{statistics.median(paced.processing_ms):4.1f} ms)")
    ratio = saturated.fps / bare_fps
    print(f"  saturated: processed {saturated.fps:5.1f} fps = {ratio:.2f} x bare, dropped "
          f"{saturated.dropped} of {saturated.sent}, latency median "
          f"{statistics.median(saturated.latencies_ms):5.1f} ms")
    throughput_ok = ratio >= THROUGHPUT_TARGET
    latency_ok = median <= bare_ms + LATENCY_MARGIN_MS
    print(f"  throughput target >= {THROUGHPUT_TARGET} x bare: "
          f"{'met' if throughput_ok else 'MISSED'}")
    print(f"  latency target median <= {bare_ms:.1f} + {LATENCY_MARGIN_MS:g} ms: "
          f"{'met' if latency_ok else 'MISSED'} ({median:.1f} ms)")
    return 0 if throughput_ok and latency_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
