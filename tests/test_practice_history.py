"""A finished live practice goes into its learner's history, over the real WebSocket.

At home (loopback, no accounts) it is kept under the local learner; with accounts, under the
user of the login cookie, and not at all for nobody; with the database away, it waits and the
summary says so.
"""

from __future__ import annotations

import json
from pathlib import Path

from websockets.sync.client import connect

from app import accounts, progress
from app.accounts import LOCAL_LEARNER
from app.sequence import loads
from app.server.identity import COOKIE as SESSION_COOKIE
from app.server.state import open_state
from tests.server_fixtures import LiveServer, make_settings
from tests.test_practice_ws import (
    UNLIMITED_RATE,
    Message,
    landmark_messages,
    recv,
    recv_until,
    reference,
)


def dance(server: LiveServer, cookie: str | None = None, frames: int = 40) -> Message:
    """The first ``frames`` of wing-beat, danced in landmarks mode; the summary."""
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else None
    with connect(server.ws_url, max_size=2**24, additional_headers=headers) as ws:
        ws.send(json.dumps({"type": "start", "reference": "wing-beat", "mode": "landmarks"}))
        recv(ws)
        for message in landmark_messages(reference(server, "wing-beat"))[:frames]:
            ws.send(message)
            recv_until(ws, lambda m: m["type"] == "update")
        ws.send(json.dumps({"type": "stop"}))
        summary, _ = recv_until(ws, lambda m: m["type"] == "summary")
        return summary


def test_at_home_every_practice_is_kept_under_the_local_learner(tmp_path: Path) -> None:
    state = open_state(make_settings(tmp_path, max_frame_rate=UNLIMITED_RATE))
    with LiveServer(state) as server:
        first = dance(server)
        second = dance(server, frames=30)
    assert first["kept"]["stored"] and first["kept"]["tries_today"] == 1
    assert first["kept"]["change"] is None
    assert second["kept"]["tries_today"] == 2
    assert second["kept"]["change"] == round(
        second["report"]["score"] - first["report"]["score"], 1)
    database = state.store.require()
    learner = accounts.find_user(database, LOCAL_LEARNER)
    assert learner is not None
    steps = progress.learner_progress(database, learner).steps
    assert [(s.reference, s.count) for s in steps] == [("wing-beat", 2)]
    detail = progress.practice_detail(database, first["kept"]["practice"])
    assert detail is not None and detail[0] == LOCAL_LEARNER
    assert detail[1]["report"]["score"] == first["report"]["score"]
    document = progress.attempt_document(database, first["kept"]["practice"])
    assert document is not None
    attempt = loads(document)
    assert len(attempt) == 40 and attempt.source.kind == "webcam"
    reached = attempt.extra["reference_frames"]
    assert len(reached) == 40, "each frame says where in the reference the learner was"
    assert reached[-1] > reached[0] and reached == sorted(reached), \
        "the reference's own first frames are followed in order"


def test_with_accounts_the_practice_goes_to_the_login_and_nowhere_for_nobody(
    tmp_path: Path,
) -> None:
    state = open_state(make_settings(tmp_path, max_frame_rate=UNLIMITED_RATE))
    database = state.store.require()
    nurlan = accounts.add_user(database, "nurlan", "learner", "battery-staple")
    login = accounts.log_in(database, "nurlan", "battery-staple")
    with LiveServer(state) as server:
        mine = dance(server, cookie=login.secret)
        anonymous = dance(server)
        stale = dance(server, cookie="not-a-login")
    assert mine["kept"]["stored"] and mine["kept"]["tries_today"] == 1
    assert anonymous["kept"] is None and stale["kept"] is None
    assert anonymous["report"] is not None, "nobody logged in still gets the summary"
    assert [s.count for s in progress.learner_progress(database, nurlan).steps] == [1]
    assert accounts.find_user(database, LOCAL_LEARNER) is None


def test_with_the_database_away_the_summary_says_the_practice_waits(tmp_path: Path) -> None:
    away = "postgresql://tutor@127.0.0.1:9/nowhere"
    state = open_state(make_settings(tmp_path, max_frame_rate=UNLIMITED_RATE,
                                     database_url=away))
    assert state.store.problem is not None and "127.0.0.1:9" in state.store.problem
    with LiveServer(state) as server:
        summary = dance(server)
    assert summary["report"] is not None, "practice works without the database"
    kept = summary["kept"]
    assert kept["stored"] is False and kept["pending"] is True
    assert "saved when it is back" in kept["message"]
    assert state.store.pending == 1


def test_a_routine_is_practised_live_with_a_score_per_part_and_kept_as_a_routine(
    tmp_path: Path,
) -> None:
    state = open_state(make_settings(tmp_path, max_frame_rate=UNLIMITED_RATE))
    routine, built = state.library.routine_reference("burkit-bi")
    with LiveServer(state) as server, connect(server.ws_url, max_size=2**24) as ws:
        ws.send(json.dumps({"type": "start", "reference": "burkit-bi",
                            "mode": "landmarks", "mirror": False}))
        ready = recv(ws)
        assert ready["steps"] == [part.name for part in routine.parts]
        for message in landmark_messages(built.sequence)[::2]:  # a 15 fps camera
            ws.send(message)
            recv_until(ws, lambda m: m["type"] == "update")
        ws.send(json.dumps({"type": "stop"}))
        summary, _ = recv_until(ws, lambda m: m["type"] == "summary")
    parts = summary["report"]["parts"]
    assert [p["step"] for p in parts] == [part.step for part in routine.parts]
    assert min(p["score"] for p in parts) >= 90, "the routine's own movement scores on every part"
    detail = progress.practice_detail(state.store.require(), summary["kept"]["practice"])
    assert detail is not None and detail[1]["kind"] == "routine"
    assert detail[1]["reference"] == "burkit-bi"


def test_a_teachers_login_records_a_take_and_a_learners_does_not(tmp_path: Path) -> None:
    state = open_state(make_settings(tmp_path, max_frame_rate=UNLIMITED_RATE))
    database = state.store.require()
    accounts.add_user(database, "aigul", "teacher", "golden-eagle")
    accounts.add_user(database, "nurlan", "learner", "young-falcon")
    teacher = accounts.log_in(database, "aigul", "golden-eagle")
    learner = accounts.log_in(database, "nurlan", "young-falcon")
    with LiveServer(state) as server:
        for login, expected in ((teacher, "ready"), (learner, "error")):
            headers = {"Cookie": f"{SESSION_COOKIE}={login.secret}"}
            with connect(server.ws_url, additional_headers=headers) as ws:
                ws.send(json.dumps({"type": "record", "token": "", "mode": "landmarks"}))
                answer = recv(ws)
            assert answer["type"] == expected, answer
            if expected == "error":
                assert answer["code"] == "unauthorised"
