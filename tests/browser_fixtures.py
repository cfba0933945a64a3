"""Helpers for end-to-end tests: a real server in a subprocess, a Y4M fake camera, Chromium.

The browser is Debian's ``chromium`` (never one Playwright downloads), fed a real clip of a
person moving through its fake camera device.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
TOKEN = "test-instructor-token-0123456789"
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def write_y4m(clip: Path, dest: Path, size: tuple[int, int] = (640, 480), fps: int = 30,
              max_frames: int | None = None) -> Path:
    """Convert ``clip`` to a YUV4MPEG2 4:2:0 file of ``size``, letterboxed to keep its aspect.

    Chromium's fake camera plays the file in a loop at the rate the header states.
    """
    width, height = size
    capture = cv2.VideoCapture(str(clip))
    if not capture.isOpened():
        raise ValueError(f"{clip}: cannot be opened as a video")
    frames = 0
    with dest.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        while max_frames is None or frames < max_frames:
            ok, bgr = capture.read()
            if not ok:
                break
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(_letterbox(bgr, width, height), cv2.COLOR_BGR2YUV_I420)
                      .tobytes())
            frames += 1
    capture.release()
    if frames == 0:
        raise ValueError(f"{clip}: no frame could be read")
    return dest


def _letterbox(bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = bgr.shape[:2]
    scale = min(width / w, height / h)
    resized = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    top = (height - resized.shape[0]) // 2
    left = (width - resized.shape[1]) // 2
    canvas[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return canvas


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """``dance-tutor serve`` in a subprocess on a free loopback port."""

    def __init__(self, poses: Path, model: Path, log: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = log.open("wb")
        environment = {**os.environ, "DANCE_TUTOR_INSTRUCTOR_TOKEN": TOKEN, **env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(self.port), "--poses",
             str(poses), "--model", str(model)],
            cwd=ROOT, env=environment, stdout=self._log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


@contextmanager
def running_server(poses: Path, model: Path, log: Path, **env: str) -> Iterator[ServerProcess]:
    server = ServerProcess(poses, model, log, **env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("Debian's chromium is not installed: apt-get install chromium")
    return path
