"""Opening the database: the migration makes the schema, on SQLite and on PostgreSQL alike;
servers starting together on a fresh PostgreSQL database all get it; a database that cannot be
had is one sentence naming it, never its password."""

from __future__ import annotations

import multiprocessing
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, func, inspect, select, text

from app.accounts import add_user, find_user
from app.db.engine import (
    Database,
    DatabaseUnavailableError,
    current_revision,
    head_revision,
    open_database,
)
from app.db.models import Base, User
from tests.postgres_fixtures import fresh_database

TABLES = {"alembic_version", "users", "login_sessions", "login_throttle", "practices"}
OPENERS = 4
"""Processes opening one fresh PostgreSQL database at the same moment."""
RACES = 3
"""Fresh databases they race for (without the migration lock, most races see a failure)."""
PASSWORD = "s3cret-Pa55word"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.close()


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def with_password(url: str, password: str = PASSWORD, **changes: str) -> str:
    """``url`` with a password (and other parts changed, like ``path``)."""
    parts = urlsplit(url)
    netloc = f"{parts.username}:{password}@{parts.hostname}:{parts.port}"
    return parts._replace(netloc=netloc, **changes).geturl()


def test_the_migration_makes_the_schema_of_the_models(db: Database) -> None:
    assert current_revision(db) == head_revision() is not None
    assert set(inspect(db.engine).get_table_names()) == TABLES
    with db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    assert versions == [(head_revision(),)]


def test_a_second_open_changes_nothing(database_url: str) -> None:
    first = open_database(database_url)
    add_user(first, "amina", "learner", "correct horse")
    first.close()
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.strip().split()[0].upper())

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        second = open_database(database_url)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    try:
        assert statements, "the second open ran no statement at all"
        assert not {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"} & set(statements)
        assert current_revision(second) == head_revision()
        assert find_user(second, "amina") is not None
    finally:
        second.close()


def test_sqlite_keeps_a_write_ahead_log_and_foreign_keys(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'tutor.db'}")
    try:
        with db.engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        db.close()


def test_a_failed_unit_of_work_leaves_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.add(User(name="ghost", role="learner", password_hash=None,
                         created_at=datetime.now(UTC)))
        session.flush()
        raise RuntimeError("the work failed half way")
    assert find_user(db, "ghost") is None


def _open_together(urls: list[str], start: Any, results: Any) -> None:
    """One server starting, once per database: wait for the others, then open (and migrate)."""
    for url in urls:
        start.wait(timeout=60)
        try:
            database = open_database(url)
        except Exception as exc:
            results.put((url, f"{type(exc).__name__}: {exc}"))
            continue
        results.put((url, current_revision(database)))
        database.close()


def test_servers_starting_together_all_open_a_fresh_postgres_database(
        postgres_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(OPENERS)
    results = context.Queue()
    with ExitStack() as stack:
        urls = [stack.enter_context(fresh_database(postgres_url)) for _ in range(RACES)]
        processes = [context.Process(target=_open_together, args=(urls, start, results))
                     for _ in range(OPENERS)]
        for process in processes:
            process.start()
        answers = [results.get(timeout=120) for _ in range(OPENERS * RACES)]
        for process in processes:
            process.join(timeout=30)
            assert process.exitcode == 0
        assert sorted(answers) == sorted((url, head_revision()) for url in urls * OPENERS)
        for url in urls:
            db = open_database(url)
            try:
                with db.engine.connect() as connection:
                    versions = connection.execute(
                        text("SELECT version_num FROM alembic_version")).all()
                assert versions == [(head_revision(),)]
                assert set(inspect(db.engine).get_table_names()) == TABLES
            finally:
                db.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres"])
def test_plain_postgresql_urls_open_with_psycopg(fresh_postgres_url: str, scheme: str) -> None:
    plain = urlsplit(fresh_postgres_url)._replace(scheme=scheme).geturl()
    db = open_database(plain)
    try:
        assert db.engine.dialect.driver == "psycopg"
        assert not db.is_sqlite
        add_user(db, "amina", "learner", "correct horse")
        with db.transaction() as session:
            assert session.scalar(select(func.count()).select_from(User)) == 1
    finally:
        db.close()


def assert_one_sentence_without_password(error: pytest.ExceptionInfo[Exception],
                                         *named: str) -> str:
    message = str(error.value)
    assert "\n" not in message and message.strip() == message
    assert PASSWORD not in message
    for part in named:
        assert part in message
    return message


def test_an_unreachable_server_is_one_sentence_naming_it_without_its_password() -> None:
    port = closed_port()
    url = f"postgresql://tutor:{PASSWORD}@127.0.0.1:{port}/studio"
    with pytest.raises(DatabaseUnavailableError) as error:
        open_database(url)
    message = assert_one_sentence_without_password(error, f"127.0.0.1:{port}/studio", "***")
    assert "cannot be opened" in message and "refused" in message


def test_a_missing_postgres_database_is_named(postgres_url: str) -> None:
    url = with_password(postgres_url, path="/no_such_studio")
    with pytest.raises(DatabaseUnavailableError) as error:
        open_database(url)
    message = assert_one_sentence_without_password(error, "/no_such_studio")
    assert 'database "no_such_studio" does not exist' in message


@pytest.mark.parametrize(("url", "says"), [
    ("not a url", "is not a database URL"),
    (f"mysql://tutor:{PASSWORD}@localhost/studio", "names a mysql database"),
])
def test_a_bad_url_is_one_sentence(url: str, says: str) -> None:
    with pytest.raises(DatabaseUnavailableError) as error:
        open_database(url)
    assert says in assert_one_sentence_without_password(error, "DANCE_TUTOR_DATABASE_URL")


def test_a_sqlite_file_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file where the folder belongs")
    path = tmp_path / "taken" / "tutor.db"
    with pytest.raises(DatabaseUnavailableError) as error:
        open_database(f"sqlite:///{path}")
    assert_one_sentence_without_password(error, str(path))
    with pytest.raises(DatabaseUnavailableError) as error:
        open_database(f"sqlite:///{tmp_path}")
    assert_one_sentence_without_password(error, str(tmp_path), "cannot be opened")


def test_a_database_from_a_newer_tutor_is_one_sentence(db: Database, database_url: str) -> None:
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    db.close()
    with pytest.raises(DatabaseUnavailableError) as error:
        open_database(database_url)
    assert_one_sentence_without_password(error, "cannot be upgraded", "'9999'", "newer")
