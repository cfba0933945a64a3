"""``/api/references``: the step library. Reading is open; every change needs the token.

A step's music (:mod:`app.music`) is served at ``/api/references/{name}/music``; an instructor
uploads it with ``PUT``, corrects its beat grid with ``PATCH`` and removes it with ``DELETE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import Annotated, Any

import numpy as np
from fastapi import (
    APIRouter,
    File,
    Form,
    Header,
    HTTPException,
    Path,
    Response,
    UploadFile,
    status,
)
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, model_validator

from app import sequence
from app.beats import MAX_METER, MAX_TEMPO_BPM, MIN_TEMPO_BPM, BeatGrid
from app.errors import UserError
from app.library import (
    NAME_PATTERN,
    AlreadyExists,
    BrokenReference,
    Library,
    NoMusic,
    NotFound,
    ReferenceInfo,
)
from app.metadata import DIFFICULTIES, MAX_TEXT, MAX_TITLE, TEMPO_RANGE, ReferenceMetadata
from app.music import (
    DEFAULT_METER,
    MAX_AUDIO_BYTES,
    MEDIA_TYPES,
    MIN_TAPS,
    AudioTooLarge,
    Music,
    MusicError,
    check_size,
    grid_from_taps,
)
from app.routine import Target
from app.sequence import PoseSequence, Step
from app.server.deps import InstructorDep, StateDep
from app.server.errors import error_responses, sentence
from app.server.protocol import ImageSize, Trim
from app.server.state import ServerState

router = APIRouter(prefix="/api/references", tags=["references"],
                   responses=error_responses(400, 401, 403, 404, 409, 413, 422, 503))

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
MUSIC_CACHE = "no-cache"
"""Music is revalidated on every use (its ETag answers 304 while it is unchanged): an
instructor may replace it at any time."""


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


class MusicPublic(BaseModel):
    """A step's music and its beat grid, in the reference's seconds (audio second ``t`` goes
    with the reference's frame at ``t``)."""

    url: str = Field(description="Where the tutor serves the audio (an audio/* response).")
    tempo_bpm: float = Field(description="Beats a minute.")
    first_beat_s: float = Field(description="Time of the first beat, count 1 of a bar.")
    meter: int = Field(description="Beats a bar.")

    @classmethod
    def of(cls, library: Library, name: str, music: Music) -> MusicPublic:
        grid = music.grid
        return cls(url=f"/api/references/{name}/music?v={_version(library, music)}",
                   tempo_bpm=round(grid.tempo_bpm, 4), first_beat_s=round(grid.first_beat_s, 4),
                   meter=grid.meter)


def _version(library: Library, music: Music) -> str:
    """What changes when the music's file does: its modification time and size."""
    stat = library.audio_path(music).stat()
    return f"{stat.st_mtime_ns:x}{stat.st_size:x}"


class ReferenceDetail(ReferencePublic):
    """A reference with its movement, for the ghost skeleton and previews."""

    image: ImageSize
    ghost: GhostFrames
    step_frames: list[StepFrames] = Field(description="The frames of each step, in the order "
                                                      "of steps.")
    music: MusicPublic | None = Field(default=None, description="The step's music, or null "
                                                                "when it has none.")


class GridUpdate(BaseModel):
    """A beat grid by hand: ``tempo_bpm`` and ``first_beat_s`` typed, or ``taps`` (seconds of
    the audio, one a beat, the first on count 1); ``meter`` alone changes only the meter."""

    tempo_bpm: float | None = Field(default=None, ge=MIN_TEMPO_BPM, le=MAX_TEMPO_BPM)
    first_beat_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    meter: int | None = Field(default=None, ge=1, le=MAX_METER,
                              description="Beats a bar; when absent, as it was.")
    taps: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = Field(
        default=None, min_length=MIN_TAPS, max_length=10_000)

    @model_validator(mode="after")
    def _one_way(self) -> GridUpdate:
        typed = (self.tempo_bpm is not None, self.first_beat_s is not None)
        if self.taps is not None and any(typed):
            raise ValueError("give taps or tempo_bpm and first_beat_s, not both")
        if typed[0] != typed[1]:
            raise ValueError("give tempo_bpm and first_beat_s together")
        if self.taps is None and not any(typed) and self.meter is None:
            raise ValueError("give taps, tempo_bpm and first_beat_s, or meter")
        return self


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
def library_errors(name: str = "") -> Iterator[None]:
    """Library errors as HTTP answers that name the reference, never a server path."""
    try:
        yield
    except NotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"There is no reference named {name!r}.") from None
    except AlreadyExists as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, sentence(exc)) from None
    except NoMusic as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, sentence(exc)) from None
    except BrokenReference:
        raise HTTPException(status.HTTP_409_CONFLICT,
                            f"The file of reference {name!r} is damaged; an instructor can "
                            f"delete it or replace it.") from None
    except UserError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, sentence(exc)) from None


def target_or_404(state: ServerState, name: str) -> Target:
    """What ``name`` is scored against (a step, else a routine), or an HTTP error."""
    with library_errors(name):
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
    with library_errors(name):
        seq = state.library.get(name)
        music = state.library.music(name)
    return detail_of(seq, ReferencePublic.of(ReferenceInfo.of(seq)),
                     None if music is None else MusicPublic.of(state.library, name, music))


def detail_of(seq: PoseSequence, public: ReferencePublic,
              music: MusicPublic | None = None) -> ReferenceDetail:
    """``public`` with ``seq``'s movement (the ghost frames and each step's frames) and
    ``music``."""
    return ReferenceDetail(
        **public.model_dump(),
        image=ImageSize(width=seq.image_size[0], height=seq.image_size[1]),
        ghost=ghost_frames(seq),
        step_frames=[step_frames(seq, step) for step in seq.steps],
        music=music,
    )


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=[InstructorDep])
def create_reference(state: StateDep, body: ReferenceCreate) -> ReferencePublic:
    """Add a step made from a recording (instructor)."""
    with library_errors(body.name):
        metadata = ReferenceMetadata(title=body.title or "", description=body.description or "",
                                     difficulty=body.difficulty, tempo_bpm=body.tempo_bpm)
        info = state.library.create_from_take(
            body.name, _sequence_from(body), metadata,
            None if body.steps is None else _steps(body.steps))
    return ReferencePublic.of(info)


@router.patch("/{name}", dependencies=[InstructorDep])
def update_reference(state: StateDep, name: Name, body: ReferenceUpdate) -> ReferencePublic:
    """Change a step's title, description, difficulty, tempo or parts (instructor)."""
    with library_errors(name):
        info = state.library.update_metadata(
            name, title=body.title, description=body.description, difficulty=body.difficulty,
            tempo_bpm=body.tempo_bpm, steps=None if body.steps is None else _steps(body.steps),
        )
    return ReferencePublic.of(info)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=[InstructorDep])
def delete_reference(state: StateDep, name: Name) -> Response:
    """Remove a step from the library (instructor)."""
    with library_errors(name):
        state.library.delete(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{name}/takes", status_code=status.HTTP_201_CREATED,
             dependencies=[InstructorDep])
def add_take(state: StateDep, name: Name, body: TakeCreate) -> ReferencePublic:
    """Add another take of a step; the scorer then tolerates what varies between takes."""
    with library_errors(name):
        info = state.library.add_take(name, _sequence_from(body))
    return ReferencePublic.of(info)


@router.get("/{name}/music", response_class=FileResponse,
            responses={200: {"content": {t: {} for t in sorted(set(MEDIA_TYPES.values()))},
                             "description": "The step's audio."}})
def get_music(state: StateDep, name: Name,
              if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """A step's music, as the audio file it is (audio/wav, audio/ogg or audio/mpeg); 304
    while the ``ETag`` the client has is still the file's."""
    with library_errors(name):
        music = state.library.music(name)
    if music is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Reference {name!r} has no music.")
    headers = {"Cache-Control": MUSIC_CACHE, "ETag": f'"{_version(state.library, music)}"'}
    if if_none_match == headers["ETag"]:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    path = state.library.audio_path(music)
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix.removeprefix(".")],
                        headers=headers)


@router.put("/{name}/music", dependencies=[InstructorDep])
def put_music(
    state: StateDep, name: Name,
    file: Annotated[UploadFile, File(description="WAV, Ogg (Vorbis or Opus) or MP3, at most "
                                                 f"{MAX_AUDIO_BYTES // 2**20} MiB.")],
    meter: Annotated[int, Form(ge=1, le=MAX_METER, description="Beats a bar.")] = DEFAULT_METER,
    tempo_bpm: Annotated[float | None, Form(ge=MIN_TEMPO_BPM, le=MAX_TEMPO_BPM)] = None,
    first_beat_s: Annotated[float | None, Form(ge=0, allow_inf_nan=False)] = None,
) -> MusicPublic:
    """Give a step music (instructor): the file is checked, and its beat grid found by the
    beat tracker unless ``tempo_bpm`` and ``first_beat_s`` are given."""
    if (tempo_bpm is None) != (first_beat_s is None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "Give tempo_bpm and first_beat_s together, or neither to find the "
                            "beat grid in the music.")
    label = _upload_name(file)
    data = file.file.read(MAX_AUDIO_BYTES + 1)
    with library_errors(name):
        grid = None if tempo_bpm is None or first_beat_s is None else BeatGrid(
            tempo_bpm, first_beat_s, meter)
        try:
            check_size(max(len(data), file.size or 0), label)
            music = state.library.attach_music(name, data, label, meter=meter, grid=grid)
        except MusicError as exc:
            # The file name leads the sentence as it was sent, so it is not capitalised.
            code = (status.HTTP_413_CONTENT_TOO_LARGE if isinstance(exc, AudioTooLarge)
                    else status.HTTP_422_UNPROCESSABLE_CONTENT)
            raise HTTPException(code, f"{exc}.") from None
        return MusicPublic.of(state.library, name, music)


@router.patch("/{name}/music", dependencies=[InstructorDep])
def patch_music(state: StateDep, name: Name, body: GridUpdate) -> MusicPublic:
    """Correct a step's beat grid by hand (instructor): typed, or from taps along the music."""
    with library_errors(name):
        current = state.library.music(name)
        if current is None:
            raise NoMusic(f"reference {name!r} has no music; attach an audio file first")
        meter = body.meter or current.grid.meter
        if body.taps is not None:
            grid = grid_from_taps(body.taps, meter)
        elif body.tempo_bpm is not None and body.first_beat_s is not None:
            grid = BeatGrid(body.tempo_bpm, body.first_beat_s, meter)
        else:
            grid = BeatGrid(current.grid.tempo_bpm, current.grid.first_beat_s, meter)
        music = state.library.set_beat_grid(name, grid)
        return MusicPublic.of(state.library, name, music)


@router.delete("/{name}/music", status_code=status.HTTP_204_NO_CONTENT,
               dependencies=[InstructorDep])
def delete_music(state: StateDep, name: Name) -> Response:
    """Take a step's music away (instructor)."""
    with library_errors(name):
        state.library.remove_music(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _upload_name(upload: UploadFile) -> str:
    """The uploaded file's own name, for the sentences that refuse it."""
    return PurePath(upload.filename or "upload").name[:100] or "upload"
