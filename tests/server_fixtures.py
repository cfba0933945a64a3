"""Fixtures for server tests: a private copy of the library, settings, the app, a live server
in a thread, and ``dance-tutor serve`` in a subprocess.

:class:`LiveServer` runs the real app through the real server runner (uvicorn) in a thread on
a free loopback port, so WebSocket tests talk to it over a real socket.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import ClientConnection, connect

from app.server.main import create_app
from app.server.runner import make_server
from app.server.settings import Settings, load_settings
from app.server.state import ServerState, open_state

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-instructor-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TEST_BUSY_LAG_MS = 1000.0


def copy_library(dest: Path) -> Path:
    """The project's starter steps (with their music) and routines copied into ``dest`` (tests
    never touch ``poses/``)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in (*(ROOT / "poses").glob("*.pose.json"), *(ROOT / "poses").glob("*.music.*")):
        shutil.copy2(path, dest / path.name)
    shutil.copytree(ROOT / "poses" / "routines", dest / "routines", dirs_exist_ok=True)
    return dest


def library_files(folder: Path) -> dict[str, bytes]:
    """Every file under a library folder (routines too) and its bytes, to show that a refused
    request changed nothing."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    poses = copy_library(tmp_path / "poses")
    overrides.setdefault("database_url", f"sqlite:///{tmp_path / 'tutor.db'}")
    # A test client waits for every answer, and a shed frame is never answered: a machine busy
    # with other work must not make the server shed. The test of shedding asks for it.
    overrides.setdefault("busy_lag_ms", TEST_BUSY_LAG_MS)
    return load_settings(poses_dir=poses, instructor_token=TOKEN,
                         token_file=tmp_path / "token", **overrides)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def state(settings: Settings) -> ServerState:
    return open_state(settings)


@pytest.fixture
def client(settings: Settings, state: ServerState) -> Iterator[TestClient]:
    with TestClient(create_app(settings, state)) as test_client:
        yield test_client


class LiveServer:
    """The app under the real server runner (uvicorn), in a background thread."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._listening = threading.Event()
        self.port = 0
        self.server = make_server(state, self._on_listening, port=0, log_level="warning")
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def _on_listening(self, port: int) -> None:
        self.port = port
        self._listening.set()

    def __enter__(self) -> LiveServer:
        self.thread.start()
        if not self._listening.wait(timeout=30):
            raise RuntimeError("the test server did not start")
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws/practice"
        self.http_url = f"http://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


ANNOUNCE = re.compile(r"open (http://127\.0\.0\.1:(\d+))/ in a browser")


class ServerProcess:
    """``dance-tutor serve --port 0`` in a subprocess; the port is read from its announcement.

    ``env`` adds environment variables (e.g. limits). Output goes to ``log``; the database is
    a SQLite file beside it unless ``env`` names one.
    """

    def __init__(self, poses: Path, model: Path, log: Path, **env: str) -> None:
        self.log_path = log
        self._log = log.open("wb")
        environment = {**os.environ, "DANCE_TUTOR_INSTRUCTOR_TOKEN": TOKEN,
                       "DANCE_TUTOR_DATABASE_URL": f"sqlite:///{log.parent / 'tutor.db'}",
                       "PYTHONUNBUFFERED": "1", **env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", "0", "--poses", str(poses),
             "--model", str(model)],
            cwd=ROOT, env=environment, stdout=self._log, stderr=subprocess.STDOUT,
        )
        self.url = ""
        self.port = 0

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Wait for the announcement, then for ``/api/health`` to answer."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log()}")
            found = ANNOUNCE.search(self.log())
            if found:
                self.url, self.port = found.group(1), int(found.group(2))
                with urllib.request.urlopen(f"{self.url}/api/health", timeout=5) as response:
                    if response.status == 200:
                        return
            time.sleep(0.1)
        raise RuntimeError(f"the server did not start within {timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL if it does not end."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@contextmanager
def running_server(poses: Path, model: Path, log: Path, **env: str) -> Iterator[ServerProcess]:
    server = ServerProcess(poses, model, log, **env)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@contextmanager
def told_of_shutdown(server: ServerProcess) -> Iterator[ClientConnection]:
    """A landmarks practice open on ``server`` when it is sent SIGTERM: its socket, once the
    session has heard why (``shutdown``, fatal)."""
    with connect(f"ws://127.0.0.1:{server.port}/ws/practice") as ws:
        ws.send(json.dumps({"type": "start", "reference": "wing-beat", "mode": "landmarks"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        server.process.send_signal(signal.SIGTERM)
        goodbye = json.loads(ws.recv(timeout=30))
        assert (goodbye["code"], goodbye["fatal"]) == ("shutdown", True)
        yield ws
