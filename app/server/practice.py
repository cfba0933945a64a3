"""``/ws/practice``: one WebSocket per live session (protocol in ``protocol.py``).

The receiver reads messages and checks them. A camera frame goes to a one-frame mailbox
(newest wins), from which a second coroutine, the processor, takes it and runs the pose model
in a thread, so the model never blocks the event loop. A landmarks frame costs a tenth of a
millisecond, so the receiver answers it at once; when the event loop falls behind (too many
sessions for the machine), landmark sessions shed frames until it catches up (``LoopLag``).
The worker, and the pose model in it, is closed when the session ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import anyio
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from app.errors import UserError
from app.server.deps import get_state
from app.server.errors import sentence
from app.server.flow import FrameGate, Mailbox, Pacer, Verdict
from app.server.identity import practising_learner, teaching
from app.server.protocol import (
    FRAME_HEADER,
    JPEG_START,
    OPEN_MESSAGE,
    SESSION_MESSAGE,
    CloseCode,
    ErrorMessage,
    FrameCounts,
    FrameError,
    Kept,
    LandmarksFrame,
    Limits,
    Ready,
    Restart,
    ServerMessage,
    StartPractice,
    StartRecording,
    Stop,
    Summary,
    read_landmarks_frame,
    update_json,
)
from app.server.sessions import (
    Frame,
    LiveData,
    SessionLimitError,
    Worker,
    open_worker,
)
from app.server.settings import Settings
from app.server.state import ServerState
from app.validation import describe, first_error

logger = logging.getLogger(__name__)
router = APIRouter()

RATE_NOTICE_INTERVAL_S = 1.0
MAX_CLOSE_REASON_BYTES = 123
INTERNAL_FAILURE = "The tutor failed on this session; please start again."
"""All a client is told of a failure of the server (its log has the trace)."""


class _Closed(Exception):
    """The session is over (the client left, went idle, or broke the protocol)."""


class _Channel:
    """The WebSocket with the session's rules: size and idle limits, serialised sends."""

    def __init__(self, websocket: WebSocket, settings: Settings) -> None:
        self.websocket = websocket
        self.settings = settings
        self.last_heard = time.monotonic()
        self._send_lock = asyncio.Lock()

    async def send(self, message: ServerMessage | str) -> None:
        """Send a message, or its JSON text already made (see ``update_json``)."""
        text = message if isinstance(message, str) else message.model_dump_json()
        async with self._send_lock:
            if self.websocket.application_state is WebSocketState.CONNECTED:
                await self.websocket.send_text(text)

    async def fail(self, code: str, text: str, close_code: CloseCode) -> None:
        """Tell the client why, then close the session."""
        with contextlib.suppress(Exception):
            await self.send(ErrorMessage(code=code, message=text, fatal=True))
            async with self._send_lock:
                if self.websocket.application_state is WebSocketState.CONNECTED:
                    await self.websocket.close(code=close_code, reason=_close_reason(text))

    async def receive(self) -> bytes | str:
        """The next message; raises :class:`_Closed` on disconnect or oversize (and once
        :meth:`close_when_idle` has closed an idle session)."""
        message = await self.websocket.receive()
        self.last_heard = time.monotonic()
        if message["type"] == "websocket.disconnect":
            raise _Closed
        data: bytes | str | None = message.get("bytes")
        if data is None:
            data = message.get("text") or ""
        if len(data) > self.settings.max_message_bytes:
            await self.fail("too_big", f"A message of {len(data)} bytes is over the limit of "
                                       f"{self.settings.max_message_bytes}.", CloseCode.TOO_BIG)
            raise _Closed
        return data

    async def close_when_idle(self) -> None:
        """Close the session once nothing has arrived for ``session_idle_s``.

        One sleeping task per session rather than a timeout around every receive, which cost
        a few per cent of the event loop with 100 sessions streaming.
        """
        idle_s = self.settings.session_idle_s
        while (quiet := time.monotonic() - self.last_heard) < idle_s:
            await asyncio.sleep(idle_s - quiet)
        await self.fail("idle", f"Nothing arrived for {idle_s:g} s, so the session was closed.",
                        CloseCode.IDLE)


def _close_reason(text: str) -> str:
    """``text`` cut to the 123 bytes a close frame allows, on a character boundary."""
    return text.encode("utf-8")[:MAX_CLOSE_REASON_BYTES].decode("utf-8", errors="ignore")


@router.websocket("/ws/practice")
async def practice(websocket: WebSocket) -> None:
    """A live practice or recording session; see docs/protocol.md."""
    state = get_state(websocket)
    if not _origin_allowed(websocket, state.settings):
        await websocket.close(code=CloseCode.POLICY, reason="origin not allowed")
        return
    await websocket.accept()
    state.loop_lag.start()
    channel = _Channel(websocket, state.settings)
    watchdog = asyncio.create_task(channel.close_when_idle())
    try:
        with contextlib.suppress(_Closed, WebSocketDisconnect):
            opening = await _opening(channel, state)
            learner = await anyio.to_thread.run_sync(practising_learner, websocket, state)
            await _Session(channel, state, opening, learner).run()
    except Exception:
        logger.exception("session failed")
        await channel.fail("internal", INTERNAL_FAILURE, CloseCode.INTERNAL)
    finally:
        watchdog.cancel()


def _origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """Browsers send ``Origin``; only the page's own (or configured) origins may connect."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    host = websocket.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}") or origin in settings.allowed_origins


async def _opening(channel: _Channel, state: ServerState) -> StartPractice | StartRecording:
    data = await channel.receive()
    if isinstance(data, bytes):
        await channel.fail("not_open", "Open the session with a JSON 'start' or 'record' "
                                       "message before sending frames.", CloseCode.UNSUPPORTED)
        raise _Closed
    try:
        opening = OPEN_MESSAGE.validate_json(data)
    except ValidationError as exc:
        await channel.fail("bad_open", f"The first message must be 'start' or 'record': "
                                       f"{describe(first_error(exc))}.", CloseCode.POLICY)
        raise _Closed from None
    if isinstance(opening, StartRecording) and not (
            state.token.matches(opening.token)
            or await anyio.to_thread.run_sync(teaching, channel.websocket, state)):
        await channel.fail("unauthorised", "Recording needs the instructor token or a "
                                           "teacher's login.", CloseCode.POLICY)
        raise _Closed
    return opening


class _Session:
    """One admitted session: receiver and processor around a worker."""

    def __init__(self, channel: _Channel, state: ServerState,
                 opening: StartPractice | StartRecording, learner: str | None) -> None:
        self.channel = channel
        self.learner = learner
        """Whose history a finished practice goes to (None: nobody is known)."""
        self.state = state
        self.opening = opening
        self.settings = state.settings
        self.gate = FrameGate(self.settings.max_frame_rate)
        self.mailbox: Mailbox[Frame] = Mailbox()
        self.pacer = Pacer()
        self.last_rate_notice = -RATE_NOTICE_INTERVAL_S
        self.free_since = time.monotonic()
        """When the worker last finished a frame (a frame that arrived later did not wait)."""
        self.shed_until = 0.0
        """Landmark frames arriving before this are shed (the event loop is behind)."""
        self.ended = False
        """The session cannot go on (a server failure, a full recording)."""

    async def run(self) -> None:
        camera = self.opening.mode == "image"
        try:
            with self.state.sessions.admit(camera, self._close_for_shutdown) as session_id:
                await self._run_admitted(session_id)
        except SessionLimitError as exc:
            await self.channel.fail("busy", f"{str(exc).capitalize()}.", CloseCode.TRY_LATER)

    async def _run_admitted(self, session_id: str) -> None:
        try:
            worker = await anyio.to_thread.run_sync(
                open_worker, self.opening, self.state.library, self.state.model_path,
                self.settings)
        except UserError as exc:
            await self.channel.fail("bad_open", sentence(exc), CloseCode.POLICY)
            return
        try:
            await self.channel.send(self._ready(session_id, worker))
            stopped = await self._stream(worker)
            if stopped:
                await self._finish(worker)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(worker.close)

    def _ready(self, session_id: str, worker: Worker) -> Ready:
        s = self.settings
        return Ready(
            session=session_id,
            kind="record" if isinstance(self.opening, StartRecording) else "practice",
            mode=self.opening.mode,
            reference=getattr(self.opening, "reference", None),
            steps=worker.step_names,
            limits=Limits(max_message_bytes=s.max_message_bytes,
                          max_frame_pixels=s.max_frame_pixels, max_frame_rate=s.max_frame_rate,
                          idle_s=s.session_idle_s, max_recording_s=s.max_recording_s),
        )

    async def _stream(self, worker: Worker) -> bool:
        """Receive until ``stop`` (True) or the end of the connection (False)."""
        processor = (asyncio.create_task(self._process(worker)) if worker.mode == "image"
                     else None)
        stopped = False
        try:
            stopped = await self._receive(worker, processor)
        finally:
            self.mailbox.close()
            if processor is not None:
                if not stopped:
                    processor.cancel()
                with anyio.CancelScope(shield=True):
                    await asyncio.gather(processor, return_exceptions=True)
        return stopped

    async def _receive(self, worker: Worker, processor: asyncio.Task[None] | None) -> bool:
        while not self.ended and not (processor is not None and processor.done()):
            data = await self.channel.receive()
            if isinstance(data, bytes):
                await self._on_binary(data, worker)
                continue
            try:
                message = SESSION_MESSAGE.validate_json(data)
            except ValidationError as exc:
                await self._notice("bad_message", f"That message was not understood: "
                                                  f"{describe(first_error(exc))}.")
                continue
            if isinstance(message, Stop):
                return True
            if isinstance(message, Restart):
                await self._on_restart(message, worker)
            else:
                await self._on_landmarks(message, worker)
        return worker.full

    async def _on_binary(self, data: bytes, worker: Worker) -> None:
        """A camera frame (image mode) or a binary landmarks frame (landmarks mode)."""
        if worker.mode == "landmarks":
            if data[FRAME_HEADER.size:FRAME_HEADER.size + 2] == JPEG_START:
                self.gate.malformed()
                await self._notice("wrong_mode", "This session takes landmarks, not images.")
                return
            try:
                seq, capture_ms, pose = read_landmarks_frame(data)
            except FrameError as exc:
                self.gate.malformed()
                await self._notice("bad_frame", sentence(exc))
                return
            await self._offer(Frame(seq=seq, capture_ms=capture_ms, arrived=time.monotonic(),
                                    landmarks=pose), worker)
            return
        if len(data) <= FRAME_HEADER.size:
            self.gate.malformed()
            await self._notice("bad_frame", f"A frame needs a {FRAME_HEADER.size}-byte header "
                                            f"followed by a JPEG image.")
            return
        seq, capture_ms = FRAME_HEADER.unpack_from(data)
        await self._offer(Frame(seq=seq, capture_ms=capture_ms, arrived=time.monotonic(),
                                jpeg=data[FRAME_HEADER.size:]), worker)

    async def _on_landmarks(self, message: LandmarksFrame, worker: Worker) -> None:
        if worker.mode != "landmarks":
            self.gate.malformed()
            await self._notice("wrong_mode", "This session takes JPEG images, not landmarks.")
            return
        await self._offer(Frame(seq=message.seq, capture_ms=message.capture_ms,
                                arrived=time.monotonic(), landmarks=message.client_pose()),
                          worker)

    async def _on_restart(self, message: Restart, worker: Worker) -> None:
        try:
            worker.request_restart(message.step, message.music_start_ms, message.rate)
        except UserError as exc:
            await self._notice("bad_step", str(exc))

    async def _offer(self, frame: Frame, worker: Worker) -> None:
        verdict = self.gate.admit(frame.seq, frame.arrived)
        if verdict is Verdict.ADMIT:
            if frame.jpeg is not None:
                self.pacer.arrived(frame.arrived)
                if self.mailbox.put(frame) is not None:
                    self.gate.superseded()
            else:
                self.state.frame_budget.frame()
                if frame.arrived < self.shed_until:
                    self.gate.shed()
                else:
                    pace_s = self._pace_s()
                    self.shed_until = frame.arrived + 0.5 * pace_s
                    await self._answer(worker, frame, pace_s)
        elif (verdict is Verdict.RATE_LIMITED
              and frame.arrived - self.last_rate_notice >= RATE_NOTICE_INTERVAL_S):
            self.last_rate_notice = frame.arrived
            await self._notice("rate_limited", f"Frames are arriving faster than "
                                               f"{self.settings.max_frame_rate:g} per second; "
                                               f"the extra ones are dropped.")

    def _pace_s(self) -> float:
        """The interval a landmarks session is asked to keep between frames: its share of the
        loop (:class:`~app.server.flow.FrameBudget`), longer while the loop runs late
        (:class:`~app.server.flow.LoopLag`)."""
        sessions = self.state.sessions
        return max(self.state.frame_budget.interval_s(sessions.open_count - sessions.camera_count),
                   self.state.loop_lag.shed_interval())

    async def _process(self, worker: Worker) -> None:
        """Answer camera frames from the mailbox, one at a time, until the session ends."""
        while not self.ended and (frame := await self.mailbox.take()) is not None:
            await self._answer(worker, await self._freshest(frame))

    async def _answer(self, worker: Worker, frame: Frame, pace_s: float = 0.0) -> None:
        """Process one frame and send its update, asking for ``pace_s`` between the next
        frames; a failure of the server ends the session."""
        started = time.monotonic()
        try:
            live = await self._run(worker, frame)
        except FrameError as exc:
            self.free_since = time.monotonic()
            self.gate.failed()
            await self._notice("bad_frame", f"Frame {frame.seq}: {exc}")
            return
        except Exception:
            logger.exception("session failed on frame %d", frame.seq)
            self.ended = True
            await self.channel.fail("internal", INTERNAL_FAILURE, CloseCode.INTERNAL)
            return
        self.free_since = time.monotonic()
        self.gate.processed()
        await self.channel.send(update_json(
            frame.seq,
            {"capture_ms": frame.capture_ms,
             "queued_ms": round((started - frame.arrived) * 1000, 2),
             "processing_ms": round((self.free_since - started) * 1000, 2),
             "pace_ms": round(pace_s * 1000, 1)},
            self.gate.counts, live))
        if worker.full:
            self.ended = True
            await self._notice("recording_full", f"Recordings stop at "
                                                 f"{self.settings.max_recording_s:g} s.")

    @staticmethod
    async def _run(worker: Worker, frame: Frame) -> LiveData:
        """Process a frame: a camera image in a thread (the pose model), landmarks in the loop.

        A landmark frame costs about a tenth of a millisecond of Python; handing it to a thread
        would add that much again and make a hundred sessions' threads trade the GIL with the
        event loop, which starves everyone.
        """
        if worker.mode == "landmarks":
            return worker.process(frame)
        return await anyio.to_thread.run_sync(worker.process, frame)

    async def _freshest(self, frame: Frame) -> Frame:
        """``frame``, or a fresher one due within the pacer's hold.

        Only a frame that waited while the model was busy is stale; one that arrived to an
        idle model is as fresh as frames get (and its sender may be waiting for our answer).
        """
        if frame.arrived >= self.free_since:
            return frame
        hold = self.pacer.hold(time.monotonic())
        if hold and (fresher := await self.mailbox.newer(hold)) is not None:
            self.gate.superseded()
            return fresher
        return frame

    async def _finish(self, worker: Worker) -> None:
        try:
            message = await anyio.to_thread.run_sync(worker.closing, self._counts())
        except UserError as exc:
            await self.channel.fail("nothing_to_report", sentence(exc), CloseCode.NORMAL)
            return
        record = worker.practice_record(message)
        if record is not None and self.learner is not None and isinstance(message, Summary):
            kept = await anyio.to_thread.run_sync(self.state.store.keep, self.learner, record)
            stored = kept.stored
            message = message.model_copy(update={"kept": Kept(
                stored=stored is not None, pending=kept.pending,
                practice=stored.id if stored else None,
                tries_today=stored.tries_today if stored else None,
                change=round(stored.change, 1) if stored and stored.change is not None else None,
                message=kept.message)})
        await self.channel.send(message)
        await self.channel.websocket.close(code=CloseCode.NORMAL)

    def _counts(self) -> FrameCounts:
        return self.gate.counts.model_copy()

    async def _notice(self, code: str, text: str) -> None:
        await self.channel.send(ErrorMessage(code=code, message=text))

    async def _close_for_shutdown(self, reason: str) -> None:
        await self.channel.fail("shutdown", reason, CloseCode.GOING_AWAY)
