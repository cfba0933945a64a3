"""The reference library: one ``<name>.pose.json`` per step in a folder (``poses/``).

Files are plain pose sequences (:mod:`app.sequence`) with the teacher's metadata
(:mod:`app.metadata`: title, description, difficulty, tempo and ``order``, the step's place in
the dance's story, which :meth:`Library.list` follows). :meth:`Library.create_from_take` makes a
new reference from one recorded take, for the command line and the API alike.
A reference may hold several takes of the same movement: the main ``frames`` are the first
take and ``takes`` the others; :meth:`Library.reference` derives the mean movement and how much
the takes vary, which the scorer tolerates.
A step may carry music (:mod:`app.music`): its audio beside it as ``NAME.music.EXT`` and its
beat grid in its document; :meth:`Library.attach_music`, :meth:`Library.set_beat_grid` and
:meth:`Library.remove_music` change it, and deleting the step deletes its audio.

Safety: names are slugs, so no name can reach outside the folder; every write goes through
:func:`app.atomic.atomic_write_bytes` under one lock, so a crash leaves the old file or the new
one; temporaries left by a killed writer are removed when the library is opened; a broken file
is listed in :attr:`Library.problems` with its reason and skipped, never fatal.
"""

from __future__ import annotations

import difflib
import os
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app import music as music_file
from app import routine as routine_file
from app import sequence
from app.atomic import atomic_write_bytes, remove_stale_temporaries
from app.beats import BeatGrid
from app.errors import UserError
from app.metadata import MetadataError, ReferenceMetadata
from app.music import Music, MusicError
from app.recording import pause_steps
from app.reference import Reference
from app.routine import Routine, RoutineFormatError, Target, build_reference
from app.sequence import STEP_DECIMALS, SUFFIX, PoseSequence, SequenceFormatError, Step

ENV_POSES = "DANCE_TUTOR_POSES"
NAME_PATTERN = re.compile(r"[a-z0-9-]{1,64}")
MAX_TAKES = 10
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
    """A sequence cannot be stored as (part of) a reference."""


class BrokenRoutine(LibraryError):
    """A routine's file breaks the format or names a step the library does not have."""


class NoMusic(LibraryError):
    """The step has no music (or its audio file is gone)."""


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
    metadata: ReferenceMetadata
    duration_s: float
    n_takes: int
    steps: tuple[Step, ...]
    source_kind: str
    fps: float
    n_frames: int

    @classmethod
    def of(cls, seq: PoseSequence) -> ReferenceInfo:
        return cls(
            name=seq.name, metadata=ReferenceMetadata.of(seq), duration_s=seq.duration_s,
            n_takes=1 + len(seq.takes), steps=seq.steps, source_kind=seq.source.kind,
            fps=seq.fps, n_frames=len(seq),
        )

    @property
    def sort_key(self) -> tuple[bool, int, str]:
        """Story order, then name; steps without an order last."""
        order = self.metadata.order
        return order is None, order or 0, self.name


Problems = list[LibraryProblem]
Routines = list[Routine]
Infos = list[ReferenceInfo]
Names = list[str]


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


STEP_SLACK_S = 10.0**-STEP_DECIMALS
"""How far a step may end past its sequence: a step that ends with it is written rounded (up
as often as down), and so are the frames' times."""


def check_steps(steps: tuple[Step, ...], duration_s: float) -> tuple[Step, ...]:
    """Steps must lie within the sequence and not overlap; returns them sorted by start."""
    ordered = tuple(sorted(steps, key=lambda s: s.start_s))
    for i, step in enumerate(ordered):
        if step.start_s < 0 or step.end_s > duration_s + STEP_SLACK_S:
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
        self._cache: dict[Path, tuple[tuple[int, int, int], PoseSequence]] = {}
        self._references: dict[Path, tuple[PoseSequence, Reference]] = {}
        self.problems: list[LibraryProblem] = []
        remove_stale_temporaries(self.root)
        if self.routines_dir.is_dir():
            remove_stale_temporaries(self.routines_dir)
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
        broken files (routines' too) go to :attr:`problems`."""
        return self._scan()[0]

    def routines(self) -> Routines:
        """Every valid routine (``routines/NAME.routine.json``) by name; broken files and
        routines naming a step the library does not have go to :attr:`problems`."""
        return self._scan()[1]

    def _scan(self) -> tuple[Infos, Routines]:
        infos: Infos = []
        routines: Routines = []
        problems: Problems = []
        with self._lock:
            for path in sorted(self.root.glob(f"*{SUFFIX}")):
                try:
                    infos.append(ReferenceInfo.of(self._load(path)))
                except LibraryError as exc:
                    problems.append(LibraryProblem(path, str(exc)))
            infos.sort(key=lambda info: info.sort_key)
            names = [info.name for info in infos]
            for path in sorted(self.routines_dir.glob(f"*{routine_file.SUFFIX}")):
                try:
                    routines.append(self._load_routine(path, names))
                except LibraryError as exc:
                    problems.append(LibraryProblem(path, str(exc).removeprefix(
                        f"{path.name}: ")))
            self.problems = problems
        return infos, routines

    @property
    def routines_dir(self) -> Path:
        """The folder of routines, ``routines/`` in the library (it may not exist)."""
        return self.root / routine_file.FOLDER

    def routine_path(self, name: str) -> Path:
        """The file a routine of that name lives in (whether or not it exists)."""
        return self.routines_dir / f"{check_name(name)}{routine_file.SUFFIX}"

    def routine(self, name: str) -> Routine:
        """One routine, its steps checked against the library.

        Raises
        ------
        InvalidName, NotFound, BrokenRoutine
        """
        path = self.routine_path(name)
        with self._lock:
            if not path.is_file():
                raise NotFound(f"no routine named {name!r} in {self.routines_dir}")
            return self._load_routine(path, [info.name for info in self.list()])

    def routine_reference(self, name: str) -> tuple[Routine, Reference]:
        """A routine and what the scorer compares with: its steps' references one after
        another, blended (:func:`app.routine.build_reference`)."""
        routine = self.routine(name)
        references = {step: self.reference(step) for step in dict.fromkeys(routine.steps)}
        return routine, build_reference(routine, references)

    def scorable(self, name: str) -> Target:
        """What ``name`` is scored against: a step when the library has one of that name, else
        a routine.

        Raises
        ------
        InvalidName, NotFound (naming the steps and routines there are), BrokenReference,
        BrokenRoutine
        """
        check_name(name)
        if name in self:
            return Target(self.reference(name))
        if self.routine_path(name).is_file():
            routine, reference = self.routine_reference(name)
            return Target(reference, routine)
        steps = ", ".join(info.name for info in self.list()) or "none"
        routines = ", ".join(r.name for r in self.routines()) or "none"
        raise NotFound(f"no step or routine named {name!r} in {self.root} (steps: {steps}; "
                       f"routines: {routines})")

    def _load_routine(self, path: Path, steps: Names) -> Routine:
        """Read one routine file and check that every step it names is in ``steps``."""
        try:
            routine = routine_file.load(path)
        except RoutineFormatError as exc:
            raise BrokenRoutine(str(exc)) from exc
        if not NAME_PATTERN.fullmatch(routine.name):
            raise BrokenRoutine(f"{path.name}: the file name {routine.name!r} is not a valid "
                                f"routine name (lowercase letters, digits and hyphens)")
        _check_steps(routine, steps, path.name)
        return routine

    def save_routine(self, routine: Routine) -> Path:
        """Write a routine (new, or replacing the one of that name) after checking that every
        step it names is in the library; atomic, under the library's lock.

        Raises
        ------
        InvalidName, BrokenRoutine
        """
        path = self.routine_path(routine.name)
        text = routine_file.dumps(routine)
        with self._lock:
            if routine.name in self:
                raise BrokenRoutine(f"{path.name}: {routine.name!r} is already a step of the "
                                    f"library; a routine needs a name of its own")
            _check_steps(routine, [info.name for info in self.list()], path.name)
            self.routines_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, text.encode())
        return path

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
        tolerance, see :class:`app.reference.Reference`). One per stored file while it is
        unchanged, with what it keeps once worked out (its accents).
        """
        seq = self.get(name)
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
        InvalidName, AlreadyExists, InvalidReference, MetadataError
        """
        path = self.path_of(seq.name)
        _check_movement(seq, f"reference {seq.name!r}")
        for take in seq.takes:
            _check_movement(take, f"a take of {seq.name!r}")
        seq = ReferenceMetadata.of(seq).applied_to(
            replace(seq, steps=check_steps(seq.steps, seq.duration_s)))
        with self._lock:
            if path.exists() and not overwrite:
                raise AlreadyExists(f"reference {seq.name!r} already exists; delete it first "
                                    f"or overwrite it")
            self._save(path, music_file.with_music(seq, self._kept_music(seq.name)))
        return ReferenceInfo.of(seq)

    def _kept_music(self, name: str) -> Music | None:
        """The music a step of ``name`` has now, which a new version of it keeps: music
        belongs to the step, never to a document sent in."""
        try:
            return self.music(name)
        except (NotFound, BrokenReference):
            return None

    def create_from_take(self, name: str, take: PoseSequence, metadata: ReferenceMetadata,
                         steps: tuple[Step, ...] | None = None, *,
                         overwrite: bool = False) -> ReferenceInfo:
        """Store a new reference named ``name`` made of one recorded take.

        ``steps`` name its parts; None splits it where the movement pauses
        (:func:`app.recording.pause_steps`). The take's own name, steps, other takes and
        teacher fields are not kept: ``metadata`` replaces them.

        Raises
        ------
        InvalidName, AlreadyExists, InvalidReference, MetadataError
        """
        check_name(name)
        parts = pause_steps(take) if steps is None else steps
        seq = metadata.applied_to(replace(take, name=name, steps=parts, takes=()))
        return self.create(seq, overwrite=overwrite)

    def update_metadata(self, name: str, *, title: str | None = None,
                        description: str | None = None, difficulty: str | None = None,
                        tempo_bpm: float | None = None, order: int | None = None,
                        steps: tuple[Step, ...] | None = None) -> ReferenceInfo:
        """Change what a teacher can edit without re-recording; ``None`` leaves a field.

        Raises
        ------
        InvalidName, NotFound, BrokenReference, InvalidReference, MetadataError
        """
        if title is not None and not title.strip():
            raise InvalidReference("a title cannot be empty")
        given: dict[str, Any] = {"title": title, "description": description,
                                 "difficulty": difficulty, "tempo_bpm": tempo_bpm, "order": order}
        with self._lock:
            seq = self.get(name)
            metadata = replace(ReferenceMetadata.of(seq),
                               **{key: value for key, value in given.items() if value is not None})
            seq = metadata.applied_to(replace(
                seq, steps=seq.steps if steps is None else check_steps(steps, seq.duration_s)))
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
            self._remove_audio(name)

    def delete_routine(self, name: str) -> None:
        """Remove a routine (its steps stay).

        Raises
        ------
        InvalidName, NotFound
        """
        path = self.routine_path(name)
        with self._lock:
            try:
                path.unlink()
            except FileNotFoundError:
                raise NotFound(f"no routine named {name!r} in {self.routines_dir}") from None

    def music(self, name: str) -> Music | None:
        """The step's music, or None when it has none or its audio file is missing.

        Raises
        ------
        InvalidName, NotFound, BrokenReference
        """
        music = music_file.music_of(self.get(name))
        return music if music is not None and self.audio_path(music).is_file() else None

    def audio_path(self, music: Music) -> Path:
        """Where a step's music file is."""
        return self.root / music.file

    def attach_music(self, name: str, data: bytes, label: str, *,
                     meter: int = music_file.DEFAULT_METER,
                     grid: BeatGrid | None = None) -> Music:
        """Give a step music: ``data`` checked (:func:`app.music.check_audio`, ``label``
        naming it in errors), stored beside the step, with ``grid`` or else the grid the beat
        tracker finds in it (the step's tempo guiding it). Replaces music the step had.

        Raises
        ------
        InvalidName, NotFound, BrokenReference, MusicError, AudioTooLarge
        """
        tempo = self.info(name).metadata.tempo_bpm
        info = music_file.check_audio(data, label)
        if grid is None:
            grid = music_file.find_beat_grid(data, meter, tempo_hint=tempo, name=label)
        music = Music(music_file.file_name(name, info.extension), grid)
        with self._lock:
            seq = self.get(name)
            atomic_write_bytes(self.audio_path(music), data)
            self._save(self.path_of(name), music_file.with_music(seq, music))
            self._remove_audio(name, keep=music.file)
        return music

    def set_beat_grid(self, name: str, grid: BeatGrid) -> Music:
        """Correct the beat grid of a step's music by hand (typed or tapped).

        Raises
        ------
        InvalidName, NotFound, BrokenReference, NoMusic
        """
        with self._lock:
            seq = self.get(name)
            music = self._music_or_refuse(name)
            music = replace(music, grid=grid)
            self._save(self.path_of(name), music_file.with_music(seq, music))
        return music

    def remove_music(self, name: str) -> None:
        """Take a step's music away: its grid from the document and its audio file.

        Raises
        ------
        InvalidName, NotFound, BrokenReference, NoMusic
        """
        with self._lock:
            seq = self.get(name)
            if music_file.music_of(seq) is None:
                raise NoMusic(f"reference {name!r} has no music")
            self._save(self.path_of(name), music_file.with_music(seq, None))
            self._remove_audio(name)

    def _music_or_refuse(self, name: str) -> Music:
        music = self.music(name)
        if music is None:
            raise NoMusic(f"reference {name!r} has no music; attach an audio file first")
        return music

    def _remove_audio(self, name: str, keep: str = "") -> None:
        """Delete the step's music files (but ``keep``)."""
        for extension in music_file.MEDIA_TYPES:
            audio = self.root / music_file.file_name(name, extension)
            if audio.name != keep:
                audio.unlink(missing_ok=True)

    def _load(self, path: Path) -> PoseSequence:
        """Parse (or reuse the cached parse of) one file and check it belongs here."""
        try:
            stat = path.stat()
        except OSError as exc:
            raise BrokenReference(f"cannot be read ({exc.strerror})") from exc
        # Every save replaces the file with a new one (its own inode), so a step saved twice by
        # another process (a worker of the same server) within one tick of the file system's
        # clock, at the same size, is still read again.
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
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
            ReferenceMetadata.of(seq)
            music_file.music_of(seq)
        except SequenceFormatError as exc:
            reason = str(exc).removeprefix(f"{path}: ")
            raise BrokenReference(reason) from exc
        except BrokenReference:
            raise
        except (LibraryError, MetadataError, MusicError) as exc:
            raise BrokenReference(str(exc)) from exc
        self._cache[path] = (key, seq)
        return seq

    def _save(self, path: Path, seq: PoseSequence) -> None:
        sequence.save(seq, path)
        self._cache.pop(path, None)
        self._references.pop(path, None)


def _check_steps(routine: Routine, steps: Names, label: str) -> None:
    """Refuse, in one sentence naming ``label``, a routine naming a step not in ``steps``."""
    for i, step in enumerate(routine.steps):
        if step not in steps:
            close = difflib.get_close_matches(step, steps, n=3)
            hint = (f"did you mean {' or '.join(repr(c) for c in close)}?" if close
                    else f"the library has {', '.join(steps) or 'no steps'}")
            raise BrokenRoutine(f"{label}: steps[{i}].step {step!r} is not a step of the "
                                f"library ({hint})")
