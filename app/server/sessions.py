"""Live sessions: who is connected, and the per-session worker that turns frames into feedback.

:class:`SessionRegistry` admits sessions up to the configured limits and can tell every open
session to close (graceful shutdown). The workers are plain synchronous objects, run by the
WebSocket handler in a worker thread one frame at a time: :class:`PracticeWorker` scores a
learner live, :class:`RecordingWorker` collects an instructor's take. Both read poses through
a :class:`PoseSource`, which owns the session's own pose model in image mode.
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
import uuid
from array import array
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from app.accounts import now
from app.beats import BeatGrid
from app.errors import UserError
from app.frames import DecodeError, decode_jpeg
from app.library import Library, NotFound
from app.live import LiveSession, NothingToScore
from app.pose import FramePose, PoseEstimator
from app.progress import PracticeRecord
from app.recording import moving_span
from app.report_schema import Report
from app.rhythm import Latency
from app.routine import Target, routine_report
from app.scoring import ScoreOptions
from app.sequence import N_LANDMARKS, PoseSequence, Source
from app.server.protocol import (
    ClientPose,
    FrameCounts,
    FrameError,
    InputMode,
    Recorded,
    StartPractice,
    StartRecording,
    Summary,
    Trim,
)
from app.server.settings import Settings

logger = logging.getLogger(__name__)

Closer = Callable[[str], Awaitable[None]]
"""Tells one session to close, with a reason for the client."""

LiveData = dict[str, Any]
"""The ``live`` part of one frame's update, JSON-ready: the fields of
:class:`~app.server.protocol.LivePayload` (practice) or
:class:`~app.server.protocol.RecordingPayload` (recording)."""


class SessionLimitError(RuntimeError):
    """The server holds as many sessions of this kind as it is allowed."""


class SessionRegistry:
    """Counts open sessions against the limits; everything runs on the event loop.

    Parameters
    ----------
    max_sessions : int
        Sessions of any kind open at once.
    max_camera : int
        Of those, sessions sending camera images (each runs its own pose model).
    """

    def __init__(self, max_sessions: int, max_camera: int) -> None:
        self.max_sessions = max_sessions
        self.max_camera = max_camera
        self._closers: dict[str, Closer] = {}
        self._camera: set[str] = set()

    @property
    def open_count(self) -> int:
        return len(self._closers)

    @property
    def camera_count(self) -> int:
        return len(self._camera)

    @contextmanager
    def admit(self, camera: bool, closer: Closer) -> Iterator[str]:
        """Hold a place for one session for the duration of the ``with`` block.

        Raises
        ------
        SessionLimitError
            When the server is full; the message says which limit.
        """
        if len(self._closers) >= self.max_sessions:
            raise SessionLimitError(
                f"the tutor already has {self.max_sessions} sessions open, its limit; try again "
                f"shortly"
            )
        if camera and len(self._camera) >= self.max_camera:
            raise SessionLimitError(
                f"the tutor is already watching {self.max_camera} cameras, its limit; try again "
                f"shortly or send landmarks instead"
            )
        session_id = uuid.uuid4().hex[:12]
        self._closers[session_id] = closer
        if camera:
            self._camera.add(session_id)
        try:
            yield session_id
        finally:
            self._closers.pop(session_id, None)
            self._camera.discard(session_id)

    async def close_all(self, reason: str) -> None:
        """Ask every open session to close (server shutdown)."""
        for closer in list(self._closers.values()):
            with suppress(Exception):
                await closer(reason)


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame as it arrived: a JPEG (image mode) or the client's landmarks."""

    seq: int
    capture_ms: float
    arrived: float
    """``time.monotonic()`` seconds at arrival."""
    jpeg: bytes | None = None
    landmarks: ClientPose | None = None


@dataclass(frozen=True, eq=False)
class Observation:
    """What one frame showed: when (seconds since the session's first frame) and who."""

    t: float
    pose: FramePose | None
    image_size: tuple[int, int]


LANDMARK_DECIMALS = 4
ATTEMPT_MAX_FRAMES = 5 * 60 * 30
"""Frames of a practice kept for its replay (five minutes at 30 fps); a longer practice keeps
its first five minutes."""


def landmarks_payload(pose: FramePose | None) -> list[list[float]] | None:
    """33 x ``[x, y, z, visibility]`` rounded for the wire, or None for nobody."""
    if pose is None:
        return None
    rows = np.concatenate([pose.image_xyz, pose.visibility[:, None]], axis=1)
    payload: list[list[float]] = np.round(rows, LANDMARK_DECIMALS).tolist()
    return payload


class PoseSource:
    """Turns a session's frames into poses.

    In image mode it owns a :class:`PoseEstimator` in video mode (tracking between frames);
    in landmarks mode the client's landmarks are taken as they are. Times are the client's
    capture times, counted from the first frame and forced to increase.

    Parameters
    ----------
    mode : {"image", "landmarks"}
    model_path : Path
        The pose model (image mode only).
    max_pixels : int
        Largest decoded frame.
    """

    def __init__(self, mode: InputMode, model_path: Path, max_pixels: int) -> None:
        self.mode = mode
        self.max_pixels = max_pixels
        self._estimator = (PoseEstimator(model_path, mode="video", background=True)
                           if mode == "image" else None)
        self._first_ms: float | None = None
        self._last_t = -math.inf

    def read(self, frame: Frame) -> Observation:
        """The pose in ``frame``.

        Raises
        ------
        FrameError
            When the JPEG cannot be decoded or is too large.
        """
        if self._first_ms is None:
            self._first_ms = frame.capture_ms
        t = max(self.seconds(frame.capture_ms), self._last_t + 0.001)
        self._last_t = t
        if frame.landmarks is not None:
            return Observation(t, frame.landmarks.pose, frame.landmarks.image_size)
        if self._estimator is None or frame.jpeg is None:
            raise FrameError("this session takes landmarks, not images")
        try:
            rgb = decode_jpeg(frame.jpeg, max_pixels=self.max_pixels)
        except DecodeError as exc:
            raise FrameError(str(exc)) from exc
        pose = self._estimator.detect(rgb, t * 1000.0)
        return Observation(t, pose, (rgb.shape[1], rgb.shape[0]))

    def seconds(self, capture_ms: float) -> float:
        """A time of the client's capture clock (ms) in the session's seconds, counted from the
        first frame read."""
        if self._first_ms is None:
            raise ValueError("no frame has been read yet: the session's clock has no start")
        return (capture_ms - self._first_ms) / 1000.0

    def close(self) -> None:
        if self._estimator is not None:
            self._estimator.close()
            self._estimator = None


class Worker(Protocol):
    """What the WebSocket handler needs of a session's worker (all calls from threads)."""

    mode: InputMode
    step_names: list[str]

    @property
    def full(self) -> bool:
        """True when the session cannot take more frames (a recording at its limit)."""

    def process(self, frame: Frame) -> LiveData:
        """The update for one frame (raises :class:`FrameError` for an unusable frame)."""

    def request_restart(self, step: str | None, music_start_ms: float | None = None,
                        rate: float | None = None) -> None:
        """Start afresh with the next frame (raises UserError for an unknown step); the music
        of the part started at ``music_start_ms`` (the frames' capture clock) at ``rate``."""

    def closing(self, counts: FrameCounts) -> Summary | Recorded:
        """The session's last message: the summary or the recorded take.

        Raises UserError when there is nothing to close with (a take showing nobody).
        """

    def practice_record(self, summary: Summary | Recorded) -> PracticeRecord | None:
        """The finished practice to keep in the learner's history, or None (a recording, or
        nothing was scored)."""

    def close(self) -> None:
        """Free the pose model; safe to call twice and while ``process`` runs."""


class _Guarded:
    """Serialises ``process``, ``finish`` and ``close`` so the model is never freed mid-frame;
    ``close`` frees the session's :class:`Take` too."""

    def __init__(self, source: PoseSource, take: Take) -> None:
        self.source = source
        self.mode = source.mode
        self.take = take
        self._lock = threading.Lock()
        self._closed = False

    @contextmanager
    def _using(self) -> Iterator[None]:
        with self._lock:
            if self._closed:
                raise FrameError("the session is closed")
            yield

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self.source.close()
                self.take.close()


class Take:
    """The poses a session saw since its last restart, as a webcam ``.pose.json`` sequence:
    an instructor's take, or the learner's attempt kept with a practice for its replay.

    At most ``max_frames`` are kept (None: as many as come); past them :attr:`full` is true
    and frames are dropped. An attempt's frames carry the reference frame the live aligner had
    reached (``reference_frames`` in the document, for the replay's two skeletons side by side).

    Each frame is 231 float32 values (image landmarks, visibility, world landmarks; NaN for
    nobody or no world landmarks), written to an anonymous temporary file: a session holds a
    few kilobytes of memory however long it runs, so a class's memory stays flat, and the file
    is gone with the session, or with the process if it is killed. Should the disk refuse a
    frame, the take keeps none from then on and :meth:`sequence` says why.
    """

    _WIDTH = N_LANDMARKS * 7

    def __init__(self, max_frames: int | None = None) -> None:
        self.max_frames = max_frames
        self.image_size = (1, 1)
        self._rows = tempfile.TemporaryFile(prefix="dance-tutor-take-")  # noqa: SIM115 (close())
        self.restart()

    @property
    def frames(self) -> int:
        return len(self._t)

    @property
    def elapsed_s(self) -> float:
        """The time of the last frame kept in the take (0 when none)."""
        return self._t[-1] if self._t else 0.0

    @property
    def full(self) -> bool:
        return self.max_frames is not None and self.frames >= self.max_frames

    @property
    def kept(self) -> bool:
        """True when the take holds somebody and the disk took all its frames."""
        return self.anybody and self._lost is None

    def restart(self) -> None:
        self._start_t: float | None = None
        self._t = array("d")
        self._reference_frames = array("f")
        self._rows.seek(0)
        self._rows.truncate()
        self._lost: str | None = None
        self.anybody = False

    def close(self) -> None:
        self._rows.close()

    def add(self, t: float, pose: FramePose | None, image_size: tuple[int, int],
            reference_frame: float | None = None) -> float:
        """Keep a frame seen at ``t`` (the session's clock); its time in the take."""
        if self._start_t is None:
            self._start_t = t
        elapsed = t - self._start_t
        self.image_size = image_size
        if self.full or self._lost is not None:
            return elapsed
        row = np.full(self._WIDTH, np.nan, dtype=np.float32)
        if pose is not None:
            row[:3 * N_LANDMARKS] = pose.image_xyz.ravel()
            row[3 * N_LANDMARKS:4 * N_LANDMARKS] = pose.visibility
            row[4 * N_LANDMARKS:] = pose.world_xyz.ravel()
        try:
            self._rows.write(row.tobytes())
        except OSError as exc:
            self._lost = exc.strerror or str(exc)
            logger.warning("a take stops keeping frames: the disk refused one (%s)", self._lost)
            return elapsed
        self._t.append(elapsed)
        self.anybody = self.anybody or pose is not None
        if reference_frame is not None:
            self._reference_frames.append(reference_frame)
        return elapsed

    def sequence(self) -> PoseSequence:
        """The take as a sequence.

        Raises
        ------
        UserError
            When the disk refused the take's frames.
        """
        if self._lost is not None:
            raise UserError(f"the server could not keep the take on its disk ({self._lost})")
        self._rows.seek(0)
        rows = np.frombuffer(self._rows.read(), dtype=np.float32).reshape(-1, self._WIDTH)
        rows = rows.astype(np.float64)
        t = np.frombuffer(self._t, dtype=np.float64)
        image = rows[:, :3 * N_LANDMARKS].reshape(-1, N_LANDMARKS, 3)
        visibility = rows[:, 3 * N_LANDMARKS:4 * N_LANDMARKS]
        world = rows[:, 4 * N_LANDMARKS:].reshape(-1, N_LANDMARKS, 3)
        seen = np.asarray(np.isfinite(visibility).all(axis=1), dtype=bool)
        with_world = np.asarray(np.isfinite(world).all(axis=(1, 2)), dtype=bool)
        fps = (len(t) - 1) / float(t[-1] - t[0]) if len(t) > 1 and t[-1] > t[0] else 30.0
        seq = PoseSequence.from_frames(
            t,
            [image[k] if seen[k] else None for k in range(len(t))],
            [visibility[k] if seen[k] else None for k in range(len(t))],
            [world[k] if seen[k] and with_world[k] else None for k in range(len(t))],
            fps=fps, image_size=self.image_size,
            source=Source("webcam", "recorded in the browser"),
        )
        if len(self._reference_frames) == len(t):
            seq.extra["reference_frames"] = [round(f, 2) for f in self._reference_frames]
        return seq


class RecordingWorker(_Guarded):
    """Collects an instructor's take; :meth:`request_restart` starts it over (after the
    countdown), :meth:`finish` returns it as a ``.pose.json`` document.

    Parameters
    ----------
    source : PoseSource
    max_s : float
        Longest take; :attr:`full` turns true past it.
    """

    def __init__(self, source: PoseSource, max_s: float) -> None:
        super().__init__(source, Take())
        self.step_names: list[str] = []
        self.max_s = max_s
        self._restart = False

    @property
    def full(self) -> bool:
        return self.take.frames > 0 and self.take.elapsed_s >= self.max_s

    def request_restart(self, step: str | None, music_start_ms: float | None = None,
                        rate: float | None = None) -> None:
        if step is not None:
            raise UserError("a recording has no steps to loop")
        self._restart = True

    def process(self, frame: Frame) -> LiveData:
        with self._using():
            seen = self.source.read(frame)
            if self._restart:
                self._restart = False
                self.take.restart()
            elapsed = self.take.add(seen.t, seen.pose, seen.image_size)
            return {"t": round(seen.t, 3), "elapsed_s": round(elapsed, 3),
                    "landmarks": landmarks_payload(seen.pose)}

    def practice_record(self, summary: Summary | Recorded) -> None:
        return None

    def closing(self, counts: FrameCounts) -> Recorded:
        """The take, and the part of it where the instructor moves as a suggested trim."""
        with self._using():
            if not self.take.anybody:
                raise UserError("nobody was seen during the recording, so there is no take")
            seq = self.take.sequence()
        span = moving_span(seq)
        trim = None
        if span is not None:
            start, stop = span
            trim = Trim(start_s=round(float(seq.t[start]), 3),
                        end_s=round(float(seq.t[stop - 1]) + 1 / seq.fps, 3))
        return Recorded(sequence=seq.to_dict(), suggested_trim=trim, frames=counts)


class PracticeWorker(_Guarded):
    """Scores one learner live against a step or a routine through a :class:`LiveSession`.

    Parameters
    ----------
    source : PoseSource
    target : Target
        A step's reference, or a routine's (whose report gets a score per part).
    options : ScoreOptions
        ``mirror`` and ``speed`` as the learner chose.
    fps_hint : float
        The camera's rough frame rate.
    step : str or None
        Loop this step of the reference from the start.
    latency : Latency or None
        The device's measured delays (None: uncalibrated), for the rhythm.
    """

    def __init__(self, source: PoseSource, target: Target, options: ScoreOptions,
                 fps_hint: float, step: str | None = None,
                 latency: Latency | None = None) -> None:
        super().__init__(source, Take(ATTEMPT_MAX_FRAMES))
        reference = target.reference
        self._routine = target.routine
        self._reference = reference
        self._options = options
        self._sequence = reference.sequence
        self._steps = {s.name: s for s in self._sequence.steps}
        self.step_names = list(self._steps)
        self.live = LiveSession(reference, options, fps_hint, beat_grid(self._sequence),
                                latency)
        self._pending: list[tuple[str | None, float | None, float | None]] = []
        self._looped: str | None = step
        self._started_at = now()
        if step is not None:
            self.request_restart(step)

    @property
    def full(self) -> bool:
        return False

    def request_restart(self, step: str | None, music_start_ms: float | None = None,
                        rate: float | None = None) -> None:
        if step is not None and step not in self._steps:
            known = ", ".join(repr(name) for name in self._steps) or "none"
            raise UserError(f"this reference has no step {step!r} (its steps: {known})")
        if step is not None:
            start, stop = self._sequence.step_frames(self._steps[step])
            if stop == start:
                raise UserError(f"step {step!r} holds no frame of this reference, so it "
                                 f"cannot be practised")
        self._pending = [(step, music_start_ms, rate)]

    def process(self, frame: Frame) -> LiveData:
        with self._using():
            seen = self.source.read(frame)
            if self._pending:
                self._looped, music_start_ms, rate = self._pending.pop()
                music_start_s = (None if music_start_ms is None
                                 else self.source.seconds(music_start_ms))
                self.live.reset(*self._frames_of(self._looped), music_start_s, rate)
                self.take.restart()
                self._started_at = now()
            pose = seen.pose
            if pose is None:
                update = self.live.push(seen.t, None, None, None, seen.image_size)
            else:
                world = pose.world_xyz if np.isfinite(pose.world_xyz).all() else None
                update = self.live.push(seen.t, pose.image_xyz, pose.visibility, world,
                                        seen.image_size)
            self.take.add(seen.t, pose, seen.image_size, update.ref_position)
            return update.to_dict()

    def closing(self, counts: FrameCounts) -> Summary:
        with self._using():
            try:
                report = self.live.finish()
            except NothingToScore:
                return Summary(report=None, frames=counts)
        if self._routine is not None and self._looped is None:
            report = routine_report(self._routine, report)
        return Summary(report=Report.of(report), frames=counts)

    def practice_record(self, summary: Summary | Recorded) -> PracticeRecord | None:
        if not isinstance(summary, Summary) or summary.report is None:
            return None
        with self._using():
            attempt = self.take.sequence() if self.take.kept else None
        return PracticeRecord(
            reference=self._routine.name if self._routine else self._reference.name or "",
            kind="routine" if self._routine else "step", started_at=self._started_at,
            finished_at=now(), speed=self._options.speed, mirror=self._options.mirror,
            loop_step=self._looped, report=summary.report.model_dump(mode="json"),
            attempt=attempt)

    def _frames_of(self, step: str | None) -> tuple[int, int | None]:
        """Reference frames ``start, end`` of a step, or ``0, None`` for the whole."""
        if step is None:
            return 0, None
        return self._sequence.step_frames(self._steps[step])


def beat_grid(seq: PoseSequence) -> BeatGrid | None:
    """The beat grid of a reference's music (``music`` in its ``.pose.json``: ``tempo_bpm``,
    ``first_beat_s``, ``meter``), or None when it has none; a grid that is not one is logged
    and left out (the practice goes on without rhythm)."""
    music = seq.extra.get("music")
    if not isinstance(music, dict) or not {"tempo_bpm", "first_beat_s", "meter"} <= set(music):
        return None
    tempo, first, meter = music["tempo_bpm"], music["first_beat_s"], music["meter"]
    if not (isinstance(tempo, int | float) and isinstance(first, int | float)
            and isinstance(meter, int)) or isinstance(meter, bool):
        logger.warning("the music of %r has no usable beat grid: %r", seq.name, music)
        return None
    try:
        return BeatGrid(float(tempo), float(first), meter)
    except UserError as exc:
        logger.warning("the music of %r has no usable beat grid: %s", seq.name, exc)
        return None


def open_worker(opening: StartPractice | StartRecording, library: Library, model_path: Path,
                settings: Settings) -> Worker:
    """The worker for a session as opened; loads its pose model (image mode).

    Raises
    ------
    UserError
        When the reference or the step does not exist (one sentence, no server paths).
    """
    if isinstance(opening, StartRecording):
        source = PoseSource(opening.mode, model_path, settings.max_frame_pixels)
        return RecordingWorker(source, settings.max_recording_s)
    try:
        target = library.scorable(opening.reference)
    except NotFound:
        raise NotFound(f"there is no step or routine named {opening.reference!r}") from None
    options = ScoreOptions(mirror=opening.mirror, speed=opening.speed)
    source = PoseSource(opening.mode, model_path, settings.max_frame_pixels)
    try:
        return PracticeWorker(source, target, options, opening.fps, opening.step,
                              None if opening.latency is None else opening.latency.seconds())
    except BaseException:
        source.close()
        raise
