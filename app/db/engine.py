"""Opening the database by URL and bringing its schema up to date.

``DANCE_TUTOR_DATABASE_URL`` names it: ``sqlite:///path/tutor.db`` or a plain
``postgresql://user:password@host:port/db`` (the driver, psycopg 3, is the project's
business). Unset, it is ``tutor.db`` in the state folder, so serving at home needs nothing else.
:func:`open_database` runs the Alembic migrations to the newest revision every time (under a
lock on PostgreSQL, so that two servers starting together do not both migrate), and any
failure to reach or upgrade the database is one sentence naming it, password hidden.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.errors import UserError

URL_ENV = "DANCE_TUTOR_DATABASE_URL"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
DATABASE_FILE = "tutor.db"
SQLITE_BUSY_MS = 10_000
POSTGRES_DRIVER = "postgresql+psycopg"
_MIGRATION_LOCK = 0x7475746F72
"""The advisory lock key servers take on PostgreSQL while migrating ("tutor")."""


class DatabaseUnavailableError(UserError):
    """The database cannot be reached, opened or upgraded; the message names it."""


def state_dir() -> Path:
    """``$XDG_STATE_HOME/dance-tutor`` (``~/.local/state/dance-tutor``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "dance-tutor"


def database_url(given: str | None = None) -> URL:
    """The URL to open: ``given``, else the default SQLite file; ``postgresql://`` gets the
    project's driver.

    Raises
    ------
    DatabaseUnavailableError
        For a URL that is not SQLite or PostgreSQL, or does not parse.
    """
    if not given:
        return make_url(f"sqlite:///{state_dir() / DATABASE_FILE}")
    try:
        url = make_url(given)
    except ArgumentError:
        raise DatabaseUnavailableError(
            f"{URL_ENV} is not a database URL; use sqlite:///FILE or "
            "postgresql://user@host:port/db") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername=POSTGRES_DRIVER)
    if backend == "sqlite":
        return url
    raise DatabaseUnavailableError(
        f"{URL_ENV} names a {backend} database; the tutor keeps its data in SQLite or PostgreSQL")


def shown(url: URL) -> str:
    """The URL as it may be printed: never its password."""
    return url.render_as_string(hide_password=True)


@dataclass
class Database:
    """An open, up-to-date database: its engine and a session per unit of work."""

    url: URL
    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed at the end, or rolled back on any exception.

        Raises
        ------
        DatabaseUnavailableError
            When the database cannot be reached (the work is rolled back).
        """
        try:
            with self.sessions.begin() as session:
                yield session
        except (OperationalError, DBAPIError) as exc:
            if not _unreachable(exc):
                raise
            raise DatabaseUnavailableError(
                f"the database {shown(self.url)} cannot be reached ({_reason(exc)})") from exc

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def close(self) -> None:
        self.engine.dispose()


def open_database(given: str | None = None) -> Database:
    """Open the database ``given`` (default: the SQLite file in the state folder), creating
    the file's folder, and migrate it to the newest revision.

    Raises
    ------
    DatabaseUnavailableError
        One sentence naming the database: it cannot be reached, or the migration failed.
    """
    url = database_url(given)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        try:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailableError(
                f"the folder of the database {url.database} cannot be made ({exc.strerror})"
            ) from exc
    engine = _engine(url)
    try:
        with engine.begin() as connection:
            if url.get_backend_name() == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": _MIGRATION_LOCK})
            _upgrade(connection)
    except (OperationalError, DBAPIError) as exc:
        engine.dispose()
        raise DatabaseUnavailableError(
            f"the database {shown(url)} cannot be opened ({_reason(exc)})") from exc
    except CommandError as exc:
        engine.dispose()
        raise DatabaseUnavailableError(
            f"the database {shown(url)} cannot be upgraded ({exc}): it was made by a newer "
            "dance-tutor") from exc
    return Database(url, engine, sessionmaker(engine, expire_on_commit=False))


def current_revision(database: Database) -> str | None:
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        cursor.close()

    return engine


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Any) -> None:
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _unreachable(exc: DBAPIError) -> bool:
    return isinstance(exc, OperationalError) or exc.connection_invalidated


def _reason(exc: DBAPIError) -> str:
    lines = str(exc.orig).strip().splitlines() if exc.orig is not None else []
    return lines[0] if lines else type(exc).__name__
