"""The accounts and progress API under generated input and with its database away.

Schemathesis sends every account and progress operation generated requests, valid and
invalid, as a logged-in teacher's page does (the session cookie and its CSRF token): every
answer must be a documented status with a body matching the schema, never a 5xx, a stack trace
or a server path. Logging out and deleting one's own account are left out: they would end the
login the rest of the run uses (``tests/test_server_accounts.py`` checks both).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from app.server.identity import COOKIE, CSRF_HEADER, DATABASE_AWAY
from app.server.main import create_app
from app.server.state import open_state
from tests.accounts_fixtures import PASSWORDS, TEACHER, Login, enrol
from tests.server_fixtures import AUTH, make_settings

EXAMPLES_PER_OPERATION = 40
LEAKS = ("Traceback", "site-packages", "/work/", "/tmp/", 'File "', "$argon2")

# schemathesis reads the schema when the module is collected, so the app and its class are
# made here, in a private folder that the module's last fixture removes.
_FOLDER = Path(tempfile.mkdtemp(prefix="dance-tutor-accounts-fuzz-"))
_SETTINGS = make_settings(_FOLDER)
_STATE = open_state(_SETTINGS)
_TEACHER = enrol(_STATE.store.require()).logins[TEACHER]
schema = (schemathesis.openapi.from_asgi("/openapi.json", create_app(_SETTINGS, _STATE))
          .include(tag="accounts")
          .exclude(path="/api/logout")
          .exclude(method="DELETE", path="/api/me"))


@schema.auth()
class _TeacherPage:
    """The teacher's login as the page sends it: the session cookie and the CSRF token."""

    def get(self, case: schemathesis.Case, context: schemathesis.AuthContext) -> Login:
        return _TEACHER

    def set(self, case: schemathesis.Case, login: Login,
            context: schemathesis.AuthContext) -> None:
        case.cookies = {**(case.cookies or {}), COOKIE: login.secret}
        case.headers = {**(case.headers or {}), CSRF_HEADER: login.csrf}


@pytest.fixture(scope="module", autouse=True)
def _remove_folder() -> Iterator[None]:
    yield
    _STATE.store.close()
    shutil.rmtree(_FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_every_account_operation_answers_a_teacher_as_documented(
    case: schemathesis.Case
) -> None:
    response = case.call_and_validate()
    assert response.status_code < 500
    assert not any(leak in response.text for leak in LEAKS), response.text[:500]
    assert not any(password in response.text for password in PASSWORDS.values())


def test_the_login_the_run_used_is_still_the_teacher_s() -> None:
    with TestClient(create_app(_SETTINGS, _STATE)) as client:
        me = client.get("/api/me", headers=_TEACHER.cookie)
        assert me.status_code == 200 and me.json()["name"] == TEACHER


def test_with_the_database_away_accounts_answer_503_and_the_token_still_edits_the_library(
    tmp_path: Path
) -> None:
    away = make_settings(tmp_path, database_url="postgresql://tutor@127.0.0.1:1/tutor")
    with TestClient(create_app(away, open_state(away))) as client:
        for method, url, body in (("GET", "/api/me", None), ("GET", "/api/progress", None),
                                  ("POST", "/api/login", {"name": TEACHER,
                                                          "password": PASSWORDS[TEACHER]}),
                                  ("GET", "/api/learners", None),
                                  ("POST", "/api/logout", None)):
            response = client.request(method, url, json=body,
                                      headers={"Cookie": "dance_tutor_session=stale"})
            assert response.status_code == 503, (method, url, response.text)
            assert response.json() == {"detail": DATABASE_AWAY}
        assert client.get("/api/learners", headers=AUTH).status_code == 503
        changed = client.patch("/api/references/wing-beat", headers=AUTH, json={"title": "Beat"})
        assert changed.status_code == 200


def test_a_name_no_user_can_have_is_refused_like_a_wrong_password(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    state = open_state(settings)
    with TestClient(create_app(settings, state)) as client:
        for name in ("tom\u0000iris", "t" * 200, "Tómiris", " ", "-tomiris"):
            response = client.post("/api/login", json={"name": name, "password": "whatever"})
            assert response.status_code == 401, (name, response.text)
            assert response.json() == {"detail": "That name and password do not match an "
                                                 "account."}
    state.store.close()
