"""``/api/routines``: the library's routines, steps of the library danced one after another."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.routine import Routine
from app.server.deps import StateDep

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
