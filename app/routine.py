"""Routines: steps of the library danced one after another, and the reference they make.

A routine is a file ``NAME.routine.json`` in the library's ``routines/`` folder
(``docs/library.md``)::

    {"format": "dance-tutor.routine", "version": 1, "title": "Burkit bi",
     "description": "...", "transition_s": 0.5,
     "steps": [{"step": "perched"}, {"step": "wing-beat", "repeat": 2}, ...]}

:class:`RoutineDocument` is the format's one schema: :func:`load` checks files against it and
turns the first error into one sentence naming the file and the field. Whether the steps exist
is the library's to check (:meth:`app.library.Library.routine`).

:func:`build_reference` makes the routine's :class:`~app.reference.Reference`: the steps'
references one after another (repeats included), joined by blends (landmarks interpolated
over ``transition_s``, judged with a wider tolerance); each part is a named step of the
result, so the scorer's per-step scores are the parts' scores, which :func:`score_routine`
reports as ``parts``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from app.errors import UserError
from app.feedback import merged
from app.metadata import MAX_TEXT, MAX_TITLE
from app.reference import Reference
from app.report import PartScore, ScoreReport, rating
from app.schema import SKELETON
from app.scoring import ScoreOptions, score
from app.sequence import PoseSequence, Source, Step
from app.validation import describe, first_error, read_document

FloatArray = npt.NDArray[np.float64]

FOLDER = "routines"
"""The library's sub-folder of routines."""
SUFFIX = ".routine.json"
FormatName = Literal["dance-tutor.routine"]
FORMAT: FormatName = "dance-tutor.routine"
MAX_FILE_BYTES = 1024 * 1024
MAX_REPEAT = 50
MAX_ENTRIES = 200
MAX_TRANSITION_S = 5.0
DEFAULT_TRANSITION_S = 0.5
CLOCK_SLACK_S = 1e-4
"""A step's frames this close to the routine's clock are taken as they are (files store times
to 10 microseconds); others are resampled."""
BLEND_SPREAD_FACTOR = 1.0
"""A blend is judged as if the instructor's takes varied by this many default tolerances
there (:attr:`app.reference.Reference.tolerance`): nobody dances a blend exactly."""


class RoutineFormatError(UserError):
    """A routine file breaks the format; the message names the file and the field."""


class _Part(BaseModel):
    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid", frozen=True)


class RoutineEntry(_Part):
    """One step of the routine, danced ``repeat`` times in a row."""

    step: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The name of a step of the library, e.g. wing-beat.")
    repeat: int = Field(default=1, ge=1, le=MAX_REPEAT)


class RoutineDocument(_Part):
    """A ``.routine.json`` document, the routine format's one schema."""

    format: FormatName
    version: Literal[1]
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                            max_length=MAX_TITLE)]
    description: Annotated[str, StringConstraints(strip_whitespace=True,
                                                  max_length=MAX_TEXT)] = ""
    transition_s: float = Field(
        default=DEFAULT_TRANSITION_S, ge=0.0, le=MAX_TRANSITION_S,
        description="Seconds of blend between consecutive steps (and repeats).")
    steps: list[RoutineEntry] = Field(min_length=1, max_length=MAX_ENTRIES)


@dataclass(frozen=True)
class Part:
    """One step in its turn: ``name`` as the routine's reference calls it (``wing-beat 2`` for
    the second time in a row), ``step`` the library's step."""

    name: str
    step: str


@dataclass(frozen=True)
class Routine:
    """A routine as read from its file; ``name`` is the file's."""

    name: str
    title: str
    description: str
    transition_s: float
    entries: tuple[RoutineEntry, ...]

    @property
    def steps(self) -> tuple[str, ...]:
        """The library steps in order, each once per entry."""
        return tuple(entry.step for entry in self.entries)

    @property
    def parts(self) -> tuple[Part, ...]:
        """Every step as danced, repeats included; a step danced again is counted on
        (``wing-beat``, ``wing-beat 2``), wherever in the routine it comes back."""
        seen: dict[str, int] = {}
        parts = []
        for entry in self.entries:
            for _ in range(entry.repeat):
                seen[entry.step] = seen.get(entry.step, 0) + 1
                count = seen[entry.step]
                parts.append(Part(entry.step if count == 1 else f"{entry.step} {count}",
                                  entry.step))
        return tuple(parts)


def load(path: Path) -> Routine:
    """Read and validate a routine file (not whether its steps exist).

    Raises
    ------
    RoutineFormatError
        With one sentence naming the file and the field at fault.
    """
    path = Path(path)
    data = read_document(path, MAX_FILE_BYTES, RoutineFormatError, path.name)
    try:
        doc = RoutineDocument.model_validate_json(data)
    except ValidationError as exc:
        error = first_error(exc, header=("format", "version"))
        raise RoutineFormatError(f"{path.name}: {describe(error)}") from None
    return Routine(name=path.name[: -len(SUFFIX)], title=doc.title,
                   description=doc.description, transition_s=doc.transition_s,
                   entries=tuple(doc.steps))


def dumps(routine: Routine) -> str:
    """The routine as its file's text (what :func:`load` reads back)."""
    try:
        doc = RoutineDocument(format=FORMAT, version=1, title=routine.title,
                              description=routine.description,
                              transition_s=routine.transition_s, steps=list(routine.entries))
    except ValidationError as exc:
        raise RoutineFormatError(f"routine {routine.name}: {describe(first_error(exc))}"
                                 ) from None
    return doc.model_dump_json(indent=2) + "\n"


def parse_entries(text: str) -> tuple[RoutineEntry, ...]:
    """Entries from ``"perched,wing-beat:2,landing"`` (a step, optionally ``:`` and how many
    times in a row).

    Raises
    ------
    UserError
        Naming the entry that is not a step or a step and a repeat count from 1 to the limit.
    """
    entries = []
    for item in (part.strip() for part in text.split(",")):
        step, _, count = item.partition(":")
        if not step or not ((count.isascii() and count.isdigit()) or not count):
            raise UserError(f"routine step {item!r} must be a step's name, optionally followed "
                            f"by ':' and how many times in a row (1 to {MAX_REPEAT})")
        try:
            entries.append(RoutineEntry(step=step, repeat=int(count or 1)))
        except ValidationError as exc:
            raise UserError(f"routine step {item!r}: {describe(first_error(exc))}") from None
    return tuple(entries)


@dataclass(frozen=True)
class _Piece:
    """Frames on the routine's clock: image landmarks for the routine's image size."""

    image: FloatArray
    visibility: FloatArray
    world: FloatArray
    present: npt.NDArray[np.bool_]
    spread: FloatArray

    def __len__(self) -> int:
        return len(self.present)


def _piece(reference: Reference, fps: float, aspect: float) -> _Piece:
    """``reference`` on the routine's clock (``fps``), its image x (about the picture's
    centre) and depth rescaled to the routine's aspect, so the body keeps its shape and place."""
    seq = reference.sequence
    spread = (np.zeros((len(seq), SKELETON.n_features)) if reference.tolerance is None
              else reference.tolerance)
    ratio = seq.aspect / aspect
    image = seq.image_xyz * np.array([ratio, 1.0, ratio]) + np.array([0.5 * (1.0 - ratio), 0, 0])
    piece = _Piece(image, seq.visibility, seq.world_xyz, seq.present, spread)
    elapsed = seq.t - seq.t[0]
    if np.all(np.abs(np.diff(elapsed) - 1.0 / fps) < CLOCK_SLACK_S):
        return piece
    return _resampled(piece, elapsed, round(seq.duration_s * fps), fps)


def _resampled(piece: _Piece, elapsed: FloatArray, n: int, fps: float) -> _Piece:
    """``n`` frames at ``fps`` of ``piece``, whose frames are at ``elapsed`` seconds: values
    interpolated linearly, a frame present where both frames around it are."""
    times = np.minimum(np.arange(max(1, n)) / fps, elapsed[-1])
    idx = np.clip(np.searchsorted(elapsed, times, side="right") - 1, 0, len(elapsed) - 1)
    nxt = np.minimum(idx + 1, len(elapsed) - 1)
    gap = np.where(nxt > idx, elapsed[nxt] - elapsed[idx], 1.0)
    frac = np.clip((times - elapsed[idx]) / gap, 0.0, 1.0)

    def mixed(a: FloatArray) -> FloatArray:
        w = frac.reshape((-1,) + (1,) * (a.ndim - 1))
        return np.asarray(a[idx] * (1 - w) + a[nxt] * w)

    return _Piece(mixed(piece.image), mixed(piece.visibility), mixed(piece.world),
                  piece.present[idx] & piece.present[nxt], mixed(piece.spread))


def _blend(before: _Piece, after: _Piece, n: int) -> _Piece:
    """``n`` frames from ``before``'s last pose seen to ``after``'s first, interpolated."""
    a = int(np.flatnonzero(before.present)[-1])
    b = int(np.flatnonzero(after.present)[0])
    w = (np.arange(1, n + 1) / (n + 1))[:, None, None]
    image = before.image[a] * (1 - w) + after.image[b] * w
    visibility = before.visibility[a] * (1 - w[:, :, 0]) + after.visibility[b] * w[:, :, 0]
    world = before.world[a] * (1 - w) + after.world[b] * w
    spread = np.broadcast_to(BLEND_SPREAD_FACTOR * SKELETON.default_tolerance,
                             (n, SKELETON.n_features))
    return _Piece(image, visibility, world, np.ones(n, dtype=bool), spread.copy())


def build_reference(routine: Routine, references: Mapping[str, Reference]) -> Reference:
    """The routine as one reference: its parts in order, blended into each other.

    Parameters
    ----------
    routine : Routine
    references : mapping of str to Reference
        Each step's reference (:meth:`app.library.Library.reference`, so a step with several
        takes keeps its tolerance).

    Returns
    -------
    Reference
        At the first step's frame rate and image size; its steps are the routine's parts
        (:attr:`Routine.parts`), the blends between them belong to none.

    Raises
    ------
    KeyError
        When a step has no reference in ``references``.
    """
    first = references[routine.entries[0].step].sequence
    fps, aspect = first.fps, first.aspect
    pieces: dict[str, _Piece] = {}
    frames: list[_Piece] = []
    steps: list[Step] = []
    blend_frames = round(routine.transition_s * fps)
    n = 0
    for part in routine.parts:
        if part.step not in pieces:
            pieces[part.step] = _piece(references[part.step], fps, aspect)
        piece = pieces[part.step]
        if frames and blend_frames:
            frames.append(_blend(frames[-1], piece, blend_frames))
            n += blend_frames
        steps.append(Step(part.name, n / fps, (n + len(piece)) / fps))
        frames.append(piece)
        n += len(piece)
    seq = PoseSequence(
        t=np.arange(n) / fps, image_xyz=np.concatenate([p.image for p in frames]),
        visibility=np.concatenate([p.visibility for p in frames]),
        world_xyz=np.concatenate([p.world for p in frames]),
        present=np.concatenate([p.present for p in frames]), fps=fps,
        image_size=first.image_size, name=routine.name, title=routine.title,
        source=Source("authored", f"routine {routine.name}"), steps=tuple(steps),
    )
    spread = np.concatenate([p.spread for p in frames])
    return Reference(seq, spread if spread.any() else None)


@dataclass(frozen=True)
class Target:
    """What an attempt is scored against: a step's reference, or a routine's with the
    routine (:meth:`app.library.Library.scorable` finds it by name)."""

    reference: Reference
    routine: Routine | None = None

    @property
    def title(self) -> str:
        return self.reference.sequence.title or self.reference.name

    def score(self, attempt: PoseSequence, options: ScoreOptions | None = None) -> ScoreReport:
        """The report on ``attempt``: a step's, or a routine's with its ``parts``."""
        if self.routine is None:
            return score(self.reference, attempt, options or ScoreOptions())
        return score_routine(self.routine, self.reference, attempt, options)


PARTS_EXPONENT = -0.5
"""Exponent of the power mean of a routine's part scores (below 1: a weak part counts more)."""


def score_routine(routine: Routine, reference: Reference, attempt: PoseSequence,
                  options: ScoreOptions | None = None) -> ScoreReport:
    """Score ``attempt`` against the routine's ``reference`` (:func:`build_reference`):
    ``parts``, one per part in order, each with its corrections in words, and the whole's
    score from its parts (:func:`whole_of`) instead of from all its frames at once, where one
    step danced wrong among ten would hardly show. A part the scorer could not judge (the
    learner left it out) scores 0."""
    return routine_report(routine, score(reference, attempt, options or ScoreOptions()))


def routine_report(routine: Routine, report: ScoreReport) -> ScoreReport:
    """A report against a routine's reference (offline or live) with its ``parts`` and the
    whole's score from them (:func:`whole_of`)."""
    by_name = {step.name: step for step in report.steps}
    parts = []
    for part in routine.parts:
        step = by_name.get(part.name)
        if step is None:
            parts.append(PartScore(part.name, part.step, 0.0, rating(0.0)))
            continue
        words = tuple(c.text for c in merged(step.corrections))
        parts.append(PartScore(part.name, part.step, step.score, step.rating, words))
    whole = whole_of([part.score for part in parts])
    return replace(report, score=whole, rating=rating(whole), parts=tuple(parts))


def whole_of(scores: list[float]) -> float:
    """A routine's score from its parts' scores, each step counting once: their power mean
    with exponent :data:`PARTS_EXPONENT`. One step of ten danced as another step keeps the
    whole from Great (nine at 100 and one at 7 give 61, Almost; one at 16 gives 75, Good),
    without making nine good steps a Miss."""
    if not scores:
        return 0.0
    values = np.maximum(np.asarray(scores, dtype=np.float64), 1.0)
    return float(np.mean(values ** PARTS_EXPONENT) ** (1.0 / PARTS_EXPONENT))
