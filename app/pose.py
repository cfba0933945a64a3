"""Pose estimation with MediaPipe's PoseLandmarker: the one module that imports mediapipe.

``PoseEstimator`` turns RGB frames into ``FramePose`` (33 landmarks in normalised image
coordinates, their visibility, and 33 world landmarks in metres around the hips).
``extract_video`` and ``extract_image`` turn files into the project's ``PoseSequence``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import vision

from app.frames import Frame, RgbImage, probe_video, read_ahead, read_image, read_video
from app.landmarks import LIMB_LANDMARKS, Limb
from app.models import ModelVerificationError, ensure_model, verify_bundle
from app.sequence import N_LANDMARKS, FloatArray, PoseSequence, Source

Mode = Literal["video", "image"]
Progress = Callable[[int, int], None]
"""Called after each frame with (frames done, frames expected; 0 when unknown)."""

logger = logging.getLogger(__name__)

MAX_POSES = 2
# A person seen before is followed while a candidate's centre lies within this share of the
# image's diagonal (in isotropic units) of where they were; otherwise the most prominent wins.
_FOLLOW_RADIUS = 0.25
_VISIBLE = 0.5


@dataclass(frozen=True, eq=False)
class FramePose:
    """One person's pose in one frame.

    Attributes
    ----------
    image_xyz : (33, 3) float64
        ``x`` and ``y`` normalised to the image width and height, ``z`` depth at about the
        scale of ``x`` (smaller is nearer the camera).
    visibility : (33,) float64
        0..1, how likely each landmark is visible.
    world_xyz : (33, 3) float64
        Metres, origin between the hips.
    """

    image_xyz: FloatArray
    visibility: FloatArray
    world_xyz: FloatArray

    def __post_init__(self) -> None:
        expected = {
            "image_xyz": (self.image_xyz, (N_LANDMARKS, 3)),
            "visibility": (self.visibility, (N_LANDMARKS,)),
            "world_xyz": (self.world_xyz, (N_LANDMARKS, 3)),
        }
        for label, (array, shape) in expected.items():
            if not isinstance(array, np.ndarray) or array.shape != shape:
                actual = getattr(array, "shape", type(array).__name__)
                raise ValueError(f"{label} has shape {actual}, expected {shape}")
            if array.dtype != np.float64:
                raise ValueError(f"{label} has dtype {array.dtype}, expected float64")

    @classmethod
    def from_mediapipe(cls, landmarks: Sequence[Any], world: Sequence[Any]) -> FramePose:
        """Adapt one pose of a ``PoseLandmarkerResult`` (its image and world landmarks)."""
        image = np.array([(p.x, p.y, p.z, p.visibility or 0.0) for p in landmarks],
                         dtype=np.float64).reshape(-1, 4)
        world_xyz = np.array([(p.x, p.y, p.z) for p in world], dtype=np.float64).reshape(-1, 3)
        return cls(image_xyz=image[:, :3], visibility=np.clip(image[:, 3], 0.0, 1.0),
                   world_xyz=world_xyz)


# How MediaPipe and LiteRT log from native code, as this MediaPipe writes it: LiteRT in three
# writes, a level ("INFO: ", "WARNING: "), the message ("[environment.cc:36] Creating LiteRT
# environment with options", "Created TensorFlow Lite XNNPACK delegate for CPU.") and "\n";
# absl in one, "W0000 00:00:1796139296.586375   18057 inference_runner_litert.cc:1433] ...\n",
# after announcing once that it logs to stderr. A message must have a native shape to be held
# back: unbuffered Python (``-u``) writes a line and its "\n" apart too.
_NATIVE_LEVELS = frozenset({b"INFO: ", b"WARNING: ", b"VERBOSE: ", b"DEBUG: "})
_KEPT_LEVELS = frozenset({b"ERROR: ", b"FATAL: "})
_NATIVE_MESSAGE = re.compile(rb"\[[^\]\s]+:\d+\] [^\n]*\Z|Created TensorFlow Lite [^\n]*\Z")
_NATIVE_LINE = re.compile(
    rb"[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] "
    rb"|WARNING: Logging before InitGoogle\(\) is written to STDERR\n"
)
_COPIED = b"\0dance-tutor: all copied\0"
"""What the copier is sent to say when everything written before it has been copied."""
_WANTED_MESSAGE_BYTES = 1 << 20
_COPY_TIMEOUT_S = 1.0


class _NativeLogFilter:
    """Keeps MediaPipe's native log lines off stderr unless ``app.pose`` logs at ``DEBUG``.

    Creating a landmarker writes some fifty informational lines and warnings, its first frame
    and ``close()`` a few more. Native code writes them to file descriptor 2 itself, so
    Python's logging cannot stop them, and this MediaPipe reads no setting that does
    (``GLOG_minloglevel`` and ``TF_CPP_MIN_LOG_LEVEL`` change nothing). So while any thread is
    inside :meth:`hidden`, descriptor 2 is a socket that keeps each write apart, and a thread
    copies every write to the real stderr but those lines: errors, Python's tracebacks and
    every other thread's output pass, in order, even when they come between the pieces of a
    native line. The last thread to leave puts the real stderr back, on every way out, once
    everything written meanwhile is copied. The socket and its thread are made once, at the
    first use, and live as long as the process. At ``DEBUG`` nothing is redirected; a native
    crash inside the window loses its last words, so ``--log-level debug`` also shows those.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0
        self._real_stderr = -1
        self._channel: _Channel | None = None

    @contextlib.contextmanager
    def hidden(self) -> Iterator[None]:
        if logger.isEnabledFor(logging.DEBUG):
            yield
            return
        with self._lock:
            if self._inside == 0:
                self._redirect()
            self._inside += 1
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1
                if self._inside == 0:
                    self._restore()

    def _redirect(self) -> None:
        try:
            if self._channel is None or not self._channel.working:
                self._channel = _Channel.open()
            real = os.dup(2)
        except OSError:  # no stderr to keep clean, or no socket to do it with
            return
        self._channel.copy_to(real)
        _flush_python_stderr()
        os.dup2(self._channel.writer.fileno(), 2)
        self._real_stderr = real

    def _restore(self) -> None:
        if self._real_stderr < 0 or self._channel is None:
            return
        _flush_python_stderr()
        os.dup2(self._real_stderr, 2)
        self._real_stderr = -1
        self._channel.wait_copied()


class _Channel:
    """A socket that keeps writes apart, and the thread copying them on but native log lines.

    The copier writes to a duplicate of the stderr of the latest window, so a child process
    started inside a window, which keeps the socket as its stderr, is still heard after it.
    """

    def __init__(self, reader: socket.socket, writer: socket.socket) -> None:
        self.writer = writer
        self._reader = reader
        # No message is longer: a longer write to descriptor 2 inside a window fails.
        self._largest = writer.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        self._target = -1
        self._target_lock = threading.Lock()
        self._copied = threading.Event()
        self._copier = threading.Thread(target=self._copy, name="native-log-filter",
                                        daemon=True)

    @classmethod
    def open(cls) -> _Channel:
        reader, writer = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        writer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _WANTED_MESSAGE_BYTES)
        channel = cls(reader, writer)
        channel._copier.start()
        return channel

    @property
    def working(self) -> bool:
        return self._copier.is_alive()

    def copy_to(self, target: int) -> None:
        """From now on copy to ``target``, a descriptor the channel then owns."""
        with self._target_lock:
            previous, self._target = self._target, target
        if previous >= 0:
            os.close(previous)

    def wait_copied(self) -> None:
        """Return once everything written to the socket so far is copied (or after a second)."""
        self._copied.clear()
        try:
            self.writer.send(_COPIED)
        except OSError:  # the copier is gone
            return
        self._copied.wait(_COPY_TIMEOUT_S)

    def _copy(self) -> None:
        bodies = kept = newlines = 0
        buffer = memoryview(bytearray(self._largest))
        try:
            while True:
                message = bytes(buffer[:self._reader.recv_into(buffer)])
                if message == _COPIED:
                    bodies = kept = newlines = 0
                    self._copied.set()
                elif message in _NATIVE_LEVELS:
                    bodies += 1
                elif message in _KEPT_LEVELS:
                    # an error's message passes, even after the prefix of a line dropped
                    kept += 1
                    self._write(message)
                elif kept and _NATIVE_MESSAGE.match(message):
                    kept -= 1
                    self._write(message)
                elif bodies and _NATIVE_MESSAGE.match(message):
                    bodies, newlines = bodies - 1, newlines + 1
                elif newlines and message == b"\n":
                    newlines -= 1
                elif message and not _NATIVE_LINE.match(message):
                    self._write(message)
        finally:
            # Writers then fail instead of waiting for a copier that is gone.
            self._reader.close()

    def _write(self, data: bytes) -> None:
        if data:
            with self._target_lock:
                _write_all(self._target, data)


def _write_all(target: int, data: bytes) -> None:
    try:
        while data:
            data = data[os.write(target, data):]
    except OSError:
        # The real stderr is gone: nowhere to report to, and reading on keeps writers going.
        return


def _flush_python_stderr() -> None:
    """Python's buffered stderr goes out before descriptor 2 changes."""
    if sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()


_NATIVE_LOGS = _NativeLogFilter()


def _create_landmarker(options: vision.PoseLandmarkerOptions,
                       background: bool) -> vision.PoseLandmarker:
    """The landmarker; with ``background``, its threads at idle priority (Linux).

    MediaPipe runs the model on threads it starts when the landmarker is created, and on Linux
    a new thread inherits the scheduling policy of the thread that starts it: so the
    landmarker is created on a short-lived thread that moves itself to ``SCHED_IDLE`` first.
    """
    if not background or not sys.platform.startswith("linux"):
        return vision.PoseLandmarker.create_from_options(options)
    made: list[vision.PoseLandmarker] = []
    failed: list[BaseException] = []

    def create() -> None:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        try:
            made.append(vision.PoseLandmarker.create_from_options(options))
        except BaseException as exc:
            failed.append(exc)

    starter = threading.Thread(target=create, name="pose-model-start")
    starter.start()
    starter.join()
    if failed:
        raise failed[0]
    return made[0]


class PoseEstimator:
    """A PoseLandmarker that follows one person through a stream of frames.

    Use as a context manager, or call ``close()``. In ``"video"`` mode the landmarker tracks
    between frames and smooths; timestamps given to ``detect`` are made strictly increasing
    (a repeated or earlier one is moved 1 ms past the previous). In ``"image"`` mode every
    frame stands alone.

    Parameters
    ----------
    model_path
        A ``.task`` bundle; default: ``ensure_model()`` (fetched or built if missing).
    mode
        ``"video"`` for streams, ``"image"`` for unrelated stills.
    num_poses
        How many people MediaPipe looks for, 1 or 2. With 2 the estimator follows the person
        it followed before, or the most prominent (``pick_main``); 1 is about twice as fast
        and lets MediaPipe keep tracking its most confident detection.
    min_confidence
        Minimum detection, presence and tracking confidence, 0..1.
    background
        Run the model at idle priority (Linux's ``SCHED_IDLE``; ignored elsewhere): it gets
        the processor whenever nothing else wants it. The server's pose models run so, so
        that its event loop, which answers every session, always comes first.

    Raises
    ------
    ModelVerificationError
        When the model file is not a pose model bundle MediaPipe can load.
    """

    def __init__(
        self,
        model_path: Path | None = None,
        *,
        mode: Mode = "video",
        num_poses: int = 1,
        min_confidence: float = 0.5,
        background: bool = False,
    ) -> None:
        if mode not in ("video", "image"):
            raise ValueError(f"mode must be 'video' or 'image', got {mode!r}")
        if not 1 <= num_poses <= MAX_POSES:
            raise ValueError(f"num_poses must be between 1 and {MAX_POSES}, got {num_poses}")
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be between 0 and 1, got {min_confidence}")
        self.model_path = _checked_model(model_path)
        self.mode = mode
        options = vision.PoseLandmarkerOptions(
            base_options=mp.tasks.BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE,
            num_poses=num_poses,
            min_pose_detection_confidence=min_confidence,
            min_pose_presence_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )
        try:
            with _NATIVE_LOGS.hidden():
                self._landmarker = _create_landmarker(options, background)
        except (RuntimeError, ValueError) as exc:
            raise ModelVerificationError(
                f"MediaPipe cannot load the pose model {self.model_path} ({exc})"
            ) from exc
        self._last_timestamp_ms = -1
        self._followed: FloatArray | None = None
        self._detected = False

    def detect(self, rgb: RgbImage, timestamp_ms: float | None = None) -> FramePose | None:
        """The pose of the person followed in ``rgb``, or ``None`` when nobody is in view.

        Parameters
        ----------
        rgb : (height, width, 3) uint8
            The frame, RGB.
        timestamp_ms
            The frame's time in milliseconds; required in ``"video"`` mode.
        """
        _check_rgb(rgb)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        # The first frame logs natively once (LiteRT reallocating its input).
        with contextlib.nullcontext() if self._detected else _NATIVE_LOGS.hidden():
            if self.mode == "video":
                if timestamp_ms is None or not math.isfinite(timestamp_ms):
                    raise ValueError("video mode needs a finite timestamp_ms for every frame")
                stamp = max(round(timestamp_ms), self._last_timestamp_ms + 1)
                self._last_timestamp_ms = stamp
                result = self._landmarker.detect_for_video(image, stamp)
            else:
                result = self._landmarker.detect(image)
        self._detected = True
        if not result.pose_landmarks:
            return None
        poses = [FramePose.from_mediapipe(lm, world) for lm, world
                 in zip(result.pose_landmarks, result.pose_world_landmarks, strict=True)]
        aspect = rgb.shape[1] / rgb.shape[0]
        chosen = poses[pick_main(poses, self._followed, aspect)]
        self._followed = _centre(chosen, aspect)
        return chosen

    def close(self) -> None:
        """Release the landmarker; the estimator cannot be used after."""
        with _NATIVE_LOGS.hidden():
            self._landmarker.close()

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def pick_main(poses: Sequence[FramePose], followed: FloatArray | None, aspect: float) -> int:
    """Index of the pose to follow among ``poses`` (not empty).

    The pose whose centre is nearest ``followed`` (the centre of the one followed until now,
    ``(2,)`` in isotropic units) when it lies within reach; otherwise the most prominent: the
    one whose torso (shoulders and hips) has the largest bounding box, a size that spread arms
    or bent legs do not change.
    """
    if len(poses) == 1:
        return 0
    if followed is not None:
        distances = [float(np.linalg.norm(_centre(p, aspect) - followed)) for p in poses]
        nearest = int(np.argmin(distances))
        if distances[nearest] <= _FOLLOW_RADIUS * math.hypot(aspect, 1.0):
            return nearest
    return int(np.argmax([_torso_size(p, aspect) for p in poses]))


def _isotropic_xy(pose: FramePose, aspect: float) -> FloatArray:
    """(k, 2) the visible landmarks' (x * aspect, y), or all of them if none is visible."""
    xy: FloatArray = pose.image_xyz[:, :2] * np.array([aspect, 1.0])
    visible = pose.visibility >= _VISIBLE
    return xy[visible] if visible.any() else xy


def _centre(pose: FramePose, aspect: float) -> FloatArray:
    xy = _isotropic_xy(pose, aspect)
    return np.asarray((xy.min(axis=0) + xy.max(axis=0)) / 2.0, dtype=np.float64)


def _torso_size(pose: FramePose, aspect: float) -> float:
    """Diagonal of the bounding box of shoulders and hips, in isotropic units."""
    torso = pose.image_xyz[list(LIMB_LANDMARKS[Limb.TORSO]), :2] * np.array([aspect, 1.0])
    return float(np.linalg.norm(np.ptp(torso, axis=0)))


def _check_rgb(rgb: Any) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", type(rgb).__name__)
        raise ValueError(f"a frame must be an RGB array of shape (height, width, 3), got {shape}")
    if rgb.dtype != np.uint8:
        raise ValueError(f"a frame must hold uint8 pixels, got {rgb.dtype}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError(f"a frame must not be empty, got shape {rgb.shape}")


def _checked_model(model_path: Path | None) -> Path:
    """The model to load: the managed one, or the caller's own file after verification."""
    if model_path is None:
        return ensure_model()
    path = Path(model_path)
    if not path.is_file():
        raise ModelVerificationError(f"{path}: no such model file")
    verify_bundle(path)
    return path


def extract_video(
    path: Path,
    model_path: Path | None = None,
    every: int = 1,
    start_s: float | None = None,
    end_s: float | None = None,
    progress: Progress | None = None,
    *,
    num_poses: int = 1,
    background: bool = False,
) -> PoseSequence:
    """Run the pose model over a video file.

    Parameters
    ----------
    path
        The video.
    model_path
        The ``.task`` bundle; default: the managed model.
    every, start_s, end_s
        Which frames to use, as in ``app.frames.read_video``.
    progress
        Called after each frame with (frames done, frames expected).
    num_poses, background
        As in ``PoseEstimator``.

    Returns
    -------
    PoseSequence
        One row per frame used, ``t`` from 0 at the first; frames with nobody in view are
        kept with ``present`` False. ``fps`` is the container's rate over ``every``, or the
        measured rate when the container has none.
    """
    path = Path(path)
    info = probe_video(path)
    expected = _expected_frames(info.frame_count, info.fps, every, start_s, end_s)
    with PoseEstimator(model_path, mode="video", num_poses=num_poses,
                       background=background) as estimator:
        frames = read_ahead(read_video(path, every=every, start_s=start_s, end_s=end_s))
        try:
            rows = _track(estimator, frames, expected, progress)
        finally:
            frames.close()
    t = (rows.timestamps_ms - rows.timestamps_ms[0]) / 1000.0
    detail = path.name if start_s is None else f"{path.name} from {start_s:g} s"
    return PoseSequence.from_frames(
        t, rows.image_xyz, rows.visibility, rows.world_xyz,
        fps=_sequence_fps(info.fps, every, t), image_size=rows.image_size,
        source=Source("video", detail),
    )


def extract_image(path: Path, model_path: Path | None = None) -> PoseSequence:
    """Run the pose model on one still image: a one-frame ``PoseSequence``."""
    path = Path(path)
    rgb = read_image(path)
    with PoseEstimator(model_path, mode="image") as estimator:
        rows = _track(estimator, [Frame(0, 0.0, rgb)], 1, None)
    return PoseSequence.from_frames(
        [0.0], rows.image_xyz, rows.visibility, rows.world_xyz, fps=1.0,
        image_size=rows.image_size, source=Source("video", f"{path.name} (still image)"),
    )


@dataclass
class _Rows:
    timestamps_ms: FloatArray
    image_xyz: list[FloatArray | None]
    visibility: list[FloatArray | None]
    world_xyz: list[FloatArray | None]
    image_size: tuple[int, int]


def _track(estimator: PoseEstimator, frames: Iterable[Frame], expected: int,
           progress: Progress | None) -> _Rows:
    stamps: list[float] = []
    image: list[FloatArray | None] = []
    visibility: list[FloatArray | None] = []
    world: list[FloatArray | None] = []
    size = (0, 0)
    for frame in frames:
        size = (frame.rgb.shape[1], frame.rgb.shape[0])
        pose = estimator.detect(frame.rgb, frame.timestamp_ms)
        stamps.append(frame.timestamp_ms)
        image.append(None if pose is None else pose.image_xyz)
        visibility.append(None if pose is None else pose.visibility)
        world.append(None if pose is None else pose.world_xyz)
        if progress is not None:
            progress(len(stamps), expected)
    return _Rows(np.asarray(stamps, dtype=np.float64), image, visibility, world, size)


def _expected_frames(frame_count: int, fps: float | None, every: int,
                     start_s: float | None, end_s: float | None) -> int:
    """How many frames extraction will use, from the container's estimate; 0 if unknown."""
    if frame_count <= 0:
        return 0
    first, last = 0, frame_count
    if fps:
        first = min(frame_count, math.ceil((start_s or 0.0) * fps))
        last = frame_count if end_s is None else min(frame_count, math.ceil(end_s * fps))
    return max(0, math.ceil((last - first) / every))


def _sequence_fps(container_fps: float | None, every: int, t: FloatArray) -> float:
    if container_fps:
        return container_fps / every
    if len(t) > 1 and t[-1] > t[0]:
        return float((len(t) - 1) / (t[-1] - t[0]))
    return 1.0
