"""Every finished practice, kept; and what a learner and a teacher read from them over weeks.

:func:`store_practice` keeps one practice: who, which step or routine, when, speed, mirror,
loop, the whole report and the learner's landmarks of the attempt (a gzipped ``.pose.json``,
dropped when over the size limit, for the replay). The progress of a learner
(:func:`learner_progress`) and a class (:func:`class_overview`) are read from the few figures
stored beside each report, so a long history is summed without parsing its reports.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select

from app.accounts import Account, as_utc, now
from app.db.engine import Database
from app.db.models import Practice, User
from app.errors import UserError
from app.sequence import PoseSequence

RECENT = 5
"""Practices of a step that count as "lately" for its costliest limb and weakest part."""
CORRECTION_DAYS = 30
"""How far back the class's most common correction per step looks."""
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class PracticeRecord:
    """A finished practice as the session ends it. ``report`` is the report's JSON
    (``Report`` in ``app/report_schema.py``); ``attempt`` the learner's landmarks."""

    reference: str
    kind: str
    started_at: datetime
    finished_at: datetime
    speed: float
    mirror: bool
    loop_step: str | None
    report: dict[str, Any]
    attempt: PoseSequence | None = None


@dataclass(frozen=True)
class Stored:
    """What the summary tells the learner once a practice is kept."""

    id: int
    tries_today: int
    change: float | None
    """Score against the previous try at the same step, or None for the first."""
    attempt_kept: bool


@dataclass(frozen=True)
class Point:
    id: int
    at: datetime
    score: float


@dataclass
class StepProgress:
    reference: str
    points: list[Point] = field(default_factory=list)
    best: float = 0.0
    latest: float = 0.0
    count: int = 0
    costliest_limb: str | None = None
    weakest_part: str | None = None


@dataclass(frozen=True)
class NextPractice:
    reference: str
    step: str | None
    reason: str


@dataclass
class Progress:
    learner: str
    steps: list[StepProgress]
    next: NextPractice | None


def store_practice(db: Database, account: Account, record: PracticeRecord,
                   max_attempt_bytes: int) -> Stored:
    """Keep a finished practice in one transaction.

    Raises
    ------
    DatabaseUnavailableError
        When the database cannot be reached (nothing is written).
    """
    attempt = _pack(record.attempt, max_attempt_bytes)
    report = record.report
    finished = as_utc(record.finished_at)
    day_start = finished.replace(hour=0, minute=0, second=0, microsecond=0)
    same_step = (Practice.user_id == account.id, Practice.reference == record.reference)
    with db.transaction() as session:
        previous = session.scalar(select(Practice.score).where(*same_step)
                                  .order_by(Practice.finished_at.desc()).limit(1))
        earlier_today = session.scalar(select(func.count()).select_from(Practice)
                                       .where(*same_step, Practice.finished_at >= day_start))
        row = Practice(
            user_id=account.id, reference=record.reference, kind=record.kind,
            started_at=record.started_at, finished_at=record.finished_at, speed=record.speed,
            mirror=record.mirror, loop_step=record.loop_step, score=float(report["score"]),
            rating=str(report["rating"]), limb_scores=dict(report.get("limbs", {})),
            part_scores=_part_scores(report), top_correction=_top_correction(report),
            report=report, attempt=attempt, attempt_bytes=len(attempt or b""),
        )
        session.add(row)
        session.flush()
        change = float(report["score"]) - previous if previous is not None else None
        return Stored(row.id, 1 + int(earlier_today or 0), change, attempt is not None)


def learner_progress(db: Database, account: Account) -> Progress:
    """Per step practised: the scores over time, best, latest, how often, the limb that costs
    most points lately and the weakest part; and what to practise next."""
    with db.transaction() as session:
        rows = session.execute(
            select(Practice.id, Practice.reference, Practice.finished_at, Practice.score,
                   Practice.limb_scores, Practice.part_scores)
            .where(Practice.user_id == account.id).order_by(Practice.finished_at)).all()
    by_step: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_step[row.reference].append(row)
    steps = [_step_progress(reference, practices) for reference, practices in by_step.items()]
    steps.sort(key=lambda s: s.points[-1].at, reverse=True)
    return Progress(account.name, steps, _next(steps))


def practice_detail(db: Database, practice_id: int) -> tuple[str, dict[str, Any]] | None:
    """The owner's name and the stored practice as the API shows it, or None."""
    with db.transaction() as session:
        row = session.get(Practice, practice_id)
        if row is None:
            return None
        return row.user.name, _public(row, with_report=True)


def attempt_document(db: Database, practice_id: int) -> bytes | None:
    """The learner's landmarks of a practice, as a ``.pose.json`` document, or None."""
    with db.transaction() as session:
        row = session.get(Practice, practice_id)
        return gzip.decompress(row.attempt) if row is not None and row.attempt else None


def history(db: Database, account: Account, *, with_reports: bool = True
            ) -> list[dict[str, Any]]:
    """Every practice of a learner, newest first, each with its whole report (for download),
    or without (a list to pick one from, read without loading reports or attempts)."""
    with db.transaction() as session:
        if with_reports:
            rows = session.scalars(select(Practice).where(Practice.user_id == account.id)
                                   .order_by(Practice.finished_at.desc())).all()
            return [_public(row, with_report=True) for row in rows]
        listed = session.execute(
            select(*LISTED, Practice.attempt.is_not(None).label("has_attempt"))
            .where(Practice.user_id == account.id).order_by(Practice.finished_at.desc()))
        return [_public(row, with_report=False) for row in listed]


def delete_history(db: Database, account: Account) -> int:
    """Delete every practice of a learner; how many there were."""
    with db.transaction() as session:
        result = session.execute(delete(Practice).where(Practice.user_id == account.id))
        return int(getattr(result, "rowcount", 0) or 0)


@dataclass
class LearnerWeek:
    name: str
    practices_this_week: int
    steps: list[dict[str, Any]]
    last_practised: datetime | None


@dataclass
class ClassOverview:
    learners: list[LearnerWeek]
    corrections: dict[str, str]
    """Per step, the correction the class was given most often lately."""


def class_overview(db: Database, at: datetime | None = None) -> ClassOverview:
    """The roster with each learner's week (steps practised, their latest score and change over
    the week) and, per step, the class's most common correction of the last 30 days."""
    at = at or now()
    week_start = at - WEEK
    with db.transaction() as session:
        learners = session.scalars(select(User).where(User.role == "learner",
                                                      User.password_hash.is_not(None))
                                   .order_by(User.name)).all()
        rows = session.execute(
            select(Practice.user_id, Practice.reference, Practice.finished_at, Practice.score,
                   Practice.top_correction)
            .where(Practice.finished_at >= at - timedelta(days=CORRECTION_DAYS))
            .order_by(Practice.finished_at)).all()
        last = dict(session.execute(
            select(Practice.user_id, func.max(Practice.finished_at))
            .group_by(Practice.user_id)).all())
    said: dict[str, Counter[str]] = defaultdict(Counter)
    week: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row.top_correction:
            said[row.reference][row.top_correction] += 1
        if as_utc(row.finished_at) >= week_start:
            week[row.user_id][row.reference].append(row.score)
    overview = []
    for user in learners:
        practised = sorted(week[user.id].items())
        steps: list[dict[str, Any]] = [
            {"reference": reference, "practices": len(scores), "latest": round(scores[-1], 1),
             "change": round(scores[-1] - scores[0], 1) if len(scores) > 1 else None}
            for reference, scores in practised]
        overview.append(LearnerWeek(
            user.name, sum(len(scores) for _, scores in practised), steps,
            as_utc(last[user.id]) if user.id in last else None))
    return ClassOverview(overview, {ref: c.most_common(1)[0][0] for ref, c in said.items()})


CSV_COLUMNS = ("learner", "practice", "reference", "kind", "finished_at", "score", "rating",
               "speed", "mirror", "loop_step", "top_correction")


def practices_csv(db: Database, names: list[str] | None = None) -> str:
    """Practices as CSV, one row each (of the learners ``names``, else of everyone)."""
    query = (select(User.name, Practice.id, Practice.reference, Practice.kind,
                    Practice.finished_at, Practice.score, Practice.rating, Practice.speed,
                    Practice.mirror, Practice.loop_step, Practice.top_correction)
             .join(User).order_by(User.name, Practice.finished_at))
    if names is not None:
        query = query.where(User.name.in_(names))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    with db.transaction() as session:
        for row in session.execute(query):
            values = list(row)
            values[4] = as_utc(values[4]).isoformat()
            values[5] = round(values[5], 1)
            writer.writerow(values)
    return out.getvalue()


def learner(db: Database, name: str) -> Account:
    """A learner's account by name.

    Raises
    ------
    UserError
        When there is no learner of that name.
    """
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.name == name, User.role == "learner"))
        if user is None:
            raise UserError(f"there is no learner named {name!r}")
        return Account(user.id, user.name, user.role)


def _step_progress(reference: str, rows: list[Any]) -> StepProgress:
    step = StepProgress(reference)
    step.points = [Point(r.id, as_utc(r.finished_at), round(r.score, 1)) for r in rows]
    step.best = max(p.score for p in step.points)
    step.latest = step.points[-1].score
    step.count = len(rows)
    recent = rows[-RECENT:]
    step.costliest_limb = _lowest(recent, "limb_scores")
    step.weakest_part = _lowest(recent, "part_scores")
    return step


def _lowest(rows: list[Any], column: str) -> str | None:
    sums: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        for name, score in (getattr(row, column) or {}).items():
            if score is not None:
                sums[name].append(float(score))
    if not sums:
        return None
    return min(sums, key=lambda name: sum(sums[name]) / len(sums[name]))


def _next(steps: list[StepProgress]) -> NextPractice | None:
    """The step whose recent scores leave most to gain, and its weakest part."""
    if not steps:
        return None
    def recent_mean(step: StepProgress) -> float:
        scores = [p.score for p in step.points[-3:]]
        return sum(scores) / len(scores)
    worst = min(steps, key=recent_mean)
    mean = recent_mean(worst)
    where = f", above all '{worst.weakest_part}'" if worst.weakest_part else ""
    return NextPractice(worst.reference, worst.weakest_part,
                        f"your recent scores here average {mean:.0f}{where}")


def _part_scores(report: dict[str, Any]) -> dict[str, Any]:
    parts = report.get("parts") or report.get("steps") or []
    return {part["name"]: part["score"] for part in parts}


def _top_correction(report: dict[str, Any]) -> str | None:
    """The correction of the worst moment; None when no moment stood out (the feedback then
    holds praise, or what lowered every limb at once, not a correction)."""
    moments = report.get("worst_moments") or []
    return str(moments[0]["error"])[:500] if moments else None


def _pack(attempt: PoseSequence | None, limit: int) -> bytes | None:
    if attempt is None:
        return None
    # The fastest gzip level: a tenth of level 6's time for a fifth more bytes, while the
    # interpreter's lock is held and live sessions in the same process wait.
    packed = gzip.compress(attempt.to_json().encode("utf-8"), compresslevel=1, mtime=0)
    return packed if len(packed) <= limit else None


LISTED = (Practice.id, Practice.reference, Practice.kind, Practice.started_at,
          Practice.finished_at, Practice.speed, Practice.mirror, Practice.loop_step,
          Practice.score, Practice.rating)
"""The columns a list of practices shows."""


def _public(row: Any, *, with_report: bool) -> dict[str, Any]:
    """A practice (a row, or its listed columns with ``has_attempt``) as the API shows it."""
    has_attempt = row.attempt is not None if with_report else bool(row.has_attempt)
    data: dict[str, Any] = {
        "id": row.id, "reference": row.reference, "kind": row.kind,
        "started_at": as_utc(row.started_at).isoformat(),
        "finished_at": as_utc(row.finished_at).isoformat(), "speed": row.speed,
        "mirror": row.mirror, "loop_step": row.loop_step, "score": round(row.score, 1),
        "rating": row.rating, "has_attempt": has_attempt,
    }
    if with_report:
        data["report"] = row.report
    return data
