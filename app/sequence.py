"""The pose sequence: one typed container for references and attempts, and its file format.

A ``.pose.json`` file is UTF-8 JSON::

    {"format": "dance-tutor.pose-sequence", "version": 1,
     "name": "wing-beat", "title": "Wing beat", "fps": 30.0,
     "image": {"width": 1280, "height": 720},
     "source": {"kind": "video" | "webcam" | "authored", "detail": "..."},
     "steps": [{"name": "...", "start_s": 0.0, "end_s": 2.0}],
     "frames": [{"t": 0.0,
                 "landmarks": [[x, y, z, visibility], ... 33] or null,
                 "world": [[x, y, z], ... 33] or null}],
     "takes": [{"source": {...}, "fps": 30.0, "frames": [...]}]}

``landmarks`` are MediaPipe's normalised image coordinates (x, y in 0..1 of the image width and
height, z roughly in the scale of x) with visibility 0..1; ``world`` are metres, centred on the
hips. A frame with nobody in view has ``"landmarks": null``. ``steps``, ``world`` and ``takes``
are optional; unknown top-level fields are kept on a round trip.

:class:`PoseDocument` and the models it is made of are the format's one schema: :func:`load`,
:func:`loads` and :func:`from_dict` validate documents with them and turn the first error into
one sentence naming the file and the field's path (``frames[3].landmarks[12]``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import numpy as np
import numpy.typing as npt
from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.atomic import atomic_write_bytes
from app.errors import UserError
from app.validation import describe, first_error, json_only, read_document

FormatName = Literal["dance-tutor.pose-sequence"]
FormatVersion = Literal[1]
FORMAT: FormatName = "dance-tutor.pose-sequence"
VERSION: FormatVersion = 1
STEP_DECIMALS = 4
"""A step's start and end are written to this many decimals of a second."""
N_LANDMARKS = 33
SUFFIX = ".pose.json"
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_FRAMES = 60 * 60 * 60

SourceKind = Literal["video", "webcam", "authored"]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class SequenceFormatError(UserError):
    """A ``.pose.json`` document breaks the format; the message names the file and field."""


@dataclass(frozen=True)
class Step:
    """A named part of a sequence, in seconds from the sequence's start."""

    name: str
    start_s: float
    end_s: float

    def __post_init__(self) -> None:
        if not self.name:
            raise UserError("a step needs a name")
        if not (math.isfinite(self.start_s) and math.isfinite(self.end_s)):
            raise UserError(f"step {self.name!r} has a non-finite start or end")
        if self.end_s <= self.start_s:
            raise UserError(
                f"step {self.name!r} ends at {self.end_s} s, not after its start {self.start_s} s"
            )


@dataclass(frozen=True)
class Source:
    """Where a sequence came from."""

    kind: SourceKind
    detail: str = ""


@dataclass(frozen=True, eq=False)
class PoseSequence:
    """Poses over time, one row per frame.

    Attributes
    ----------
    t : (n,) float64
        Seconds from the start, strictly increasing.
    image_xyz : (n, 33, 3) float64
        Normalised image coordinates (``x`` of width, ``y`` of height, ``z``); NaN where absent.
    visibility : (n, 33) float64
        0..1 per landmark; 0 where absent.
    world_xyz : (n, 33, 3) float64
        Metres, hip-centred; NaN where the frame has no world landmarks.
    present : (n,) bool
        False for frames with nobody in view (kept, never dropped).
    """

    t: FloatArray
    image_xyz: FloatArray
    visibility: FloatArray
    world_xyz: FloatArray
    present: BoolArray
    fps: float
    image_size: tuple[int, int]
    name: str = ""
    title: str = ""
    source: Source = field(default_factory=lambda: Source("video"))
    steps: tuple[Step, ...] = ()
    takes: tuple[PoseSequence, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.t.shape[0] if self.t.ndim == 1 else -1
        expected = {
            "t": (self.t, (n,)),
            "image_xyz": (self.image_xyz, (n, N_LANDMARKS, 3)),
            "visibility": (self.visibility, (n, N_LANDMARKS)),
            "world_xyz": (self.world_xyz, (n, N_LANDMARKS, 3)),
            "present": (self.present, (n,)),
        }
        for label, (array, shape) in expected.items():
            if array.shape != shape:
                raise ValueError(f"{label} has shape {array.shape}, expected {shape}")
        if n > 1 and not np.all(np.diff(self.t) > 0):
            raise ValueError("timestamps t must be strictly increasing")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be a positive number, got {self.fps}")
        width, height = self.image_size
        if width <= 0 or height <= 0:
            raise ValueError(f"image size must be positive, got {width}x{height}")

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @property
    def duration_s(self) -> float:
        """Seconds from the first frame to one frame past the last."""
        if len(self) == 0:
            return 0.0
        return float(self.t[-1] - self.t[0] + 1.0 / self.fps)

    @property
    def has_world(self) -> BoolArray:
        """(n,) True for frames that carry world landmarks."""
        return np.asarray(np.isfinite(self.world_xyz).all(axis=(1, 2)))

    @property
    def aspect(self) -> float:
        """Image width over height: multiply normalised x by this to make x and y isotropic."""
        return self.image_size[0] / self.image_size[1]

    @classmethod
    def empty(cls, fps: float = 30.0, image_size: tuple[int, int] = (1, 1)) -> PoseSequence:
        """A sequence with no frames."""
        return cls.from_frames([], [], [], [], fps=fps, image_size=image_size)

    @classmethod
    def from_frames(
        cls,
        t: list[float] | FloatArray,
        image_xyz: list[FloatArray | None],
        visibility: list[FloatArray | None],
        world_xyz: list[FloatArray | None],
        **metadata: Any,
    ) -> PoseSequence:
        """Stack per-frame arrays (``None`` for a frame with nobody) into a sequence."""
        n = len(t)
        img = np.full((n, N_LANDMARKS, 3), np.nan)
        vis = np.zeros((n, N_LANDMARKS))
        world = np.full((n, N_LANDMARKS, 3), np.nan)
        present = np.zeros(n, dtype=bool)
        for i in range(n):
            if image_xyz[i] is not None:
                img[i] = image_xyz[i]
                vis[i] = visibility[i] if visibility[i] is not None else 1.0
                present[i] = True
            if world_xyz[i] is not None:
                world[i] = world_xyz[i]
        return cls(
            t=np.asarray(t, dtype=np.float64), image_xyz=img, visibility=vis,
            world_xyz=world, present=present, **metadata,
        )

    def step_frames(self, step: Step) -> tuple[int, int]:
        """Frames ``start:stop`` (``stop`` exclusive) of ``step``: the one rule for which
        frames make a step, used by scoring, live practice, the server and the previews.

        A frame belongs to a step when its time from the first frame, ``t - t[0]``, lies in
        ``[start_s, end_s)``, both sides rounded to the microsecond first: a frame stamped on
        a boundary starts the step beginning there, whatever the float error of the
        subtraction. The range is empty (``start == stop``) when the step falls between two
        frames or after the last one.

        >>> seq = PoseSequence.empty(fps=10.0)
        >>> seq = replace(seq, t=np.arange(5) / 10 + 0.7, image_xyz=np.zeros((5, 33, 3)),
        ...               visibility=np.zeros((5, 33)), world_xyz=np.zeros((5, 33, 3)),
        ...               present=np.ones(5, dtype=bool))
        >>> seq.step_frames(Step("lift", 0.1, 0.3)), seq.step_frames(Step("late", 0.45, 9.0))
        ((1, 3), (5, 5))
        """
        if len(self) == 0:
            return 0, 0
        elapsed = np.round(self.t - self.t[0], 6)
        start = int(np.searchsorted(elapsed, round(step.start_s, 6), side="left"))
        stop = int(np.searchsorted(elapsed, round(step.end_s, 6), side="left"))
        return start, max(start, stop)

    def slice_frames(self, start: int, stop: int) -> PoseSequence:
        """Frames ``start:stop``; steps are clipped to what remains and time restarts at 0."""
        sel = slice(start, stop)
        t = self.t[sel]
        offset = float(t[0]) if len(t) else 0.0
        end = float(t[-1] - offset + 1.0 / self.fps) if len(t) else 0.0
        steps = tuple(
            Step(s.name, max(0.0, s.start_s - offset), min(end, s.end_s - offset))
            for s in self.steps
            if s.end_s - offset > 0 and s.start_s - offset < end
            and min(end, s.end_s - offset) > max(0.0, s.start_s - offset)
        )
        return replace(
            self, t=t - offset, image_xyz=self.image_xyz[sel], visibility=self.visibility[sel],
            world_xyz=self.world_xyz[sel], present=self.present[sel], steps=steps,
        )

    def trim_seconds(
        self, start_s: float | None = None, end_s: float | None = None
    ) -> PoseSequence:
        """Frames with ``start_s <= t < end_s``; time restarts at 0."""
        lo = 0 if start_s is None else int(np.searchsorted(self.t, start_s, side="left"))
        hi = len(self) if end_s is None else int(np.searchsorted(self.t, end_s, side="left"))
        if hi <= lo:
            raise UserError(
                f"no frames between {start_s} s and {end_s} s (the sequence lasts "
                f"{self.duration_s:.2f} s)"
            )
        return self.slice_frames(lo, hi)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document for this sequence (unknown fields kept)."""
        doc: dict[str, Any] = dict(self.extra)
        doc.update({
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "title": self.title,
            "fps": round(self.fps, 6),
            "image": {"width": self.image_size[0], "height": self.image_size[1]},
            "source": {"kind": self.source.kind, "detail": self.source.detail},
            "steps": [
                {"name": s.name, "start_s": round(s.start_s, STEP_DECIMALS),
                 "end_s": round(s.end_s, STEP_DECIMALS)}
                for s in self.steps
            ],
            "frames": _frames_to_json(self),
        })
        if self.takes:
            doc["takes"] = [
                {"source": {"kind": k.source.kind, "detail": k.source.detail},
                 "fps": round(k.fps, 6), "image": {"width": k.image_size[0],
                                                   "height": k.image_size[1]},
                 "frames": _frames_to_json(k)}
                for k in self.takes
            ]
        return doc

    def to_json(self) -> str:
        """The document as text: one field per line and one frame per line, so diffs read well."""
        return _dump(self.to_dict()) + "\n"


def _dump(value: Any, key: str = "", depth: int = 0) -> str:
    """JSON with top-level fields and each frame on a line of their own."""
    pad = " " * depth
    if isinstance(value, dict) and (depth == 0 or key == "takes"):
        body = ",\n".join(
            f"{pad} {json.dumps(k, ensure_ascii=False)}: {_dump(v, k, depth + 1)}"
            for k, v in value.items()
        )
        return "{\n" + body + "\n" + pad + "}"
    if isinstance(value, list) and value and key in ("frames", "steps", "takes"):
        body = ",\n".join(f"{pad} {_dump(item, key, depth + 1)}" for item in value)
        return "[\n" + body + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _frames_to_json(seq: PoseSequence) -> list[dict[str, Any]]:
    frames = []
    has_world = seq.has_world
    for i in range(len(seq)):
        landmarks = None
        if seq.present[i]:
            rows = np.concatenate([seq.image_xyz[i], seq.visibility[i][:, None]], axis=1)
            landmarks = [[_number(v) for v in row] for row in rows]
        world = None
        if has_world[i]:
            world = [[_number(v) for v in row] for row in seq.world_xyz[i]]
        frames.append({"t": _number(seq.t[i]), "landmarks": landmarks, "world": world})
    return frames


def _number(value: float) -> float:
    """``value`` to 5 decimals, and never ``-0.0``: which side of zero a value that rounds to
    it falls on is noise, and differs between numpy releases."""
    return round(float(value), 5) + 0.0


def save(seq: PoseSequence, path: Path) -> None:
    """Write ``seq`` to ``path`` atomically (temporary file, fsync, rename)."""
    atomic_write_bytes(Path(path), seq.to_json().encode("utf-8"))


def load(path: Path) -> PoseSequence:
    """Read and validate a ``.pose.json`` file.

    Raises
    ------
    SequenceFormatError
        With one sentence naming the file and the field at fault.
    """
    path = Path(path)
    return loads(read_document(path, MAX_FILE_BYTES, SequenceFormatError, str(path)),
                 origin=str(path))


def loads(data: bytes | str, origin: str = "<pose sequence>") -> PoseSequence:
    """Parse and validate a pose-sequence document; ``origin`` names it in errors."""
    if isinstance(data, bytes):
        if len(data) > MAX_FILE_BYTES:
            raise SequenceFormatError(
                f"{origin}: is over the limit of {MAX_FILE_BYTES // 2**20} MiB"
            )
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SequenceFormatError(
                f"{origin}: is not UTF-8 text (bad byte at offset {exc.start})"
            ) from exc
    else:
        text = data
    if not text.strip():
        raise SequenceFormatError(f"{origin}: is empty")
    try:
        doc = PoseDocument.model_validate_json(text)
    except ValidationError as exc:
        raise SequenceFormatError(_sentence(origin, exc)) from None
    return doc.sequence()


def from_dict(doc: Any, origin: str = "<pose sequence>") -> PoseSequence:
    """Validate a decoded document and build the sequence."""
    try:
        return PoseDocument.model_validate(doc).sequence()
    except ValidationError as exc:
        raise SequenceFormatError(_sentence(origin, exc)) from None


def _within_frame_limit(frames: list[FramePart]) -> list[FramePart]:
    """``frames`` unless there are more than :data:`MAX_FRAMES`."""
    if len(frames) > MAX_FRAMES:
        raise PydanticCustomError(
            "frame_limit", "has {count} frames, over the limit of {limit}",
            {"count": len(frames), "limit": MAX_FRAMES},
        )
    return frames


Number = Annotated[float, Strict(), AllowInfNan(False)]
"""A finite JSON number (an integer is taken too); never a string, boolean or null."""
Point4 = Annotated[tuple[Number, Number, Number, Number], Strict(False)]
"""Four numbers; the tuple is lax only to take a list where strict takes just a tuple."""
Point3 = Annotated[tuple[Number, Number, Number], Strict(False)]
"""Three numbers, as :data:`Point4`."""
_ALL_LANDMARKS = Field(min_length=N_LANDMARKS, max_length=N_LANDMARKS)


class _Part(BaseModel):
    """An object of the format. Numbers are JSON numbers (never strings or booleans) and
    finite, strings are strings. Unknown fields are allowed (the document keeps its own on a
    round trip, the other objects drop theirs) but, like every value, must be JSON: no NaN or
    Infinity anywhere."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="allow")
    __pydantic_extra__: dict[str, Annotated[Any, AfterValidator(json_only)]] = Field(init=False)


class ImagePart(_Part):
    """The source image's size in pixels: normalised x and y are fractions of these, so x
    times width/height is comparable with y."""

    width: int = Field(ge=1)
    height: int = Field(ge=1)


class SourcePart(_Part):
    """Where the sequence came from."""

    kind: SourceKind
    detail: str = ""


class StepPart(_Part):
    """A named part of the sequence, in seconds from its start."""

    name: str = ""
    start_s: Number
    end_s: Number

    @model_validator(mode="after")
    def _is_a_step(self) -> Self:
        try:
            self.step()
        except UserError as exc:
            raise PydanticCustomError("step", "{reason}", {"reason": str(exc)}) from None
        return self

    def step(self) -> Step:
        """This part as a :class:`Step`."""
        return Step(self.name, self.start_s, self.end_s)


class FramePart(_Part):
    """One frame: its time and the landmarks of whoever is in view."""

    t: Number = Field(description="Seconds from the start; strictly increasing.")
    landmarks: Annotated[list[Point4], _ALL_LANDMARKS] | None = Field(
        default=None,
        description="33 rows of [x, y, z, visibility] in MediaPipe's order: x and y normalised "
                    "to the image (0..1, y down), z depth at about the scale of x, visibility "
                    "0..1; null when nobody is in view (the frame is kept).",
    )
    world: Annotated[list[Point3], _ALL_LANDMARKS] | None = Field(
        default=None,
        description="33 rows of [x, y, z] in metres, centred between the hips, y down; null or "
                    "absent when not known.",
    )


class TakePart(_Part):
    """The movement: a frame rate, the image size and the frames."""

    source: SourcePart = SourcePart(kind="video")
    fps: Number = Field(gt=0, le=1000, description="The frame rate the sequence was made at.")
    image: ImagePart = ImagePart(width=1, height=1)
    frames: Annotated[list[FramePart], AfterValidator(_within_frame_limit)]

    @model_validator(mode="after")
    def _time_increases(self) -> Self:
        t = np.fromiter((frame.t for frame in self.frames), np.float64, len(self.frames))
        late = np.flatnonzero(np.diff(t) <= 0)
        if len(late):
            i = int(late[0]) + 1
            raise PydanticCustomError(
                "time_order",
                "is {t}, not after the previous frame's {previous} (timestamps must increase)",
                {"t": float(t[i]), "previous": float(t[i - 1]), "at": ("frames", i, "t")},
            )
        return self

    def sequence(self, **metadata: Any) -> PoseSequence:
        """This take as a :class:`PoseSequence` (visibility clipped to 0..1)."""
        landmarks = [frame.landmarks for frame in self.frames]
        world = [frame.world for frame in self.frames]
        points = _stack(landmarks, 4)
        return PoseSequence.from_frames(
            [frame.t for frame in self.frames], _spread(landmarks, points[:, :, :3]),
            _spread(landmarks, np.clip(points[:, :, 3], 0.0, 1.0)),
            _spread(world, _stack(world, 3)), fps=self.fps,
            image_size=(self.image.width, self.image.height),
            source=Source(self.source.kind, self.source.detail), **metadata,
        )


def _stack(frames: Sequence[Sequence[tuple[float, ...]] | None], width: int) -> FloatArray:
    """The points of the frames that have them, as one (k, 33, ``width``) array (one pass over
    all numbers: much faster than an array per frame)."""
    given = [points for points in frames if points is not None]
    numbers = chain.from_iterable(chain.from_iterable(given))
    count = len(given) * N_LANDMARKS * width
    return np.fromiter(numbers, np.float64, count).reshape(len(given), N_LANDMARKS, width)


def _spread(frames: list[Any], stacked: FloatArray) -> list[FloatArray | None]:
    """``stacked``'s rows back in the frames' places, None for the frames without points."""
    rows = iter(stacked)
    return [None if points is None else next(rows) for points in frames]


class PoseDocument(TakePart):
    """A ``.pose.json`` document: the format's one schema, which :func:`load` checks files
    against (``PoseDocument.model_json_schema()`` prints it as JSON Schema). Unknown top-level
    fields are kept."""

    format: FormatName
    version: FormatVersion = Field(description="Other versions are refused.")
    name: str = Field(default="", description="The reference's slug in the library.")
    title: str = Field(default="", description="What people read; when absent, the name.")
    steps: list[StepPart] = Field(default_factory=list)
    takes: list[TakePart] = Field(
        default_factory=list, description="Further takes of the same movement by the instructor.")

    def sequence(self, **metadata: Any) -> PoseSequence:
        """The document as a :class:`PoseSequence`, its unknown fields in ``extra``."""
        title = self.title if "title" in self.model_fields_set else self.name
        return super().sequence(
            name=self.name, title=title, steps=tuple(part.step() for part in self.steps),
            takes=tuple(take.sequence(name=self.name, title=title) for take in self.takes),
            extra=dict(self.model_extra or {}), **metadata,
        )


def _sentence(origin: str, exc: ValidationError) -> str:
    """One sentence for the error to report: the origin, the field's path and the problem."""
    error = first_error(exc, header=("format", "version"))
    # The schema's only bounded lists are exact: 33 points, each of 3 or 4 numbers.
    items = "numbers" if error["loc"] and isinstance(error["loc"][-1], int) else "points"
    return f"{origin}: {describe(error, fixed_length=items)}"
