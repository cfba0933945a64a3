"""``/api/login``, ``/api/me``, ``/api/progress``, ``/api/learners``, ``/api/users``: accounts
and progress over the REST API.

Who may do what is decided by the caller (``identity.py``): a learner sees and deletes only
their own practice; a teacher (or the instructor token) sees the class and manages accounts.
A login's secret is only ever in its cookie (HttpOnly, SameSite=Strict, Secure under https),
never in a body or the log, and nor is a password or its hash: a request that fails
validation is answered without echoing what it was sent.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from app import accounts, progress
from app.db.engine import DatabaseUnavailableError
from app.db.models import NAME_LENGTH, ROLES
from app.errors import UserError
from app.server.deps import StateDep
from app.server.errors import error_responses, sentence
from app.server.identity import (
    COOKIE,
    AccountDep,
    Caller,
    CallerDep,
    TeacherDep,
    check_origin,
    cookie_login,
    database_answers,
)
from app.server.settings import Settings
from app.server.state import ServerState

log = logging.getLogger(__name__)

NAME_SCHEMA_PATTERN = f"^{accounts.NAME.pattern}$"
MAX_PRACTICE_ID = 2**31 - 1
"""Practice ids are 32-bit integers on PostgreSQL."""
Role = Annotated[str, Field(json_schema_extra={"enum": list(ROLES)},
                            pattern=f"^({'|'.join(ROLES)})$",
                            description="One of " + ", ".join(ROLES) + ".")]
Password = Annotated[str, Field(min_length=accounts.MIN_PASSWORD,
                                max_length=accounts.MAX_PASSWORD)]
UserName = Annotated[str, Path(pattern=NAME_SCHEMA_PATTERN, max_length=NAME_LENGTH,
                               description="A user name, e.g. aruzhan.")]
PracticeId = Annotated[int, Path(ge=1, le=MAX_PRACTICE_ID, description="A practice's id.")]


class _NoEcho(APIRoute):
    """A request that fails validation is answered without the values it was sent (it may
    carry a password): each error keeps its place, type and message."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def without_input(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                errors = [{k: v for k, v in error.items() if k not in ("input", "ctx")}
                          for error in exc.errors()]
                raise RequestValidationError(errors) from None

        return without_input


router = APIRouter(prefix="/api", tags=["accounts"], route_class=_NoEcho,
                   responses=error_responses(403, 422, 503))


class LoginIn(BaseModel):
    name: str = Field(min_length=1, max_length=4 * NAME_LENGTH)
    password: str = Field(min_length=1, max_length=accounts.MAX_PASSWORD)


class LoginPublic(BaseModel):
    """A new login. The session's secret is in the cookie only; ``csrf`` goes in the
    ``X-CSRF-Token`` header of every write sent with the cookie."""

    name: str
    role: str
    csrf: str


class MePublic(BaseModel):
    """Who this browser is: a login (``csrf`` its token), or the local learner of a tutor at
    home (``local`` true, no ``csrf``)."""

    name: str
    role: str
    csrf: str | None
    local: bool


class _FromAttributes(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PointPublic(_FromAttributes):
    id: int = Field(description="The practice.")
    at: datetime
    score: float


class StepProgressPublic(_FromAttributes):
    """One step (or routine) practised: the scores over time and what they say lately."""

    reference: str
    points: list[PointPublic]
    best: float
    latest: float
    count: int
    costliest_limb: str | None = Field(description="The limb that cost most points in the "
                                                   "last 5 practices.")
    weakest_part: str | None


class NextPublic(_FromAttributes):
    reference: str
    step: str | None = Field(description="The part to loop, when there is one to name.")
    reason: str


class ProgressPublic(_FromAttributes):
    """A learner's progress per step, the most recently practised first."""

    learner: str
    steps: list[StepProgressPublic]
    next: NextPublic | None = Field(description="What to practise next; null before the "
                                                "first practice.")


class PracticePublic(BaseModel):
    """A kept practice (``has_attempt``: its landmarks were kept for the replay)."""

    id: int
    reference: str
    kind: str
    started_at: datetime
    finished_at: datetime
    speed: float
    mirror: bool
    loop_step: str | None
    score: float
    rating: str
    has_attempt: bool


class PracticeDetail(PracticePublic):
    report: dict[str, Any] = Field(description="The report the learner was given (`Report`).")


class OwnedPractice(PracticeDetail):
    learner: str


class HistoryPublic(BaseModel):
    """Every practice of a learner, newest first, with its report."""

    learner: str
    practices: list[PracticeDetail]


class WeekStep(BaseModel):
    reference: str
    practices: int
    latest: float
    change: float | None = Field(description="Latest score against the week's first; null "
                                             "for one practice.")


class LearnerWeekPublic(_FromAttributes):
    name: str
    practices_this_week: int
    steps: list[WeekStep]
    last_practised: datetime | None


class ClassPublic(_FromAttributes):
    """The roster with each learner's last 7 days, and per step the correction the class was
    given most often in the last 30."""

    learners: list[LearnerWeekPublic]
    corrections: dict[str, str]


class UserCreate(BaseModel):
    name: str = Field(pattern=NAME_SCHEMA_PATTERN, max_length=NAME_LENGTH)
    role: Role
    password: Password


class UserPublic(BaseModel):
    name: str
    role: str


class PasswordSet(BaseModel):
    password: Password


def _set_cookie(response: Response, settings: Settings, login: accounts.Login) -> None:
    response.set_cookie(COOKIE, login.secret, max_age=accounts.SESSION_DAYS * 86_400, path="/",
                        secure=settings.tls, httponly=True, samesite="strict")


def _clear_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path="/", secure=settings.tls, httponly=True,
                           samesite="strict")


def _no_content(settings: Settings | None = None) -> Response:
    """A 204; given ``settings``, it also clears the session cookie."""
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    if settings is not None:
        _clear_cookie(response, settings)
    return response


@contextmanager
def _refused_with(code: int) -> Iterator[None]:
    """A :class:`UserError` as an answer with the status ``code`` and its sentence (the
    database being away stays what it is: a 503)."""
    try:
        yield
    except DatabaseUnavailableError:
        raise
    except UserError as exc:
        raise HTTPException(code, sentence(exc)) from None


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


@router.post("/login", responses=error_responses(400, 401, 429))
def log_in(state: StateDep, request: Request, response: Response, body: LoginIn) -> LoginPublic:
    """Log in: sets the session cookie (a new secret every time; the browser's previous
    login ends). Failed logins under a name make the next ones wait (429, Retry-After)."""
    check_origin(request, state.settings)
    shown = body.name[:NAME_LENGTH]
    with database_answers():
        database = state.store.require()
        try:
            login = accounts.log_in(database, body.name, body.password)
        except accounts.LoginThrottled as exc:
            log.info("throttled login for %r", shown)
            raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, sentence(exc),
                                headers={"Retry-After": str(max(1, math.ceil(
                                    exc.retry_after_s)))}) from None
        except accounts.LoginRefused as exc:
            log.info("failed login for %r", shown)
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, sentence(exc)) from None
        previous = request.cookies.get(COOKIE)
        if previous:
            accounts.log_out(database, previous)
    _set_cookie(response, state.settings, login)
    return LoginPublic(name=login.account.name, role=login.account.role, csrf=login.csrf)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def log_out(state: StateDep, request: Request) -> Response:
    """End this browser's login on the server (its cookie is worthless afterwards) and clear
    the cookie; without a login there is nothing to end."""
    secret = request.cookies.get(COOKIE)
    with database_answers():
        if secret and cookie_login(request, secret) is not None:
            accounts.log_out(state.store.require(), secret)
    return _no_content(state.settings)


@router.get("/me", responses=error_responses(401))
def me(caller: CallerDep, account: AccountDep) -> MePublic:
    """The user of this login, or the local learner of a tutor at home; 401 for nobody."""
    return MePublic(name=account.name, role=account.role, csrf=caller.csrf,
                    local=caller.via == "home")


@router.delete("/me", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401))
def delete_me(state: StateDep, account: AccountDep) -> Response:
    """Delete the caller's own account with all its practices, and log out."""
    with database_answers():
        accounts.delete_user(state.store.require(), account.name)
    return _no_content(state.settings)


@router.get("/progress", responses=error_responses(401))
def own_progress(state: StateDep, account: AccountDep) -> ProgressPublic:
    """The caller's progress per step, and what to practise next."""
    with database_answers():
        found = progress.learner_progress(state.store.require(), account)
    return ProgressPublic.model_validate(found)


@router.get("/progress/history", responses=error_responses(401))
def own_history(state: StateDep, account: AccountDep, response: Response) -> HistoryPublic:
    """Download every practice of the caller, newest first, each with its report (JSON)."""
    with database_answers():
        practices = progress.history(state.store.require(), account)
    response.headers.update(_attachment(f"dance-tutor-{account.name}-history.json"))
    return HistoryPublic.model_validate({"learner": account.name, "practices": practices})


@router.get("/progress/practices", responses=error_responses(401))
def own_practices(state: StateDep, account: AccountDep) -> list[PracticePublic]:
    """The caller's practices, newest first, without their reports (to replay one)."""
    with database_answers():
        found = progress.history(state.store.require(), account, with_reports=False)
    return [PracticePublic.model_validate(practice) for practice in found]


@router.delete("/progress", status_code=status.HTTP_204_NO_CONTENT,
               responses=error_responses(401))
def delete_own_history(state: StateDep, account: AccountDep) -> Response:
    """Delete every practice of the caller (the account stays)."""
    with database_answers():
        progress.delete_history(state.store.require(), account)
    return _no_content()


def _practice(state: ServerState, caller: Caller, practice_id: int) -> dict[str, Any]:
    """The practice with its learner's name, if the caller may see it."""
    with database_answers():
        found = progress.practice_detail(state.store.require(), practice_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no practice {practice_id}.")
    owner, practice = found
    if not caller.is_teacher and (caller.account is None or caller.account.name != owner):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "Only its learner and teachers can see this practice.")
    return {**practice, "learner": owner}


@router.get("/practices/{practice_id}", responses=error_responses(401, 404))
def get_practice(state: StateDep, caller: CallerDep, practice_id: PracticeId) -> OwnedPractice:
    """One practice with its report: its learner's, or any for a teacher."""
    return OwnedPractice.model_validate(_practice(state, caller, practice_id))


@router.get("/practices/{practice_id}/attempt", response_class=Response,
            responses={**error_responses(401, 404), 200: {
                "description": "The learner's landmarks, a .pose.json document.",
                "content": {"application/json": {"schema": {"type": "object"}}}}})
def get_attempt(state: StateDep, caller: CallerDep, practice_id: PracticeId) -> Response:
    """The landmarks of a practice's attempt (a ``.pose.json`` document) for its replay; 404
    when they were not kept (over the size limit)."""
    _practice(state, caller, practice_id)
    with database_answers():
        document = progress.attempt_document(state.store.require(), practice_id)
    if document is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND,
                            f"The landmarks of practice {practice_id} were not kept.")
    return Response(document, media_type="application/json")


@router.get("/learners", responses=error_responses(401))
def class_overview(state: StateDep, _: TeacherDep) -> ClassPublic:
    """The class (teachers): each learner's week, and the most common correction per step."""
    with database_answers():
        overview = progress.class_overview(state.store.require())
    return ClassPublic.model_validate(overview)


def _learner(state: ServerState, name: str) -> accounts.Account:
    with _refused_with(status.HTTP_404_NOT_FOUND):
        return progress.learner(state.store.require(), name)


@router.get("/learners/{name}/progress", responses=error_responses(401, 404))
def learner_progress(state: StateDep, _: TeacherDep, name: UserName) -> ProgressPublic:
    """A learner's progress (teachers)."""
    with database_answers():
        found = progress.learner_progress(state.store.require(), _learner(state, name))
    return ProgressPublic.model_validate(found)


@router.get("/learners/{name}/practices", responses=error_responses(401, 404))
def learner_practices(state: StateDep, _: TeacherDep, name: UserName) -> list[PracticePublic]:
    """A learner's practices, newest first, without their reports (teachers)."""
    with database_answers():
        found = progress.history(state.store.require(), _learner(state, name),
                                 with_reports=False)
    return [PracticePublic.model_validate(practice) for practice in found]


@router.get("/class.csv", response_class=Response,
            responses={**error_responses(401), 200: {
                "description": "One row per practice of every learner.",
                "content": {"text/csv": {"schema": {"type": "string"}}}}})
def class_csv(state: StateDep, _: TeacherDep) -> Response:
    """Every practice of the class as CSV (teachers)."""
    with database_answers():
        text = progress.practices_csv(state.store.require())
    return Response(text, media_type="text/csv", headers=_attachment("dance-tutor-class.csv"))


@router.post("/users", status_code=status.HTTP_201_CREATED,
             responses=error_responses(400, 401, 409))
def create_user(state: StateDep, _: TeacherDep, body: UserCreate) -> UserPublic:
    """A new learner or teacher (a teacher, or the instructor token: the first teacher of a
    new tutor is made with the token)."""
    with database_answers():
        database = state.store.require()
        if accounts.find_user(database, body.name) is not None:
            raise HTTPException(status.HTTP_409_CONFLICT,
                                f"There is already a user named {body.name!r}.")
        with _refused_with(status.HTTP_422_UNPROCESSABLE_CONTENT):
            account = accounts.add_user(database, body.name, body.role, body.password)
    return UserPublic(name=account.name, role=account.role)


@router.delete("/users/{name}", status_code=status.HTTP_204_NO_CONTENT,
               responses=error_responses(401, 404))
def delete_user(state: StateDep, _: TeacherDep, name: UserName) -> Response:
    """Delete an account with all its practices and logins (teachers)."""
    with database_answers(), _refused_with(status.HTTP_404_NOT_FOUND):
        accounts.delete_user(state.store.require(), name)
    return _no_content()


@router.put("/users/{name}/password", status_code=status.HTTP_204_NO_CONTENT,
            responses=error_responses(400, 401, 404))
def set_password(state: StateDep, _: TeacherDep, name: UserName, body: PasswordSet) -> Response:
    """Give a user a new password (teachers); every login of that user ends."""
    with database_answers():
        database = state.store.require()
        if accounts.find_user(database, name) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no user named {name!r}.")
        with _refused_with(status.HTTP_404_NOT_FOUND):
            accounts.set_password(database, name, body.password)
    return _no_content()
