"""Security checks: no write without the token, no secret in the log, no way out of ``poses/``.

The writes are taken from the app's own OpenAPI schema, so a new write route is checked the
day it is added.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from websockets.sync.client import connect

from tests.server_fixtures import AUTH, TOKEN, client, running_server, settings, state

__all__ = ["client", "settings", "state"]  # pytest fixtures this module uses

WRONG_TOKENS: list[dict[str, str]] = [
    {},
    {"Authorization": "Bearer wrong-token-0123456789abcdef"},
    {"Authorization": f"Bearer {TOKEN[:-1]}"},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": TOKEN},
    {"X-Instructor-Token": ""},
    {"X-Instructor-Token": TOKEN.upper()},
]
OPEN_WRITES = {("POST", "/api/jobs"), ("POST", "/api/calibration")}
"""Scoring an attempt and measuring a device's delay write nothing and are open to learners."""
ACCOUNTS_TAG = "accounts"
"""Account and progress routes answer per role, not per token: every one of them is in the
role matrix of ``tests/test_server_accounts.py``."""


def _library_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _writes(client: TestClient) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    return [(method.upper(), path) for path, operations in schema["paths"].items()
            for method, operation in operations.items()
            if method in ("post", "put", "patch", "delete")
            and (method.upper(), path) not in OPEN_WRITES
            and ACCOUNTS_TAG not in operation.get("tags", [])]


def _body(client: TestClient, method: str) -> dict[str, Any] | None:
    if method == "DELETE":
        return None
    document = client.get("/api/references/swoop").json()
    return {"name": "intruder", "sequence": document, "title": "Intruder"}


def test_every_write_route_refuses_a_missing_or_wrong_token_and_changes_nothing(
    client: TestClient
) -> None:
    poses: Path = client.app.state.tutor.library.root  # type: ignore[attr-defined]
    before = _library_bytes(poses)
    writes = _writes(client)
    assert {("POST", "/api/references"), ("DELETE", "/api/references/{name}"),
            ("PATCH", "/api/references/{name}"),
            ("POST", "/api/references/{name}/takes")} <= set(writes)
    for method, path in writes:
        url = path.replace("{name}", "wing-beat")
        for headers in WRONG_TOKENS:
            response = client.request(method, url, headers=headers, json=_body(client, method))
            assert response.status_code == 401, (method, url, headers, response.text)
            assert response.json()["detail"].startswith("This needs the instructor token")
    assert _library_bytes(poses) == before


def test_the_right_token_is_what_lets_a_write_through(client: TestClient) -> None:
    response = client.patch("/api/references/wing-beat", headers=AUTH, json={"title": "Beat"})
    assert response.status_code == 200 and response.json()["title"] == "Beat"


@pytest.mark.parametrize(
    "name",
    ["../escape", "..", ".", "/etc/passwd", "a/b", "wing-beat/../../x", "%2e%2e", "UPPER",
     "wing beat", "x" * 65, "nul\0byte", "wing-beat.pose.json"],
)
def test_a_name_can_never_reach_outside_the_library(client: TestClient, name: str) -> None:
    poses: Path = client.app.state.tutor.library.root  # type: ignore[attr-defined]
    outside = _library_bytes(poses.parent)
    document = client.get("/api/references/swoop").json()
    created = client.post("/api/references", headers=AUTH,
                          json={"name": name, "sequence": document})
    assert created.status_code == 422
    # "." and ".." are dot segments every client resolves, so they reach other routes.
    for method in ("GET", "PATCH", "DELETE") if name not in (".", "..") else ():
        response = client.request(method, f"/api/references/{quote(name, safe='')}",
                                  headers=AUTH,
                                  json={"title": "x"} if method == "PATCH" else None)
        assert response.status_code in (404, 405, 422), (method, name, response.status_code)
    assert _library_bytes(poses.parent) == outside


def test_an_upload_named_like_a_path_stays_in_its_private_folder(
    client: TestClient, tmp_path: Path
) -> None:
    target = Path(tempfile.gettempdir()) / "escaped.pose.json"
    data = client.get("/api/references/swoop").content
    for filename in ("../../escaped.pose.json", "/tmp/escaped.pose.json",
                     "..\\..\\escaped.pose.json"):
        response = client.post("/api/jobs", files={"file": (filename, b"{ not json")},
                               data={"reference": "wing-beat"})
        assert response.status_code == 422
        assert "/" not in response.json()["detail"].split(":")[0]
    assert not target.exists() and data


def test_a_reference_name_in_a_session_opening_cannot_escape(tmp_path: Path) -> None:
    from tests.test_practice_ws import close_code, recv, server_with

    with server_with(tmp_path) as server, connect(server.ws_url) as ws:
        ws.send(json.dumps({"type": "start", "reference": "../../etc/passwd",
                            "mode": "landmarks"}))
        error = recv(ws)
        assert (error["code"], error["fatal"]) == ("bad_open", True)
        assert close_code(ws) == 1008


def test_cors_preflight_from_another_origin_is_not_allowed(client: TestClient) -> None:
    response = client.options("/api/references", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization"})
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


def test_the_page_policy_allows_its_own_scripts_and_the_camera_only(client: TestClient) -> None:
    headers = client.get("/").headers
    policy = dict(part.strip().split(" ", 1) for part in
                  headers["content-security-policy"].split(";"))
    # The pose runtime compiles WebAssembly; nothing may eval a string or run inline code.
    assert policy["script-src"] == "'self' 'wasm-unsafe-eval'" and policy["default-src"] == "'self'"
    assert "'unsafe-eval'" not in policy["script-src"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert policy["connect-src"] == "'self'"
    assert "mediastream:" in policy["media-src"]
    assert "camera=(self)" in headers["permissions-policy"]


@pytest.mark.model
def test_the_token_never_appears_in_the_log(tmp_path: Path, model_path: Path) -> None:
    from tests.server_fixtures import copy_library

    poses = copy_library(tmp_path / "poses")
    log = tmp_path / "server.log"
    with running_server(poses, model_path, log) as server:
        with httpx.Client(base_url=server.url) as http:
            assert http.get("/api/instructor", headers=AUTH).status_code == 204
            http.patch("/api/references/wing-beat", headers=AUTH, json={"title": "Beat"})
            http.patch("/api/references/wing-beat", headers={"X-Instructor-Token": TOKEN},
                       json={"difficulty": "nonsense"})
            http.post("/api/jobs", files={"file": ("a.pose.json", b"{}")},
                      data={"reference": "wing-beat"}, headers=AUTH)
        with connect(f"ws://127.0.0.1:{server.port}/ws/practice") as ws:
            ws.send(json.dumps({"type": "record", "token": TOKEN, "mode": "landmarks"}))
            assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        text = server.log()
    assert "GET /api/instructor" in text or "open http" in text
    assert TOKEN not in text
    assert not re.search(re.escape(TOKEN[:12]), text)


@pytest.mark.model
@pytest.mark.parametrize(("token", "advice"), [("", True), (TOKEN, False)])
def test_serving_on_the_network_warns(tmp_path: Path, model_path: Path, token: str,
                                      advice: bool) -> None:
    from tests.server_fixtures import ServerProcess, copy_library

    poses = copy_library(tmp_path / "poses")
    server = ServerProcess(poses, model_path, tmp_path / "server.log",
                           DANCE_TUTOR_HOST="0.0.0.0", DANCE_TUTOR_INSTRUCTOR_TOKEN=token,
                           DANCE_TUTOR_TOKEN_FILE=str(tmp_path / "token"))
    try:
        server.wait_ready()
        text = server.log()
    finally:
        server.stop()
    assert "Warning: serving on 0.0.0.0" in text
    assert ("Set DANCE_TUTOR_INSTRUCTOR_TOKEN" in text) is advice
