"""``/api/routines``: the library's routines, steps of the library danced one after another."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field

from app.library import ReferenceInfo
from app.routine import (
    DEFAULT_TRANSITION_S,
    MAX_ENTRIES,
    MAX_TRANSITION_S,
    Routine,
    RoutineEntry,
)
from app.server.deps import InstructorDep, StateDep
from app.server.errors import error_responses
from app.server.references import (
    Name,
    ReferenceDetail,
    ReferencePublic,
    detail_of,
    library_errors,
    target_or_404,
)

router = APIRouter(prefix="/api/routines", tags=["routines"],
                   responses=error_responses(400, 401, 403, 404, 409, 422, 503))


class RoutinePublic(BaseModel):
    """A routine as the library lists it (``poses/routines/NAME.routine.json``)."""

    name: str = Field(description="The routine's slug, e.g. burkit-bi.")
    title: str
    description: str
    steps: list[str] = Field(description="The library steps in the order they are danced.")
    repeats: list[int] = Field(description="How many times in a row each of the steps is "
                                           "danced, in the order of steps.")
    transition_s: float = Field(description="Seconds of blend between consecutive steps.")

    @classmethod
    def of(cls, routine: Routine) -> RoutinePublic:
        return cls(name=routine.name, title=routine.title, description=routine.description,
                   steps=list(routine.steps),
                   repeats=[entry.repeat for entry in routine.entries],
                   transition_s=routine.transition_s)


@router.get("")
def list_routines(state: StateDep) -> list[RoutinePublic]:
    """Every routine whose steps are all in the library, by name (the others are skipped and
    listed in GET /api/health's problems)."""
    return [RoutinePublic.of(routine) for routine in state.library.routines()]


class RoutineDetail(ReferenceDetail):
    """A routine as it is danced: its steps' references one after another, blended, with the
    ghost and each part's frames (the parts are named after their steps), as a step's detail."""

    routine: RoutinePublic


@router.get("/{name}")
def get_routine(state: StateDep, name: Name) -> RoutineDetail:
    """One routine with its frames (for the ghost skeleton of a practice of the whole)."""
    target = target_or_404(state, name)
    if target.routine is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no routine named {name!r}.")
    routine = target.routine
    seq = target.reference.sequence
    public = ReferencePublic.of(ReferenceInfo.of(seq)).model_copy(
        update={"name": routine.name, "title": routine.title,
                "description": routine.description})
    return RoutineDetail(**detail_of(seq, public).model_dump(),
                         routine=RoutinePublic.of(routine))


class RoutineWrite(BaseModel):
    """A routine as an instructor makes or changes it: steps of the library in order."""

    title: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    steps: list[RoutineEntry] = Field(min_length=1, max_length=MAX_ENTRIES,
                                      description="Each a library step and how many times in "
                                                  "a row it is danced.")
    transition_s: float = Field(default=DEFAULT_TRANSITION_S, ge=0.0, le=MAX_TRANSITION_S)


@router.put("/{name}", dependencies=[InstructorDep])
def put_routine(state: StateDep, name: Name, body: RoutineWrite) -> RoutinePublic:
    """Make or replace a routine (instructor); one naming a missing step is refused."""
    routine = Routine(name=name, title=body.title.strip(), description=body.description.strip(),
                      transition_s=body.transition_s, entries=tuple(body.steps))
    with library_errors(name):
        state.library.save_routine(routine)
    return RoutinePublic.of(routine)


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT, dependencies=[InstructorDep])
def delete_routine(state: StateDep, name: Name) -> Response:
    """Remove a routine (instructor); its steps stay in the library."""
    with library_errors(name):
        state.library.delete_routine(name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
