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
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NoReturn

import numpy as np
import numpy.typing as npt

from app.atomic import atomic_write_bytes
from app.errors import UserError

FORMAT = "dance-tutor.pose-sequence"
VERSION = 1
N_LANDMARKS = 33
SUFFIX = ".pose.json"
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_FRAMES = 60 * 60 * 60
SOURCE_KINDS = ("video", "webcam", "authored")

SourceKind = Literal["video", "webcam", "authored"]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_KNOWN_KEYS = {
    "format", "version", "name", "title", "fps", "image", "source", "steps", "frames", "takes",
}


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
                {"name": s.name, "start_s": round(s.start_s, 4), "end_s": round(s.end_s, 4)}
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
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SequenceFormatError(f"{path}: cannot be read ({exc.strerror})") from exc
    if size > MAX_FILE_BYTES:
        raise SequenceFormatError(
            f"{path}: is {size / 2**20:.0f} MiB, over the limit of {MAX_FILE_BYTES // 2**20} MiB"
        )
    return loads(path.read_bytes(), origin=str(path))


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
        doc = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise SequenceFormatError(
            f"{origin}: is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
    except ValueError as exc:
        raise SequenceFormatError(f"{origin}: {exc}") from exc
    return from_dict(doc, origin)


def _refuse_constant(name: str) -> float:
    raise ValueError(f"contains {name}, which is not a number JSON allows")


def from_dict(doc: Any, origin: str = "<pose sequence>") -> PoseSequence:
    """Validate a decoded document and build the sequence."""
    p = _Parser(origin)
    if not isinstance(doc, dict):
        p.fail("the document", "must be a JSON object")
    if doc.get("format") != FORMAT:
        p.fail("format", f"must be {FORMAT!r}, got {doc.get('format')!r}")
    if doc.get("version") != VERSION:
        p.fail("version", f"must be {VERSION}, got {doc.get('version')!r} (this program reads "
                          f"version {VERSION})")
    name = p.string(doc, "name", default="")
    title = p.string(doc, "title", default=name)
    main = _parse_take(p, doc, "")
    steps = tuple(_parse_step(p, s, f"steps[{i}]") for i, s in enumerate(p.list(doc, "steps")))
    takes = tuple(
        replace(_parse_take(p, take, f"takes[{i}]."), name=name, title=title)
        for i, take in enumerate(p.list(doc, "takes"))
    )
    extra = {k: v for k, v in doc.items() if k not in _KNOWN_KEYS}
    return replace(main, name=name, title=title, steps=steps, takes=takes, extra=extra)


def _parse_take(p: _Parser, doc: Any, prefix: str) -> PoseSequence:
    if not isinstance(doc, dict):
        p.fail(prefix.rstrip(".") or "the document", "must be a JSON object")
    fps = p.number(doc, prefix, "fps")
    if fps <= 0 or fps > 1000:
        p.fail(f"{prefix}fps", f"must be between 0 and 1000, got {fps}")
    image = doc.get("image", {"width": 1, "height": 1})
    if not isinstance(image, dict):
        p.fail(f"{prefix}image", "must be an object with width and height")
    width = p.number(image, f"{prefix}image.", "width")
    height = p.number(image, f"{prefix}image.", "height")
    if not (width >= 1 and height >= 1 and width == int(width) and height == int(height)):
        p.fail(f"{prefix}image", f"width and height must be positive integers, got "
                                 f"{width}x{height}")
    source_doc = doc.get("source", {"kind": "video"})
    if not isinstance(source_doc, dict) or source_doc.get("kind") not in SOURCE_KINDS:
        p.fail(f"{prefix}source.kind", f"must be one of {', '.join(SOURCE_KINDS)}")
    source = Source(source_doc["kind"], str(source_doc.get("detail", "")))
    frames = doc.get("frames")
    if not isinstance(frames, list):
        p.fail(f"{prefix}frames", "must be a list")
    if len(frames) > MAX_FRAMES:
        p.fail(f"{prefix}frames", f"has {len(frames)} frames, over the limit of {MAX_FRAMES}")
    t: list[float] = []
    img: list[FloatArray | None] = []
    vis: list[FloatArray | None] = []
    world: list[FloatArray | None] = []
    for i, frame in enumerate(frames):
        where = f"{prefix}frames[{i}]"
        if not isinstance(frame, dict):
            p.fail(where, "must be an object")
        ti = p.number(frame, f"{where}.", "t")
        if t and ti <= t[-1]:
            p.fail(f"{where}.t", f"is {ti}, not after the previous frame's {t[-1]} "
                                 f"(timestamps must increase)")
        t.append(ti)
        lm = p.points(frame.get("landmarks"), f"{where}.landmarks", 4)
        img.append(None if lm is None else lm[:, :3])
        vis.append(None if lm is None else np.clip(lm[:, 3], 0.0, 1.0))
        world.append(p.points(frame.get("world"), f"{where}.world", 3))
    return PoseSequence.from_frames(
        t, img, vis, world, fps=fps, image_size=(int(width), int(height)), source=source,
    )


def _parse_step(p: _Parser, doc: Any, where: str) -> Step:
    if not isinstance(doc, dict):
        p.fail(where, "must be an object with name, start_s and end_s")
    try:
        return Step(p.string(doc, "name", default="", where=where),
                    p.number(doc, f"{where}.", "start_s"), p.number(doc, f"{where}.", "end_s"))
    except SequenceFormatError:
        raise
    except UserError as exc:
        p.fail(where, str(exc))


class _Parser:
    """Field readers that raise one sentence naming the origin and the field."""

    def __init__(self, origin: str) -> None:
        self.origin = origin

    def fail(self, where: str, problem: str) -> NoReturn:
        raise SequenceFormatError(f"{self.origin}: {where} {problem}")

    def string(self, doc: dict[str, Any], key: str, default: str, where: str = "") -> str:
        value = doc.get(key, default)
        if not isinstance(value, str):
            self.fail(f"{where}.{key}" if where else key, "must be a string")
        return str(value)

    def number(self, doc: dict[str, Any], prefix: str, key: str) -> float:
        if key not in doc:
            self.fail(f"{prefix}{key}", "is missing")
        value = doc[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"{prefix}{key}", f"must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            self.fail(f"{prefix}{key}", "must be finite")
        return float(value)

    def list(self, doc: dict[str, Any], key: str) -> list[Any]:
        value = doc.get(key, [])
        if not isinstance(value, list):
            self.fail(key, "must be a list")
        return list(value)

    def points(self, value: Any, where: str, width: int) -> FloatArray | None:
        if value is None:
            return None
        if not isinstance(value, list) or len(value) != N_LANDMARKS:
            count = len(value) if isinstance(value, list) else type(value).__name__
            self.fail(where, f"must list {N_LANDMARKS} points, got {count}")
        try:
            raw = np.asarray(value)
        except ValueError:
            self.fail(where, f"must hold {N_LANDMARKS} lists of {width} numbers")
        if raw.shape != (N_LANDMARKS, width) or raw.dtype.kind not in "iuf":
            self.fail(where, f"must hold {N_LANDMARKS} lists of {width} numbers")
        array = raw.astype(np.float64)
        if not np.isfinite(array).all():
            self.fail(where, "holds a value that is not a finite number")
        return array
