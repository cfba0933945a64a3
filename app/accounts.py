"""Teachers and learners: accounts, passwords, login sessions and slowing down guessing.

Passwords are hashed with Argon2id (``argon2-cffi``'s defaults, RFC 9106's low-memory profile)
and never leave this module. A login makes a new session whose secret only the browser holds
(the database keeps its SHA-256), so a copied database logs nobody in and a session id a
browser brought along is never adopted. Failed logins under a name, whether or not it exists,
make the next attempt wait longer (:data:`FREE_FAILURES`, then doubling up to
:data:`MAX_WAIT_S`), and the answer is the same for an unknown name as for a wrong password.
At home, with nobody holding a password, practice is kept under one local learner.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.engine import Database
from app.db.models import NAME_LENGTH, ROLES, LoginSession, LoginThrottle, Practice, User
from app.errors import UserError

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
SESSION_DAYS = 14
FREE_FAILURES = 3
"""Failed logins under one name before each further attempt has to wait."""
MAX_WAIT_S = 60.0
FORGET_FAILURES_AFTER = timedelta(minutes=15)
LOCAL_LEARNER = "local"
"""The one learner of a tutor at home, where nobody logs in."""
NAME = re.compile(rf"[a-z0-9][a-z0-9._-]{{0,{NAME_LENGTH - 1}}}")

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
"""Verified against when the name is unknown, so that answering takes as long either way."""


class LoginRefused(UserError):
    """Wrong name or password (the message does not say which)."""


_REFUSED = "that name and password do not match an account"


class LoginThrottled(UserError):
    """Too many failed logins under this name lately; ``retry_after_s`` says how long to wait."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str

    @property
    def is_teacher(self) -> bool:
        return self.role == "teacher"


@dataclass(frozen=True)
class Login:
    """A new login: the browser keeps ``secret`` in its cookie and sends ``csrf`` with writes."""

    account: Account
    secret: str
    csrf: str
    expires_at: datetime


def now() -> datetime:
    return datetime.now(UTC)


def check_name(name: str) -> str:
    """A user name: lowercase letters, digits, dots, dashes and underscores, up to 64.

    Raises
    ------
    UserError
        Naming the rule the name breaks.
    """
    if not NAME.fullmatch(name):
        raise UserError(f"the user name {name[:80]!r} must be 1 to {NAME_LENGTH} lowercase "
                        "letters, digits, dots, dashes or underscores, starting with a letter "
                        "or digit")
    return name


def check_password(password: str) -> str:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(f"a password must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"the role {role!r} is not one of {', '.join(ROLES)}")
    return role


def add_user(db: Database, name: str, role: str, password: str | None) -> Account:
    """A new account; ``password`` None only for the local learner.

    Raises
    ------
    UserError
        A bad name, role or password, or the name is taken.
    """
    check_name(name)
    check_role(role)
    hashed = None if password is None else _hasher.hash(check_password(password))
    try:
        with db.transaction() as session:
            user = User(name=name, role=role, password_hash=hashed, created_at=now())
            session.add(user)
            session.flush()
            return _account(user)
    except IntegrityError:
        raise UserError(f"there is already a user named {name!r}") from None


def list_users(db: Database) -> list[Account]:
    """Every account with a password, teachers first, then by name."""
    with db.transaction() as session:
        users = session.scalars(select(User).where(User.password_hash.is_not(None))
                                .order_by(User.role.desc(), User.name))
        return [_account(u) for u in users]


def find_user(db: Database, name: str) -> Account | None:
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.name == name))
        return _account(user) if user else None


def delete_user(db: Database, name: str) -> int:
    """Delete an account with all its practices and logins; how many practices went with it.

    Raises
    ------
    UserError
        When there is no such user.
    """
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            raise UserError(f"there is no user named {name!r}")
        practices = session.scalar(select(func.count()).select_from(Practice)
                                   .where(Practice.user_id == user.id)) or 0
        session.delete(user)
        return practices


def set_password(db: Database, name: str, password: str) -> None:
    """A new password (a teacher's reset); every login of that user ends.

    Raises
    ------
    UserError
        When there is no such user, or the password is too short or long.
    """
    hashed = _hasher.hash(check_password(password))
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.name == name,
                                                 User.password_hash.is_not(None)))
        if user is None:
            raise UserError(f"there is no user named {name!r}")
        user.password_hash = hashed
        session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


def has_accounts(db: Database) -> bool:
    """Whether anyone holds a password (else the tutor is a home tutor with a local learner)."""
    with db.transaction() as session:
        return bool(session.scalar(select(func.count()).select_from(User)
                                   .where(User.password_hash.is_not(None))))


def local_learner(db: Database) -> Account:
    """The local learner, made on first use."""
    with db.transaction() as session:
        user = session.scalar(select(User).where(User.name == LOCAL_LEARNER))
        if user is not None:
            return _account(user)
    try:
        return add_user(db, LOCAL_LEARNER, "learner", None)
    except UserError:
        found = find_user(db, LOCAL_LEARNER)
        if found is None:
            raise
        return found


def log_in(db: Database, name: str, password: str, at: datetime | None = None) -> Login:
    """Check a name and password and start a new login.

    Raises
    ------
    LoginThrottled
        When this name failed too often lately (the password is not even checked).
    LoginRefused
        When the name or the password is wrong. A name no user can have (one holding a NUL,
        which PostgreSQL cannot even compare) is refused without asking the database, after
        the same wait for the hasher.
    """
    at = at or now()
    key = name.strip().lower()
    if not NAME.fullmatch(key):
        _verify(_DUMMY_HASH, password)
        raise LoginRefused(_REFUSED)
    login: Login | None = None
    try:
        with db.transaction() as session:
            throttle = session.get(LoginThrottle, key)
            wait = _wait(throttle, at)
            if wait > 0:
                raise LoginThrottled(
                    f"too many failed logins as {key!r}: try again in {wait:.0f} s", wait)
            user = session.scalar(select(User).where(User.name == key,
                                                     User.password_hash.is_not(None)))
            if user is not None and _verify(user.password_hash or _DUMMY_HASH, password):
                if throttle is not None:
                    session.delete(throttle)
                if _hasher.check_needs_rehash(user.password_hash or ""):
                    user.password_hash = _hasher.hash(password)
                login = _start_login(session, user, at)
            else:
                if user is None:
                    _verify(_DUMMY_HASH, password)
                _failed(session, throttle, key, at)
    except IntegrityError:
        login = None
    if login is None:
        raise LoginRefused(_REFUSED)
    return login


def resolve(db: Database, secret: str, at: datetime | None = None) -> tuple[Account, str] | None:
    """The account and CSRF token of a login cookie's secret, or None when it is unknown or
    expired (an expired login is deleted)."""
    at = at or now()
    with db.transaction() as session:
        login = session.get(LoginSession, _digest(secret))
        if login is None:
            return None
        if as_utc(login.expires_at) <= at:
            session.delete(login)
            return None
        return _account(login.user), login.csrf


def log_out(db: Database, secret: str) -> None:
    """End a login on the server (its cookie is worthless afterwards)."""
    with db.transaction() as session:
        session.execute(delete(LoginSession).where(LoginSession.id == _digest(secret)))


def _start_login(session: Session, user: User, at: datetime) -> Login:
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = at + timedelta(days=SESSION_DAYS)
    session.add(LoginSession(id=_digest(secret), user_id=user.id, csrf=csrf, created_at=at,
                             expires_at=expires))
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id,
                                               LoginSession.expires_at <= at))
    return Login(_account(user), secret, csrf, expires)


def _wait(throttle: LoginThrottle | None, at: datetime) -> float:
    if throttle is None or throttle.failures < FREE_FAILURES:
        return 0.0
    last = as_utc(throttle.last_failure_at)
    if at - last > FORGET_FAILURES_AFTER:
        return 0.0
    wait = min(MAX_WAIT_S, 2.0 ** (throttle.failures - FREE_FAILURES))
    return max(0.0, wait - (at - last).total_seconds())


def _failed(session: Session, throttle: LoginThrottle | None, key: str, at: datetime) -> None:
    if throttle is None:
        session.add(LoginThrottle(name=key, failures=1, last_failure_at=at))
        return
    forgotten = at - as_utc(throttle.last_failure_at) > FORGET_FAILURES_AFTER
    throttle.failures = 1 if forgotten else throttle.failures + 1
    throttle.last_failure_at = at


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password[:MAX_PASSWORD])
    except (VerificationError, InvalidHashError):
        return False


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def as_utc(moment: datetime) -> datetime:
    """A stored time in UTC: SQLite gives back naive datetimes (every stored time is UTC),
    PostgreSQL aware ones in the server's time zone."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _account(user: User) -> Account:
    return Account(user.id, user.name, user.role)
