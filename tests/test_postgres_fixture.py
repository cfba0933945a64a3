"""The database fixtures hand tests real, new databases: a PostgreSQL one on the test server
(dropped after the test) and a SQLite file in the test's own folder."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.postgres_fixtures import POSTGRES_URL_VARIABLE, fresh_database, server_url

USER_TABLES = ("SELECT count(*) FROM information_schema.tables "
               "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')")


def databases(url: str) -> set[str]:
    with psycopg.connect(url) as connection:
        return {name for (name,) in connection.execute("SELECT datname FROM pg_database")}


def test_fresh_database_is_real_empty_postgresql_and_dropped_after(postgres_url: str) -> None:
    with fresh_database(postgres_url) as url:
        name = urlsplit(url).path.removeprefix("/")
        assert name != urlsplit(postgres_url).path.removeprefix("/")
        # Left open on purpose: the database is dropped even while a test still holds it.
        held = psycopg.connect(url)
        version, current = held.execute("SELECT version(), current_database()").fetchone() or ()
        assert str(version).startswith("PostgreSQL ") and current == name
        assert held.execute(USER_TABLES).fetchone() == (0,)
        assert name in databases(postgres_url)
    held.close()
    assert name not in databases(postgres_url)


def test_database_url_is_new_for_each_kind(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite:"):
        assert database_url == f"sqlite:///{tmp_path}/tutor.db"
        assert not (tmp_path / "tutor.db").exists()
    else:
        with psycopg.connect(database_url) as connection:
            assert connection.execute(USER_TABLES).fetchone() == (0,)


def test_a_missing_server_url_fails_and_says_how_to_get_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POSTGRES_URL_VARIABLE, raising=False)
    with pytest.raises(pytest.fail.Exception, match="run the suite through 'bash scripts/test'"):
        server_url()
