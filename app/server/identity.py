"""Who is calling: a login's session cookie, the instructor token, or the learner at home.

:func:`current_caller` is the dependency every account and progress route starts from. The
instructor token (``Authorization: Bearer`` or ``X-Instructor-Token``) is automation (the CLI,
scripts, the first start) with a teacher's powers and no account of its own; it is checked
first and needs no database. Otherwise the session cookie names a login
(:func:`app.accounts.resolve`), and a write it authenticates (POST, PUT, PATCH, DELETE) must
carry the login's CSRF token in ``X-CSRF-Token`` and come from no other site's page (its
``Origin``, when sent, is this server's or one of ``allowed_origins``), else 403. Otherwise, a
tutor at home (serving on loopback, nobody holding a password yet) answers requests addressed
to a loopback name as its one local learner; a page of any other name (a DNS rebinding attack)
gets nobody.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from app.accounts import LOCAL_LEARNER, Account, has_accounts, local_learner, resolve
from app.db.engine import DatabaseUnavailableError
from app.server.settings import Settings
from app.server.state import ServerState

log = logging.getLogger(__name__)

COOKIE = "dance_tutor_session"
"""The session cookie: the login's secret, which only the browser holds."""
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})

NOBODY = "Log in first."
NOT_A_TEACHER = "This needs a teacher's login."
NO_CSRF = "This request lacks the page's CSRF token."
FOREIGN_ORIGIN = "This request comes from another site's page."
DATABASE_AWAY = "The tutor's database cannot be reached just now; try again in a minute."

bearer = HTTPBearer(auto_error=False, description="The instructor token.")
token_header = APIKeyHeader(name="X-Instructor-Token", auto_error=False,
                            description="The instructor token.")
session_cookie = APIKeyCookie(name=COOKIE, auto_error=False,
                              description="A login's session (POST /api/login sets it).")


@dataclass(frozen=True)
class Caller:
    """Who a request comes from: an account (``via`` "cookie", or "home" for the local learner)
    or the instructor token (``via`` "token", no account)."""

    account: Account | None
    via: Literal["cookie", "token", "home"]
    csrf: str | None = None
    """The login's CSRF token (cookie callers only)."""

    @property
    def is_teacher(self) -> bool:
        return self.via == "token" or (self.account is not None and self.account.is_teacher)


@contextmanager
def database_answers() -> Iterator[None]:
    """The database being away, as a 503 (the log names the database, the answer does not)."""
    try:
        yield
    except DatabaseUnavailableError as exc:
        log.warning("Answered 503: %s", exc)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, DATABASE_AWAY) from None


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.tutor
    return state


def check_origin(request: Request, settings: Settings) -> None:
    """403 for a write sent by a page of another origin than this server's (or an allowed one).

    Browsers send ``Origin`` with every cross-site write; scripts usually send none."""
    origin = request.headers.get("origin")
    if request.method not in UNSAFE_METHODS or origin is None:
        return
    own = f"{request.url.scheme}://{request.url.netloc}"
    if origin != own and origin not in settings.allowed_origins:
        raise HTTPException(status.HTTP_403_FORBIDDEN, FOREIGN_ORIGIN)


def _check_csrf(request: Request, csrf: str) -> None:
    if request.method not in UNSAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER, "")
    if not hmac.compare_digest(given.encode("utf-8"), csrf.encode("utf-8")):
        raise HTTPException(status.HTTP_403_FORBIDDEN, NO_CSRF)


def _is_home(connection: HTTPConnection, state: ServerState) -> bool:
    """A tutor at home: on loopback, asked by a loopback name, nobody holding a password."""
    return (state.settings.loopback_only and connection.url.hostname in LOOPBACK_NAMES
            and not has_accounts(state.store.require()))


def teaching(connection: HTTPConnection, state: ServerState) -> bool:
    """Whether the session cookie is a teacher's login (who may record takes); False while the
    database is away."""
    secret = connection.cookies.get(COOKIE)
    if not secret:
        return False
    try:
        found = resolve(state.store.require(), secret)
    except DatabaseUnavailableError:
        return False
    return found is not None and found[0].is_teacher


def practising_learner(connection: HTTPConnection, state: ServerState) -> str | None:
    """Whose history a live practice goes to: the login of the session cookie, else the
    learner at home, else nobody (also while the database is away: a session cookie cannot
    be read then, and at home the practice waits for it under the local learner)."""
    try:
        secret = connection.cookies.get(COOKIE)
        found = resolve(state.store.require(), secret) if secret else None
        if found is not None:
            return found[0].name
        home = _is_home(connection, state)
    except DatabaseUnavailableError:
        home = (state.settings.loopback_only
                and connection.url.hostname in LOOPBACK_NAMES and COOKIE not in connection.cookies)
    return LOCAL_LEARNER if home else None


def cookie_login(request: Request, secret: str | None) -> Caller | None:
    """The login whose secret the session cookie holds, or None; a write it authenticates
    must pass the CSRF and origin checks (else 403).

    Raises
    ------
    DatabaseUnavailableError
    """
    state = _state(request)
    found = resolve(state.store.require(), secret) if secret else None
    if found is None:
        return None
    account, csrf = found
    check_origin(request, state.settings)
    _check_csrf(request, csrf)
    return Caller(account, "cookie", csrf)


def _identify(request: Request, bearer_token: HTTPAuthorizationCredentials | None,
              header_token: str | None, secret: str | None, *, home: bool) -> Caller | None:
    state = _state(request)
    if state.token.matches(bearer_token.credentials if bearer_token else header_token):
        return Caller(None, "token")
    with database_answers():
        login = cookie_login(request, secret)
        if login is not None:
            return login
        if home and _is_home(request, state):
            check_origin(request, state.settings)
            return Caller(local_learner(state.store.require()), "home")
    return None


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
HeaderDep = Annotated[str | None, Depends(token_header)]
CookieDep = Annotated[str | None, Depends(session_cookie)]


def current_caller(request: Request, bearer_token: BearerDep, header_token: HeaderDep,
                   secret: CookieDep) -> Caller | None:
    """The caller (token, login, or the learner at home), or None for nobody.

    Raises
    ------
    HTTPException
        403 for a cookie write without the CSRF token or from another site's page; 503 when
        the database cannot be reached.
    """
    return _identify(request, bearer_token, header_token, secret, home=True)


def login_or_token(request: Request, bearer_token: BearerDep, header_token: HeaderDep,
                   secret: CookieDep) -> Caller | None:
    """As :func:`current_caller`, but never the learner at home (for the instructor's
    routes, which a learner cannot use anyway: no database is asked without a cookie)."""
    return _identify(request, bearer_token, header_token, secret, home=False)


def require_caller(caller: Annotated[Caller | None, Depends(current_caller)]) -> Caller:
    """401 for nobody."""
    if caller is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, NOBODY,
                            headers={"WWW-Authenticate": "Bearer"})
    return caller


def require_teacher(caller: Annotated[Caller, Depends(require_caller)]) -> Caller:
    """401 for nobody, 403 for a learner: a teacher's login or the token."""
    if not caller.is_teacher:
        raise HTTPException(status.HTTP_403_FORBIDDEN, NOT_A_TEACHER)
    return caller


def require_account(caller: Annotated[Caller, Depends(require_caller)]) -> Account:
    """401 for nobody, 403 for the token (it is nobody's login): the caller's own account."""
    if caller.account is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "The instructor token is nobody's login; log in to have a "
                            "history of your own.")
    return caller.account


CallerDep = Annotated[Caller, Depends(require_caller)]
TeacherDep = Annotated[Caller, Depends(require_teacher)]
AccountDep = Annotated[Account, Depends(require_account)]
