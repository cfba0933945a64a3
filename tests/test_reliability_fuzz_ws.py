"""Fuzz of the /ws/practice protocol over a real socket, beside a healthy session.

Seeded random clients send what a broken or hostile client might: random bytes, broken JSON,
valid JSON of the wrong shape, frames before the opening, out-of-order and repeated sequence
numbers, messages over the size limit, and a frame cut off by a vanished client. Each must get
an ``error`` message or a close with a documented code; never 1011 (a server failure). All the
while a healthy session streams landmarks and must keep receiving updates.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.server_fixtures import LiveServer
from tests.test_practice_ws import (
    UNLIMITED_RATE,
    eventually,
    landmark_messages,
    reference,
    server_with,
)

SEED = 20261124
CASES = 120
MAX_MESSAGE_BYTES = 64 * 1024
ANSWER_TIMEOUT_S = 1.0
"""How long the healthy learner waits for an answer before sending its next frame (the page
gives up after 1.5 s: IN_FLIGHT_TIMEOUT_MS in web/js/session.js)."""
DOCUMENTED_CLOSES = {1000, 1003, 1008, 1009, 1013, 4000}
"""Close codes docs/protocol.md lists for a client's mistakes (1011 is a server failure)."""
Outcome = tuple[list[dict[str, Any]], int | None]


class HealthySession(threading.Thread):
    """A learner streaming a reference's landmarks, one frame per answer, until stopped.

    Like the page, it sends the next frame when an answer is late: a frame the server shed
    while its event loop ran behind gets no answer (docs/protocol.md), and waiting for one
    would stall this client, not the server.
    """

    def __init__(self, server: LiveServer, messages: list[str]) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.messages = messages
        self.updates = 0
        self.problems: list[str] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with connect(self.server.ws_url) as ws:
            ws.send(json.dumps({"type": "start", "reference": "wing-beat", "mode": "landmarks"}))
            assert json.loads(ws.recv(timeout=30))["type"] == "ready"
            seq = 0
            while not self.stopping.is_set():
                data = json.loads(self.messages[seq % len(self.messages)])
                ws.send(json.dumps({**data, "seq": seq, "capture_ms": seq * 1000 / 30}))
                try:
                    answer = json.loads(ws.recv(timeout=ANSWER_TIMEOUT_S))
                except TimeoutError:
                    seq += 1
                    continue
                if answer["type"] == "update":
                    self.updates += 1
                else:
                    self.problems.append(str(answer))
                seq += 1


def _drain(ws: ClientConnection, timeout: float = 10.0) -> Outcome:
    """Messages until the server closes (its close code) or goes quiet (``None``)."""
    received: list[dict[str, Any]] = []
    try:
        while True:
            data = ws.recv(timeout=timeout)
            received.append(json.loads(data))
    except TimeoutError:
        return received, None
    except ConnectionClosed as closed:
        return received, closed.rcvd.code if closed.rcvd is not None else None


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    kinds: list[Callable[[], Any]] = [
        lambda: rng.randint(-2**40, 2**40), lambda: rng.random() * 1e6, lambda: None,
        lambda: rng.choice([True, False]), lambda: "".join(chr(rng.randint(0, 0x2FFF))
                                                           for _ in range(rng.randint(0, 20))),
    ]
    if depth < 3:
        kinds += [lambda: [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))],
                  lambda: {rng.choice(["type", "seq", "landmarks", "world", "image", "x"]):
                           _random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}]
    return rng.choice(kinds)()


def _wrong_types(rng: random.Random, message: str) -> str:
    data = json.loads(message)
    field = rng.choice(["seq", "capture_ms", "image", "landmarks", "world", "type"])
    data[field] = _random_json(rng)
    return json.dumps(data)


def _fuzz_messages(rng: random.Random, landmarks: list[str]) -> list[str | bytes]:
    """A short burst of mostly bad messages for an opened session."""
    makers: list[Callable[[], str | bytes]] = [
        lambda: os.urandom(rng.randint(0, 64)),
        lambda: rng.choice(landmarks)[: rng.randint(0, 200)],
        lambda: json.dumps(_random_json(rng)),
        lambda: _wrong_types(rng, rng.choice(landmarks)),
        lambda: rng.choice(landmarks),  # a stale or repeated seq: dropped and counted
        lambda: json.dumps({"type": "restart", "step": _random_json(rng)}),
    ]
    return [rng.choice(makers)() for _ in range(rng.randint(1, 8))]


def _session_case(server: LiveServer, rng: random.Random, landmarks: list[str]) -> Outcome:
    with connect(server.ws_url, max_size=2**24) as ws:
        if rng.random() < 0.25:  # nothing opened yet: bytes or any JSON as the first message
            ws.send(rng.choice([os.urandom(rng.randint(1, 64)), json.dumps(_random_json(rng))]))
            return _drain(ws)
        ws.send(json.dumps({"type": "start", "reference": "wing-beat", "mode": "landmarks"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        burst = _fuzz_messages(rng, landmarks)
        if rng.random() < 0.1:
            burst.append(b"\0" * (MAX_MESSAGE_BYTES + 1))
        for message in burst:
            ws.send(message)
        with contextlib.suppress(ConnectionClosed):
            ws.send(json.dumps({"type": "stop"}))
        return _drain(ws)


def _vanish_mid_frame(server: LiveServer) -> None:
    """Open a session over a bare socket, start a 4 kB frame, send half of it and vanish."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        key = base64.b64encode(os.urandom(16)).decode()
        raw.sendall((f"GET /ws/practice HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
                     f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                     f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        assert b" 101 " in raw.recv(4096).split(b"\r\n")[0]
        opening = json.dumps({"type": "start", "reference": "wing-beat",
                              "mode": "landmarks"}).encode()
        raw.sendall(_masked_frame(0x1, opening, len(opening)))
        raw.sendall(_masked_frame(0x2, b"\0" * 2048, 4096))


def _masked_frame(opcode: int, payload: bytes, declared: int) -> bytes:
    """A client frame header declaring ``declared`` bytes, with ``payload`` (maybe fewer)."""
    mask = os.urandom(4)
    size = (struct.pack("!B", 0x80 | declared) if declared < 126
            else struct.pack("!BH", 0x80 | 126, declared))
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return struct.pack("!B", 0x80 | opcode) + size + mask + body


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with server_with(tmp_path, max_message_bytes=MAX_MESSAGE_BYTES,
                     max_frame_rate=UNLIMITED_RATE) as running:
        yield running


def test_fuzzed_sessions_get_errors_or_documented_closes_and_a_healthy_one_carries_on(
    server: LiveServer
) -> None:
    rng = random.Random(SEED)
    landmarks = landmark_messages(reference(server, "wing-beat"))
    healthy = HealthySession(server, landmarks)
    healthy.start()
    assert eventually(lambda: healthy.updates > 0, timeout=30)
    closes: set[int] = set()
    for case in range(CASES):
        before = healthy.updates
        received, code = _session_case(server, rng, landmarks)
        assert code in DOCUMENTED_CLOSES, (case, code, received[-2:])
        closes.add(code)
        for message in received:
            assert message["type"] in ("error", "update", "summary"), (case, message)
            if message["type"] == "error":
                assert message["code"] != "internal" and message["message"], (case, message)
        assert eventually(lambda b=before: healthy.updates > b), f"healthy stalled at {case}"
    _vanish_mid_frame(server)
    assert eventually(lambda: server.state.sessions.open_count == 1)
    before = healthy.updates
    assert eventually(lambda: healthy.updates > before + 10)
    healthy.stopping.set()
    healthy.join(timeout=30)
    assert healthy.problems == []
    assert {1000, 1003, 1008, 1009} <= closes, closes
