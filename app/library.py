"""The reference library: one ``<name>.pose.json`` per step in a folder (``poses/``).

Files are plain pose sequences (:mod:`app.sequence`) with a few extra top-level fields a teacher
sets: ``description``, ``difficulty`` (beginner, intermediate, advanced), ``tempo_bpm`` and
``order`` (the step's place in the dance's story, which :meth:`Library.list` follows).
A reference may hold several takes of the same movement: the main ``frames`` are the first
take and ``takes`` the others; :meth:`Library.reference` derives the mean movement and how much
the takes vary, which the scorer tolerates.

Safety: names are slugs, so no name can reach outside the folder; every write goes through
:func:`app.atomic.atomic_write_bytes` under one lock, so a crash leaves the old file or the new
one; temporaries left by a killed writer are removed when the library is opened; a broken file
is listed in :attr:`Library.problems` with its reason and skipped, never fatal.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app import sequence
from app.atomic import remove_stale_temporaries
from app.errors import UserError
from app.scoring import Reference
from app.sequence import SUFFIX, PoseSequence, SequenceFormatError, Step

ENV_POSES = "DANCE_TUTOR_POSES"
NAME_PATTERN = re.compile(r"[a-z0-9-]{1,64}")
DIFFICULTIES = ("beginner", "intermediate", "advanced")
MAX_TAKES = 10
MAX_TEXT = 2000
TEMPO_RANGE = (20.0, 300.0)
MAX_ORDER = 999
MIN_FRAMES = 2


class LibraryError(UserError):
    """A library request cannot be carried out; the message says why in one sentence."""


class InvalidName(LibraryError):
    """The name is not a slug of 1-64 lowercase letters, digits and hyphens."""


class NotFound(LibraryError):
    """No reference of that name."""


class AlreadyExists(LibraryError):
    """A reference of that name exists and overwriting was not asked for."""


class BrokenReference(LibraryError):
    """The reference's file exists but fails validation."""


class InvalidReference(LibraryError):
    """A sequence or a metadata value cannot be stored as (part of) a reference."""


@dataclass(frozen=True)
class LibraryProblem:
    """A file that was skipped, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path.name}: {self.reason}"


@dataclass(frozen=True)
class ReferenceInfo:
    """What a list of references shows: metadata only, no frames."""

    name: str
    title: str
    description: str
    difficulty: str
    tempo_bpm: float | None
    duration_s: float
    n_takes: int
    steps: tuple[Step, ...]
    source_kind: str
    fps: float
    n_frames: int
    order: int | None = None
    """Place in the dance's story (1 first); None for a step not placed (listed last)."""

    @classmethod
    def of(cls, seq: PoseSequence) -> ReferenceInfo:
        tempo = seq.extra.get("tempo_bpm")
        order = seq.extra.get("order")
        return cls(
            name=seq.name, title=seq.title or seq.name,
            description=str(seq.extra.get("description", "")),
            difficulty=str(seq.extra.get("difficulty", "")),
            tempo_bpm=float(tempo) if isinstance(tempo, int | float) else None,
            duration_s=seq.duration_s, n_takes=1 + len(seq.takes), steps=seq.steps,
            source_kind=seq.source.kind, fps=seq.fps, n_frames=len(seq),
            order=order if isinstance(order, int) and not isinstance(order, bool) else None,
        )

    @property
    def sort_key(self) -> tuple[bool, int, str]:
        """Story order, then name; steps without an order last."""
        return self.order is None, self.order or 0, self.name

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "name": self.name, "title": self.title, "description": self.description,
            "difficulty": self.difficulty, "tempo_bpm": self.tempo_bpm,
            "duration_s": round(self.duration_s, 3), "n_takes": self.n_takes,
            "steps": [{"name": s.name, "start_s": s.start_s, "end_s": s.end_s}
                      for s in self.steps],
            "source_kind": self.source_kind, "fps": self.fps, "n_frames": self.n_frames,
            "order": self.order,
        }


Problems = list[LibraryProblem]


def default_poses_dir() -> Path:
    """``$DANCE_TUTOR_POSES`` if set, else the ``poses/`` folder next to the package."""
    env = os.environ.get(ENV_POSES)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "poses"


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid reference name, else raise :class:`InvalidName`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidName(
            f"reference name {name!r} is not allowed: use 1 to 64 lowercase letters, digits "
            f"and hyphens, like 'wing-beat'"
        )
    return name


def parse_steps(text: str, duration_s: float) -> tuple[Step, ...]:
    """``"lift@0,beat@1.5"`` -> steps, each ending where the next starts (the last at the end).

    Raises
    ------
    InvalidReference
        On a malformed item, times out of order or outside ``0..duration_s``.
    """
    starts: list[tuple[str, float]] = []
    for item in (part.strip() for part in text.split(",") if part.strip()):
        name, sep, at = item.rpartition("@")
        try:
            start = float(at)
        except ValueError:
            start = float("nan")
        if not sep or not name.strip() or not 0 <= start < duration_s:
            raise InvalidReference(
                f"step {item!r} must be NAME@SECONDS with SECONDS from 0 to under "
                f"{duration_s:.2f}, like 'lift@0.5'"
            )
        if starts and start <= starts[-1][1]:
            raise InvalidReference(f"step {name.strip()!r} starts at {start} s, not after the "
                                   f"previous step's {starts[-1][1]} s")
        starts.append((name.strip(), start))
    ends = [s for _, s in starts[1:]] + [duration_s]
    return tuple(Step(name, start, end) for (name, start), end in zip(starts, ends, strict=True))


def check_steps(steps: tuple[Step, ...], duration_s: float) -> tuple[Step, ...]:
    """Steps must lie within the sequence and not overlap; returns them sorted by start."""
    ordered = tuple(sorted(steps, key=lambda s: s.start_s))
    for i, step in enumerate(ordered):
        if step.start_s < 0 or step.end_s > duration_s + 1e-6:
            raise InvalidReference(f"step {step.name!r} ({step.start_s}-{step.end_s} s) is "
                                   f"outside the sequence's 0-{duration_s:.2f} s")
        if i and step.start_s < ordered[i - 1].end_s - 1e-6:
            raise InvalidReference(f"step {step.name!r} starts at {step.start_s} s, before "
                                   f"step {ordered[i - 1].name!r} ends")
    return ordered


def _check_movement(seq: PoseSequence, what: str) -> None:
    if int(seq.present.sum()) < MIN_FRAMES:
        raise InvalidReference(f"{what} shows a person on {int(seq.present.sum())} frame(s); "
                               f"a reference needs at least {MIN_FRAMES}")


class Library:
    """The ``poses/`` folder as a store of references, safe to share between threads.

    Parameters
    ----------
    root : Path
        The folder; it must exist unless ``create`` is true.
    create : bool
        Make the folder if it is missing.

    Attributes
    ----------
    problems : list of LibraryProblem
        Files skipped by the last :meth:`list` or :meth:`validate` (the constructor runs one).
    """

    def __init__(self, root: Path, *, create: bool = False) -> None:
        self.root = Path(root)
        if create:
            self.root.mkdir(parents=True, exist_ok=True)
        if not self.root.is_dir():
            raise LibraryError(f"reference library folder {self.root} does not exist")
        self._lock = threading.RLock()
        self._cache: dict[Path, tuple[tuple[int, int], PoseSequence]] = {}
        self._references: dict[Path, tuple[PoseSequence, Reference]] = {}
        self.problems: list[LibraryProblem] = []
        remove_stale_temporaries(self.root)
        self.list()

    def path_of(self, name: str) -> Path:
        """The file a reference of that name lives in (whether or not it exists)."""
        return self.root / f"{check_name(name)}{SUFFIX}"

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            return False
        return self.path_of(name).is_file()

    def list(self) -> list[ReferenceInfo]:
        """Every valid reference in story order (then by name, steps without an order last);
        broken files go to :attr:`problems`."""
        infos, problems = [], []
        with self._lock:
            for path in sorted(self.root.glob(f"*{SUFFIX}")):
                try:
                    infos.append(ReferenceInfo.of(self._load(path)))
                except LibraryError as exc:
                    problems.append(LibraryProblem(path, str(exc)))
            self.problems = problems
        return sorted(infos, key=lambda info: info.sort_key)

    def validate(self) -> Problems:
        """Check every file; returns (and stores in :attr:`problems`) the broken ones."""
        self.list()
        return list(self.problems)

    def info(self, name: str) -> ReferenceInfo:
        """Metadata of one reference."""
        return ReferenceInfo.of(self.get(name))

    def get(self, name: str) -> PoseSequence:
        """The stored sequence, takes included.

        Raises
        ------
        InvalidName, NotFound, BrokenReference
        """
        path = self.path_of(name)
        with self._lock:
            if not path.is_file():
                raise NotFound(f"no reference named {name!r} in {self.root}")
            return self._load(path)

    def reference(self, name: str) -> Reference:
        """What the scorer compares with: the mean of the takes and how much they vary.

        With one take the sequence itself and ``tolerance=None`` (the scorer's default
        tolerance, see :class:`app.scoring.Reference`).
        """
        seq = self.get(name)
        if not seq.takes:
            return Reference(seq)
        path = self.path_of(name)
        with self._lock:
            cached = self._references.get(path)
            if cached and cached[0] is seq:
                return cached[1]
        reference = Reference.from_sequence(seq)
        with self._lock:
            self._references[path] = (seq, reference)
        return reference

    def create(self, seq: PoseSequence, *, overwrite: bool = False) -> ReferenceInfo:
        """Store a new reference named ``seq.name``.

        Raises
        ------
        InvalidName, AlreadyExists, InvalidReference
        """
        path = self.path_of(seq.name)
        _check_movement(seq, f"reference {seq.name!r}")
        for take in seq.takes:
            _check_movement(take, f"a take of {seq.name!r}")
        seq = replace(seq, title=seq.title or seq.name,
                      steps=check_steps(seq.steps, seq.duration_s),
                      extra=_checked_metadata(seq.extra))
        with self._lock:
            if path.exists() and not overwrite:
                raise AlreadyExists(f"reference {seq.name!r} already exists; delete it first "
                                    f"or overwrite it")
            self._save(path, seq)
        return ReferenceInfo.of(seq)

    def update_metadata(self, name: str, *, title: str | None = None,
                        description: str | None = None, difficulty: str | None = None,
                        tempo_bpm: float | None = None, order: int | None = None,
                        steps: tuple[Step, ...] | None = None) -> ReferenceInfo:
        """Change what a teacher can edit without re-recording; ``None`` leaves a field."""
        with self._lock:
            seq = self.get(name)
            extra = dict(seq.extra)
            for key, value in (("description", description), ("difficulty", difficulty),
                               ("tempo_bpm", tempo_bpm), ("order", order)):
                if value is not None:
                    extra[key] = value
            if title is not None and not title.strip():
                raise InvalidReference("a title cannot be empty")
            seq = replace(
                seq, title=seq.title if title is None else title.strip()[:MAX_TEXT],
                steps=seq.steps if steps is None else check_steps(steps, seq.duration_s),
                extra=_checked_metadata(extra),
            )
            self._save(self.path_of(name), seq)
        return ReferenceInfo.of(seq)

    def add_take(self, name: str, take: PoseSequence) -> ReferenceInfo:
        """Append another take of the same movement (its own source, fps and image size)."""
        _check_movement(take, f"the new take of {name!r}")
        with self._lock:
            seq = self.get(name)
            if len(seq.takes) + 1 >= MAX_TAKES:
                raise InvalidReference(f"reference {name!r} already has {MAX_TAKES} takes, the "
                                       f"most one reference keeps")
            clean = replace(take, name=seq.name, title=seq.title, steps=(), takes=(), extra={})
            seq = replace(seq, takes=(*seq.takes, clean))
            self._save(self.path_of(name), seq)
        return ReferenceInfo.of(seq)

    def delete(self, name: str) -> None:
        """Remove a reference (a broken file of that name too)."""
        path = self.path_of(name)
        with self._lock:
            try:
                path.unlink()
            except FileNotFoundError:
                raise NotFound(f"no reference named {name!r} in {self.root}") from None
            self._cache.pop(path, None)

    def _load(self, path: Path) -> PoseSequence:
        """Parse (or reuse the cached parse of) one file and check it belongs here."""
        try:
            stat = path.stat()
        except OSError as exc:
            raise BrokenReference(f"cannot be read ({exc.strerror})") from exc
        key = (stat.st_mtime_ns, stat.st_size)
        cached = self._cache.get(path)
        if cached and cached[0] == key:
            return cached[1]
        stem = path.name[: -len(SUFFIX)]
        if not NAME_PATTERN.fullmatch(stem):
            raise BrokenReference(f"the file name {stem!r} is not a valid reference name "
                                  f"(lowercase letters, digits and hyphens)")
        try:
            seq = sequence.load(path)
            if seq.name != stem:
                raise BrokenReference(f"the document is named {seq.name!r} but the file "
                                      f"{stem!r}; they must match")
            _check_movement(seq, "the reference")
            check_steps(seq.steps, seq.duration_s)
            _checked_metadata(seq.extra)
        except SequenceFormatError as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            raise BrokenReference(reason) from exc
        except BrokenReference:
            raise
        except LibraryError as exc:
            raise BrokenReference(str(exc)) from exc
        self._cache[path] = (key, seq)
        return seq

    def _save(self, path: Path, seq: PoseSequence) -> None:
        sequence.save(seq, path)
        self._cache.pop(path, None)
        self._references.pop(path, None)


def _checked_metadata(extra: dict[str, Any]) -> dict[str, Any]:
    """Validate the teacher's fields among ``extra``; other fields pass through untouched."""
    out = dict(extra)
    difficulty = out.get("difficulty")
    if difficulty is not None and difficulty not in DIFFICULTIES:
        raise InvalidReference(f"difficulty must be one of {', '.join(DIFFICULTIES)}, got "
                               f"{difficulty!r}")
    tempo = out.get("tempo_bpm")
    if tempo is not None and (isinstance(tempo, bool) or not isinstance(tempo, int | float)
                              or not TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]):
        raise InvalidReference(f"tempo_bpm must be a number from {TEMPO_RANGE[0]:g} to "
                               f"{TEMPO_RANGE[1]:g}, got {tempo!r}")
    order = out.get("order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int)
                              or not 1 <= order <= MAX_ORDER):
        raise InvalidReference(f"order must be a whole number from 1 to {MAX_ORDER}, got "
                               f"{order!r}")
    description = out.get("description")
    if description is not None and (not isinstance(description, str)
                                    or len(description) > MAX_TEXT):
        raise InvalidReference(f"description must be text of at most {MAX_TEXT} characters")
    return out
