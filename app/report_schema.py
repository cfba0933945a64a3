"""The JSON of a score report: the one description of its fields, their types and rounding.

:meth:`app.report.ScoreReport.to_dict` (so ``dance-tutor score --json``) dumps a
:class:`Report`, and the server answers with the same model (a job's ``result``, the practice
``summary``), so the OpenAPI schema shows the report exactly as it is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.features import Space
from app.landmarks import Limb

if TYPE_CHECKING:
    from app.report import Moment, PartScore, ScoreReport, StepScore, Timing
    from app.rhythm import CountOffset, Rhythm


def _rounded(digits: int) -> AfterValidator:
    return AfterValidator(lambda value: round(value, digits))


Points = Annotated[float, _rounded(1), Field(description="0-100, to one decimal.")]
Seconds = Annotated[float, _rounded(2), Field(description="Seconds, to two decimals.")]
Thousandths = Annotated[float, _rounded(3)]
"""A lag, ratio or share, to three decimals."""
Milliseconds = Annotated[float, _rounded(0)]
"""A time offset in whole milliseconds."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimingReport(_Part):
    """When the learner moved compared with the reference (``app.report.Timing``)."""

    offset_s: Thousandths = Field(description="Median lag in seconds: positive behind the "
                                              "count, negative ahead.")
    tempo: Thousandths = Field(description="The learner's speed over the practised speed (1: "
                                           "on tempo).")
    behind: bool = Field(description="The learner was behind the count.")
    description: str = Field(description="The lag in words: 'on the count', '0.4 s behind'.")

    @classmethod
    def of(cls, timing: Timing) -> TimingReport:
        return cls(offset_s=timing.offset_s, tempo=timing.tempo, behind=timing.offset_s > 0,
                   description=timing.description)


class StepReport(_Part):
    """The score of one named part of the reference (``app.report.StepScore``)."""

    name: str
    score: Points
    rating: str = Field(description="The tier the score reached (GET /api/config gives "
                                    "them).")
    limbs: dict[Limb, Points] = Field(description="Score per limb seen (the learner's own "
                                                  "sides).")
    reference_start_s: Seconds
    reference_end_s: Seconds

    @classmethod
    def of(cls, step: StepScore) -> StepReport:
        return cls(name=step.name, score=step.score, rating=step.rating, limbs=dict(step.limbs),
                   reference_start_s=step.reference_start_s,
                   reference_end_s=step.reference_end_s)


class PartReport(_Part):
    """One part of a routine: a step of the library in its turn (``app.report.PartScore``)."""

    name: str = Field(description="The part's name among the routine's parts: the step's "
                                  "name, with its count when repeated ('wing-beat 2').")
    step: str = Field(description="The library step danced in this part.")
    score: Points
    rating: str = Field(description="The tier the score reached (GET /api/config gives "
                                    "them).")
    corrections: list[str] = Field(description="What to fix in this part, most important "
                                               "first.")

    @classmethod
    def of(cls, part: PartScore) -> PartReport:
        return cls(name=part.name, step=part.step, score=part.score, rating=part.rating,
                   corrections=list(part.corrections))


class MomentReport(_Part):
    """A stretch where one limb went wrong (``app.report.Moment``)."""

    start_s: Seconds | None = Field(description="Attempt seconds; null when the learner left "
                                                "this part out.")
    end_s: Seconds | None = Field(description="Attempt seconds; null when the learner left "
                                              "this part out.")
    reference_start_s: Seconds
    reference_end_s: Seconds
    limb: Limb
    score: Points
    error: str = Field(description="What the limb did wrong, in words.")

    @classmethod
    def of(cls, moment: Moment) -> MomentReport:
        return cls(start_s=moment.start_s, end_s=moment.end_s,
                   reference_start_s=moment.reference_start_s,
                   reference_end_s=moment.reference_end_s, limb=moment.limb,
                   score=moment.score, error=moment.error)


class CountReport(_Part):
    """The learner's timing on one count of the bar (``app.rhythm.CountOffset``)."""

    count: int = Field(description="The count in the bar: 1 for its first beat.")
    offset_ms: Milliseconds | None = Field(
        description="Median offset of this count's beats from the beat in ms, late positive; "
                    "null with fewer than two of its beats answered.")
    beats: int = Field(description="Beats of this count judged.")
    hits: int = Field(description="Of those, beats a move landed on (within half a beat).")

    @classmethod
    def of(cls, count: CountOffset) -> CountReport:
        return cls(count=count.count, offset_ms=count.offset_ms, beats=count.beats,
                   hits=count.hits)


class RhythmReport(_Part):
    """Whether the learner's accents (a movement stopping, turning or starting) landed on the
    beats, judged apart from the shape (``app.rhythm.Rhythm``, docs/scoring.md)."""

    score: Points = Field(description="0-100, the rhythm's own score; it never changes the "
                                      "shape's score.")
    offset_ms: Milliseconds | None = Field(
        description="The learner's median offset from the beat in ms: positive late, negative "
                    "early; null when no move landed near a beat. Uncalibrated, it holds the "
                    "device's camera and audio delays too.")
    spread_ms: Milliseconds | None = Field(
        description="How much the offsets vary (a robust standard deviation), ms; null below "
                    "two answered beats.")
    beat_align: Thousandths = Field(
        description="The beat alignment score of the dance-generation literature, 0-1 (sigma "
                    "50 ms), on the clocks as given.")
    beats: int = Field(description="Beats judged: those the reference dances, heard while the "
                                   "learner was in view.")
    hits: int = Field(description="Of those, beats a move landed on (within half a beat).")
    counts: list[CountReport] = Field(description="Per count of the bar, in order.")
    calibrated: bool = Field(description="The device's camera and audio delays were measured "
                                         "and taken off; false: the words say the timing is "
                                         "uncalibrated, and the score judges evenness only.")
    feedback: list[str] = Field(description="The rhythm in words, most important first.")

    @classmethod
    def of(cls, rhythm: Rhythm) -> RhythmReport:
        return cls(score=rhythm.score, offset_ms=rhythm.offset_ms, spread_ms=rhythm.spread_ms,
                   beat_align=rhythm.beat_align, beats=rhythm.beats, hits=rhythm.hits,
                   counts=[CountReport.of(count) for count in rhythm.counts],
                   calibrated=rhythm.calibrated, feedback=list(rhythm.feedback))


class Report(_Part):
    """The verdict on one attempt (``app.report.ScoreReport``)."""

    reference: str = Field(description="The reference's name.")
    score: Points
    rating: str = Field(description="The tier the score reached (GET /api/config gives "
                                    "them).")
    limbs: dict[Limb, Points] = Field(description="Score per limb seen (the learner's own "
                                                  "sides).")
    unseen: list[Limb] = Field(description="Limbs not scored: the camera did not see them.")
    not_visible: list[str] = Field(description="Body parts out of view for most of the "
                                               "attempt ('feet').")
    timing: TimingReport
    feedback: list[str] = Field(description="Corrections, most important first.")
    steps: list[StepReport] = Field(description="Per named part of the reference.")
    parts: list[PartReport] = Field(description="Per step of a routine, in the routine's "
                                                "order; empty for a single step.")
    worst_moments: list[MomentReport]
    coverage: Thousandths = Field(description="Share of the reference the attempt was "
                                              "matched to.")
    poorly_seen: bool = Field(description="The pose model's points of the learner jumped "
                                          "about far more than a camera's usually do (dim "
                                          "light, blur, a tiny picture): the feedback says so "
                                          "first.")
    mirror: bool = Field(description="The learner mirrored the reference (their left copied "
                                     "its right).")
    space: Space = Field(description="The landmarks compared: 'world' (the pose model's "
                                     "metres) or 'image'.")
    rhythm: RhythmReport | None = Field(
        default=None, description="The rhythm, beside the shape's score and never in it; null "
                                  "without music timing (offline scoring, a reference without "
                                  "a beat grid, a page that sent no music start).")

    @classmethod
    def of(cls, report: ScoreReport) -> Report:
        return cls(reference=report.reference, score=report.score, rating=report.rating,
                   limbs=dict(report.limbs), unseen=list(report.unseen),
                   not_visible=list(report.not_visible), timing=TimingReport.of(report.timing),
                   feedback=list(report.feedback),
                   steps=[StepReport.of(step) for step in report.steps],
                   parts=[PartReport.of(part) for part in report.parts],
                   worst_moments=[MomentReport.of(moment) for moment in report.worst_moments],
                   coverage=report.coverage, poorly_seen=report.poorly_seen,
                   mirror=report.mirror, space=report.space,
                   rhythm=None if report.rhythm is None else RhythmReport.of(report.rhythm))
