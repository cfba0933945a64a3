"""``/api/references``: the step library. Reading is open; every change needs the token."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import BaseModel, Field

from app import sequence
from app.errors import UserError
from app.library import (
    NAME_PATTERN,
    AlreadyExists,
    BrokenReference,
    NotFound,
    ReferenceInfo,
)
from app.metadata import DIFFICULTIES, MAX_TEXT, MAX_TITLE, TEMPO_RANGE, ReferenceMetadata
from app.routine import Target
from app.sequence import PoseSequence, Step
from app.server.deps import InstructorDep, StateDep
from app.server.errors import error_responses, sentence
from app.server.protocol import ImageSize, Trim
from app.server.state import ServerState

router = APIRouter(prefix="/api/references", tags=["references"],
                   responses=error_responses(400, 401, 404, 409, 413, 422))

GHOST_DECIMALS = 4
NAME_SCHEMA_PATTERN = f"^{NAME_PATTERN.pattern}$"
"""A reference name for the schema: the whole name must match (a JSON Schema pattern matches
anywhere in the string). The library checks every name and refuses others with a sentence
saying what a name may be."""
Name = Annotated[str, Path(json_schema_extra={"pattern": NAME_SCHEMA_PATTERN},
                           description="Reference name, e.g. wing-beat.")]
Difficulty = Annotated[str, Field(json_schema_extra={"enum": list(DIFFICULTIES)},
                                   description="One of " + ", ".join(DIFFICULTIES) + ".")]
Tempo = Annotated[float, Field(ge=TEMPO_RANGE[0], le=TEMPO_RANGE[1],
                               description="Beats per minute the step is danced to.")]


class StepPublic(BaseModel):
    """A named part of a reference, in seconds from its start."""

    name: str = Field(min_length=1, max_length=100)
    start_s: float = Field(ge=0, allow_inf_nan=False)
    end_s: float = Field(gt=0, allow_inf_nan=False)


class ReferencePublic(BaseModel):
    """A reference as the library lists it (no frames)."""

    name: str
    title: str
    description: str
    difficulty: str = Field(description="One of " + ", ".join(DIFFICULTIES)
                            + ", or empty when not set.")
    tempo_bpm: float | None
    duration_s: float
    fps: float
    frames: int
    takes: int
    steps: list[StepPublic]
    source: str = Field(description="How it was made: video, webcam or authored.")

    @classmethod
    def of(cls, info: ReferenceInfo) -> ReferencePublic:
        meta = info.metadata
        return cls(
            name=info.name, title=meta.title, description=meta.description,
            difficulty=meta.difficulty or "", tempo_bpm=meta.tempo_bpm,
            duration_s=round(info.duration_s, 3), fps=info.fps, frames=info.n_frames,
            takes=info.n_takes, source=info.source_kind,
            steps=[StepPublic(name=s.name, start_s=s.start_s, end_s=s.end_s) for s in info.steps],
        )


class GhostFrames(BaseModel):
    """The movement for drawing: per frame the 33 landmarks' normalised ``x, y`` flattened
    (``[x0, y0, x1, y1, ...]``, 66 numbers), or null when nobody is in view."""

    aspect: float = Field(description="Image width over height.")
    t: list[float]
    xy: list[list[float] | None]


class StepFrames(BaseModel):
    """Where a step lies in the frames of its reference (see ``PoseSequence.step_frames``)."""

    name: str
    start_frame: int = Field(ge=0, description="First frame of the step.")
    stop_frame: int = Field(ge=0, description="One past its last frame (equal to start_frame "
                                              "when the step holds no frame).")


class ReferenceDetail(ReferencePublic):
    """A reference with its movement, for the ghost skeleton and previews."""

    image: ImageSize
    ghost: GhostFrames
    step_frames: list[StepFrames] = Field(description="The frames of each step, in the order "
                                                      "of steps.")


class TakeCreate(BaseModel):
    """A recorded take: a ``.pose.json`` document (e.g. from a ``recorded`` message)."""

    sequence: dict[str, Any] = Field(description="A .pose.json document.")
    trim: Trim | None = None


class ReferenceCreate(TakeCreate):
    """A new reference from a recording."""

    name: str = Field(json_schema_extra={"pattern": NAME_SCHEMA_PATTERN},
                      description="Slug, e.g. wing-beat.")
    title: str | None = Field(default=None, max_length=MAX_TITLE,
                              description="What learners see; when absent, the name.")
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    difficulty: Difficulty | None = None
    tempo_bpm: Tempo | None = None
    steps: list[StepPublic] | None = Field(
        default=None, description="Named parts; when absent, parts are split at the pauses.")


class ReferenceUpdate(BaseModel):
    """What an instructor can change without re-recording; absent fields stay."""

    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE)
    description: str | None = Field(default=None, max_length=MAX_TEXT)
    difficulty: Difficulty | None = None
    tempo_bpm: Tempo | None = None
    steps: list[StepPublic] | None = None


@contextmanager
def _library_errors(name: str = "") -> Iterator[None]:
    """Library errors as HTTP answers that name the reference, never a server path."""
    try:
        yield
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"There is no reference named {name!r}.") from None
    except AlreadyExists as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, sentence(exc)) from None
    except BrokenReference:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"The file of reference {name!r} is damaged; an instructor can "
                            f"delete it or replace it.") from None
    except UserError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, sentence(exc)) from None


def target_or_404(state: ServerState, name: str) -> Target:
    """What ``name`` is scored against (a step, else a routine), or an HTTP error."""
    with _library_errors(name):
        return state.library.scorable(name)


def ghost_frames(seq: PoseSequence) -> GhostFrames:
    """The compact drawing form of ``seq``'s image landmarks."""
    xy = np.round(seq.image_xyz[:, :, :2], GHOST_DECIMALS).reshape(len(seq), -1)
    rows: list[list[float] | None] = [
        row.tolist() if present else None for row, present in zip(xy, seq.present, strict=True)
    ]
    return GhostFrames(aspect=seq.aspect, t=np.round(seq.t, 4).tolist(), xy=rows)


def step_frames(seq: PoseSequence, step: Step) -> StepFrames:
    start, stop = seq.step_frames(step)
    return StepFrames(name=step.name, start_frame=start, stop_frame=stop)


def _sequence_from(body: TakeCreate) -> PoseSequence:
    seq = sequence.from_dict(body.sequence, origin="the sequence")
    if body.trim is not None:
        seq = seq.trim_seconds(body.trim.start_s, body.trim.end_s)
    return seq


def _steps(steps: list[StepPublic]) -> tuple[Step, ...]:
    return tuple(Step(s.name, s.start_s, s.end_s) for s in steps)


@router.get("")
def list_references(state: StateDep) -> list[ReferencePublic]:
    """Every step in the library, sorted by name."""
    return [ReferencePublic.of(info) for info in state.library.list()]


@router.get("/{name}")
def get_reference(state: StateDep, name: Name) -> ReferenceDetail:
    """One step with its frames (for the ghost skeleton)."""
    with _library_errors(name):
        seq = state.library.get(name)
    return detail_of(seq, ReferencePublic.of(ReferenceInfo.of(seq)))


def detail_of(seq: PoseSequence, public: ReferencePublic) -> ReferenceDetail:
    """``public`` with ``seq``'s movement: the ghost frames and each step's frames."""
    return ReferenceDetail(
        **public.model_dump(),
        image=ImageSize(width=seq.image_size[0], height=seq.image_size[1]),
        ghost=ghost_frames(seq),
        step_frames=[step_frames(seq, step) for step in seq.steps],
    )


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[InstructorDep])
def create_reference(state: StateDep, body: ReferenceCreate) -> ReferencePublic:
    """Add a step made from a recording (instructor)."""
    with _library_errors(body.name):
        metadata = ReferenceMetadata(title=body.title or "", description=body.description or "",
                                     difficulty=body.difficulty, tempo_bpm=body.tempo_bpm)
        info = state.library.create_from_take(
            body.name, _sequence_from(body), metadata,
            None if body.steps is None else _steps(body.steps))
    return ReferencePublic.of(info)


@router.patch("/{name}", dependencies=[InstructorDep])
def update_reference(state: StateDep, name: Name, body: ReferenceUpdate) -> ReferencePublic:
    """Change a step's title, description, difficulty, tempo or parts (instructor)."""
    with _library_errors(name):
        info = state.library.update_metadata(
            name, title=body.title, description=body.description, difficulty=body.difficulty,
            tempo_bpm=body.tempo_bpm, steps=None if body.steps is None else _steps(body.steps),
        )
    return ReferencePublic.of(info)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=[InstructorDep])
def delete_reference(state: StateDep, name: Name) -> Response:
    """Remove a step from the library (instructor)."""
    with _library_errors(name):
        state.library.delete(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/takes", status_code=status.HTTP_201_CREATED,
             dependencies=[InstructorDep])
def add_take(state: StateDep, name: Name, body: TakeCreate) -> ReferencePublic:
    """Add another take of a step; the scorer then tolerates what varies between takes."""
    with _library_errors(name):
        info = state.library.add_take(name, _sequence_from(body))
    return ReferencePublic.of(info)
