"""Practices kept on SQLite and PostgreSQL, and the progress read from them: a learner's steps
over time and what to practise next, the class's week, CSV, history and its deletion."""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from app import sequence as pose_file
from app.accounts import Account, add_user
from app.db.engine import Database, open_database
from app.db.models import Practice
from app.errors import UserError
from app.landmarks import Limb
from app.progress import (
    CORRECTION_DAYS,
    CSV_COLUMNS,
    RECENT,
    attempt_document,
    class_overview,
    delete_history,
    history,
    learner,
    learner_progress,
    practice_detail,
    practices_csv,
    store_practice,
)
from tests.practice_fixtures import (
    BASE,
    MAX_ATTEMPT_BYTES,
    amina,
    db,
    record,
    report,
    squats_part,
)

__all__ = ["amina", "db"]  # pytest fixtures this module uses

DAY = timedelta(days=1)


@pytest.fixture
def bolat(db: Database) -> Account:
    return add_user(db, "bolat", "learner", "wing-beat at dawn")


def keep(db: Database, account: Account, at: object = BASE, reference: str = "squats",
         points: float | None = None, limb: Limb | None = None, step: str = "down") -> int:
    """Store a practice with a real report (``limb`` wrong during ``step``); its id."""
    kept = record(at, reference, report(limb, step, points))  # type: ignore[arg-type]
    return store_practice(db, account, kept, MAX_ATTEMPT_BYTES).id


def row(db: Database, practice_id: int) -> Practice:
    with db.transaction() as session:
        found = session.get(Practice, practice_id)
        assert found is not None
        return found


def test_storing_counts_todays_tries_and_the_change(db: Database, amina: Account,
                                                    bolat: Account) -> None:
    first = store_practice(db, amina, record(BASE, report_=report(Limb.RIGHT_ARM)),
                           MAX_ATTEMPT_BYTES)
    assert (first.tries_today, first.change, first.attempt_kept) == (1, None, True)
    second = store_practice(db, amina, record(BASE + timedelta(minutes=5)), MAX_ATTEMPT_BYTES)
    assert second.tries_today == 2
    assert second.change == pytest.approx(report()["score"] - report(Limb.RIGHT_ARM)["score"])
    assert second.id != first.id
    other_step = store_practice(db, amina, record(BASE, "wing-beat"), MAX_ATTEMPT_BYTES)
    other_learner = store_practice(db, bolat, record(BASE), MAX_ATTEMPT_BYTES)
    next_day = store_practice(db, amina, record(BASE + DAY, report_=report(points=40.0)),
                              MAX_ATTEMPT_BYTES)
    assert (other_step.tries_today, other_step.change) == (1, None)
    assert (other_learner.tries_today, other_learner.change) == (1, None)
    assert next_day.tries_today == 1
    assert next_day.change == pytest.approx(40.0 - report()["score"])


def test_a_practice_keeps_its_report_figures_and_gzipped_attempt(db: Database,
                                                                 amina: Account) -> None:
    wrong = report(Limb.RIGHT_ARM, "down")
    kept = store_practice(db, amina, record(BASE, report_=wrong, loop_step="down", speed=0.75,
                                            mirror=True), MAX_ATTEMPT_BYTES)
    stored = row(db, kept.id)
    assert stored.report == wrong
    assert stored.score == wrong["score"] and stored.rating == wrong["rating"]
    assert stored.limb_scores == wrong["limbs"]
    assert stored.part_scores == {part["name"]: part["score"] for part in wrong["steps"]}
    assert stored.top_correction == wrong["worst_moments"][0]["error"]
    assert "right arm" in (stored.top_correction or "")
    assert (stored.speed, stored.mirror, stored.loop_step) == (0.75, True, "down")
    assert stored.attempt is not None and stored.attempt[:2] == b"\x1f\x8b"
    assert stored.attempt_bytes == len(stored.attempt)
    document = squats_part().to_json().encode()
    assert gzip.decompress(stored.attempt) == document
    assert stored.attempt_bytes < len(document) / 2
    assert attempt_document(db, kept.id) == document
    replay = pose_file.loads(attempt_document(db, kept.id) or b"")
    assert len(replay) == len(squats_part()) and replay.steps == squats_part().steps


def test_an_attempt_over_the_size_limit_is_dropped_and_the_practice_kept(
        db: Database, amina: Account) -> None:
    size = row(db, store_practice(db, amina, record(), MAX_ATTEMPT_BYTES).id).attempt_bytes
    kept = store_practice(db, amina, record(), size - 1)
    assert not kept.attempt_kept
    stored = row(db, kept.id)
    assert stored.attempt is None and stored.attempt_bytes == 0
    assert stored.report == report()
    assert attempt_document(db, kept.id) is None
    detail = practice_detail(db, kept.id)
    assert detail is not None and detail[1]["has_attempt"] is False
    assert store_practice(db, amina, record(), size).attempt_kept
    without = store_practice(db, amina, replace(record(), attempt=None), MAX_ATTEMPT_BYTES)
    assert not without.attempt_kept


def test_a_learners_progress_per_step(db: Database, amina: Account, bolat: Account) -> None:
    # stored out of order: the points come back in time order
    for day, points in [(3, 62.0), (1, 40.0), (2, 71.5), (4, 55.0)]:
        keep(db, amina, BASE + day * DAY, points=points)
    keep(db, amina, BASE + 5 * DAY, "wing-beat", points=88.0)
    keep(db, bolat, BASE + 9 * DAY, points=100.0)
    progress = learner_progress(db, amina)
    assert progress.learner == "amina"
    assert [step.reference for step in progress.steps] == ["wing-beat", "squats"]
    squats = progress.steps[1]
    assert [(p.at, p.score) for p in squats.points] == [
        (BASE + DAY, 40.0), (BASE + 2 * DAY, 71.5), (BASE + 3 * DAY, 62.0),
        (BASE + 4 * DAY, 55.0)]
    assert (squats.best, squats.latest, squats.count) == (71.5, 55.0, 4)
    assert progress.steps[0].count == 1 and progress.steps[0].best == 88.0


def test_the_costliest_limb_and_weakest_part_are_those_of_recent_practices(
        db: Database, amina: Account) -> None:
    for k in range(RECENT):
        keep(db, amina, BASE + k * DAY, limb=Limb.RIGHT_ARM, step="down")
    only_recent = learner_progress(db, amina).steps[0]
    assert (only_recent.costliest_limb, only_recent.weakest_part) == ("right_arm", "down")
    for k in range(RECENT, 2 * RECENT - 1):
        keep(db, amina, BASE + k * DAY, limb=Limb.LEFT_LEG, step="up")
    # one right-arm practice is still among the recent ones, outweighed by four
    step = learner_progress(db, amina).steps[0]
    assert (step.costliest_limb, step.weakest_part) == ("left_leg", "up")


def test_next_is_the_step_with_most_to_gain(db: Database, amina: Account) -> None:
    assert learner_progress(db, amina).next is None
    keep(db, amina, BASE, "wing-beat", points=90.0)
    for k, points in enumerate([95.0, 30.0, 40.0, 35.0]):
        keep(db, amina, BASE + k * DAY, limb=Limb.LEFT_LEG, step="up", points=points)
    following = learner_progress(db, amina).next
    assert following is not None
    assert (following.reference, following.step) == ("squats", "up")
    assert following.reason == "your recent scores here average 35, above all 'up'"


def test_the_class_overview_of_the_week(db: Database, amina: Account, bolat: Account) -> None:
    add_user(db, "zhanar", "teacher", "wing-beat at dawn")
    idle = add_user(db, "dana", "learner", "wing-beat at dawn")
    now = BASE + 10 * DAY
    keep(db, amina, now - 8 * DAY, points=20.0)
    keep(db, amina, now - 6 * DAY, points=50.0)
    keep(db, amina, now - 2 * DAY, points=65.0)
    keep(db, amina, now - 1 * DAY, "wing-beat", points=70.0)
    keep(db, bolat, now - 3 * DAY, points=80.0)
    keep(db, idle, now - 20 * DAY, points=10.0)
    overview = class_overview(db, at=now)
    assert [week.name for week in overview.learners] == ["amina", "bolat", "dana"]
    amina_week, bolat_week, idle_week = overview.learners
    assert amina_week.practices_this_week == 3
    assert amina_week.steps == [
        {"reference": "squats", "practices": 2, "latest": 65.0, "change": 15.0},
        {"reference": "wing-beat", "practices": 1, "latest": 70.0, "change": None}]
    assert amina_week.last_practised == now - DAY
    assert bolat_week.steps == [
        {"reference": "squats", "practices": 1, "latest": 80.0, "change": None}]
    assert (idle_week.practices_this_week, idle_week.steps) == (0, [])
    assert idle_week.last_practised == now - 20 * DAY


def test_the_most_common_correction_of_the_last_month(db: Database, amina: Account,
                                                      bolat: Account) -> None:
    now = BASE + 60 * DAY
    arm = report(Limb.RIGHT_ARM)["worst_moments"][0]["error"]
    leg = report(Limb.LEFT_LEG, "up")["worst_moments"][0]["error"]
    assert arm != leg
    keep(db, amina, now - DAY, limb=Limb.RIGHT_ARM)
    keep(db, bolat, now - 2 * DAY, limb=Limb.RIGHT_ARM)
    keep(db, bolat, now - 3 * DAY, limb=Limb.LEFT_LEG, step="up")
    for k in range(3):
        keep(db, amina, now - (CORRECTION_DAYS + 1 + k) * DAY, limb=Limb.LEFT_LEG, step="up")
    assert class_overview(db, at=now).corrections == {"squats": arm}
    keep(db, amina, now, limb=Limb.LEFT_LEG, step="up")
    keep(db, amina, now, limb=Limb.LEFT_LEG, step="up")
    assert class_overview(db, at=now).corrections == {"squats": leg}


def test_practices_as_csv(db: Database, amina: Account, bolat: Account) -> None:
    keep(db, bolat, BASE, limb=Limb.RIGHT_ARM)
    keep(db, amina, BASE + DAY, "wing-beat", points=88.04)
    keep(db, amina, BASE, points=61.25)
    rows = list(csv.reader(io.StringIO(practices_csv(db))))
    assert tuple(rows[0]) == CSV_COLUMNS
    body = [dict(zip(CSV_COLUMNS, values, strict=True)) for values in rows[1:]]
    assert [(r["learner"], r["reference"], r["score"]) for r in body] == [
        ("amina", "squats", "61.2"), ("amina", "wing-beat", "88.0"),
        ("bolat", "squats", str(report(Limb.RIGHT_ARM)["score"]))]
    first = body[0]
    assert first["finished_at"] == BASE.isoformat()
    assert (first["kind"], first["speed"], first["mirror"], first["loop_step"]) == (
        "step", "1.0", "False", "")
    assert first["rating"] == report()["rating"]
    assert "right arm" in body[2]["top_correction"]
    assert int(first["practice"]) != int(body[1]["practice"])
    only_bolat = list(csv.reader(io.StringIO(practices_csv(db, ["bolat"]))))
    assert [r[0] for r in only_bolat[1:]] == ["bolat"]
    assert len(list(csv.reader(io.StringIO(practices_csv(db, []))))) == 1


def test_history_and_its_deletion(db: Database, amina: Account, bolat: Account) -> None:
    ids = [keep(db, amina, BASE + k * DAY, points=50.0 + k) for k in range(3)]
    keep(db, bolat, BASE)
    whole = history(db, amina)
    assert [entry["id"] for entry in whole] == ids[::-1]
    assert [entry["score"] for entry in whole] == [52.0, 51.0, 50.0]
    assert whole[0]["report"] == report(points=52.0)
    assert whole[0]["finished_at"] == (BASE + 2 * DAY).isoformat()
    assert all(entry["has_attempt"] for entry in whole)
    json.dumps(whole)
    assert delete_history(db, amina) == 3
    assert history(db, amina) == [] and learner_progress(db, amina).steps == []
    assert attempt_document(db, ids[0]) is None
    assert len(history(db, bolat)) == 1
    assert delete_history(db, amina) == 0


def test_a_practice_in_detail(db: Database, amina: Account) -> None:
    practice_id = keep(db, amina, limb=Limb.RIGHT_ARM)
    detail = practice_detail(db, practice_id)
    assert detail is not None
    owner, shown = detail
    assert owner == "amina"
    assert shown["id"] == practice_id and shown["reference"] == "squats"
    assert shown["report"] == report(Limb.RIGHT_ARM)
    assert shown["started_at"] == (BASE - timedelta(seconds=4)).isoformat()
    assert shown["has_attempt"] is True
    assert practice_detail(db, practice_id + 1000) is None
    assert attempt_document(db, practice_id + 1000) is None


def test_a_learner_by_name(db: Database, amina: Account) -> None:
    add_user(db, "zhanar", "teacher", "wing-beat at dawn")
    assert learner(db, "amina") == amina
    with pytest.raises(UserError, match="there is no learner named 'zhanar'"):
        learner(db, "zhanar")


def test_the_stored_rows_are_what_the_pages_read(db: Database, amina: Account) -> None:
    keep(db, amina, limb=Limb.LEFT_LEG, step="up")
    with db.transaction() as session:
        parts = session.scalars(select(Practice.part_scores)).one()
    assert set(parts) == {"down", "up"} and parts["up"] < parts["down"]


def test_times_are_utc_whatever_the_servers_time_zone(fresh_postgres_url: str) -> None:
    """A PostgreSQL server in Almaty (UTC+5) gives times in its zone: today is still UTC's."""
    db = open_database(f"{fresh_postgres_url}?options=-c%20TimeZone%3DAsia/Almaty")
    try:
        amina = add_user(db, "amina", "learner", "wing-beat at dawn")
        late = BASE.replace(hour=23, minute=30)
        keep(db, amina, late)
        second = store_practice(db, amina, record(late + timedelta(minutes=10)),
                                MAX_ATTEMPT_BYTES)
        assert second.tries_today == 2
        assert history(db, amina)[0]["finished_at"] == "2026-03-02T23:40:00+00:00"
        assert learner_progress(db, amina).steps[0].points[0].at.utcoffset() == timedelta(0)
        assert f",{late.isoformat()}," in practices_csv(db)
        assert class_overview(db, at=late + DAY).learners[0].last_practised == late + timedelta(
            minutes=10)
    finally:
        db.close()
