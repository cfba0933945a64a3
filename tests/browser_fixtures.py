"""Helpers for end-to-end tests: a Y4M fake camera from a real clip, and Debian's Chromium.

The browser is Debian's ``chromium`` (never one Playwright downloads), fed a real clip of a
person moving through its fake camera device.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
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


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError("Debian's chromium is not installed: apt-get install chromium")
    return path
