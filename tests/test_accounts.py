"""Accounts on SQLite and PostgreSQL: names, Argon2id passwords, logins, slowing down guesses,
and deleting a user with everything of theirs."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from app.accounts import (
    FORGET_FAILURES_AFTER,
    FREE_FAILURES,
    LOCAL_LEARNER,
    MAX_WAIT_S,
    SESSION_DAYS,
    Account,
    LoginRefused,
    LoginThrottled,
    add_user,
    delete_user,
    find_user,
    has_accounts,
    list_users,
    local_learner,
    log_in,
    log_out,
    resolve,
    set_password,
)
from app.db.engine import Database
from app.db.models import LoginSession, LoginThrottle, Practice, User
from app.errors import UserError
from app.progress import store_practice
from tests.practice_fixtures import BASE, MAX_ATTEMPT_BYTES, PASSWORD, amina, db, record

__all__ = ["amina", "db"]  # pytest fixtures this module uses

OTHER_PASSWORD = "landing softly 2"


def refused(db: Database, name: str, password: str, at: object) -> str:
    with pytest.raises(LoginRefused) as error:
        log_in(db, name, password, at=at)  # type: ignore[arg-type]
    return str(error.value)


def throttled(db: Database, name: str, password: str, at: object) -> float:
    with pytest.raises(LoginThrottled) as error:
        log_in(db, name, password, at=at)  # type: ignore[arg-type]
    assert "too many failed logins" in str(error.value)
    return error.value.retry_after_s


def count(db: Database, table: type[Practice | LoginSession], user_id: int) -> int:
    """Rows of ``table`` that belong to the user ``user_id``."""
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(table)
                              .where(table.user_id == user_id)) or 0


def test_add_list_find_delete(db: Database) -> None:
    teacher = add_user(db, "zhanar", "teacher", PASSWORD)
    learner = add_user(db, "amina", "learner", PASSWORD)
    add_user(db, "bolat", "learner", PASSWORD)
    assert teacher.is_teacher and not learner.is_teacher
    assert [(a.name, a.role) for a in list_users(db)] == [
        ("zhanar", "teacher"), ("amina", "learner"), ("bolat", "learner")]
    assert find_user(db, "amina") == learner
    assert find_user(db, "nobody") is None
    assert delete_user(db, "amina") == 0
    assert find_user(db, "amina") is None
    assert [a.name for a in list_users(db)] == ["zhanar", "bolat"]
    with pytest.raises(UserError, match="there is no user named 'amina'"):
        delete_user(db, "amina")


def test_a_taken_name_is_refused(db: Database, amina: Account) -> None:
    with pytest.raises(UserError, match="there is already a user named 'amina'"):
        add_user(db, "amina", "teacher", OTHER_PASSWORD)
    assert list_users(db) == [amina]


@pytest.mark.parametrize("name", ["", "Amina", "amina smith", "-amina", "a" * 65, "amína",
                                  "amina\n"])
def test_bad_names_are_refused_with_one_sentence(db: Database, name: str) -> None:
    with pytest.raises(UserError) as error:
        add_user(db, name, "learner", PASSWORD)
    message = str(error.value)
    assert "\n" not in message
    assert "must be 1 to 64 lowercase letters, digits, dots, dashes or underscores" in message
    assert list_users(db) == []


@pytest.mark.parametrize(("role", "password", "says"), [
    ("dancer", PASSWORD, "the role 'dancer' is not one of teacher, learner"),
    ("learner", "short", "a password must be 8 to 1024 characters long"),
    ("learner", "x" * 1025, "a password must be 8 to 1024 characters long"),
])
def test_bad_roles_and_passwords_are_refused(db: Database, role: str, password: str,
                                             says: str) -> None:
    with pytest.raises(UserError, match=says):
        add_user(db, "amina", role, password)
    assert find_user(db, "amina") is None


def test_passwords_are_kept_only_as_argon2id_hashes(db: Database, database_url: str,
                                                    tmp_path: Path) -> None:
    add_user(db, "amina", "learner", PASSWORD)
    add_user(db, "bolat", "learner", PASSWORD)
    set_password(db, "bolat", OTHER_PASSWORD)
    with db.transaction() as session:
        hashes = session.scalars(select(User.password_hash).order_by(User.name)).all()
    assert len(hashes) == 2 and hashes[0] != hashes[1]
    for hashed in hashes:
        assert hashed is not None and hashed.startswith("$argon2id$")
        assert PASSWORD not in hashed and OTHER_PASSWORD not in hashed
    if database_url.startswith("sqlite"):
        db.close()
        files = b"".join(path.read_bytes() for path in tmp_path.glob("tutor.db*"))
        assert b"$argon2id$" in files
        assert PASSWORD.encode() not in files and OTHER_PASSWORD.encode() not in files


def test_log_in_with_the_right_password_only(db: Database, amina: Account) -> None:
    login = log_in(db, "amina", PASSWORD, at=BASE)
    assert login.account == amina
    assert login.expires_at == BASE + timedelta(days=SESSION_DAYS)
    assert login.secret != login.csrf and len(login.secret) >= 32
    assert log_in(db, " Amina ", PASSWORD, at=BASE).account == amina
    refused(db, "amina", OTHER_PASSWORD, BASE)


def test_unknown_name_and_wrong_password_get_the_same_answer(db: Database,
                                                             amina: Account) -> None:
    add_user(db, "bolat", "learner", OTHER_PASSWORD)
    wrong_password = refused(db, "amina", OTHER_PASSWORD, BASE)
    unknown_name = refused(db, "nobody", PASSWORD, BASE)
    assert wrong_password == unknown_name == "that name and password do not match an account"


def test_failed_logins_make_the_next_attempt_wait_longer_and_longer(
        db: Database, amina: Account) -> None:
    at = BASE
    for _ in range(FREE_FAILURES):
        refused(db, "amina", OTHER_PASSWORD, at)
        at += timedelta(seconds=0.1)
    waits = []
    for _ in range(4):
        wait = throttled(db, "amina", PASSWORD, at)
        waits.append(wait)
        # the right password is refused while throttled, and trying does not count
        assert throttled(db, "amina", PASSWORD, at + timedelta(seconds=wait / 2)) < wait
        at += timedelta(seconds=wait + 0.01)
        refused(db, "amina", OTHER_PASSWORD, at)
    assert waits == pytest.approx([0.9, 2.0, 4.0, 8.0], abs=0.02)
    wait = throttled(db, "amina", PASSWORD, at)
    assert wait == pytest.approx(16.0)
    login = log_in(db, "amina", PASSWORD, at=at + timedelta(seconds=wait + 0.01))
    assert login.account == amina
    # a success forgets the failures
    refused(db, "amina", OTHER_PASSWORD, at + timedelta(seconds=wait + 0.02))
    assert log_in(db, "amina", PASSWORD, at=at + timedelta(seconds=wait + 0.03))


def test_the_wait_is_capped(db: Database, amina: Account) -> None:
    at = BASE
    for _ in range(FREE_FAILURES + 10):
        refused(db, "amina", OTHER_PASSWORD, at)
        at += timedelta(seconds=MAX_WAIT_S + 1)
    last = at - timedelta(seconds=MAX_WAIT_S + 1)
    assert throttled(db, "amina", PASSWORD, last + timedelta(seconds=1)) == pytest.approx(
        MAX_WAIT_S - 1)


def test_failures_are_forgotten_after_a_while(db: Database, amina: Account) -> None:
    for k in range(FREE_FAILURES + 2):
        refused(db, "amina", OTHER_PASSWORD, BASE + timedelta(seconds=k * 100))
    last = BASE + timedelta(seconds=(FREE_FAILURES + 1) * 100)
    throttled(db, "amina", PASSWORD, last + timedelta(seconds=1))
    later = last + FORGET_FAILURES_AFTER + timedelta(seconds=1)
    # forgotten: one more failure does not make anyone wait
    refused(db, "amina", OTHER_PASSWORD, later)
    assert log_in(db, "amina", PASSWORD, at=later).account == amina
    with db.transaction() as session:
        assert session.get(LoginThrottle, "amina") is None


def test_unknown_names_are_slowed_down_alike(db: Database, amina: Account) -> None:
    for _ in range(FREE_FAILURES):
        refused(db, "nobody", PASSWORD, BASE)
    assert throttled(db, "nobody", PASSWORD, BASE) == pytest.approx(1.0)
    # another name is not slowed by them
    assert log_in(db, "amina", PASSWORD, at=BASE).account == amina


def test_a_login_resolves_until_it_expires_or_logs_out(db: Database, amina: Account) -> None:
    login = log_in(db, "amina", PASSWORD, at=BASE)
    assert resolve(db, login.secret, at=BASE + timedelta(days=1)) == (amina, login.csrf)
    assert resolve(db, "not-a-secret", at=BASE) is None
    with db.transaction() as session:
        ids = session.scalars(select(LoginSession.id)).all()
    # the database holds the secret's digest only: a copied database logs nobody in
    assert ids == [hashlib.sha256(login.secret.encode()).hexdigest()]
    assert resolve(db, login.secret, at=login.expires_at) is None
    assert count(db, LoginSession, amina.id) == 0
    second = log_in(db, "amina", PASSWORD, at=BASE + timedelta(days=2))
    assert resolve(db, second.secret, at=BASE + timedelta(days=2)) == (amina, second.csrf)
    log_out(db, second.secret)
    assert resolve(db, second.secret, at=BASE + timedelta(days=2)) is None


def test_a_new_password_ends_every_login(db: Database, amina: Account) -> None:
    logins = [log_in(db, "amina", PASSWORD, at=BASE) for _ in range(2)]
    set_password(db, "amina", OTHER_PASSWORD)
    assert [resolve(db, login.secret, at=BASE) for login in logins] == [None, None]
    refused(db, "amina", PASSWORD, BASE)
    assert log_in(db, "amina", OTHER_PASSWORD, at=BASE).account == amina
    with pytest.raises(UserError, match="there is no user named 'nobody'"):
        set_password(db, "nobody", OTHER_PASSWORD)
    with pytest.raises(UserError, match="8 to 1024 characters"):
        set_password(db, "amina", "short")


def test_deleting_a_user_deletes_their_practices_and_logins(db: Database,
                                                            amina: Account) -> None:
    bolat = add_user(db, "bolat", "learner", PASSWORD)
    for k in range(3):
        store_practice(db, amina, record(BASE + timedelta(minutes=k)), MAX_ATTEMPT_BYTES)
    store_practice(db, bolat, record(BASE), MAX_ATTEMPT_BYTES)
    log_in(db, "amina", PASSWORD, at=BASE)
    kept = log_in(db, "bolat", PASSWORD, at=BASE)
    assert delete_user(db, "amina") == 3
    assert count(db, Practice, amina.id) == count(db, LoginSession, amina.id) == 0
    assert count(db, Practice, bolat.id) == 1
    assert resolve(db, kept.secret, at=BASE) == (bolat, kept.csrf)


def test_the_database_itself_cascades_a_deleted_user(db: Database, amina: Account) -> None:
    """Deleting the row without the ORM (as an administrator's SQL would) still cascades."""
    store_practice(db, amina, record(), MAX_ATTEMPT_BYTES)
    log_in(db, "amina", PASSWORD, at=BASE)
    with db.engine.begin() as connection:
        connection.execute(delete(User).where(User.id == amina.id))
    assert count(db, Practice, amina.id) == count(db, LoginSession, amina.id) == 0


def test_a_home_tutor_has_one_local_learner_without_a_password(db: Database) -> None:
    assert not has_accounts(db)
    local = local_learner(db)
    assert local == local_learner(db)
    assert local.name == LOCAL_LEARNER and local.role == "learner"
    assert list_users(db) == [] and not has_accounts(db)
    refused(db, LOCAL_LEARNER, "", BASE)
    add_user(db, "zhanar", "teacher", PASSWORD)
    assert has_accounts(db)
