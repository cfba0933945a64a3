"""Decoding video files, still images and JPEG messages into RGB frames.

Frames are streamed one at a time; a video is never held whole in memory. OpenCV's FFmpeg
backend applies the rotation recorded by phones (``CAP_PROP_ORIENTATION_AUTO``), so frames come
out upright and sizes are reported after rotation. Timestamps are the container's presentation
times (``CAP_PROP_POS_MSEC``), which keeps variable-frame-rate videos in time; they are repaired
where needed so that they strictly increase.
"""

from __future__ import annotations

import math
import queue
import struct
import threading
import warnings
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image

from app.errors import UserError

RgbImage = npt.NDArray[np.uint8]
"""(height, width, 3) uint8, RGB channel order."""

MAX_JPEG_BYTES = 4 * 1024 * 1024
MAX_JPEG_PIXELS = 4096 * 4096
MAX_PICTURE_PIXELS = MAX_JPEG_PIXELS
"""Largest video frame or still image decoded, checked in the header before decoding."""
MAX_FPS = 1000.0
_NUDGE_MS = 1.0
_JPEG_START = b"\xff\xd8"
# Start-of-frame markers carry the image size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE_MARKERS = frozenset(range(0xD0, 0xDA)) | {0x01}


class DecodeError(UserError):
    """A file or message cannot be decoded; the message names it and says why."""


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says, sizes after rotation.

    ``fps`` is ``None`` when the container gives no usable rate; ``frame_count`` is the
    container's estimate (0 when unknown), good for a progress bar, not for logic.
    """

    path: Path
    width: int
    height: int
    fps: float | None
    frame_count: int
    rotation_deg: int


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded video frame.

    Attributes
    ----------
    index : int
        Position in the video, counting every frame from 0 (skipped ones included).
    timestamp_ms : float
        Presentation time in milliseconds; strictly increasing along a stream.
    rgb : (height, width, 3) uint8
        The picture, RGB, upright.
    """

    index: int
    timestamp_ms: float
    rgb: RgbImage


def probe_video(path: Path) -> VideoInfo:
    """Open ``path`` and report its size, rate and length without decoding frames.

    Raises
    ------
    DecodeError
        When the file is missing, empty or not a video OpenCV can decode.
    """
    capture = _open(Path(path))
    try:
        return _info(Path(path), capture)
    finally:
        capture.release()


def read_video(
    path: Path,
    every: int = 1,
    start_s: float | None = None,
    end_s: float | None = None,
) -> Iterator[Frame]:
    """Yield the frames of a video, one at a time.

    Parameters
    ----------
    path
        The video file.
    every
        Keep every ``every``-th frame of those in the time range (1 keeps all).
    start_s, end_s
        Keep frames with ``start_s <= t < end_s`` (seconds from the video's start).

    Yields
    ------
    Frame
        Decoded frames; skipped frames are grabbed but never converted.

    Raises
    ------
    DecodeError
        When the file cannot be opened or holds no frame at all.
    UserError
        When ``every`` is below 1 or the time range is empty.
    """
    path = Path(path)
    _check_range(every, start_s, end_s)
    capture = _open(path)
    try:
        yield from _frames(path, capture, _info(path, capture), every, start_s, end_s)
    finally:
        capture.release()


def read_ahead(frames: Iterator[Frame], depth: int = 4) -> Generator[Frame, None, None]:
    """Yield from ``frames`` while a thread decodes up to ``depth`` frames ahead.

    OpenCV releases the GIL while it decodes, so on a machine with a spare core decoding
    overlaps with whatever the consumer does with each frame (running the pose model). At most
    ``depth`` frames wait in memory. An error in decoding is raised in the consumer; closing
    the returned iterator stops the thread and closes ``frames``.
    """
    if depth < 1:
        raise ValueError(f"depth must be 1 or more, got {depth}")
    slots: queue.Queue[Frame | Exception | None] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: Frame | Exception | None) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for frame in frames:
                if not offer(frame):
                    return
            offer(None)
        except Exception as exc:  # handed over and raised in the consumer
            offer(exc)
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="frame-decoder", daemon=True)
    worker.start()
    try:
        while (item := slots.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _frames(
    path: Path,
    capture: cv2.VideoCapture,
    info: VideoInfo,
    every: int,
    start_s: float | None,
    end_s: float | None,
) -> Iterator[Frame]:
    start_ms = -math.inf if start_s is None else start_s * 1000.0
    end_ms = math.inf if end_s is None else end_s * 1000.0
    step_ms = 1000.0 / info.fps if info.fps else 1.0
    previous_ms = -math.inf
    index = kept = 0
    while capture.grab():
        timestamp_ms = _timestamp(capture, previous_ms, step_ms)
        previous_ms = timestamp_ms
        index += 1
        if timestamp_ms < start_ms:
            continue
        if timestamp_ms >= end_ms:
            break
        kept += 1
        if (kept - 1) % every:
            continue
        ok, bgr = capture.retrieve()
        if not ok or bgr is None:
            raise DecodeError(f"{path}: frame {index - 1} cannot be decoded")
        yield Frame(index - 1, timestamp_ms, _to_rgb(bgr))
    else:
        _check_complete(path, index, info.frame_count)
    if index == 0:
        raise DecodeError(f"{path}: holds no video frames")
    if kept == 0:
        raise UserError(
            f"{path}: has no frames from {start_s or 0} s to {end_s or 'the end'} (its last "
            f"frame is at {previous_ms / 1000:.2f} s)"
        )


def _check_complete(path: Path, decoded: int, frame_count: int) -> None:
    """A stream that ends well short of the frames its container lists is damaged.

    FFmpeg stops quietly at a corrupt stretch; scoring the frames before it would judge a
    fraction of the attempt. A few frames of slack cover containers that round their count.
    """
    if decoded and decoded + max(2, frame_count // 20) < frame_count:
        raise DecodeError(
            f"{path}: is damaged: only {decoded} of its {frame_count} frames can be decoded"
        )


def _timestamp(capture: cv2.VideoCapture, previous_ms: float, step_ms: float) -> float:
    """The frame's presentation time, made strictly increasing.

    A frame without a time (not finite, or stuck at 0 after the first) is placed one frame
    period after the previous one. A repeated or backward time is nudged just past the previous
    one, so that the times of the frames after it stay the container's.
    """
    reported = float(capture.get(cv2.CAP_PROP_POS_MSEC))
    if previous_ms == -math.inf:
        return reported if math.isfinite(reported) and reported >= 0 else 0.0
    if not math.isfinite(reported) or reported <= 0:
        return previous_ms + step_ms
    return max(reported, previous_ms + _NUDGE_MS)


def _check_range(every: int, start_s: float | None, end_s: float | None) -> None:
    if every < 1:
        raise UserError(f"every must be 1 or more, got {every}")
    for label, value in (("start", start_s), ("end", end_s)):
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UserError(f"{label} must be a time of 0 s or more, got {value}")
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise UserError(f"end ({end_s} s) must come after start ({start_s} s)")


def _open(path: Path) -> cv2.VideoCapture:
    _check_file(path)
    _check_image_size(path)
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise DecodeError(f"{path}: is not a video file OpenCV can decode")
    capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    return capture


def _check_file(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DecodeError(f"{path}: no such file") from None
    except OSError as exc:
        raise DecodeError(f"{path}: cannot be read ({exc.strerror})") from exc
    if path.is_dir():
        raise DecodeError(f"{path}: is a folder, not a file")
    if size == 0:
        raise DecodeError(f"{path}: is empty (0 bytes)")


def _info(path: Path, capture: cv2.VideoCapture) -> VideoInfo:
    fps = float(capture.get(cv2.CAP_PROP_FPS))
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    _check_pixels(path, width, height)
    return VideoInfo(
        path=path,
        width=width,
        height=height,
        fps=fps if math.isfinite(fps) and 0 < fps <= MAX_FPS else None,
        frame_count=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))),
        rotation_deg=int(capture.get(cv2.CAP_PROP_ORIENTATION_META)) % 360,
    )


def read_image(path: Path) -> RgbImage:
    """Decode a still image file (JPEG, PNG, ...), upright as its EXIF orientation says.

    Returns
    -------
    (height, width, 3) uint8
        RGB.

    Raises
    ------
    DecodeError
        When the file is missing, empty or not an image OpenCV can decode.
    """
    path = Path(path)
    _check_file(path)
    _check_image_size(path)
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DecodeError(f"{path}: is not an image file OpenCV can decode")
    return _to_rgb(bgr)


def _check_image_size(path: Path) -> None:
    """Refuse an image whose header claims too many pixels; unknown formats pass to OpenCV."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                width, height = image.size
        except Image.DecompressionBombError:
            width = height = MAX_PICTURE_PIXELS
        except (OSError, ValueError):
            return
    _check_pixels(path, width, height)


def _check_pixels(path: Path, width: int, height: int) -> None:
    if width * height > MAX_PICTURE_PIXELS:
        size = "" if width == height == MAX_PICTURE_PIXELS else f" ({width}x{height})"
        raise DecodeError(
            f"{path}: its pictures are over the limit of {MAX_PICTURE_PIXELS / 1e6:.1f} "
            f"megapixels{size}"
        )


def decode_jpeg(data: bytes, max_bytes: int = MAX_JPEG_BYTES,
                max_pixels: int = MAX_JPEG_PIXELS) -> RgbImage:
    """Decode one JPEG image, such as a webcam frame sent by the browser.

    The size in the JPEG header is checked before decoding, so a small message cannot make the
    decoder allocate a huge image.

    Returns
    -------
    (height, width, 3) uint8
        RGB.

    Raises
    ------
    DecodeError
        When the bytes are empty, too large, not a JPEG, too many pixels or corrupt.
    """
    if not data:
        raise DecodeError("the JPEG frame is empty")
    if len(data) > max_bytes:
        raise DecodeError(f"the JPEG frame is {len(data)} bytes, over the limit of {max_bytes}")
    if not data.startswith(_JPEG_START):
        raise DecodeError("the frame is not a JPEG image (it lacks the JPEG start marker)")
    width, height = _jpeg_size(data)
    if width * height > max_pixels:
        raise DecodeError(
            f"the JPEG frame is {width}x{height}, over the limit of {max_pixels} pixels"
        )
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DecodeError("the JPEG frame is corrupt and cannot be decoded")
    return _to_rgb(bgr)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the first start-of-frame segment of a JPEG."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if marker in _SOF_MARKERS and pos + 9 <= len(data):
            height, width = struct.unpack_from(">HH", data, pos + 5)
            if width and height:
                return width, height
            break
        pos += 2 + length
    raise DecodeError("the JPEG frame is corrupt (no image size in its header)")


def _to_rgb(bgr: cv2.typing.MatLike) -> RgbImage:
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
