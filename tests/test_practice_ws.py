"""The /ws/practice protocol against the real server over a real socket (websockets client)."""

from __future__ import annotations

import contextlib
import json
import logging
import struct
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from app import sequence
from app.errors import UserError
from app.landmarks import Limb
from app.live import LiveSession
from app.reference import Reference
from app.routine import Target
from app.scoring import ScoreOptions
from app.sequence import PoseSequence, Step
from app.server.protocol import SERVER_MESSAGE, landmarks_frame
from app.server.sessions import PoseSource, PracticeWorker
from app.server.state import open_state
from tests.conftest import clip
from tests.server_fixtures import AUTH, TOKEN, LiveServer, make_settings

HEADER = struct.Struct("<Id")
Message = dict[str, Any]


@pytest.fixture(scope="module")
def jpegs() -> list[bytes]:
    """Every frame of a real clip of a person raising her arms, as JPEG."""
    capture = cv2.VideoCapture(str(clip("tfjs_pose_1.mp4")))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes())
    capture.release()
    assert len(frames) == 120
    return frames


UNLIMITED_RATE = 100_000.0
"""Tests send frames as fast as the server answers; only the rate-limit test keeps a limit."""


def server_with(tmp_path: Path, **overrides: Any) -> LiveServer:
    settings = make_settings(tmp_path, **{"max_frame_rate": UNLIMITED_RATE, **overrides})
    return LiveServer(open_state(settings))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with server_with(tmp_path) as running:
        yield running


def recv(ws: ClientConnection, timeout: float = 30.0) -> Message:
    """The next message, checked against the protocol's models (docs/protocol.md)."""
    text = ws.recv(timeout=timeout)
    SERVER_MESSAGE.validate_json(text)
    message: Message = json.loads(text)
    return message


def recv_until(ws: ClientConnection, wanted: Callable[[Message], bool],
               timeout: float = 60.0) -> tuple[Message, list[Message]]:
    """The first message ``wanted`` accepts, and every message before it."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        message = recv(ws, timeout=deadline - time.monotonic())
        if wanted(message):
            return message, seen
        seen.append(message)
    raise AssertionError(f"no wanted message within {timeout} s; saw {seen[-3:]}")


def close_code(ws: ClientConnection, timeout: float = 30.0) -> int | None:
    """Read until the server closes; its close code."""
    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@contextmanager
def opened(server: LiveServer, **opening: Any) -> Iterator[tuple[ClientConnection, Message]]:
    """A practice session (landmarks mode, wing-beat unless told) and its first answer."""
    with connect(server.ws_url, max_size=2**24) as ws:
        ws.send(json.dumps({"type": "start", "reference": "wing-beat", "mode": "landmarks",
                            **opening}))
        yield ws, recv(ws)


def frame(jpeg: bytes, seq: int, fps: float = 30.0) -> bytes:
    return HEADER.pack(seq, seq * 1000.0 / fps) + jpeg


def landmark_messages(seq: PoseSequence, first_seq: int = 0) -> list[str]:
    """The sequence's own poses as ``landmarks`` messages, one per frame."""
    messages = []
    for i in range(len(seq)):
        landmarks = None
        if seq.present[i]:
            landmarks = [[*map(float, p), float(v)]
                         for p, v in zip(seq.image_xyz[i], seq.visibility[i], strict=True)]
        world = seq.world_xyz[i].tolist() if seq.has_world[i] else None
        messages.append(json.dumps({
            "type": "landmarks", "seq": first_seq + i, "capture_ms": 1000.0 * float(seq.t[i]),
            "image": {"width": seq.image_size[0], "height": seq.image_size[1]},
            "landmarks": landmarks, "world": world,
        }))
    return messages


def reference(server: LiveServer, name: str) -> PoseSequence:
    return sequence.load(server.state.settings.poses_dir / f"{name}.pose.json")


# --- practice, both input modes -------------------------------------------------------------


@pytest.mark.model
def test_image_session_streams_feedback_and_closes_with_a_summary(
    server: LiveServer, jpegs: list[bytes]
) -> None:
    with opened(server, reference="wing-spread", mode="image") as (ws, ready):
        assert ready["type"] == "ready" and ready["kind"] == "practice"
        assert ready["steps"] == [s.name for s in reference(server, "wing-spread").steps]
        updates = []
        for seq, jpeg in enumerate(jpegs[:60]):
            ws.send(frame(jpeg, seq))
            update, _ = recv_until(ws, lambda m: m["type"] == "update")
            updates.append(update)
        assert [u["seq"] for u in updates] == list(range(60))
        seen = [u for u in updates if u["live"]["landmarks"] is not None]
        assert len(seen) >= 55
        assert all(len(u["live"]["landmarks"]) == 33 and len(u["live"]["landmarks"][0]) == 4
                   for u in seen)
        last = updates[-1]
        assert set(last["live"]["limbs"]) == {limb.value for limb in Limb}
        assert {s["state"] for s in last["live"]["limbs"].values()} <= {"good", "warn", "bad",
                                                                        "unseen"}
        assert 0 <= last["live"]["score"] <= 100
        assert len(last["live"]["messages"]) <= 2
        assert last["timing"]["processing_ms"] > 0 and last["timing"]["queued_ms"] >= 0
        assert last["frames"] == {"received": 60, "processed": 60, "dropped": 0, "rejected": 0}
        ws.send(json.dumps({"type": "stop"}))
        summary = recv(ws)
        assert summary["type"] == "summary"
        assert 0 <= summary["report"]["score"] <= 100
        assert summary["report"]["reference"] == "wing-spread"
        assert summary["frames"]["processed"] == 60
        assert close_code(ws) == 1000


def test_landmarks_session_of_the_reference_itself_scores_high(server: LiveServer) -> None:
    seq = reference(server, "wing-beat")
    with opened(server, mode="landmarks") as (ws, ready):
        assert ready["mode"] == "landmarks"
        events = []
        for message in landmark_messages(seq):
            ws.send(message)
            update, _ = recv_until(ws, lambda m: m["type"] == "update")
            if update["live"]["step_event"]:
                events.append(update["live"]["step_event"])
        ws.send(json.dumps({"type": "stop"}))
        summary, _ = recv_until(ws, lambda m: m["type"] == "summary")
        assert summary["report"]["score"] >= 80
        assert {e["step"] for e in events} <= {s.name for s in seq.steps}
        assert events, "completed steps are announced"
        assert close_code(ws) == 1000


def test_a_session_where_nobody_was_seen_closes_with_an_empty_summary(
    server: LiveServer
) -> None:
    with opened(server) as (ws, _):
        for message in landmark_messages(reference(server, "wing-beat"))[:5]:
            data = json.loads(message)
            data["landmarks"] = data["world"] = None
            ws.send(json.dumps(data))
        ws.send(json.dumps({"type": "stop"}))
        summary, _ = recv_until(ws, lambda m: m["type"] == "summary")
        assert summary["report"] is None and summary["frames"]["received"] == 5
        assert close_code(ws) == 1000


def test_a_bug_in_finishing_a_session_is_logged_and_closes_it_with_1011(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: LiveSession) -> object:
        raise ValueError("operands could not be broadcast together with shapes (33,) (32,)")

    monkeypatch.setattr(LiveSession, "finish", broken)
    with opened(server) as (ws, _), caplog.at_level(logging.ERROR, "app.server.practice"):
        for message in landmark_messages(reference(server, "wing-beat"))[:20]:
            ws.send(message)
        ws.send(json.dumps({"type": "stop"}))
        error, _ = recv_until(ws, lambda m: m["type"] != "update")
        assert error == {"type": "error", "code": "internal", "fatal": True,
                         "message": "The tutor failed on this session; please start again."}
        assert close_code(ws) == 1011
    logged = [r for r in caplog.records if r.name == "app.server.practice"]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "in broken" in "".join(traceback.format_exception(*logged[0].exc_info))


def test_binary_landmarks_score_the_same_as_json_landmarks(server: LiveServer) -> None:
    seq = reference(server, "wing-beat")
    scores = {}
    for kind in ("json", "binary"):
        with opened(server, mode="landmarks") as (ws, _):
            for i, message in enumerate(landmark_messages(seq)):
                if kind == "binary":
                    landmarks = (np.column_stack([seq.image_xyz[i], seq.visibility[i]])
                                 if seq.present[i] else None)
                    ws.send(landmarks_frame(i, 1000.0 * float(seq.t[i]), seq.image_size,
                                            landmarks, seq.world_xyz[i] if seq.has_world[i]
                                            else None))
                else:
                    ws.send(message)
                update, _ = recv_until(ws, lambda m: m["type"] == "update")
                assert update["seq"] == i
            ws.send(json.dumps({"type": "stop"}))
            summary, _ = recv_until(ws, lambda m: m["type"] == "summary")
            assert summary["frames"]["processed"] == len(seq)
            scores[kind] = summary["report"]["score"]
    assert scores["binary"] >= 80
    assert scores["binary"] == pytest.approx(scores["json"], abs=0.5)


def test_a_looped_step_stays_within_the_step(server: LiveServer) -> None:
    seq = reference(server, "wing-beat")
    step = seq.steps[1]
    part = seq.trim_seconds(step.start_s, step.end_s)
    with opened(server, step=step.name) as (ws, _):
        positions, events = [], []
        for loop, first in enumerate((0, len(part))):
            for message in landmark_messages(part, first_seq=first):
                data = json.loads(message)
                data["capture_ms"] += loop * 1000 * part.duration_s
                ws.send(json.dumps(data))
                update, _ = recv_until(ws, lambda m: m["type"] == "update")
                positions.append(update["live"]["ref_position"])
                if update["live"]["step_event"]:
                    events.append(update["live"]["step_event"]["step"])
        lo, hi = seq.step_frames(step)
        assert all(lo - 1 <= p <= hi for p in positions)
        assert step.name in events


def test_a_step_holding_no_frame_cannot_be_looped() -> None:
    seq = sequence.load(Path(__file__).resolve().parents[1] / "poses" / "wing-beat.pose.json")
    between = Step("blink", 0.4 / seq.fps, 0.6 / seq.fps)
    seq = replace(seq, steps=(*seq.steps, between))
    worker = PracticeWorker(PoseSource("landmarks", Path("no-model"), 1), Target(Reference(seq)),
                            ScoreOptions(), 30.0, step=seq.steps[0].name)
    with pytest.raises(UserError, match="step 'blink' holds no frame of this reference"):
        worker.request_restart("blink")
    worker.close()


# --- backpressure and ordering ----------------------------------------------------------------


@pytest.mark.model
def test_newest_frame_wins_when_frames_arrive_faster_than_processed(
    tmp_path: Path, jpegs: list[bytes]
) -> None:
    with (server_with(tmp_path) as running,
          opened(running, reference="wing-spread", mode="image") as (ws, _)):
        for seq, jpeg in enumerate(jpegs[:40]):
            ws.send(frame(jpeg, seq))
        last, earlier = recv_until(ws, lambda m: m["type"] == "update" and m["seq"] == 39)
        seqs = [m["seq"] for m in earlier if m["type"] == "update"] + [39]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        counts = last["frames"]
        assert counts["received"] == 40
        assert counts["dropped"] > 0, "a burst cannot all be processed"
        assert counts["processed"] == len(seqs) == 40 - counts["dropped"]
        assert last["timing"]["queued_ms"] < 1000


def test_landmark_sessions_shed_frames_while_the_server_is_behind(tmp_path: Path) -> None:
    with (server_with(tmp_path, busy_lag_ms=100.0) as running,
          opened(running, reference="wing-beat") as (ws, _)):
        messages = landmark_messages(reference(running, "wing-beat"))

        paces: list[float] = []

        def stream(first: int, count: int) -> list[int]:
            """Send ``count`` frames at 30 fps; the sequence numbers answered (their paces
            asked into ``paces``)."""
            for seq in range(first, first + count):
                ws.send(messages[seq])
                time.sleep(1 / 30)
            answered = []
            paces.clear()
            with contextlib.suppress(TimeoutError):
                while True:
                    update = recv(ws, timeout=0.5)
                    answered.append(update["seq"])
                    paces.append(update["timing"]["pace_ms"])
            return answered

        assert stream(0, 10) == list(range(10))
        assert set(paces) == {0.0}, "one learner may send every camera frame"
        running.state.loop_lag.note(0.3)
        behind = stream(10, 10)
        assert behind[0] == 10 and len(behind) <= 3, "frames are shed while the loop is behind"
        assert paces[0] == 500.0, "and the learner is asked to send fewer"
        time.sleep(1.0)
        assert stream(20, 10) == list(range(20, 30)), "and all answered once it caught up"
        assert set(paces) == {0.0}
        ws.send(json.dumps({"type": "stop"}))
        summary, _ = recv_until(ws, lambda m: m["type"] == "summary")
        assert summary["frames"]["dropped"] == 10 - len(behind)


def test_duplicate_and_out_of_order_frames_are_dropped_and_counted(server: LiveServer) -> None:
    messages = landmark_messages(reference(server, "wing-beat"))
    with opened(server) as (ws, _):

        def send(seq: int) -> None:
            data = json.loads(messages[seq])
            ws.send(json.dumps(data))

        send(0)
        recv_until(ws, lambda m: m["type"] == "update")
        send(0)
        send(5)
        recv_until(ws, lambda m: m["type"] == "update" and m["seq"] == 5)
        send(3)
        send(6)
        update, earlier = recv_until(ws, lambda m: m["type"] == "update" and m["seq"] == 6)
        assert not [m for m in earlier if m["type"] == "update"]
        assert update["frames"] == {"received": 5, "processed": 3, "dropped": 2, "rejected": 0}


def test_frames_over_the_rate_limit_are_dropped_and_the_client_is_told(tmp_path: Path) -> None:
    with server_with(tmp_path, max_frame_rate=5) as running:
        messages = landmark_messages(reference(running, "wing-beat"))[:40]
        with opened(running) as (ws, _):
            for message in messages:
                ws.send(message)
            notice, _ = recv_until(ws, lambda m: m["type"] == "error")
            assert notice["code"] == "rate_limited" and not notice["fatal"]
            assert "5 per second" in notice["message"]
            ws.send(json.dumps({"type": "stop"}))
            summary, _ = recv_until(ws, lambda m: m["type"] == "summary")
            assert summary["frames"]["received"] == 40
            assert summary["frames"]["dropped"] >= 40 - 5 - 1


# --- bad input --------------------------------------------------------------------------------


def test_a_frame_before_the_session_is_opened_closes_it(server: LiveServer) -> None:
    with connect(server.ws_url) as ws:
        ws.send(HEADER.pack(0, 0.0) + b"\xff\xd8")
        error = recv(ws)
        assert (error["type"], error["code"], error["fatal"]) == ("error", "not_open", True)
        assert close_code(ws) == 1003


@pytest.mark.parametrize(
    ("opening", "code", "words"),
    [
        ("not json", "bad_open", "'start' or 'record'"),
        (json.dumps({"type": "start"}), "bad_open", "reference"),
        (json.dumps({"type": "start", "reference": "nope"}), "bad_open",
         "There is no step or routine named 'nope'"),
        (json.dumps({"type": "start", "reference": "wing-beat", "step": "nope"}), "bad_open",
         "no step 'nope'"),
        (json.dumps({"type": "record", "token": "wrong"}), "unauthorised", "instructor token"),
        (json.dumps({"type": "stop"}), "bad_open", "'start' or 'record'"),
    ],
)
def test_a_bad_opening_is_refused_with_a_reason(
    server: LiveServer, opening: str, code: str, words: str
) -> None:
    with connect(server.ws_url) as ws:
        ws.send(opening)
        error = recv(ws)
        assert (error["type"], error["code"], error["fatal"]) == ("error", code, True)
        assert words in error["message"]
        assert str(server.state.settings.poses_dir) not in error["message"]
        assert close_code(ws) == 1008


def test_bad_messages_in_an_open_session_are_answered_and_the_session_carries_on(
    server: LiveServer
) -> None:
    messages = landmark_messages(reference(server, "wing-beat"))
    with opened(server) as (ws, _):
        bad = ["{broken", json.dumps({"type": "landmarks", "seq": "x"}),
               json.dumps({"type": "teleport"}),
               json.dumps({**json.loads(messages[0]), "landmarks": [[0, 0, 0, 1]] * 32}),
               json.dumps({**json.loads(messages[0]), "capture_ms": "NaN"})]
        for text in bad:
            ws.send(text)
            error = recv(ws)
            assert (error["code"], error["fatal"]) == ("bad_message", False), text
        ws.send(HEADER.pack(0, 0.0) + b"\xff\xd8 a JPEG image")
        assert recv(ws)["code"] == "wrong_mode"
        ws.send(HEADER.pack(0, 0.0) + b"not landmarks")
        error = recv(ws)
        assert error["code"] == "bad_frame" and "16, 544 or 940 bytes" in error["message"]
        ws.send(json.dumps({"type": "restart", "step": "nope"}))
        assert recv(ws)["code"] == "bad_step"
        ws.send(messages[0])
        update = recv(ws)
        assert update["type"] == "update" and update["frames"]["rejected"] == 2


@pytest.mark.model
def test_a_frame_that_is_not_a_jpeg_is_rejected_and_the_next_one_processed(
    server: LiveServer, jpegs: list[bytes]
) -> None:
    with opened(server, reference="wing-spread", mode="image") as (ws, _):
        ws.send(HEADER.pack(0, 0.0) + b"\xff\xd8 this is not a picture")
        error = recv(ws)
        assert (error["code"], error["fatal"]) == ("bad_frame", False)
        assert "Frame 0" in error["message"]
        ws.send(frame(jpegs[0], 1))
        update = recv(ws)
        assert update["type"] == "update" and update["live"]["landmarks"] is not None
        assert update["frames"]["rejected"] == 1


def test_a_message_over_the_size_limit_closes_the_session_with_1009(tmp_path: Path) -> None:
    with server_with(tmp_path, max_message_bytes=4096) as running, opened(running) as (ws, _):
        ws.send(json.dumps({"type": "stop", "pad": "x" * 5000}))
        error = recv(ws)
        assert (error["code"], error["fatal"]) == ("too_big", True)
        assert "4096" in error["message"]
        assert close_code(ws) == 1009


def test_a_page_from_another_origin_cannot_open_a_session(server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(server.ws_url, origin="http://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    connect(server.ws_url, origin=server.http_url)  # type: ignore[arg-type]


# --- limits and cleanup -----------------------------------------------------------------------


def test_sessions_over_the_limit_are_refused_with_try_again_later(tmp_path: Path) -> None:
    with server_with(tmp_path, max_sessions=1) as running, opened(running) as (_, ready):
        assert ready["type"] == "ready"
        with opened(running) as (second, error):
            assert (error["code"], error["fatal"]) == ("busy", True)
            assert close_code(second) == 1013


@pytest.mark.model
def test_camera_sessions_have_their_own_limit(tmp_path: Path) -> None:
    with (server_with(tmp_path, max_camera_sessions=1) as running,
          opened(running, mode="image") as (_, ready)):
        assert ready["type"] == "ready"
        with opened(running, mode="image") as (second, error):
            assert error["code"] == "busy" and "cameras" in error["message"]
            assert close_code(second) == 1013
        with opened(running, mode="landmarks") as (_, ready):
            assert ready["type"] == "ready"


def test_an_idle_session_is_closed(tmp_path: Path) -> None:
    with server_with(tmp_path, session_idle_s=0.5) as running, opened(running) as (ws, _):
        error = recv(ws, timeout=10)
        assert (error["code"], error["fatal"]) == ("idle", True)
        assert close_code(ws) == 4000
        assert eventually(lambda: running.state.sessions.open_count == 0)


@pytest.mark.model
def test_a_client_that_vanishes_frees_its_session_within_seconds(
    server: LiveServer, jpegs: list[bytes]
) -> None:
    with opened(server, reference="wing-spread", mode="image") as (ws, _):
        for seq in range(3):
            ws.send(frame(jpegs[seq], seq))
        assert server.state.sessions.camera_count == 1
        ws.socket.close()  # no closing handshake: the client just disappears
        assert eventually(lambda: server.state.sessions.open_count == 0)
        assert server.state.sessions.camera_count == 0
        health = httpx.get(f"{server.http_url}/api/health").json()
        assert health["sessions"] == 0


# --- recording --------------------------------------------------------------------------------


def test_a_recording_becomes_a_take_that_can_be_saved(server: LiveServer) -> None:
    seq = reference(server, "wing-spread")
    messages = landmark_messages(seq)
    with connect(server.ws_url, max_size=2**24) as ws:
        ws.send(json.dumps({"type": "record", "token": TOKEN, "mode": "landmarks"}))
        ready = recv(ws)
        assert (ready["kind"], ready["steps"]) == ("record", [])
        for message in messages[:10]:  # walking into place before the countdown ends
            ws.send(message)
            recv(ws)
        ws.send(json.dumps({"type": "restart"}))
        for message in messages[10:]:
            ws.send(message)
            update = recv(ws)
        assert update["live"]["elapsed_s"] == pytest.approx(seq.t[-1] - seq.t[10], abs=0.01)
        ws.send(json.dumps({"type": "stop"}))
        recorded = recv(ws)
        assert recorded["type"] == "recorded"
        take = sequence.from_dict(recorded["sequence"])
        assert len(take) == len(seq) - 10
        assert take.source.kind == "webcam"
        assert take.fps == pytest.approx(seq.fps, rel=0.01)
        assert close_code(ws) == 1000
        body = {"name": "recorded-wings", "sequence": recorded["sequence"],
                "trim": recorded["suggested_trim"]}
        response = httpx.post(f"{server.http_url}/api/references", json=body, headers=AUTH)
        assert response.status_code == 201, response.text
        assert (server.state.settings.poses_dir / "recorded-wings.pose.json").is_file()


def test_a_long_non_ascii_reason_still_closes_cleanly(server: LiveServer) -> None:
    name = "é" * 90  # 180 bytes of UTF-8 in the error, more than a close frame holds
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"type": "start", "reference": name[:100]}))
        error = recv(ws)
        assert error["code"] == "bad_open" and name[:50] in error["message"]
        assert close_code(ws) == 1008
