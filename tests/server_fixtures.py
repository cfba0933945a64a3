"""Fixtures for server tests: a private copy of the library, settings, the app, a live server.

:class:`LiveServer` runs the real app through the real server runner (uvicorn) in a thread on
a free loopback port, so WebSocket tests talk to it over a real socket.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.server.main import create_app
from app.server.runner import make_server
from app.server.settings import Settings, load_settings
from app.server.state import ServerState, open_state

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-instructor-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def copy_library(dest: Path) -> Path:
    """The project's starter steps copied into ``dest`` (tests never touch ``poses/``)."""
    dest.mkdir(parents=True, exist_ok=True)
    for path in (ROOT / "poses").glob("*.pose.json"):
        shutil.copy2(path, dest / path.name)
    return dest


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    poses = copy_library(tmp_path / "poses")
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

