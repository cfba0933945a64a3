"""Two ``dance-tutor serve`` processes sharing one PostgreSQL database and one library folder.

A studio with more learners than one process holds runs several behind one address; sessions
are independent, so what one process stores or adds the other must see: a practice stored
through one is in the learner's progress through the other (the login works on both), and a
reference added through one is served by the other.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from app.sequence import load
from app.server.identity import COOKIE as SESSION_COOKIE
from tests.server_fixtures import AUTH, copy_library, running_server
from tests.test_practice_ws import landmark_messages

pytestmark = pytest.mark.model


def test_what_one_server_stores_or_adds_the_other_serves(
    tmp_path: Path, model_path: Path, fresh_postgres_url: str
) -> None:
    poses = copy_library(tmp_path / "poses")
    env = {"DANCE_TUTOR_DATABASE_URL": fresh_postgres_url, "DANCE_TUTOR_MAX_FRAME_RATE": "1000"}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with (running_server(poses, model_path, tmp_path / "a" / "server.log", **env) as one,
          running_server(poses, model_path, tmp_path / "b" / "server.log", **env) as other,
          httpx.Client(base_url=one.url) as first, httpx.Client(base_url=other.url) as second):
        made = first.post("/api/users", headers=AUTH,
                          json={"name": "aru", "role": "learner", "password": "eagle-wings"})
        assert made.status_code == 201, made.text
        login = second.post("/api/login", json={"name": "aru", "password": "eagle-wings"})
        assert login.status_code == 200, login.text
        cookie = login.cookies[SESSION_COOKIE]

        ws_url = one.url.replace("http", "ws") + "/ws/practice"
        with connect(ws_url, additional_headers={"Cookie": f"{SESSION_COOKIE}={cookie}"},
                     max_size=2**24) as ws:
            ws.send(json.dumps({"type": "start", "reference": "wing-beat", "mode": "landmarks"}))
            json.loads(ws.recv(timeout=30))
            for message in landmark_messages(load(poses / "wing-beat.pose.json"))[:45]:
                ws.send(message)
            ws.send(json.dumps({"type": "stop"}))
            while (summary := json.loads(ws.recv(timeout=60)))["type"] != "summary":
                pass
        assert summary["kept"]["stored"], summary["kept"]

        progress = second.get("/api/progress")  # the client keeps the login cookie
        assert progress.status_code == 200, progress.text
        assert [(s["reference"], s["count"]) for s in progress.json()["steps"]] == [
            ("wing-beat", 1)]

        document = json.loads((poses / "wing-spread.pose.json").read_text())
        added = first.post("/api/references", headers=AUTH,
                           json={"name": "added-on-one", "sequence": document})
        assert added.status_code == 201, added.text
        served = second.get("/api/references/added-on-one")
        assert served.status_code == 200 and served.json()["name"] == "added-on-one"
