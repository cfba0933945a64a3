"""Finished practices as a live session ends them: real reports of real landmarks.

The attempt is four seconds of the squats golden file (real BlazePose landmarks) with its two
named steps, ``down`` and ``up``, and a report is what :func:`app.scoring.score` says of it,
as JSON (``app.report_schema.Report``). :func:`faulty` turns one limb 35-60 degrees during
one step, so the report's weakest limb, weakest part and first correction are known.
Used by the database tests and by ``benchmarks/progress_db.py``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from app.accounts import Account, add_user
from app.db.engine import Database, open_database
from app.landmarks import Limb
from app.progress import PracticeRecord
from app.scoring import score
from app.sequence import PoseSequence, Step
from tests.scoring_fixtures import rotated_limb, squats_sequence

BASE = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
"""A Monday morning, UTC: the tests' "now"."""
STEPS = {"down": (0.0, 2.0), "up": (2.0, 4.0)}
REFERENCE = "squats"
MAX_ATTEMPT_BYTES = 4 * 2**20


@functools.cache
def squats_part() -> PoseSequence:
    """Four seconds of the squats with the steps ``down`` and ``up``."""
    seq = squats_sequence().trim_seconds(0.0, 4.0)
    return replace(seq, steps=tuple(Step(name, *span) for name, span in STEPS.items()))


@functools.cache
def faulty(limb: Limb, step: str) -> PoseSequence:
    """The squats with ``limb`` turned away from the reference during ``step`` only."""
    part = squats_part()
    turned = rotated_limb(part, limb, np.random.default_rng(0))
    start, end = STEPS[step]
    during = (part.t >= start) & (part.t < end + 1e-9)
    return replace(part, image_xyz=np.where(during[:, None, None], turned.image_xyz,
                                            part.image_xyz))


@functools.cache
def _scored(limb: Limb | None, step: str | None) -> dict[str, Any]:
    part = squats_part()
    attempt = part if limb is None or step is None else faulty(limb, step)
    return score(part, attempt).to_dict()


def report(limb: Limb | None = None, step: str = "down",
           points: float | None = None) -> dict[str, Any]:
    """The report of the squats danced with ``limb`` wrong during ``step`` (None: danced as
    the reference); ``points`` replaces its overall score."""
    found = copy.deepcopy(_scored(limb, step if limb else None))
    if points is not None:
        found["score"] = points
    return found


def record(at: datetime = BASE, reference: str = REFERENCE,
           report_: dict[str, Any] | None = None, attempt: PoseSequence | None = None,
           **changes: Any) -> PracticeRecord:
    """A practice of ``reference`` finished at ``at``, four seconds long, with a report (a
    perfect one unless given) and the attempt's landmarks (the squats unless given)."""
    kept = PracticeRecord(
        reference=reference, kind="step", started_at=at - timedelta(seconds=4.0),
        finished_at=at, speed=1.0, mirror=False, loop_step=None,
        report=report_ if report_ is not None else report(),
        attempt=attempt if attempt is not None else squats_part())
    return replace(kept, **changes)


PASSWORD = "wing-beat at dawn"
"""The password of the learner ``amina``."""


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A fresh database, SQLite or PostgreSQL (the ``database_url`` fixture's two)."""
    database = open_database(database_url)
    yield database
    database.close()


@pytest.fixture
def amina(db: Database) -> Account:
    """A learner of the fresh database."""
    return add_user(db, "amina", "learner", PASSWORD)
