"""``dance-tutor users`` end to end: through the real dispatcher, and as a process reading its
password from standard input; on SQLite and PostgreSQL. No password is ever printed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.accounts import LoginRefused, add_user, find_user, log_in, resolve
from app.cli import EXIT_BAD_INPUT, main
from app.db.engine import URL_ENV, Database, open_database
from app.progress import store_practice
from tests.conftest import REPO
from tests.practice_fixtures import BASE, MAX_ATTEMPT_BYTES, record
from tests.test_db import closed_port

PASSWORD = "wing-beat at dawn"
NEW_PASSWORD = "landing softly 2"


@pytest.fixture
def url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database the command uses, named by ``$DANCE_TUTOR_DATABASE_URL``."""
    monkeypatch.setenv(URL_ENV, database_url)
    return database_url


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = open_database(url)
    yield database
    database.close()


@pytest.fixture
def typed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the person types at the hidden password prompts, in order."""
    answers: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": answers.pop(0))
    return answers


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", "users", *args], cwd=REPO, input=stdin,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def assert_no_password(*outputs: str) -> None:
    for output in outputs:
        assert PASSWORD not in output and NEW_PASSWORD not in output


def test_add_asks_twice_and_the_account_logs_in(url: str, db: Database, typed: list[str],
                                                capsys: pytest.CaptureFixture[str]) -> None:
    typed += [PASSWORD, PASSWORD]
    assert main(["users", "add", "zhanar", "--role", "teacher"]) == 0
    out, err = capsys.readouterr()
    assert out == "added the teacher zhanar\n" and err == ""
    assert typed == []
    assert log_in(db, "zhanar", PASSWORD, at=BASE).account.is_teacher


def test_two_different_passwords_add_nobody(url: str, db: Database, typed: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    typed += [PASSWORD, NEW_PASSWORD]
    assert main(["users", "add", "zhanar", "--role", "teacher"]) == EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert err == "dance-tutor users: the two passwords differ; nothing was changed\n"
    assert_no_password(out, err)
    assert find_user(db, "zhanar") is None


def test_add_from_a_password_file_then_list(url: str, db: Database, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "password.txt"
    secret.write_text(f"{PASSWORD}\nignored second line\n")
    for name, role in [("bolat", "learner"), ("zhanar", "teacher"), ("amina", "learner")]:
        assert main(["users", "add", name, "--role", role, "--password-file", str(secret)]) == 0
    assert log_in(db, "amina", PASSWORD, at=BASE).account.name == "amina"
    capsys.readouterr()
    assert main(["users", "list"]) == 0
    out, _ = capsys.readouterr()
    assert [line.split() for line in out.splitlines()] == [
        ["name", "role"], ["zhanar", "teacher"], ["amina", "learner"], ["bolat", "learner"]]


def test_list_without_accounts_says_it_is_a_home_tutor(url: str,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    assert main(["users", "list"]) == 0
    assert capsys.readouterr().out.startswith("no accounts: this is a home tutor")


def test_a_process_reads_the_password_from_stdin_and_never_prints_it(url: str,
                                                                     db: Database) -> None:
    added = run("add", "amina", "--role", "learner", "--password-file", "-",
                stdin=f"{PASSWORD}\n")
    assert (added.returncode, added.stdout, added.stderr) == (0, "added the learner amina\n", "")
    reset = run("password", "amina", "--password-file", "-", stdin=f"{NEW_PASSWORD}\r\n")
    assert reset.returncode == 0, reset.stderr
    assert reset.stdout == "set a new password for amina; their logins have ended\n"
    listed = run("list")
    assert listed.stdout.splitlines()[1].split() == ["amina", "learner"]
    assert_no_password(added.stdout, added.stderr, reset.stdout, reset.stderr, listed.stdout)
    with pytest.raises(LoginRefused):
        log_in(db, "amina", PASSWORD, at=BASE)
    assert log_in(db, "amina", NEW_PASSWORD, at=BASE).account.name == "amina"


def test_the_database_flag_wins_over_the_environment(url: str, tmp_path: Path,
                                                     typed: list[str]) -> None:
    other = f"sqlite:///{tmp_path / 'other.db'}"
    typed += [PASSWORD, PASSWORD]
    assert main(["users", "add", "amina", "--role", "learner", "--database", other]) == 0
    flagged = open_database(other)
    default = open_database(url)
    try:
        assert find_user(flagged, "amina") is not None
        assert find_user(default, "amina") is None
    finally:
        flagged.close()
        default.close()


def test_a_new_password_ends_the_logins(url: str, db: Database, typed: list[str]) -> None:
    add_user(db, "amina", "learner", PASSWORD)
    login = log_in(db, "amina", PASSWORD, at=BASE)
    typed += [NEW_PASSWORD, NEW_PASSWORD]
    assert main(["users", "password", "amina"]) == 0
    assert resolve(db, login.secret, at=BASE) is None
    assert log_in(db, "amina", NEW_PASSWORD, at=BASE + timedelta(seconds=1))


def test_delete_asks_first_and_says_how_many_practices_went(
        url: str, db: Database, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    amina = add_user(db, "amina", "learner", PASSWORD)
    for k in range(3):
        store_practice(db, amina, record(BASE + timedelta(minutes=k)), MAX_ATTEMPT_BYTES)
    questions: list[str] = []
    monkeypatch.setattr("builtins.input", lambda q: questions.append(q) or "n")
    assert main(["users", "delete", "amina"]) == 1
    assert questions == ["Delete the learner amina with all their practices and logins? [y/N] "]
    assert capsys.readouterr().out == "kept amina: nothing was deleted\n"
    assert find_user(db, "amina") is not None
    monkeypatch.setattr("builtins.input", lambda q: "y")
    assert main(["users", "delete", "amina"]) == 0
    assert capsys.readouterr().out == "deleted the learner amina and their 3 practices\n"
    assert find_user(db, "amina") is None


def test_delete_with_yes_asks_nothing_and_without_a_terminal_deletes_nothing(
        url: str, db: Database, capsys: pytest.CaptureFixture[str]) -> None:
    add_user(db, "amina", "learner", PASSWORD)
    add_user(db, "bolat", "learner", PASSWORD)
    declined = run("delete", "amina")
    assert declined.returncode == 1 and declined.stdout.endswith(
        "kept amina: nothing was deleted\n")
    assert find_user(db, "amina") is not None
    assert main(["users", "delete", "amina", "--yes"]) == 0
    assert capsys.readouterr().out == "deleted the learner amina and their 0 practices\n"
    assert find_user(db, "amina") is None and find_user(db, "bolat") is not None


@pytest.mark.parametrize(("args", "says"), [
    (["add", "Amina", "--role", "learner"], "the user name 'Amina' must be 1 to 64 lowercase"),
    (["add", "amina", "--role", "learner", "--password-file", "/no/such/file"],
     "the password file /no/such/file cannot be read (No such file or directory)"),
    (["delete", "nobody", "--yes"], "there is no user named 'nobody'"),
    (["password", "nobody", "--password-file", "-"], "there is no user named 'nobody'"),
])
def test_mistakes_are_one_line_and_exit_2(url: str, args: list[str], says: str,
                                          typed: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    typed += [PASSWORD, PASSWORD]
    assert main(["users", *args]) == EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert err.startswith(f"dance-tutor users: {says}") and err.count("\n") == 1
    assert_no_password(out, err)


def test_short_passwords_and_taken_names_are_refused(url: str, db: Database,
                                                     tmp_path: Path) -> None:
    short = tmp_path / "short.txt"
    short.write_text("short\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    add_user(db, "amina", "learner", PASSWORD)
    for args, says in [
        (["add", "bolat", "--role", "learner", "--password-file", str(short)],
         "a password must be 8 to 1024 characters long"),
        (["add", "bolat", "--role", "learner", "--password-file", str(empty)],
         f"the password file {empty} has no password on its first line"),
        (["add", "amina", "--role", "teacher", "--password-file", "-"],
         "there is already a user named 'amina'"),
    ]:
        assert main(["users", *args]) == EXIT_BAD_INPUT, says
    assert find_user(db, "bolat") is None


def test_an_unreachable_database_is_one_line_without_its_password() -> None:
    port = closed_port()
    done = run("list", env={URL_ENV: f"postgresql://tutor:s3cret-Pa55word@127.0.0.1:{port}/db"})
    assert done.returncode == EXIT_BAD_INPUT
    assert done.stderr.startswith("dance-tutor users: the database "
                                  f"postgresql+psycopg://tutor:***@127.0.0.1:{port}/db cannot "
                                  "be opened")
    assert done.stderr.count("\n") == 1 and "s3cret" not in done.stderr


def test_help_explains_each_action() -> None:
    done = run("add", "--help")
    assert done.returncode == 0
    assert "--password-file FILE" in done.stdout and "--database URL" in done.stdout
    assert "asked twice" in done.stdout
