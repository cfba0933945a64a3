"""Keeping finished practices: the server's outbox while PostgreSQL is away, and a writer killed
with SIGKILL in the middle of its writes (SQLite and PostgreSQL)."""

from __future__ import annotations

import gzip
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import func, select, text

from app import sequence as pose_file
from app.accounts import LOCAL_LEARNER, add_user, find_user
from app.db.engine import DatabaseUnavailableError, open_database
from app.db.models import Practice
from app.errors import UserError
from app.landmarks import Limb
from app.server import store as store_module
from app.server.store import PracticeStore
from tests.conftest import REPO
from tests.practice_fixtures import BASE, MAX_ATTEMPT_BYTES, record, report, squats_part
from tests.test_db import closed_port

KILL_ROUNDS = 3
"""Writers killed one after another on the same database."""


@contextmanager
def database_away(server_url: str, url: str) -> Iterator[None]:
    """The database ``url`` refuses connections and its open ones are cut, until the end."""
    name = urlsplit(url).path.removeprefix("/")
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false")
                      .format(sql.Identifier(name)))
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
        try:
            yield
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true")
                          .format(sql.Identifier(name)))


@pytest.fixture
def store(fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[PracticeStore]:
    """A server's store on a fresh PostgreSQL database with the learner amina; it retries the
    database at once instead of every few seconds."""
    monkeypatch.setattr(store_module, "RETRY_S", 0.0)
    kept = PracticeStore(fresh_postgres_url, MAX_ATTEMPT_BYTES)
    add_user(kept.require(), "amina", "learner", "wing-beat at dawn")
    yield kept
    kept.close()


def stored_times(url: str) -> list[tuple[int, object]]:
    db = open_database(url)
    try:
        with db.transaction() as session:
            rows = session.execute(select(Practice.id, Practice.finished_at)
                                   .order_by(Practice.id)).all()
        return [(row.id, row.finished_at) for row in rows]
    finally:
        db.close()


def test_a_practice_finished_while_the_database_is_away_is_written_when_it_is_back(
        store: PracticeStore, postgres_url: str, fresh_postgres_url: str) -> None:
    times = [BASE + timedelta(minutes=k) for k in range(4)]
    first = store.keep("amina", record(times[0]))
    assert first.stored is not None and not first.pending and first.message is None
    with database_away(postgres_url, fresh_postgres_url):
        waiting = [store.keep("amina", record(at)) for at in times[1:3]]
        assert [(kept.stored, kept.pending) for kept in waiting] == [(None, True)] * 2
        assert waiting[0].message == ("The tutor's database is away: your practice is kept on "
                                      "the tutor and saved when it is back.")
        assert store.pending == 2
        assert store.problem is not None and urlsplit(fresh_postgres_url).path in store.problem
        with pytest.raises(DatabaseUnavailableError):
            store.require()
        assert store.flush() == 0 and store.pending == 2
    assert store.flush() == 2
    assert store.pending == 0 and store.problem is None
    assert store.flush() == 0
    last = store.keep("amina", record(times[3]))
    assert last.stored is not None and last.stored.tries_today == 4
    rows = stored_times(fresh_postgres_url)
    assert [at for _, at in rows] == times  # each once, oldest first


def test_waiting_practices_go_first_when_the_next_one_is_kept(
        store: PracticeStore, postgres_url: str, fresh_postgres_url: str) -> None:
    with database_away(postgres_url, fresh_postgres_url):
        assert store.keep("amina", record(BASE)).pending
    kept = store.keep("amina", record(BASE + timedelta(minutes=1)))
    assert kept.stored is not None and kept.stored.tries_today == 2
    assert [at for _, at in stored_times(fresh_postgres_url)] == [
        BASE, BASE + timedelta(minutes=1)]


def test_a_full_outbox_says_the_practice_is_not_kept(
        fresh_postgres_url: str, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "RETRY_S", 0.0)
    store = PracticeStore(fresh_postgres_url, MAX_ATTEMPT_BYTES, outbox_size=1)
    try:
        add_user(store.require(), "amina", "learner", "wing-beat at dawn")
        with database_away(postgres_url, fresh_postgres_url):
            assert store.keep("amina", record(BASE)).pending
            lost = store.keep("amina", record(BASE + timedelta(minutes=1)))
            assert (lost.stored, lost.pending) == (None, False)
            assert lost.message == ("Your practice could not be kept: the tutor's database is "
                                    "away and its waiting list is full.")
            assert store.pending == 1
        assert store.flush() == 1
        assert [at for _, at in stored_times(fresh_postgres_url)] == [BASE]
    finally:
        store.close()


def test_practices_kept_often_do_not_put_off_the_retry(
        store: PracticeStore, postgres_url: str, fresh_postgres_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A class keeps finishing practices while the database is away: it is still retried
    every RETRY_S, not only after a quiet spell."""
    monkeypatch.setattr(store_module, "RETRY_S", 0.5)
    with database_away(postgres_url, fresh_postgres_url):
        assert store.keep("amina", record(BASE)).pending
    deadline = time.monotonic() + 5.0
    k = 0
    while True:
        k += 1
        kept = store.keep("amina", record(BASE + timedelta(seconds=k)))
        if kept.stored is not None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert kept.stored is not None, "the database was never tried again"
    assert store.pending == 0
    assert len(stored_times(fresh_postgres_url)) == k + 1


def test_an_unreachable_server_from_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "RETRY_S", 0.0)
    port = closed_port()
    url = f"postgresql://tutor:s3cret-Pa55word@127.0.0.1:{port}/studio"
    store = PracticeStore(url, MAX_ATTEMPT_BYTES)
    assert store.open() is None
    assert store.problem is not None and f"127.0.0.1:{port}/studio" in store.problem
    assert "s3cret" not in store.problem and "\n" not in store.problem
    kept = store.keep("amina", record())
    assert kept.pending and store.pending == 1
    with pytest.raises(DatabaseUnavailableError, match="cannot be opened"):
        store.require()


def test_at_home_practices_go_to_the_local_learner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tutor.db'}"
    store = PracticeStore(url, MAX_ATTEMPT_BYTES)
    try:
        kept = store.keep(LOCAL_LEARNER, record())
        assert kept.stored is not None and kept.stored.attempt_kept
        assert find_user(store.require(), LOCAL_LEARNER) is not None
        with pytest.raises(UserError, match="there is no user named 'amina' any more"):
            store.keep("amina", record())
        assert store.pending == 0
    finally:
        store.close()


WRITER = """
import json, sys
from datetime import datetime, timedelta
from app import sequence
from app.accounts import find_user
from app.db.engine import open_database
from app.progress import PracticeRecord, store_practice

url, report_path, attempt_path, start = sys.argv[1:5]
db = open_database(url)
account = find_user(db, "amina")
report = json.loads(open(report_path).read())
attempt = sequence.load(attempt_path)
at = datetime.fromisoformat(start)
k = 0
while True:
    k += 1
    finished = at + timedelta(seconds=k)
    record = PracticeRecord("squats", "step", finished - timedelta(seconds=4), finished, 1.0,
                            False, None, report, attempt)
    print(store_practice(db, account, record, 4 * 2**20).id, flush=True)
"""


def _write_until_killed(url: str, report_path: Path, attempt_path: Path, round_no: int,
                        rng: random.Random) -> list[int]:
    """Run a writer, kill it with SIGKILL after a random number of practices; the ids it said
    were stored."""
    start = BASE + timedelta(hours=round_no)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, url, str(report_path), str(attempt_path),
         start.isoformat()], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    assert writer.stdout is not None
    printed: list[int] = []
    wanted = rng.randint(5, 25)
    try:
        while len(printed) < wanted:
            line = writer.stdout.readline()
            assert line, f"the writer stopped by itself: {writer.communicate()[1]}"
            printed.append(int(line))
        time.sleep(rng.uniform(0.0, 0.02))
    finally:
        writer.send_signal(signal.SIGKILL)
        rest, _ = writer.communicate(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    return printed + [int(line) for line in rest.split()]


def test_sigkill_during_writes_loses_no_finished_practice(database_url: str,
                                                          tmp_path: Path) -> None:
    kept_report = report(Limb.RIGHT_ARM)
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(kept_report))
    attempt_path = tmp_path / "attempt.pose.json"
    pose_file.save(squats_part(), attempt_path)
    document = pose_file.load(attempt_path).to_json().encode()
    db = open_database(database_url)
    add_user(db, "amina", "learner", None)
    db.close()
    rng = random.Random(7)
    printed: list[int] = []
    for round_no in range(KILL_ROUNDS):
        printed += _write_until_killed(database_url, report_path, attempt_path, round_no, rng)
        db = open_database(database_url)
        try:
            with db.transaction() as session:
                rows = session.scalars(select(Practice).order_by(Practice.id)).all()
                ids = [row.id for row in rows]
                # every practice the writer said was stored is there, and at most one more
                # per killed writer (committed, killed before it could say so)
                assert set(printed) <= set(ids)
                assert len(printed) <= len(ids) <= len(printed) + round_no + 1
                for row in rows:
                    assert row.report == kept_report
                    assert row.score == kept_report["score"]
                    assert row.limb_scores == kept_report["limbs"]
                    assert row.attempt is not None
                    assert gzip.decompress(row.attempt) == document
                    assert row.attempt_bytes == len(row.attempt)
                assert session.scalar(select(func.count()).select_from(Practice)) == len(ids)
            if db.is_sqlite:
                with db.engine.connect() as connection:
                    assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
                    assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
        finally:
            db.close()
