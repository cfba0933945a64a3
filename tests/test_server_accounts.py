"""The accounts and progress API: every role on every route (SQLite and PostgreSQL), the tutor
at home, the session cookie, CSRF, session fixation and logout, slowed guessing, a learner's
own data, and that no password, hash or login secret is ever answered or logged."""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from fastapi.testclient import TestClient
from sqlalchemy import select

from app import accounts, sequence
from app.accounts import LOCAL_LEARNER, add_user, local_learner
from app.db.models import LoginSession, User
from app.progress import store_practice
from app.server.identity import COOKIE, CSRF_HEADER
from app.server.main import create_app
from app.server.state import open_state
from tests.accounts_fixtures import (
    LEARNER_A,
    LEARNER_B,
    PASSWORDS,
    TEACHER,
    Login,
    School,
    Tutor,
    account,
    enrol,
    practice,
    rows,
    school_file,
    tutor,
)
from tests.practice_fixtures import MAX_ATTEMPT_BYTES, REFERENCE, squats_part
from tests.server_fixtures import AUTH, make_settings

__all__ = ["school_file", "tutor"]  # pytest fixtures this module uses

ANONYMOUS, A, B, T, TOK = "anonymous", "learner-a", "learner-b", "teacher", "token"
CALLERS = (ANONYMOUS, A, B, T, TOK)
NAMES = {A: LEARNER_A, B: LEARNER_B, T: TEACHER}
NEW_PASSWORD = "a new password 7"
MISSING = 2**31 - 1
HOME = "http://127.0.0.1:8000"
"""A tutor at home is asked by a loopback name."""


def own(ok: int) -> dict[str, int]:
    """Anyone with an account; the token is nobody's login."""
    return {ANONYMOUS: 401, A: ok, B: ok, T: ok, TOK: 403}


def a_and_teachers(ok: int) -> dict[str, int]:
    return {ANONYMOUS: 401, A: ok, B: 403, T: ok, TOK: ok}


def teachers(ok: int) -> dict[str, int]:
    return {ANONYMOUS: 401, A: 403, B: 403, T: ok, TOK: ok}


MATRIX: list[tuple[str, str, str, dict[str, Any] | None, dict[str, int]]] = [
    # method, route (as the schema names it), URL, body, status per caller; in this order.
    ("GET", "/api/me", "/api/me", None, own(200)),
    ("GET", "/api/progress", "/api/progress", None, own(200)),
    ("GET", "/api/progress/history", "/api/progress/history", None, own(200)),
    ("GET", "/api/progress/practices", "/api/progress/practices", None, own(200)),
    ("GET", "/api/practices/{practice_id}", "/api/practices/{kept}", None, a_and_teachers(200)),
    ("GET", "/api/practices/{practice_id}", f"/api/practices/{MISSING}", None,
     {ANONYMOUS: 401, A: 404, B: 404, T: 404, TOK: 404}),
    ("GET", "/api/practices/{practice_id}/attempt", "/api/practices/{kept}/attempt", None,
     a_and_teachers(200)),
    ("GET", "/api/practices/{practice_id}/attempt", "/api/practices/{bare}/attempt", None,
     {ANONYMOUS: 401, A: 403, B: 404, T: 404, TOK: 404}),
    ("GET", "/api/learners", "/api/learners", None, teachers(200)),
    ("GET", "/api/learners/{name}/progress", f"/api/learners/{LEARNER_A}/progress", None,
     teachers(200)),
    ("GET", "/api/learners/{name}/practices", f"/api/learners/{LEARNER_A}/practices", None,
     teachers(200)),
    ("GET", "/api/class.csv", "/api/class.csv", None, teachers(200)),
    ("POST", "/api/users", "/api/users",
     {"name": "new-{caller}", "role": "learner", "password": NEW_PASSWORD}, teachers(201)),
    ("PUT", "/api/users/{name}/password", "/api/users/{victim}/password",
     {"password": NEW_PASSWORD}, teachers(204)),
    ("DELETE", "/api/users/{name}", "/api/users/{victim}", None, teachers(204)),
    ("DELETE", "/api/progress", "/api/progress", None, own(204)),
    ("DELETE", "/api/me", "/api/me", None, own(204)),
    ("POST", "/api/logout", "/api/logout", None, dict.fromkeys(CALLERS, 204)),
    ("POST", "/api/login", "/api/login", {"name": "new-teacher", "password": NEW_PASSWORD},
     dict.fromkeys(CALLERS, 200)),
]


def headers_of(caller: str, school: School) -> dict[str, str]:
    """What the caller sends: the page sends its cookie and CSRF token, automation the token."""
    if caller == ANONYMOUS:
        return {}
    if caller == TOK:
        return AUTH
    return school.logins[NAMES[caller]].writes


def victim(caller: str) -> str:
    """Whose account a caller's reset and deletion aim at: learner B for those refused,
    else a learner of their own to lose."""
    return f"victim-{caller}" if caller in (T, TOK) else LEARNER_B


def accounts_operations(client: TestClient) -> set[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    return {(method.upper(), path) for path, operations in schema["paths"].items()
            for method, operation in operations.items() if "accounts" in operation["tags"]}


def test_every_role_gets_what_it_may_on_every_route_and_a_refusal_changes_nothing(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    state = open_state(settings)
    db = state.store.require()
    school = enrol(db)
    for caller in (T, TOK):
        add_user(db, victim(caller), "learner", PASSWORDS[LEARNER_B])
    with TestClient(create_app(settings, state)) as client:
        assert accounts_operations(client) == {(m, route) for m, route, *_ in MATRIX}
        for method, _route, url_template, body, expected in MATRIX:
            for caller in CALLERS:
                url = url_template.format(kept=school.kept, bare=school.bare,
                                          victim=victim(caller))
                sent = None if body is None else {
                    key: value.format(caller=caller) for key, value in body.items()}
                before = rows(db)
                response = client.request(method, url, json=sent,
                                          headers=headers_of(caller, school))
                where = (method, url, caller, response.text[:200])
                assert response.status_code == expected[caller], where
                if response.status_code >= 400:
                    assert isinstance(response.json()["detail"], str), where
                if response.status_code >= 400 or method == "GET":
                    assert rows(db) == before, where
    assert account(db, "new-teacher").role == "learner"
    assert accounts.find_user(db, "new-learner-a") is None
    assert accounts.find_user(db, victim(T)) is None
    assert accounts.find_user(db, LEARNER_A) is None
    state.store.close()


HOME_MATRIX: list[tuple[str, str, int]] = [
    ("GET", "/api/me", 200),
    ("GET", "/api/progress", 200),
    ("GET", "/api/progress/history", 200),
    ("GET", "/api/progress/practices", 200),
    ("GET", "/api/practices/{own}", 200),
    ("GET", "/api/practices/{own}/attempt", 200),
    ("GET", "/api/learners", 403),
    ("GET", f"/api/learners/{LOCAL_LEARNER}/progress", 403),
    ("GET", f"/api/learners/{LOCAL_LEARNER}/practices", 403),
    ("GET", "/api/class.csv", 403),
    ("POST", "/api/users", 403),
    ("PUT", f"/api/users/{LOCAL_LEARNER}/password", 403),
    ("DELETE", f"/api/users/{LOCAL_LEARNER}", 403),
]
BODIES = {"/api/users": {"name": TEACHER, "role": "teacher", "password": PASSWORDS[TEACHER]},
          "/password": {"password": NEW_PASSWORD}}


def _body(url: str) -> dict[str, Any] | None:
    return next((body for end, body in BODIES.items() if url.endswith(end)), None)


def test_at_home_the_page_works_under_the_local_learner_until_the_token_makes_a_teacher(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(tmp_path, database_url=database_url)
    state = open_state(settings)
    db = state.store.require()
    own_practice = store_practice(db, local_learner(db), practice(), MAX_ATTEMPT_BYTES).id
    with TestClient(create_app(settings, state), base_url=HOME) as home, \
            TestClient(create_app(settings, state), base_url="http://tutor.example:8000") as away:
        me = home.get("/api/me")
        assert me.json() == {"name": LOCAL_LEARNER, "role": "learner", "csrf": None,
                             "local": True}
        assert home.get("/api/progress").json()["steps"][0]["count"] == 1
        for method, url_template, expected in HOME_MATRIX:
            url = url_template.format(own=own_practice)
            before = rows(db)
            response = home.request(method, url, json=_body(url))
            assert response.status_code == expected, (method, url, response.text)
            assert rows(db) == before, (method, url)
            # A page of another name reaching this loopback tutor (DNS rebinding) is nobody.
            assert away.request(method, url, json=_body(url)).status_code == 401, url
            assert rows(db) == before, (method, url)
        made = home.post("/api/users", headers=AUTH, json=_body("/api/users"))
        assert made.status_code == 201 and made.json() == {"name": TEACHER, "role": "teacher"}
        assert home.get("/api/me").status_code == 401
        assert home.get("/api/progress").json() == {"detail": "Log in first."}
        login = home.post("/api/login", json={"name": TEACHER, "password": PASSWORDS[TEACHER]})
        assert login.status_code == 200
        history = home.get(f"/api/learners/{LOCAL_LEARNER}/practices")
        assert [p["id"] for p in history.json()] == [own_practice]
    state.store.close()


def test_at_home_a_learner_deletes_their_history(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    state = open_state(settings)
    db = state.store.require()
    local = local_learner(db)
    store_practice(db, local, practice(), MAX_ATTEMPT_BYTES)
    with TestClient(create_app(settings, state), base_url=HOME) as home:
        download = home.get("/api/progress/history")
        assert len(download.json()["practices"]) == 1
        refused = home.delete("/api/progress", headers={"Origin": "http://evil.example"})
        assert refused.status_code == 403
        assert len(home.get("/api/progress/history").json()["practices"]) == 1
        assert home.delete("/api/progress").status_code == 204
        assert home.get("/api/progress/history").json() == {"learner": LOCAL_LEARNER,
                                                            "practices": []}
        assert home.get("/api/me").json()["local"] is True


def test_a_learner_reads_their_progress_history_and_attempt(tutor: Tutor) -> None:
    client, school = tutor.client, tutor.school
    a = school.logins[LEARNER_A].cookie
    mine = client.get("/api/progress", headers=a).json()
    assert mine["learner"] == LEARNER_A
    [step] = mine["steps"]
    assert step["reference"] == REFERENCE and step["count"] == 2
    assert step["points"][0]["id"] == school.kept
    assert step["best"] == step["latest"] == 100.0
    assert mine["next"]["reference"] == REFERENCE and mine["next"]["reason"]

    download = client.get("/api/progress/history", headers=a)
    assert download.headers["content-disposition"] == (
        f'attachment; filename="dance-tutor-{LEARNER_A}-history.json"')
    history = download.json()
    assert history["learner"] == LEARNER_A
    assert [p["id"] for p in history["practices"]][-1] == school.kept
    assert all(p["report"]["reference"] == REFERENCE for p in history["practices"])

    attempt = client.get(f"/api/practices/{school.kept}/attempt", headers=a)
    assert attempt.headers["content-type"] == "application/json"
    assert len(sequence.loads(attempt.content)) == len(squats_part())
    detail = client.get(f"/api/practices/{school.kept}", headers=a).json()
    assert detail["learner"] == LEARNER_A and detail["has_attempt"] is True
    assert detail["report"]["score"] == 100.0


def test_a_teacher_sees_the_class_a_learners_practices_and_the_csv(tutor: Tutor) -> None:
    client, school = tutor.client, tutor.school
    teacher = school.logins[TEACHER].cookie
    overview = client.get("/api/learners", headers=teacher).json()
    week = {learner["name"]: learner["practices_this_week"] for learner in overview["learners"]}
    assert week == {LEARNER_A: 2, LEARNER_B: 1}
    practices = client.get(f"/api/learners/{LEARNER_A}/practices", headers=teacher).json()
    assert [p["id"] for p in practices][-1] == school.kept
    assert practices[0]["finished_at"] > practices[1]["finished_at"]
    assert all("report" not in p for p in practices)
    assert client.get(f"/api/learners/{TEACHER}/progress", headers=teacher).json() == {
        "detail": f"There is no learner named {TEACHER!r}."}
    sheet = client.get("/api/class.csv", headers=teacher)
    assert sheet.headers["content-type"].startswith("text/csv")
    assert sheet.headers["content-disposition"].startswith("attachment;")
    table = list(csv.DictReader(io.StringIO(sheet.text)))
    assert sorted(row["learner"] for row in table) == [LEARNER_A, LEARNER_A, LEARNER_B]


def test_a_learner_deletes_their_history_and_their_account_with_its_data(tutor: Tutor) -> None:
    client, school, db = tutor.client, tutor.school, tutor.db
    a, b = school.logins[LEARNER_A], school.logins[LEARNER_B]
    assert client.delete("/api/progress", headers=a.writes).status_code == 204
    assert client.get("/api/progress/history", headers=a.cookie).json()["practices"] == []
    assert client.get("/api/me", headers=a.cookie).status_code == 200
    assert len(client.get("/api/progress/history", headers=b.cookie).json()["practices"]) == 1

    gone = client.delete("/api/me", headers=b.writes)
    assert gone.status_code == 204
    assert f'{COOKIE}=""' in gone.headers["set-cookie"]
    assert client.get("/api/me", headers=b.cookie).status_code == 401
    with db.transaction() as session:
        assert session.scalar(select(User).where(User.name == LEARNER_B)) is None
    assert client.get(f"/api/practices/{school.bare}", headers=AUTH).status_code == 404


def test_a_teacher_deleting_an_account_deletes_its_data_and_a_reset_ends_its_logins(
    tutor: Tutor
) -> None:
    client, school = tutor.client, tutor.school
    teacher, a = school.logins[TEACHER], school.logins[LEARNER_A]
    reset = client.put(f"/api/users/{LEARNER_A}/password", headers=teacher.writes,
                       json={"password": NEW_PASSWORD})
    assert reset.status_code == 204
    assert client.get("/api/me", headers=a.cookie).status_code == 401
    assert client.post("/api/login", json={"name": LEARNER_A, "password": NEW_PASSWORD}
                       ).status_code == 200
    assert client.delete(f"/api/users/{LEARNER_B}", headers=teacher.writes).status_code == 204
    assert client.get(f"/api/practices/{school.bare}", headers=teacher.cookie).status_code == 404
    assert client.delete(f"/api/users/{LEARNER_B}", headers=teacher.writes).json() == {
        "detail": f"There is no user named {LEARNER_B!r}."}


def test_creating_users_refuses_a_taken_name_a_bad_name_and_a_short_password(
    tutor: Tutor
) -> None:
    client, teacher = tutor.client, tutor.school.logins[TEACHER].writes
    taken = client.post("/api/users", headers=teacher,
                        json={"name": LEARNER_A, "role": "learner", "password": NEW_PASSWORD})
    assert taken.status_code == 409
    assert taken.json() == {"detail": f"There is already a user named {LEARNER_A!r}."}
    for body in ({"name": "Not A Name", "role": "learner", "password": NEW_PASSWORD},
                 {"name": "dana", "role": "admin", "password": NEW_PASSWORD},
                 {"name": "dana", "role": "learner", "password": "short"}):
        before = rows(tutor.db)
        assert client.post("/api/users", headers=teacher, json=body).status_code == 422
        assert rows(tutor.db) == before
    teacher_made = client.post("/api/users", headers=teacher,
                               json={"name": "dana", "role": "teacher",
                                     "password": NEW_PASSWORD})
    assert teacher_made.status_code == 201 and account(tutor.db, "dana").is_teacher


def test_the_login_cookie_is_httponly_strict_and_lasts_the_login(tutor: Tutor) -> None:
    response = tutor.client.post("/api/login", json={"name": LEARNER_A,
                                                     "password": PASSWORDS[LEARNER_A]})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"name", "role", "csrf"} and body["role"] == "learner"
    cookie = response.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/",
                      f"Max-Age={accounts.SESSION_DAYS * 86_400}"):
        assert attribute in cookie, cookie
    assert "Secure" not in cookie
    me = tutor.client.get("/api/me").json()
    assert me == {"name": LEARNER_A, "role": "learner", "csrf": body["csrf"], "local": False}


def test_under_https_the_login_cookie_is_secure(tmp_path: Path, school_file: Any) -> None:
    issued = trustme.CA().issue_cert("127.0.0.1")
    cert, key = tmp_path / "tutor.crt", tmp_path / "tutor.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    path, _ = school_file
    (tmp_path / "tutor.db").write_bytes(path.read_bytes())
    settings = make_settings(tmp_path, certfile=cert, keyfile=key)
    with TestClient(create_app(settings, open_state(settings)),
                    base_url="https://127.0.0.1:8443") as client:
        response = client.post("/api/login", json={"name": LEARNER_A,
                                                   "password": PASSWORDS[LEARNER_A]})
        assert "Secure" in response.headers["set-cookie"]
        assert client.get("/api/me").status_code == 200


def test_a_cookie_write_needs_the_csrf_token_and_the_page_s_own_origin(tutor: Tutor) -> None:
    client, school, db = tutor.client, tutor.school, tutor.db
    teacher, a = school.logins[TEACHER], school.logins[LEARNER_A]
    body = {"name": "dana", "role": "learner", "password": NEW_PASSWORD}
    refusals = [
        (teacher.cookie, "This request lacks the page's CSRF token."),
        ({**teacher.cookie, CSRF_HEADER: "not-the-token"}, "This request lacks the page's "
                                                          "CSRF token."),
        ({**teacher.cookie, CSRF_HEADER: a.csrf}, "This request lacks the page's CSRF token."),
        ({**teacher.writes, "Origin": "http://evil.example"},
         "This request comes from another site's page."),
        ({**teacher.writes, "Origin": "null"}, "This request comes from another site's page."),
    ]
    for headers, detail in refusals:
        before = rows(db)
        for method, url, sent in (("POST", "/api/users", body),
                                  ("DELETE", f"/api/users/{LEARNER_B}", None),
                                  ("DELETE", "/api/progress", None),
                                  ("POST", "/api/logout", None)):
            response = client.request(method, url, headers=headers, json=sent)
            assert response.status_code == 403, (method, url, headers)
            assert response.json() == {"detail": detail}
        assert rows(db) == before
    # A learner's own writes are refused the same way.
    assert client.delete("/api/progress", headers=a.cookie).status_code == 403
    # Reads need no token; writes from the page's own origin, or with the token, go through.
    assert client.get("/api/learners", headers={**teacher.cookie,
                                                "Origin": "http://evil.example"}
                      ).status_code == 200
    made = client.post("/api/users", json=body,
                       headers={**teacher.writes, "Origin": "http://testserver"})
    assert made.status_code == 201
    by_token = client.post("/api/users", headers={**AUTH, "Origin": "http://evil.example"},
                           json={**body, "name": "erlan"})
    assert by_token.status_code == 201
    login_elsewhere = client.post("/api/login", headers={"Origin": "http://evil.example"},
                                  json={"name": LEARNER_A, "password": PASSWORDS[LEARNER_A]})
    assert login_elsewhere.status_code == 403 and "set-cookie" not in login_elsewhere.headers


def test_a_teacher_s_login_changes_the_library_like_the_token_and_a_learner_s_does_not(
    tutor: Tutor
) -> None:
    client, school = tutor.client, tutor.school
    teacher, a = school.logins[TEACHER], school.logins[LEARNER_A]
    poses: Path = tutor.state.library.root
    before = {p.name: p.read_bytes() for p in poses.glob("*.pose.json")}
    assert client.get("/api/instructor", headers=teacher.cookie).status_code == 204
    assert client.get("/api/instructor", headers=a.cookie).status_code == 403
    assert client.patch("/api/references/wing-beat", headers=teacher.cookie,
                        json={"title": "Beat"}).status_code == 403
    learner = client.patch("/api/references/wing-beat", headers=a.writes, json={"title": "Beat"})
    assert learner.status_code == 403 and learner.json() == {
        "detail": "This needs a teacher's login."}
    assert {p.name: p.read_bytes() for p in poses.glob("*.pose.json")} == before
    changed = client.patch("/api/references/wing-beat", headers=teacher.writes,
                           json={"title": "Beat"})
    assert changed.status_code == 200 and changed.json()["title"] == "Beat"


def test_a_cookie_chosen_before_login_is_never_the_login_s_and_logout_ends_it(
    tutor: Tutor
) -> None:
    client, db = tutor.client, tutor.db
    planted = "chosen-by-someone-else-0123456789abcdef"
    client.cookies.set(COOKIE, planted, domain="testserver.local")
    first = client.post("/api/login", json={"name": LEARNER_A, "password": PASSWORDS[LEARNER_A]})
    assert first.status_code == 200
    secret = client.cookies[COOKIE]
    assert secret != planted
    assert client.get("/api/me", headers={"Cookie": f"{COOKIE}={planted}"}).status_code == 401

    client.cookies.set(COOKIE, secret, domain="testserver.local")
    again = client.post("/api/login", json={"name": LEARNER_A, "password": PASSWORDS[LEARNER_A]})
    renewed = Login(LEARNER_A, client.cookies[COOKIE], again.json()["csrf"])
    assert renewed.secret != secret
    assert client.get("/api/me", headers={"Cookie": f"{COOKIE}={secret}"}).status_code == 401
    client.cookies.clear()

    out = client.post("/api/logout", headers=renewed.writes)
    assert out.status_code == 204 and f'{COOKIE}=""' in out.headers["set-cookie"]
    before = rows(db)
    assert client.get("/api/me", headers=renewed.cookie).status_code == 401
    assert client.delete("/api/progress", headers=renewed.writes).status_code == 401
    assert rows(db) == before
    with db.transaction() as session:
        ids = set(session.scalars(select(LoginSession.id)))
    assert accounts._digest(renewed.secret) not in ids


def test_failed_logins_are_slowed_and_the_right_password_waits_too(
    tutor: Tutor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [accounts.now()]
    monkeypatch.setattr(accounts, "now", lambda: clock[0])
    client, db = tutor.client, tutor.db
    wrong = {"name": LEARNER_B, "password": "not the password"}
    right = {"name": LEARNER_B, "password": PASSWORDS[LEARNER_B]}
    with caplog.at_level(logging.INFO):
        for _ in range(accounts.FREE_FAILURES):
            refused = client.post("/api/login", json=wrong)
            assert refused.status_code == 401
            assert refused.json() == {"detail": "That name and password do not match an "
                                                "account."}
        before = rows(db)
        for attempt in (wrong, right):
            throttled = client.post("/api/login", json=attempt)
            assert throttled.status_code == 429
            assert throttled.headers["retry-after"] == "1"
            assert "set-cookie" not in throttled.headers
        assert rows(db) == before
    assert f"failed login for {LEARNER_B!r}" in caplog.text
    clock[0] += timedelta(seconds=1.5)
    assert client.post("/api/login", json=right).status_code == 200


def test_no_password_hash_or_login_secret_is_answered_or_logged(
    tutor: Tutor, caplog: pytest.LogCaptureFixture
) -> None:
    client, school, db = tutor.client, tutor.school, tutor.db
    teacher = school.logins[TEACHER]
    secrets = [login.secret for login in school.logins.values()]
    passwords = [*PASSWORDS.values(), NEW_PASSWORD, "hunter2-in-a-bad-body"]
    answers = []
    with caplog.at_level(logging.DEBUG):
        login = client.post("/api/login", json={"name": LEARNER_A,
                                                "password": PASSWORDS[LEARNER_A]})
        secrets.append(client.cookies[COOKIE])
        client.cookies.clear()
        answers.append(login)
        for body in ({"name": LEARNER_B, "password": PASSWORDS[LEARNER_A]},
                     {"name": "nobody", "password": PASSWORDS[LEARNER_B]},
                     {"name": LEARNER_B}, {"password": PASSWORDS[TEACHER]},
                     {"name": LEARNER_B, "password": PASSWORDS[LEARNER_B] * 200}):
            answers.append(client.post("/api/login", json=body))
        for method, url, body in (
            ("POST", "/api/users", {"name": "dana", "role": "learner",
                                    "password": NEW_PASSWORD}),
            ("POST", "/api/users", {"name": "dana", "password": "hunter2-in-a-bad-body"}),
            ("POST", "/api/users", {"name": "erlan", "role": "learner", "password": "hunter"}),
            ("PUT", "/api/users/dana/password", {"password": "hunter2-in-a-bad-body"[:7]}),
            ("PUT", "/api/users/dana/password", {"password": NEW_PASSWORD * 2}),
            ("GET", "/api/me", None), ("GET", "/api/learners", None),
            ("GET", "/api/class.csv", None), ("GET", f"/api/practices/{school.kept}", None),
            ("GET", "/api/progress/history", None), ("POST", "/api/logout", None),
        ):
            answers.append(client.request(method, url, json=body, headers=teacher.writes))
    with db.transaction() as session:
        hashes = [h for h in session.scalars(select(User.password_hash)) if h]
    digests = [accounts._digest(secret) for secret in secrets]
    hidden = [*passwords, *secrets, *hashes, *digests, *(h.split("$")[-1] for h in hashes)]
    assert any(answer.status_code == 422 for answer in answers)
    for answer in answers:
        shown = answer.text + json.dumps({k: v for k, v in answer.headers.items()
                                          if k != "set-cookie"})
        assert not [value for value in hidden if value in shown], answer.text[:300]
    assert not [value for value in hidden if value in caplog.text]
    assert "failed login for 'bolat'" in caplog.text


def test_the_api_is_documented_with_every_error_it_answers(tutor: Tutor) -> None:
    schema = tutor.client.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "accounts" not in operation["tags"]:
                continue
            answers = set(operation["responses"])
            assert {"403", "503"} <= answers, (method, path)
            if path != "/api/logout" and path != "/api/login":
                assert "401" in answers, (method, path)
    assert "429" in schema["paths"]["/api/login"]["post"]["responses"]
    assert "409" in schema["paths"]["/api/users"]["post"]["responses"]
