"""``GET /api/config``: the thresholds and lists the page follows but the server owns.

The page colours scores, says when a step is mastered and offers the difficulties a new step
can have; it reads each of them here rather than keeping a copy that could drift. It also
learns here whether it can run the pose model itself, where the runtime and models are, and
how fast the device must be (``pose``).
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.live import MASTERED_ROUNDS, MASTERED_SCORE, WARN_LIMB
from app.metadata import DIFFICULTIES
from app.report import RATINGS
from app.scoring import GOOD_LIMB
from app.server.browser_pose import BrowserPosePublic, public
from app.server.deps import StateDep

router = APIRouter(prefix="/api", tags=["config"])


class ScoreStates(BaseModel):
    """Where a 0-100 score changes colour, as the live limb states do."""

    good: float = Field(description="From this score up: good.")
    warn: float = Field(description="From this score up to good: warn; below it: bad.")


class RatingTier(BaseModel):
    """A rating and the lowest score that earns it."""

    name: str
    min_score: float


class Mastery(BaseModel):
    """When a step counts as mastered."""

    score: float = Field(description="A step or a run scoring this or more is mastered.")
    rounds: int = Field(description="Rounds in a row of a looped step at that score after "
                                    "which the next step is offered.")


class ConfigPublic(BaseModel):
    states: ScoreStates
    ratings: list[RatingTier] = Field(description="Best first; a score earns the first tier "
                                                  "whose min_score it reaches.")
    mastered: Mastery
    difficulties: list[str] = Field(description="The difficulties a step can have, easiest "
                                                "first.")
    pose: BrowserPosePublic = Field(description="Pose estimation on the learner's device.")


@router.get("/config")
def config(state: StateDep) -> ConfigPublic:
    """Score colours, rating tiers, mastery and difficulties, from the server's own constants;
    and how the page runs the pose model itself."""
    return ConfigPublic(
        states=ScoreStates(good=GOOD_LIMB, warn=WARN_LIMB),
        ratings=[RatingTier(name=name, min_score=score) for name, score in RATINGS],
        mastered=Mastery(score=MASTERED_SCORE, rounds=MASTERED_ROUNDS),
        difficulties=list(DIFFICULTIES),
        pose=public(state.browser_pose, state.settings.min_device_fps),
    )
