"""What the scorer says about an attempt: the rating tiers and the report's types.

:class:`ScoreReport` is the verdict on one attempt (score, rating, limbs, timing, steps, worst
moments, feedback); :func:`app.scoring.build_report` makes it, offline and at the end of a live
session, and :class:`app.report_schema.Report` is its JSON.

Rating tiers: Perfect from 90, Great from 80, Good from 65, Almost from 50, Miss below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.features import Space
from app.feedback import Correction
from app.landmarks import Limb
from app.report_schema import Report
from app.rhythm import Rhythm

RATINGS: tuple[tuple[str, float], ...] = (
    ("Perfect", 90.0), ("Great", 80.0), ("Good", 65.0), ("Almost", 50.0), ("Miss", 0.0),
)
"""Rating tiers: the first whose threshold the score reaches."""


def rating(score: float) -> str:
    """The tier for a score 0-100."""
    return next(name for name, threshold in RATINGS if score >= threshold)


@dataclass(frozen=True)
class Timing:
    """When the learner moved compared with the reference.

    Attributes
    ----------
    offset_s : float
        Median lag, seconds: positive when behind the count (both counted from their first
        frame, the reference at the practised speed).
    tempo : float
        The learner's speed over the reference's at the practised speed (1: on tempo).
    """

    offset_s: float = 0.0
    tempo: float = 1.0

    @property
    def description(self) -> str:
        if abs(self.offset_s) < 0.15:
            return "on the count"
        return f"{abs(self.offset_s):.1f} s {'behind' if self.offset_s > 0 else 'ahead'}"


@dataclass(frozen=True)
class Moment:
    """A stretch of time where one limb went wrong.

    ``start_s`` / ``end_s`` are attempt seconds (None when the learner left that part out),
    ``reference_start_s`` / ``reference_end_s`` the reference's.
    """

    start_s: float | None
    end_s: float | None
    reference_start_s: float
    reference_end_s: float
    limb: Limb
    score: float
    error: str


@dataclass(frozen=True)
class StepScore:
    """The score of one named step of the reference."""

    name: str
    score: float
    rating: str
    limbs: Mapping[Limb, float]
    reference_start_s: float
    reference_end_s: float
    corrections: tuple[Correction, ...] = ()
    """The limb corrections over this step's frames, most important first."""


@dataclass(frozen=True)
class PartScore:
    """The score of one part of a routine: a step of the library, danced in its turn.

    ``name`` is the part's name in the routine's reference (``wing-beat``, ``wing-beat 2`` for
    its second time), ``step`` the library step's; ``corrections`` are in words."""

    name: str
    step: str
    score: float
    rating: str
    corrections: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScoreReport:
    """The verdict on one attempt.

    Attributes
    ----------
    score : float
        0-100.
    rating : str
        Perfect, Great, Good, Almost or Miss.
    limbs : mapping of Limb to float
        0-100 per limb seen (the learner's own sides).
    unseen : tuple of Limb
        Limbs not scored because the camera did not see them.
    not_visible : tuple of str
        Body parts out of view for most of the attempt ("feet").
    timing : Timing
    feedback : tuple of str
        Most important first.
    corrections : tuple of Correction
        The limb corrections behind the feedback.
    steps : tuple of StepScore
        Per named step of the reference.
    parts : tuple of PartScore
        Per part of a routine, in order (empty for a single step).
    worst_moments : tuple of Moment
    coverage : float
        Share of the reference the attempt was matched to.
    poorly_seen : bool
        The pose model's points of the attempt jumped about far more than a camera's usually
        do (a dim, blurred or tiny picture): the score may say more about the camera than
        about the dancing, and the feedback says so first.
    rhythm : Rhythm or None
        Whether the learner's accents landed on the music's beats, judged apart from the
        shape (:mod:`app.rhythm`); None without music timing (offline scoring, a reference
        without a beat grid, a page that sent no music start).
    """

    score: float
    rating: str
    limbs: Mapping[Limb, float]
    unseen: tuple[Limb, ...] = ()
    not_visible: tuple[str, ...] = ()
    timing: Timing = field(default_factory=Timing)
    feedback: tuple[str, ...] = ()
    corrections: tuple[Correction, ...] = ()
    steps: tuple[StepScore, ...] = ()
    parts: tuple[PartScore, ...] = ()
    worst_moments: tuple[Moment, ...] = ()
    coverage: float = 1.0
    poorly_seen: bool = False
    reference: str = ""
    mirror: bool = False
    space: Space = "image"
    rhythm: Rhythm | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the :class:`app.report_schema.Report` (numbers rounded, limbs by name)."""

        return Report.of(self).model_dump(mode="json")
