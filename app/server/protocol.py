"""Every message of the ``/ws/practice`` WebSocket, both directions (docs/protocol.md).

A session is one WebSocket. The client's first message is a JSON ``start`` (practise a
reference) or ``record`` (an instructor records a take). Then it sends camera frames, each a
binary message: :data:`FRAME_HEADER` (sequence number, capture time) followed by the JPEG
bytes; or, in ``"landmarks"`` mode, poses the client found itself, either as binary messages
(:data:`LANDMARKS_HEADER` and float32 arrays, read by :func:`read_landmarks_frame`) or as JSON
:class:`LandmarksFrame` messages. The server answers each processed frame with an
:class:`Update` and ends the session with a :class:`Summary` (practice) or a :class:`Recorded`
take, then closes with code 1000. Problems come back as :class:`ErrorMessage`; a fatal one is
followed by a close.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from app.errors import UserError
from app.pose import FramePose
from app.report import RATINGS
from app.report_schema import Report
from app.rhythm import Latency as DeviceLatency
from app.sequence import N_LANDMARKS

FRAME_HEADER = struct.Struct("<Id")
"""Binary frame header, little-endian: ``uint32`` sequence number, ``float64`` capture time in
milliseconds (any clock that increases, e.g. ``performance.now()``). The JPEG follows."""

LANDMARKS_HEADER = struct.Struct("<IdHH")
"""Binary landmarks frame header, little-endian: the :data:`FRAME_HEADER` fields, then the
image's ``uint16`` width and height. Then, as little-endian float32: nothing when nobody is in
view; or 33 x (x, y, z, visibility) normalised image landmarks; or those followed by
33 x (x, y, z) world landmarks in metres."""

JPEG_START = b"\xff\xd8"
"""The first bytes of every JPEG: a camera frame sent where landmarks were due."""

_IMAGE_FLOATS = 4 * N_LANDMARKS
_WORLD_FLOATS = 3 * N_LANDMARKS
LANDMARKS_FRAME_SIZES = (LANDMARKS_HEADER.size, LANDMARKS_HEADER.size + 4 * _IMAGE_FLOATS,
                         LANDMARKS_HEADER.size + 4 * (_IMAGE_FLOATS + _WORLD_FLOATS))
"""The three lengths a binary landmarks frame can have: nobody, image landmarks, both."""

MAX_SEQ = 2**32 - 1
RATING = "One of " + ", ".join(name for name, _ in RATINGS) + " (GET /api/config gives the tiers)."


class FrameError(UserError):
    """One frame cannot be used (not a JPEG, too large, a broken landmarks frame); the session
    carries on."""


class CloseCode(IntEnum):
    """WebSocket close codes the server uses."""

    NORMAL = 1000
    """The session ended: the summary or the recorded take was sent."""
    GOING_AWAY = 1001
    """The server is shutting down."""
    UNSUPPORTED = 1003
    """A binary frame before the session was opened, or text where a frame was due."""
    POLICY = 1008
    """The session could not be opened: bad first message, origin or token."""
    TOO_BIG = 1009
    """A message over the size limit."""
    INTERNAL = 1011
    """The server failed; the session is over but the server carries on."""
    TRY_LATER = 1013
    """Too many sessions are open; try again shortly."""
    IDLE = 4000
    """The client sent nothing for ``session_idle_s`` seconds."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_IMAGE_COORDINATE = 10.0
"""Largest ``|x|``, ``|y|``, ``|z|`` (and visibility) of an image landmark, in image widths: a
pose model places joints out of view a little outside 0..1, never ten pictures away."""
MAX_WORLD_M = 10.0
"""Largest ``|x|``, ``|y|``, ``|z|`` of a world landmark, in metres from the hips."""
ImageNumber = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_IMAGE_COORDINATE,
                                     le=MAX_IMAGE_COORDINATE)]
WorldNumber = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_WORLD_M, le=MAX_WORLD_M)]
Point4 = Annotated[list[ImageNumber], Field(min_length=4, max_length=4)]
Point3 = Annotated[list[WorldNumber], Field(min_length=3, max_length=3)]
Points4 = Annotated[list[Point4], Field(min_length=N_LANDMARKS, max_length=N_LANDMARKS)]
Points3 = Annotated[list[Point3], Field(min_length=N_LANDMARKS, max_length=N_LANDMARKS)]
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ)]
InputMode = Literal["image", "landmarks"]


class ImageSize(_Message):
    width: int = Field(ge=1, le=16384)
    height: int = Field(ge=1, le=16384)


# --- client to server -------------------------------------------------------------------------

MAX_LATENCY_MS = 1000.0
"""Largest camera or audio delay a device may report, ms (Bluetooth speakers reach 300)."""
MIN_SPEED = 0.25
MAX_SPEED = 2.0
"""Playback speeds of the reference and its music."""


class Latency(_Message):
    """A device's measured delays, for the rhythm's timing (null in ``start``: uncalibrated)."""

    camera_ms: float = Field(
        ge=0, le=MAX_LATENCY_MS, allow_inf_nan=False,
        description="The camera's and the pose model's delay, ms: a frame's capture_ms comes "
                    "this long after the movement it shows.")
    audio_ms: float = Field(
        ge=0, le=MAX_LATENCY_MS, allow_inf_nan=False,
        description="The audio output's delay, ms: a beat is heard this long after the page "
                    "plays it.")

    def seconds(self) -> DeviceLatency:
        """The delays as the rhythm measure takes them."""
        return DeviceLatency(self.camera_ms / 1000.0, self.audio_ms / 1000.0)


class StartPractice(_Message):
    """Open a practice session against one reference."""

    type: Literal["start"]
    reference: str = Field(min_length=1, max_length=100, description="Reference name.")
    mirror: bool = Field(
        default=True,
        description="The learner mirrors the reference, as in a studio mirror (their left "
                    "copies its right).")
    speed: float = Field(
        default=1.0, ge=MIN_SPEED, le=MAX_SPEED,
        description="Reference playback speed the learner follows (0.5, 0.75, 1).")
    mode: InputMode = Field(default="image", description="Frames are JPEG images or landmarks.")
    step: str | None = Field(default=None, max_length=100, description="Loop this step only.")
    fps: float = Field(default=30.0, gt=0, le=120, description="The camera's rough frame rate.")
    latency: Latency | None = Field(
        default=None,
        description="This device's measured camera and audio delays; null (or absent): not "
                    "calibrated, so the rhythm's words say the timing is uncalibrated rather "
                    "than blame the learner.")


class StartRecording(_Message):
    """Open a recording session (instructor): frames become a take, no scoring."""

    type: Literal["record"]
    token: str = Field(max_length=200, description="The instructor token.")
    mode: InputMode = "image"
    fps: float = Field(default=30.0, gt=0, le=120)


class LandmarksFrame(_Message):
    """One frame's pose found by the client (``"landmarks"`` mode)."""

    type: Literal["landmarks"]
    seq: Seq
    capture_ms: float = Field(allow_inf_nan=False)
    image: ImageSize
    landmarks: Points4 | None = Field(
        description="33 x (x, y, z, visibility) in normalised image coordinates, or null "
                    "when nobody is in view.")
    world: Points3 | None = Field(
        default=None, description="33 x (x, y, z) metres, hip-centred.")


    def client_pose(self) -> ClientPose:
        """The pose as the session reads it."""
        if self.landmarks is None:
            return ClientPose((self.image.width, self.image.height), None)
        points = np.asarray(self.landmarks, dtype=np.float64)
        world = (np.asarray(self.world, dtype=np.float64) if self.world is not None
                 else np.full((N_LANDMARKS, 3), np.nan))
        return ClientPose((self.image.width, self.image.height),
                          FramePose(points[:, :3], np.clip(points[:, 3], 0.0, 1.0), world))


@dataclass(frozen=True, eq=False)
class ClientPose:
    """A pose the client found itself, from either landmarks format.

    ``pose`` is None when nobody is in view; its world landmarks are NaN when not sent.
    """

    image_size: tuple[int, int]
    pose: FramePose | None


def read_landmarks_frame(data: bytes) -> tuple[int, float, ClientPose]:
    """Sequence number, capture time (ms) and pose of a binary landmarks frame.

    Raises
    ------
    FrameError
        One sentence: the length is none of :data:`LANDMARKS_FRAME_SIZES`, the image size is
        zero, or a number is not finite or out of range (:data:`MAX_IMAGE_COORDINATE`,
        :data:`MAX_WORLD_M`).
    """
    if len(data) not in LANDMARKS_FRAME_SIZES:
        nobody, image, both = LANDMARKS_FRAME_SIZES
        raise FrameError(f"a binary landmarks frame is {nobody}, {image} or {both} bytes long, "
                         f"not {len(data)}")
    seq, capture_ms, width, height = LANDMARKS_HEADER.unpack_from(data)
    if not (width and height):
        raise FrameError(f"the image size {width}x{height} must not be zero")
    if not np.isfinite(capture_ms):
        raise FrameError("the capture time is not a finite number")
    if len(data) == LANDMARKS_HEADER.size:
        return seq, capture_ms, ClientPose((width, height), None)
    values = np.frombuffer(data, dtype="<f4", offset=LANDMARKS_HEADER.size).astype(np.float64)
    if not np.isfinite(values).all():
        raise FrameError("the landmarks hold a number that is not finite")
    if np.abs(values[:_IMAGE_FLOATS]).max() > MAX_IMAGE_COORDINATE:
        raise FrameError(f"an image landmark is more than {MAX_IMAGE_COORDINATE:g} image widths "
                         "from the picture")
    if len(values) > _IMAGE_FLOATS and np.abs(values[_IMAGE_FLOATS:]).max() > MAX_WORLD_M:
        raise FrameError(f"a world landmark is more than {MAX_WORLD_M:g} m from the hips")
    points = values[:_IMAGE_FLOATS].reshape(N_LANDMARKS, 4)
    world = (values[_IMAGE_FLOATS:].reshape(N_LANDMARKS, 3) if len(values) > _IMAGE_FLOATS
             else np.full((N_LANDMARKS, 3), np.nan))
    pose = FramePose(points[:, :3], np.clip(points[:, 3], 0.0, 1.0), world)
    return seq, capture_ms, ClientPose((width, height), pose)


def landmarks_frame(seq: int, capture_ms: float, image_size: tuple[int, int],
                    landmarks: npt.ArrayLike | None = None,
                    world: npt.ArrayLike | None = None) -> bytes:
    """A binary landmarks frame as a client sends it (what :func:`read_landmarks_frame` reads).

    ``landmarks`` is 33 x (x, y, z, visibility) or None for nobody; ``world`` 33 x (x, y, z)
    or None. In JavaScript the same is a ``DataView`` over the header and a ``Float32Array``.
    """
    data = LANDMARKS_HEADER.pack(seq, capture_ms, *image_size)
    if landmarks is None:
        return data
    data += np.asarray(landmarks, dtype="<f4").reshape(_IMAGE_FLOATS).tobytes()
    if world is not None:
        data += np.asarray(world, dtype="<f4").reshape(_WORLD_FLOATS).tobytes()
    return data


class Restart(_Message):
    """Start scoring afresh from the beginning of ``step`` (looping it) or of the reference.

    The page sends it when its countdown ends, and to loop one step again and again. With
    ``music_start_ms`` the closing report judges the rhythm against the music's beats.
    """

    type: Literal["restart"]
    step: str | None = Field(default=None, max_length=100)
    music_start_ms: float | None = Field(
        default=None, allow_inf_nan=False,
        description="When the music of the practised part (the step's start, or the "
                    "reference's) started playing, ms, in the clock of the frames' capture_ms; "
                    "null or absent: no music timing, so no rhythm in the report.")
    rate: float | None = Field(
        default=None, ge=MIN_SPEED, le=MAX_SPEED, allow_inf_nan=False,
        description="The speed the music plays at (0.5: half speed); null or absent: the "
                    "session's speed.")


class Stop(_Message):
    """End the session: the server answers with the summary or the take, then closes."""

    type: Literal["stop"]


OpenMessage = Annotated[StartPractice | StartRecording, Field(discriminator="type")]
SessionMessage = Annotated[LandmarksFrame | Restart | Stop, Field(discriminator="type")]
OPEN_MESSAGE: TypeAdapter[StartPractice | StartRecording] = TypeAdapter(OpenMessage)
SESSION_MESSAGE: TypeAdapter[LandmarksFrame | Restart | Stop] = TypeAdapter(SessionMessage)


# --- server to client -------------------------------------------------------------------------


class Limits(_Message):
    max_message_bytes: int
    max_frame_pixels: int
    max_frame_rate: float
    idle_s: float
    max_recording_s: float


class Ready(_Message):
    """The session is open; frames may follow."""

    type: Literal["ready"] = "ready"
    session: str
    kind: Literal["practice", "record"]
    mode: InputMode
    reference: str | None = None
    steps: list[str] = []
    limits: Limits


class FrameCounts(_Message):
    """Frames of this session so far."""

    received: int = 0
    processed: int = 0
    dropped: int = Field(
        default=0,
        description="Superseded by a newer frame before processing, out of order, over the "
                    "rate limit, or skipped while the server was behind.")
    rejected: int = Field(
        default=0, description="Not a valid frame (bad header, not a JPEG, too big).")


class Timing(_Message):
    """Where the milliseconds of one frame went, measured by the server."""

    capture_ms: float = Field(description="The client's capture time, echoed.")
    queued_ms: float = Field(description="Waiting for the previous frame to finish.")
    processing_ms: float = Field(description="Decoding, pose model and scoring.")
    pace_ms: float = Field(0.0, description="Landmarks mode: send the next frames at least "
                                            "this many ms apart, so the tutor can answer every "
                                            "learner promptly (0: as often as the camera "
                                            "gives them). Faster ones may go unanswered.")


class LimbStatePayload(_Message):
    """A limb's recent score and the colour it is drawn in."""

    score: float | None = Field(description="0-100 over the last half second; null: unseen.")
    state: Literal["good", "warn", "bad", "unseen"]


class StepEventPayload(_Message):
    """A step of the reference the learner just completed."""

    step: str
    score: float
    rating: str = Field(description=RATING)


class LivePayload(_Message):
    """Feedback on one practice frame (``app.live.LiveUpdate``)."""

    t: float = Field(description="Seconds since the session's first frame.")
    landmarks: list[list[float]] | None = Field(
        description="Smoothed pose, 33 x (x, y, z, visibility) in normalised image "
                    "coordinates of the frame sent; null when nobody is in view.")
    ref_position: float = Field(description="Reference frame the learner is at (fractional).")
    ref_time_s: float
    tempo: float = Field(description="Learner's speed over the practised speed.")
    confidence: float = Field(description="0..1, how sure the alignment is.")
    score: float = Field(description="Running score 0-100 since the start or the restart.")
    limbs: dict[str, LimbStatePayload] = Field(description="By the learner's own limbs.")
    messages: list[str] = Field(max_length=2, description="At most two corrections.")
    step_event: StepEventPayload | None
    visible_hint: str | None = Field(description="What to do so the camera sees the body.")


class RecordingPayload(_Message):
    """One frame of a recording session."""

    t: float
    elapsed_s: float = Field(description="Seconds recorded since the (re)start.")
    landmarks: list[list[float]] | None


class Update(_Message):
    """The result of one processed frame."""

    type: Literal["update"] = "update"
    seq: int
    timing: Timing
    frames: FrameCounts
    live: LivePayload | RecordingPayload


class Kept(_Message):
    """What became of the finished practice in the learner's history."""

    stored: bool = Field(description="Written to the database.")
    pending: bool = Field(description="The database is away: kept on the tutor and written "
                                      "when it is back.")
    practice: int | None = Field(description="The stored practice's id (GET /api/practices/"
                                              "{id}), else null.")
    tries_today: int | None = Field(description="This learner's tries at this step today, "
                                                "this one included.")
    change: float | None = Field(description="Score against the previous try at this step.")
    message: str | None = Field(description="What to tell the learner when it was not stored.")


class Summary(_Message):
    """The closing report of a practice session."""

    type: Literal["summary"] = "summary"
    report: Report | None = Field(description="The ScoreReport, or null when no frame had a "
                                              "pose.")
    frames: FrameCounts
    kept: Kept | None = Field(default=None, description="Where the practice was kept: null "
                                                        "when nobody is known to keep it for.")


class Trim(_Message):
    """Keep frames with ``start_s <= t < end_s`` (seconds of the sequence)."""

    start_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    end_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)


class Recorded(_Message):
    """The take an instructor recorded, as a ``.pose.json`` document, ready to trim and save."""

    type: Literal["recorded"] = "recorded"
    sequence: dict[str, Any]
    suggested_trim: Trim | None = Field(
        description="Where the instructor moves: the still lead-in and lead-out cut off.")
    frames: FrameCounts


class ErrorMessage(_Message):
    """Something the client sent (or the server met) went wrong."""

    type: Literal["error"] = "error"
    code: str = Field(description="Stable identifier, e.g. 'bad_frame', 'rate_limited'.")
    message: str = Field(description="One sentence for a person.")
    fatal: bool = Field(
        default=False, description="True when the server closes the session next.")


ServerMessage = Ready | Update | Summary | Recorded | ErrorMessage
SERVER_MESSAGE: TypeAdapter[ServerMessage] = TypeAdapter(
    Annotated[ServerMessage, Field(discriminator="type")])
"""Reads any server message; clients and tests check what the server sends with it."""


def update_json(seq: int, timing: Mapping[str, float], frames: FrameCounts,
                live: Mapping[str, Any]) -> str:
    """An :class:`Update` as JSON text, from ``live`` as a worker returns it (JSON-ready).

    One goes out for every frame of every session, so it is written straight from plain
    values with orjson: building and dumping the pydantic models took about a tenth of the
    event loop with 100 sessions streaming. ``timing`` holds the fields of :class:`Timing`;
    the tests read every message the server sends back through :data:`SERVER_MESSAGE`.
    """
    return orjson.dumps({"type": "update", "seq": seq, "timing": timing,
                         "frames": frames.model_dump(), "live": live}).decode()
