"""Pose estimation in the browser: the practice page against bare tasks-vision, and against
the tutor's own model.

In Debian's headless Chromium, its fake camera playing a real clip (640x480 at 30 fps), with
``dance-tutor serve`` in a subprocess (asking a device for only 1 pose estimate a second, so
the page always runs the model itself):

1. bare: MediaPipe's ``PoseLandmarker`` for the web (the tutor's tasks-vision bundle and model,
   imported in a same-origin tutor document, made with the options ``web/js/pose.js`` uses:
   CPU delegate, VIDEO mode, one pose) calls ``detectForVideo`` on the live camera video as
   fast as it can, yielding one task between calls (the page, too, estimates the next pose as
   soon as the last answer is in when the model takes longer than a camera frame): frames per
   second and median inference time;
2. page: the practice view (``#practice/wing-spread``, the default "auto" pose setting, in
   landmarks mode, a step looped so that the session outlasts the measurement) for
   ``--seconds`` once scoring starts: landmarks frames sent and ``update`` answers received
   per second, and frame-to-feedback latency (the frame's capture time, echoed in the update's
   ``timing.capture_ms``, to the update's arrival, both ``performance.now()`` in the page),
   p50 and p95; the page's own inference time is read by timing ``detectForVideo`` calls,
   and the frames the tutor never answered (it sheds landmarks frames while its event loop
   lags) with the time the page then stood waiting for their answer, and the camera's frames
   per second as the practice view shows them (a camera slower than 30 fps holds the page
   back, not bare tasks-vision, which estimates the video's current frame again).

3. agreement: the same frames (the fake camera's own, decoded from its Y4M file to RGB) go to
   the browser's landmarker (as ``ImageData``) and to the tutor's model (``app.pose``'s
   ``PoseEstimator``, VIDEO mode), with the same timestamps: mean and median distance of the
   landmarks both see (visibility at least 0.5) in the frame's pixels, the share of frames
   where both find a person, the mean world-landmark distance in cm, and the mean signed
   offset (a systematic shift would show there).

Targets (2 against 1): page answers per second at least 0.9 x min(bare, 30) (the page never
sends faster than the camera's 30 fps); page latency p50 at most the bare inference median +
15 ms. Runs 1 and 2 alternate for ``--rounds`` rounds and the best figure of each counts,
because the machine is shared. A full run takes about two minutes.

Run from the repository root::

    python -m benchmarks.browser_pose [--seconds 20] [--clip tfjs_pose_1.mp4] [--rounds 2]
                                      [--frames 150]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from playwright.sync_api import BrowserContext, Page, Route, sync_playwright

from app.landmarks import Landmark
from app.models import ensure_model
from app.pose import PoseEstimator
from tests.browser_fixtures import CHROMIUM_ARGS, chromium_path, write_y4m
from tests.conftest import clip
from tests.server_fixtures import copy_library, running_server

TARGET_FPS_RATIO = 0.9
TARGET_EXTRA_MS = 15.0
CAMERA_SIZE = (640, 480)
CAMERA_FPS = 30
PAGE_MAX_FPS = 30
"""The page sends at most the camera's rate (web/js/practice.js ``CAMERA_FPS``)."""
REFERENCE = "wing-spread"
LOOPED_STEP = "open"
VISIBLE = 0.5
TIMEOUT_MS = 90_000
STALL_MS = 1000.0
"""A pause this long between two landmarks frames sent: the page waited for an answer that
never came (web/js/session.js ``IN_FLIGHT_TIMEOUT_MS``)."""
SCORE_SHOWN = "() => /^\\d+$/.test(document.getElementById('score').textContent)"

# The landmarker as web/js/pose-worker.js makes it (tasks-vision's classic bundle), here on the
# page's own thread; `make(pose, modelUrl)` in the page.
MAKE_LANDMARKER = """async (pose, modelUrl) => {
  if (!window.Vision) {
    await new Promise((resolve, reject) => {
      const script = Object.assign(document.createElement("script"), { src: pose.bundle });
      script.onload = resolve;
      script.onerror = reject;
      document.head.append(script);
    });
  }
  const { FilesetResolver, PoseLandmarker } = window.Vision;
  const fileset = await FilesetResolver.forVisionTasks(pose.wasm);
  return PoseLandmarker.createFromOptions(fileset, {
    baseOptions: { modelAssetPath: modelUrl, delegate: "CPU" },
    runningMode: "VIDEO",
    numPoses: 1,
  });
}"""

# Bare tasks-vision on the live camera: warm-up calls as the page's probe makes, then
# detectForVideo as fast as it can for `seconds`, one task yielded between calls.
BARE = """async ({ pose, modelUrl, seconds, warmup }) => {
  const landmarker = await (MAKE_LANDMARKER)(pose, modelUrl);
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: false,
    video: { facingMode: "user", width: { ideal: 1280 }, height: { ideal: 720 } },
  });
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  document.body.append(video);
  video.srcObject = stream;
  await new Promise((resolve) => video.addEventListener("loadeddata", resolve, { once: true }));
  await video.play();
  const nextTask = () => new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = resolve;
    channel.port2.postMessage(null);
  });
  let last = -1;
  const detect = () => {
    const start = performance.now();
    const timestamp = Math.max(start, last + 1);
    last = timestamp;
    const result = landmarker.detectForVideo(video, timestamp);
    return [performance.now() - start, result.landmarks.length > 0];
  };
  for (let i = 0; i <= warmup; i++) {
    detect();
    await nextTask();
  }
  const ms = [];
  let found = 0;
  const begin = performance.now();
  while (performance.now() - begin < seconds * 1000) {
    const [took, seen] = detect();
    ms.push(took);
    found += seen;
    await nextTask();
  }
  const elapsed = (performance.now() - begin) / 1000;
  for (const track of stream.getTracks()) track.stop();
  landmarker.close();
  return { ms, found, seconds: elapsed, width: video.videoWidth, height: video.videoHeight };
}""".replace("MAKE_LANDMARKER", MAKE_LANDMARKER)

# Before the page's scripts: every landmarks frame the page sends and every update it receives
# (arrival time, echoed capture time, server processing ms), and every detectForVideo call of
# the page's landmarker (start, ms), all in performance.now() milliseconds.
PAGE_PROBE = """(() => {
  const bench = { sent: [], updates: [], inference: [], camera: [] };
  window.bench = bench;
  // Every frame the camera shows in the practice view.
  document.addEventListener("DOMContentLoaded", () => {
    const video = document.getElementById("camera");
    const shown = () => {
      bench.camera.push(performance.now());
      video.requestVideoFrameCallback(shown);
    };
    video.requestVideoFrameCallback(shown);
  });
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (typeof event.data !== "string") return;
        const message = JSON.parse(event.data);
        if (message.type === "update") {
          bench.updates.push([performance.now(), message.timing.capture_ms,
                              message.timing.processing_ms]);
        }
      });
    }
    send(data) {
      if (typeof data !== "string") bench.sent.push(performance.now());
      super.send(data);
    }
  };
  // The page's model runs in a worker, which reports each frame's inference time.
  const NativeWorker = window.Worker;
  window.Worker = class extends NativeWorker {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (event.data?.type === "pose") {
          const took = event.data.inferenceMs;
          bench.inference.push([performance.now() - took, took]);
        }
      });
    }
  };
})()"""

# The browser's landmarker on the benchmark's own frames, served to the page as raw RGBA.
AGREE = """async ({ pose, modelUrl, count, width, height, stamps }) => {
  const landmarker = await (MAKE_LANDMARKER)(pose, modelUrl);
  const poses = [];
  for (let i = 0; i < count; i++) {
    const rgba = await (await fetch(`/benchmark-frames/${i}`)).arrayBuffer();
    const image = new ImageData(new Uint8ClampedArray(rgba), width, height);
    const result = landmarker.detectForVideo(image, stamps[i]);
    const landmarks = result.landmarks[0];
    poses.push(landmarks ? {
      image: landmarks.map((p) => [p.x, p.y, p.z, p.visibility ?? 0]),
      world: result.worldLandmarks[0].map((p) => [p.x, p.y, p.z]),
    } : null);
  }
  landmarker.close();
  return poses;
}""".replace("MAKE_LANDMARKER", MAKE_LANDMARKER)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.browser_pose", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clip", default="tfjs_pose_1.mp4",
                        help="clip in the test footage folder (default tfjs_pose_1.mp4)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="seconds of each measurement (default 20)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each run (default 2)")
    parser.add_argument("--frames", type=int, default=150,
                        help="frames of the clip compared for agreement (default 150, at most "
                             "the clip's)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    model = ensure_model()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        camera = write_y4m(clip(args.clip), work / "camera.y4m", size=CAMERA_SIZE,
                           fps=CAMERA_FPS)
        poses = copy_library(work / "poses")
        with running_server(poses, model, work / "server.log",
                            DANCE_TUTOR_MIN_DEVICE_FPS="1") as server, sync_playwright() as pw:
            with urllib.request.urlopen(f"{server.url}/api/config", timeout=10) as response:
                pose = json.load(response)["pose"]
            if not pose["available"]:
                raise SystemExit(f"the tutor cannot hand the page its pose model: "
                                 f"{pose['reason']}")
            context = pw.chromium.launch_persistent_context(
                str(work / "profile"), executable_path=chromium_path(), headless=True,
                viewport={"width": 1280, "height": 720},
                args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera}"],
            )
            try:
                bare: list[_Bare] = []
                page: list[_PageRun] = []
                for _ in range(args.rounds):
                    bare.append(_bare_run(context, server.url, pose, args.seconds))
                    page.append(_page_run(context, server.url, pose, args.seconds))
                _report_speed(args, bare, page)
                frames = _y4m_frames(camera, args.frames)
                _report_agreement(args.clip, frames,
                                  _browser_poses(context, server.url, pose, frames),
                                  _python_poses(frames, model))
            finally:
                context.close()
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


def _full_model_url(pose: dict[str, Any], variant: str = "full") -> str:
    for model in pose["models"]:
        if model["variant"] == variant:
            return str(model["url"])
    raise SystemExit(f"the tutor serves no {variant} pose model to the page")


@dataclass(frozen=True)
class _Bare:
    fps: float
    inference_ms: float
    found: float
    size: tuple[int, int]


def _bare_run(context: BrowserContext, url: str, pose: dict[str, Any], seconds: float) -> _Bare:
    """Bare tasks-vision on the live camera, in a same-origin tutor document without the
    page's scripts (its health answer)."""
    tab = context.new_page()
    try:
        tab.goto(f"{url}/api/health")
        result = tab.evaluate(BARE, {"pose": pose, "modelUrl": _full_model_url(pose),
                                     "seconds": seconds, "warmup": pose["probe_frames"]})
    finally:
        tab.close()
    ms = result["ms"]
    return _Bare(fps=len(ms) / result["seconds"], inference_ms=statistics.median(ms),
                 found=result["found"] / len(ms), size=(result["width"], result["height"]))


@dataclass(frozen=True)
class _PageRun:
    sent_fps: float
    answered_fps: float
    latency_p50: float
    latency_p95: float
    inference_ms: float
    answer_wait_ms: float
    unanswered: int
    stalled_s: float
    server_ms: float
    camera_fps: float
    stats: str


def _page_run(context: BrowserContext, url: str, pose: dict[str, Any],
              seconds: float) -> _PageRun:
    """The practice view for ``seconds`` once scoring starts."""
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.add_init_script(PAGE_PROBE)
    try:
        tab.goto(f"{url}/#practice/{REFERENCE}")
        tab.wait_for_function(
            f"() => [...document.querySelectorAll('#opt-step option')]"
            f".some((o) => o.value === {json.dumps(LOOPED_STEP)})", timeout=TIMEOUT_MS)
        tab.select_option("#opt-step", LOOPED_STEP)
        tab.wait_for_function(SCORE_SHOWN, timeout=TIMEOUT_MS)
        begin = tab.evaluate("performance.now()")
        tab.wait_for_timeout(seconds * 1000)
        seen = tab.evaluate("""() => ({ ...window.bench, now: performance.now(),
          stats: document.getElementById('session-stats').textContent })""")
    finally:
        tab.close()
    if errors:
        raise SystemExit(f"the page failed: {errors}")
    if not seen["stats"].startswith("pose on this device"):
        raise SystemExit(f"the page did not run the pose model itself: {seen['stats']!r}")
    span = (seen["now"] - begin) / 1000

    def within(rows: list[list[float]]) -> list[list[float]]:
        return [row for row in rows if row[0] >= begin]

    updates = within(seen["updates"])
    latencies = np.array([arrived - captured for arrived, captured, _ in updates])
    inference = np.array(within(seen["inference"]))
    # Each answered frame's model call starts right after its capture time was taken.
    call = np.clip(np.searchsorted(inference[:, 0], [c for _, c, _ in updates]), 0,
                   len(inference) - 1)
    answer_wait = [arrived - start - ms for (arrived, captured, _), (start, ms)
                   in zip(updates, inference[call], strict=True) if start - captured < 5]
    sent = np.array([t for t in seen["sent"] if t >= begin])
    gaps = np.diff(np.concatenate([[begin], sent, [seen["now"]]]))
    return _PageRun(
        sent_fps=len(sent) / span,
        answered_fps=len(updates) / span,
        latency_p50=float(np.percentile(latencies, 50)),
        latency_p95=float(np.percentile(latencies, 95)),
        inference_ms=float(np.median(inference[:, 1])),
        answer_wait_ms=statistics.median(answer_wait),
        unanswered=len(sent) - len(updates),
        stalled_s=float(gaps[gaps >= STALL_MS].sum()) / 1000,
        server_ms=statistics.median(processing for _, _, processing in updates),
        camera_fps=sum(t >= begin for t in seen["camera"]) / span,
        stats=seen["stats"],
    )


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _report_speed(args: argparse.Namespace, bare: list[_Bare], page: list[_PageRun]) -> None:
    bare_fps = max(b.fps for b in bare)
    bare_ms = min(b.inference_ms for b in bare)
    sent_fps = max(p.sent_fps for p in page)
    answered_fps = max(p.answered_fps for p in page)
    p50 = min(p.latency_p50 for p in page)
    p95 = min(p.latency_p95 for p in page)
    page_ms = min(p.inference_ms for p in page)
    server_ms = min(p.server_ms for p in page)
    answer_wait = min(p.answer_wait_ms for p in page)
    fastest = max(page, key=lambda p: p.answered_fps)
    ceiling = min(bare_fps, PAGE_MAX_FPS)
    width, height = bare[0].size
    print(f"clip {args.clip} as a {width}x{height} fake camera at {CAMERA_FPS} fps; "
          f"{args.seconds:g} s a run, best of {args.rounds} rounds")
    for number, (b, p) in enumerate(zip(bare, page, strict=True), start=1):
        print(f"  round {number}: bare {b.fps:.1f} frames/s, {b.inference_ms:.1f} ms "
              f"(person in {b.found:.0%}); page sent {p.sent_fps:.1f}/s, answered "
              f"{p.answered_fps:.1f}/s, latency p50 {p.latency_p50:.1f} ms p95 "
              f"{p.latency_p95:.1f} ms, inference {p.inference_ms:.1f} ms, call end -> update "
              f"{p.answer_wait_ms:.1f} ms, {p.unanswered} unanswered, {p.stalled_s:.1f} s "
              f"stalled, camera {p.camera_fps:.1f} frames/s; '{p.stats}'")
    rows = [
        ("bare tasks-vision: frames/s", f"{bare_fps:.1f}"),
        ("bare tasks-vision: inference median", f"{bare_ms:.1f} ms"),
        ("page: landmarks frames sent/s", f"{sent_fps:.1f}"),
        ("page: updates answered/s", f"{answered_fps:.1f}"),
        ("page: latency capture->update p50", f"{p50:.1f} ms"),
        ("page: latency capture->update p95", f"{p95:.1f} ms"),
        ("page: its own inference median", f"{page_ms:.1f} ms"),
        ("page: model call end -> update, median", f"{answer_wait:.1f} ms"),
        ("page: tutor processing median", f"{server_ms:.2f} ms"),
        ("page: frames never answered (round of best answered/s)",
         f"{fastest.unanswered}, stalling it {fastest.stalled_s:.1f} s of {args.seconds:g}"),
        (f"answered/s / min(bare, {PAGE_MAX_FPS})",
         f"{answered_fps / ceiling:.3f}  target >= {TARGET_FPS_RATIO}  "
         f"{_verdict(answered_fps / ceiling >= TARGET_FPS_RATIO)}"),
        ("latency p50 - bare inference median",
         f"{p50 - bare_ms:+.1f} ms  target <= {TARGET_EXTRA_MS:g} ms  "
         f"{_verdict(p50 - bare_ms <= TARGET_EXTRA_MS)}"),
    ]
    _table(rows)


def _table(rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


def _y4m_frames(path: Path, limit: int) -> list[np.ndarray]:
    """The RGB frames of a 4:2:0 Y4M file as ``write_y4m`` writes it, at most ``limit``."""
    data = path.read_bytes()
    header_end = data.index(b"\n")
    fields = data[:header_end].split()
    width = int(next(f[1:] for f in fields if f.startswith(b"W")))
    height = int(next(f[1:] for f in fields if f.startswith(b"H")))
    size = width * height * 3 // 2
    frames: list[np.ndarray] = []
    at = header_end + 1
    while len(frames) < limit and at < len(data):
        at = data.index(b"\n", at) + 1
        yuv = np.frombuffer(data, dtype=np.uint8, count=size, offset=at)
        frames.append(cv2.cvtColor(yuv.reshape(height * 3 // 2, width), cv2.COLOR_YUV2RGB_I420))
        at += size
    return frames


def _stamps(count: int) -> list[int]:
    return [round(i * 1000 / CAMERA_FPS) for i in range(count)]


@dataclass(frozen=True)
class _Pose:
    image: np.ndarray
    """(33, 4): x, y normalised to the frame, z, visibility."""
    world: np.ndarray
    """(33, 3) metres."""


def _browser_poses(context: BrowserContext, url: str, pose: dict[str, Any],
                   frames: list[np.ndarray]) -> list[_Pose | None]:
    height, width = frames[0].shape[:2]
    rgba = [cv2.cvtColor(f, cv2.COLOR_RGB2RGBA).tobytes() for f in frames]
    tab: Page = context.new_page()

    def serve(route: Route) -> None:
        route.fulfill(body=rgba[int(route.request.url.rsplit("/", 1)[1])],
                      content_type="application/octet-stream")

    try:
        tab.goto(f"{url}/api/health")
        tab.route("**/benchmark-frames/*", serve)
        found = tab.evaluate(AGREE, {"pose": pose, "modelUrl": _full_model_url(pose),
                                     "count": len(frames), "width": width, "height": height,
                                     "stamps": _stamps(len(frames))})
    finally:
        tab.close()
    return [None if p is None else _Pose(np.array(p["image"]), np.array(p["world"]))
            for p in found]


def _python_poses(frames: list[np.ndarray], model: Path) -> list[_Pose | None]:
    poses: list[_Pose | None] = []
    with PoseEstimator(model, mode="video") as estimator:
        for rgb, stamp in zip(frames, _stamps(len(frames)), strict=True):
            found = estimator.detect(rgb, stamp)
            poses.append(None if found is None else _Pose(
                np.column_stack([found.image_xyz, found.visibility]), found.world_xyz))
    return poses


def _report_agreement(clip_name: str, frames: list[np.ndarray], browser: list[_Pose | None],
                      python: list[_Pose | None]) -> None:
    height, width = frames[0].shape[:2]
    both = [(b, p) for b, p in zip(browser, python, strict=True)
            if b is not None and p is not None]
    print(f"agreement on {len(frames)} frames of {clip_name} ({width}x{height} RGB, "
          f"the camera's own): browser tasks-vision against the tutor's app.pose")
    if not both:
        print("  no frame where both find a person")
        return
    scale = np.array([width, height])
    offsets, world, per_landmark = [], [], [[] for _ in Landmark]
    visibility_gap = []
    for b, p in both:
        seen = (b.image[:, 3] >= VISIBLE) & (p.image[:, 3] >= VISIBLE)
        offset = (b.image[:, :2] - p.image[:, :2]) * scale
        offsets.append(offset[seen])
        world.append(np.linalg.norm(b.world - p.world, axis=1)[seen] * 100)
        for i in np.flatnonzero(seen):
            per_landmark[i].append(float(np.hypot(*offset[i])))
        visibility_gap.append(b.image[:, 3] - p.image[:, 3])
    shift = np.concatenate(offsets)
    distance = np.hypot(shift[:, 0], shift[:, 1])
    worst = max((float(np.mean(d)), Landmark(i).name.lower()) for i, d in enumerate(per_landmark)
                if d)
    _table([
        ("frames where the browser finds a person", f"{sum(b is not None for b in browser)}"),
        ("frames where app.pose finds a person", f"{sum(p is not None for p in python)}"),
        ("frames where both do", f"{len(both) / len(frames):.1%}"),
        ("landmarks compared (both visibility >= 0.5)", f"{len(distance)}"),
        ("pixel distance mean / median / p95",
         f"{distance.mean():.2f} / {np.median(distance):.2f} / "
         f"{np.percentile(distance, 95):.2f} px"),
        ("mean signed offset browser - app.pose (x, y)",
         f"{shift[:, 0].mean():+.2f}, {shift[:, 1].mean():+.2f} px"),
        ("worst landmark (mean distance)", f"{worst[1]} {worst[0]:.2f} px"),
        ("world-landmark distance mean", f"{np.concatenate(world).mean():.2f} cm"),
        ("visibility browser - app.pose, mean", f"{np.concatenate(visibility_gap).mean():+.3f}"),
    ])


if __name__ == "__main__":
    sys.exit(main())
