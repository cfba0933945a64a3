"""Faults: ``dance-tutor serve`` killed with SIGKILL in the middle of its work.

A killed server cannot clean up after itself, so what matters is what the next start finds:
every reference file whole (the previous version or the new one, never a half), no temporary
file in ``poses/`` and no upload folder in the temporary folder.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app import sequence
from app.atomic import TEMP_PREFIX
from app.server.protocol import landmarks_frame
from app.server.sessions import Frame, PracticeWorker
from app.server.state import open_state
from app.server.uploads import JOBS_PREFIX, UPLOAD_PREFIX
from tests.conftest import clip
from tests.server_fixtures import (
    AUTH,
    ROOT,
    LiveServer,
    ServerProcess,
    copy_library,
    make_settings,
    running_server,
)

KILL_FRACTIONS = (0.2, 0.5, 0.8, 1.0)
"""When to kill, as fractions of how long the same writes take when left alone."""


def _fire(url: str, requests: list[tuple[str, str, dict[str, object]]]) -> threading.Thread:
    def send() -> None:
        with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
            for method, path, body in requests:
                try:
                    client.request(method, path, json=body)
                except httpx.TransportError:
                    return  # the server was killed under us
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def _writes(poses: Path, round_no: int) -> list[tuple[str, str, dict[str, object]]]:
    """A new reference, a take added to an existing one and a metadata change."""
    document = json.loads((poses / "swoop.pose.json").read_bytes())
    return [
        ("POST", "/api/references", {"name": f"new-step-{round_no}", "sequence": document}),
        ("POST", "/api/references/wing-beat/takes", {"sequence": document}),
        ("PATCH", "/api/references/landing", {"title": f"Landing {round_no}"}),
    ]


def _assert_library_whole(poses: Path, before: dict[str, bytes]) -> None:
    names = sorted(p.name for p in poses.glob("*.pose.json"))
    for name in names:
        sequence.load(poses / name)  # raises on half a file
    assert set(before) <= set(names)
    assert [p.name for p in poses.iterdir() if p.name.startswith(TEMP_PREFIX)] == []


@pytest.mark.model
def test_sigkill_during_reference_writes_leaves_every_file_whole(
    tmp_path: Path, model_path: Path
) -> None:
    poses = copy_library(tmp_path / "poses")
    with running_server(poses, model_path, tmp_path / "timing.log") as server:
        started = time.monotonic()
        _fire(server.url, _writes(poses, 0)).join(timeout=60)
        undisturbed_s = time.monotonic() - started
    for round_no, fraction in enumerate(KILL_FRACTIONS, start=1):
        before = {p.name: p.read_bytes() for p in poses.glob("*.pose.json")}
        server = ServerProcess(poses, model_path, tmp_path / f"kill-{round_no}.log")
        try:
            server.wait_ready()
            writer = _fire(server.url, _writes(poses, round_no))
            time.sleep(fraction * undisturbed_s)
            server.process.kill()
            server.process.wait(timeout=30)
            writer.join(timeout=30)
        finally:
            server.stop()
        with running_server(poses, model_path, tmp_path / f"after-{round_no}.log") as after:
            health = httpx.get(f"{after.url}/api/health").json()
        assert health["problems"] == [], (fraction, health["problems"])
        _assert_library_whole(poses, before)


@pytest.mark.model
def test_sigkill_during_an_upload_or_a_scoring_job_leaves_no_upload_behind(
    tmp_path: Path, model_path: Path, private_tmp: Path
) -> None:
    poses = copy_library(tmp_path / "poses")
    env = {"TMPDIR": str(private_tmp)}
    video = clip("romp_sample_video2_jumpingjacks.mp4").read_bytes()
    server = ServerProcess(poses, model_path, tmp_path / "kill.log", **env)
    try:
        server.wait_ready()
        job = httpx.post(f"{server.url}/api/jobs", files={"file": ("a.mp4", video)},
                         data={"reference": "wing-beat"}, timeout=60).json()
        deadline = time.monotonic() + 60
        while httpx.get(f"{server.url}/api/jobs/{job['id']}").json()["progress"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = _upload_slowly(server.url, video)
        time.sleep(0.5)
        assert list(private_tmp.glob(f"{UPLOAD_PREFIX}*")), "the job's upload is not there"
        server.process.kill()
        server.process.wait(timeout=30)
        second.join(timeout=30)
    finally:
        server.stop()
    with running_server(poses, model_path, tmp_path / "after.log", **env) as after:
        assert list(private_tmp.glob(f"{UPLOAD_PREFIX}*")) == []
        # the killed server's jobs folder is gone too: the new server's own is all there is
        own = f"{JOBS_PREFIX}{after.process.pid}-"
        assert [p.name for p in private_tmp.iterdir() if not p.name.startswith(own)] == []


def _upload_slowly(url: str, video: bytes) -> threading.Thread:
    """An upload still arriving when the server dies (64 kB every 50 ms)."""
    boundary = "fault-test-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"reference\"\r\n\r\n"
            f"wing-beat\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"b.mp4\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> object:
        yield head
        for start in range(0, len(video), 65536):
            yield video[start:start + 65536]
            time.sleep(0.05)
        yield tail

    def send() -> None:
        try:
            httpx.post(f"{url}/api/jobs", content=chunks(),  # type: ignore[arg-type]
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                       timeout=60)
        except httpx.TransportError:
            return
    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def _model_threads() -> int:
    """Native threads of MediaPipe's graphs in this process (named "drishti")."""
    tasks = Path("/proc/self/task")
    return sum((task / "comm").read_text().strip() == "drishti" for task in tasks.iterdir())


@pytest.mark.model
def test_vanished_camera_clients_free_their_models_and_threads(tmp_path: Path) -> None:
    from tests.test_practice_ws import eventually, frame, server_with

    jpeg = cv2.imencode(".jpg", np.full((240, 320, 3), 128, np.uint8))[1].tobytes()
    with server_with(tmp_path, max_camera_sessions=3) as server, ExitStack() as clients:
        baseline = _model_threads()
        sockets = []
        for _ in range(3):
            ws = clients.enter_context(connect(server.ws_url, max_size=2**24))
            ws.send(json.dumps({"type": "start", "reference": "wing-beat", "mode": "image"}))
            assert json.loads(ws.recv(timeout=60))["type"] == "ready"
            ws.send(frame(jpeg, 0))
            assert json.loads(ws.recv(timeout=60))["type"] == "update"
            sockets.append(ws.socket)
        assert server.state.sessions.camera_count == 3
        assert _model_threads() > baseline
        for raw in sockets:
            raw.close()  # no closing handshake: the clients just disappear
        assert eventually(lambda: server.state.sessions.open_count == 0)
        assert server.state.sessions.camera_count == 0
        assert eventually(lambda: _model_threads() == baseline), _model_threads()


def test_a_server_failure_in_one_session_closes_it_with_1011_and_the_next_one_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: PracticeWorker, frame: Frame) -> object:
        raise RuntimeError(f"scoring broke in {ROOT}")

    settings = make_settings(tmp_path)
    seq = sequence.load(settings.poses_dir / "wing-beat.pose.json")
    first = landmarks_frame(0, 0.0, seq.image_size,
                            np.column_stack([seq.image_xyz[0], seq.visibility[0]]))
    opening = json.dumps({"type": "start", "reference": "wing-beat", "mode": "landmarks"})
    with LiveServer(open_state(settings)) as server:
        monkeypatch.setattr(PracticeWorker, "process", broken)
        with connect(server.ws_url) as ws:
            ws.send(opening)
            assert json.loads(ws.recv(timeout=30))["type"] == "ready"
            ws.send(first)
            text = ws.recv(timeout=30)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
        assert json.loads(text) == {"type": "error", "code": "internal", "fatal": True,
                                    "message": "The tutor failed on this session; please "
                                               "start again."}
        assert "Traceback" not in text and str(ROOT) not in text
        assert any("session failed on frame 0" in r.getMessage() and r.exc_info
                   for r in caplog.records)

        monkeypatch.undo()
        with connect(server.ws_url) as ws:
            ws.send(opening)
            assert json.loads(ws.recv(timeout=30))["type"] == "ready"
            ws.send(first)
            assert json.loads(ws.recv(timeout=30))["type"] == "update"
