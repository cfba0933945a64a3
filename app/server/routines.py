"""``/api/routines``: the library's routines, steps of the library danced one after another."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from app.library import ReferenceInfo
from app.routine import Routine
from app.server.deps import StateDep
from app.server.references import Name, ReferenceDetail, ReferencePublic, detail_of, target_or_404

router = APIRouter(prefix="/api/routines", tags=["routines"])


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


@router.get("/{name}", responses={404: {"description": "No such routine."}})
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
