"""A class on a tutor, for the account and progress API tests: a teacher and two learners, each
logged in, and kept practices of the learners (``tests/practice_fixtures.py``: real reports of
real landmarks); and the whole database as rows, to show that a refused request changed
nothing.

Passwords are hashed with the real Argon2id (a tenth of a second or more each), so a class is
enrolled once per session in a SQLite file that each test copies (:func:`school`), or, for
the tests that run on PostgreSQL too, enrolled afresh in that test's database.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts import Account, add_user, find_user, log_in, now
from app.db.engine import Database, open_database
from app.db.models import Base
from app.progress import PracticeRecord, store_practice
from app.server.identity import COOKIE, CSRF_HEADER
from app.server.main import create_app
from app.server.state import ServerState, open_state
from tests.practice_fixtures import MAX_ATTEMPT_BYTES, record
from tests.server_fixtures import make_settings

TEACHER, LEARNER_A, LEARNER_B = "tomiris", "aruzhan", "bolat"
PASSWORDS = {TEACHER: "eagle-over-the-steppe", LEARNER_A: "wing-beat at dawn",
             LEARNER_B: "landing softly 2"}


@dataclass(frozen=True)
class Login:
    """A browser's login: its cookie's secret and its CSRF token."""

    name: str
    secret: str
    csrf: str

    @property
    def cookie(self) -> dict[str, str]:
        """The headers of a read: the cookie alone."""
        return {"Cookie": f"{COOKIE}={self.secret}"}

    @property
    def writes(self) -> dict[str, str]:
        """The headers of a write from the page: the cookie and the CSRF token."""
        return {**self.cookie, CSRF_HEADER: self.csrf}


@dataclass(frozen=True)
class School:
    logins: dict[str, Login]
    kept: int
    """Learner A's practice whose attempt was kept."""
    bare: int
    """Learner B's practice kept without its attempt."""


def practice(ago: timedelta = timedelta(hours=1)) -> PracticeRecord:
    """A practice of the squats finished ``ago``: a perfect report and the landmarks."""
    return record(at=now() - ago)


def enrol(db: Database) -> School:
    """The teacher and learners A and B, each logged in; A has two practices (the older one's
    attempt kept, the other's over a size limit of 0), B one without its attempt."""
    logins = {}
    for name, password in PASSWORDS.items():
        add_user(db, name, "teacher" if name == TEACHER else "learner", password)
        login = log_in(db, name, password)
        logins[name] = Login(name, login.secret, login.csrf)
    a = account(db, LEARNER_A)
    kept = store_practice(db, a, practice(ago=timedelta(days=1)), MAX_ATTEMPT_BYTES).id
    store_practice(db, a, practice(), 0)
    bare = store_practice(db, account(db, LEARNER_B), practice(), 0).id
    return School(logins, kept, bare)


def account(db: Database, name: str) -> Account:
    found = find_user(db, name)
    assert found is not None, name
    return found


def rows(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    with db.transaction() as session:
        return {table.name: sorted(tuple(row) for row in session.execute(select(table)))
                for table in Base.metadata.sorted_tables}


@dataclass
class Tutor:
    client: TestClient
    state: ServerState
    school: School

    @property
    def db(self) -> Database:
        return self.state.store.require()


@pytest.fixture(scope="session")
def school_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, School]:
    """A SQLite database with the class enrolled, made once."""
    path = tmp_path_factory.mktemp("school") / "tutor.db"
    db = open_database(f"sqlite:///{path}")
    enrolled = enrol(db)
    db.close()
    return path, enrolled


@pytest.fixture
def tutor(tmp_path: Path, school_file: tuple[Path, School]) -> Iterator[Tutor]:
    """A tutor on a copy of the class's SQLite database."""
    path, enrolled = school_file
    shutil.copy2(path, tmp_path / "tutor.db")
    settings = make_settings(tmp_path)
    state = open_state(settings)
    with TestClient(create_app(settings, state)) as client:
        yield Tutor(client, state, enrolled)
