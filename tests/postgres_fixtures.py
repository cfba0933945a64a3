"""The databases the database tests run against: SQLite and a real PostgreSQL server.

``bash scripts/test`` starts a throw-away PostgreSQL server for the run (``scripts/postgres.sh``)
and exports the URL of its database as ``DANCE_TUTOR_TEST_POSTGRES_URL``, a plain
``postgresql://user@host:port/database`` URL; set it to use another server. ``postgres_url`` is
that URL and fails the test when it is not set: the PostgreSQL tests are part of the suite.
``fresh_postgres_url`` is a new, empty database on that server for one test, dropped after it
(even with connections still open). ``database_url`` runs a test once on a new SQLite file and
once on a fresh PostgreSQL database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

POSTGRES_URL_VARIABLE = "DANCE_TUTOR_TEST_POSTGRES_URL"


def server_url() -> str:
    """The test server's URL from the environment; fails the test when it is not there."""
    url = os.environ.get(POSTGRES_URL_VARIABLE, "")
    if urlsplit(url).scheme != "postgresql":
        pytest.fail(f"the PostgreSQL tests need {POSTGRES_URL_VARIABLE}, a postgresql:// URL "
                    f"(it is {url!r}): run the suite through 'bash scripts/test', which starts "
                    f"a server, or set the variable", pytrace=False)
    return url


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """A new, uniquely named database on the server at ``url``, dropped on exit; its URL."""
    name = f"tutor_test_{uuid.uuid4().hex}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of the test PostgreSQL server's database."""
    return server_url()


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database for this test, dropped after it."""
    with fresh_database(postgres_url) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a new database: a SQLite file in ``tmp_path``, or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tutor.db'}"
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url
