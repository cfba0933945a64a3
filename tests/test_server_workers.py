"""``dance-tutor serve --workers N``: N processes behind one address, and what they share.

The real command runs as a subprocess on port 0 with two workers: both answer, each holds its
share of the session limits, a scoring job posted through one is read through either, a killed
worker is started again while the other serves on, and SIGTERM says goodbye to the sessions
and stops every process, leaving no jobs folder behind (as one process does with its own). The
jobs folder itself (:mod:`app.server.tasks`) is tested without a server: the limit counts the
jobs of every runner on the folder, a job whose process died reads as failed, and progress is
written only so often.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from app.server import tasks
from app.server.settings import SettingsError, load_settings
from app.server.tasks import ORPHANED, JobLimitError, JobRunner, JobStatus, Progress
from app.server.uploads import JOBS_PREFIX, process_alive
from tests.server_fixtures import (
    ROOT,
    TOKEN,
    ServerProcess,
    copy_library,
    running_server,
    told_of_shutdown,
)
from tests.test_server_tasks import wait_finished

LEFT_BEHIND = """
import sys, threading
from pathlib import Path
from app.server.tasks import JobRunner

def forever(progress):
    threading.Event().wait()
    return {}

runner = JobRunner(max_jobs=4, folder=Path(sys.argv[1]))
print(runner.submit("left behind", forever).id, flush=True)
threading.Event().wait()
"""


def test_runners_on_one_folder_read_each_others_jobs_and_keep_one_limit() -> None:
    release = threading.Event()
    first = JobRunner(max_jobs=2)
    second = JobRunner(max_jobs=2, folder=first.folder)

    def work(progress: Progress) -> dict[str, Any]:
        progress(0.5)
        release.wait(10)
        return {"answer": 42}

    assert stat.S_IMODE(first.folder.stat().st_mode) == 0o700
    mine, theirs = first.submit("mine", work), second.submit("theirs", work)
    deadline = time.monotonic() + 10
    while not ((seen := second.get(mine.id)) and seen.progress == 0.5):
        assert time.monotonic() < deadline, seen
        time.sleep(0.01)
    assert seen.status is JobStatus.RUNNING and seen.label == "mine"
    for runner in (first, second):
        with pytest.raises(JobLimitError, match="2 jobs are waiting or running, the limit"):
            runner.submit("one too many", work)
    release.set()
    done = wait_finished(second, mine.id)
    assert (done.status, done.result) == (JobStatus.DONE, {"answer": 42})
    wait_finished(first, theirs.id)
    second.submit("next", work)  # forgets the oldest finished job, whoever ran it
    assert first.get(mine.id) is None and first.get(theirs.id) is not None
    second.shutdown()
    assert first.folder.is_dir(), "a runner that joined the folder removed it"
    first.shutdown()
    assert not first.folder.exists()


def test_a_job_whose_process_died_reads_as_failed_and_is_forgotten_first() -> None:
    runner = JobRunner(max_jobs=2)
    child = subprocess.Popen([sys.executable, "-c", LEFT_BEHIND, str(runner.folder)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    job_id = child.stdout.readline().strip()
    alive = runner.get(job_id)
    assert alive is not None and alive.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    child.kill()
    child.wait()
    orphan = runner.get(job_id)
    assert orphan is not None
    assert (orphan.status, orphan.error) == (JobStatus.FAILED, ORPHANED)
    assert "restarted" in ORPHANED
    release = threading.Event()
    for label in ("one", "two"):
        runner.submit(label, lambda progress: {"released": release.wait(10)})
    assert runner.get(job_id) is None
    release.set()
    runner.shutdown()


def test_progress_is_written_when_it_moves_a_step_or_once_a_while(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[float] = []
    write = tasks.atomic_write_bytes

    def counting(path: Path, data: bytes) -> None:
        written.append(orjson.loads(data)["progress"])
        write(path, data)

    monkeypatch.setattr(tasks, "atomic_write_bytes", counting)

    def work(progress: Progress) -> dict[str, Any]:
        for i in range(1, 2001):
            progress(i * tasks.PROGRESS_STEP / 2000)  # a step in 2,000 small moves
        progress(0.5)
        progress(0.501)
        time.sleep(tasks.PROGRESS_PERIOD_S * 1.5)
        progress(0.502)
        return {}

    runner = JobRunner(max_jobs=2)
    wait_finished(runner, runner.submit("steady", work).id)
    runner.shutdown()
    assert written[:2] == [0.0, 0.0] and written[-1] == 1.0  # queued, running, done
    moves = written[2:-1]
    assert 0.5 in moves and 0.502 in moves and 0.501 not in moves
    assert len(moves) <= 4, moves


def test_a_job_id_that_is_not_one_finds_nothing() -> None:
    runner = JobRunner(max_jobs=2)
    assert runner.get("../../etc/passwd") is None
    assert runner.get("0" * 32) is None
    runner.shutdown()


@pytest.mark.parametrize(("workers", "sessions", "cameras"),
                         [(1, 128, 4), (2, 64, 2), (3, 43, 2), (8, 16, 1)])
def test_each_worker_holds_its_share_of_the_session_limits_rounded_up(
    tmp_path: Path, workers: int, sessions: int, cameras: int
) -> None:
    settings = load_settings(poses_dir=tmp_path, workers=workers)
    assert (settings.worker_max_sessions, settings.worker_max_camera_sessions) == (sessions,
                                                                                  cameras)


def test_no_workers_is_refused_naming_the_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"setting workers \(DANCE_TUTOR_WORKERS\)"):
        load_settings(poses_dir=tmp_path, workers=0)


def _answering_pids(url: str, wanted: int, tries: int = 200) -> set[int]:
    """Process ids answering ``/api/health``, each over a new connection, until ``wanted``
    different ones have answered (or ``tries`` answers)."""
    pids: set[int] = set()
    for _ in range(tries):
        pids.add(httpx.get(f"{url}/api/health").json()["pid"])
        if len(pids) >= wanted:
            break
    return pids


def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.mark.model
def test_two_workers_answer_on_one_address_share_jobs_and_stop_together(
    tmp_path: Path, model_path: Path, private_tmp: Path
) -> None:
    poses = copy_library(tmp_path / "poses")
    server = ServerProcess(poses, model_path, tmp_path / "server.log", DANCE_TUTOR_WORKERS="2",
                           DANCE_TUTOR_MAX_CAMERA_SESSIONS="3", TMPDIR=str(private_tmp))
    try:
        server.wait_ready()
        assert server.log().count("Dance tutor: open") == 1
        assert ("2 server processes answer there, each holding up to 64 sessions (2 sending "
                "camera images).") in server.log()
        pids = _answering_pids(server.url, 2)
        assert len(pids) == 2 and {_parent_of(pid) for pid in pids} == {server.process.pid}
        health = httpx.get(f"{server.url}/api/health").json()
        assert health["workers"] == 2
        assert (health["limits"]["max_sessions"], health["limits"]["max_camera_sessions"]) == (
            64, 2)
        [folder] = private_tmp.glob(f"{JOBS_PREFIX}{server.process.pid}-*")
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700

        posted = httpx.post(f"{server.url}/api/jobs",
                            files={"file": ("mine.pose.json",
                                            (poses / "wing-beat.pose.json").read_bytes())},
                            data={"reference": "wing-beat", "mirror": "false"})
        assert posted.status_code == 202, posted.text
        job_url = f"{server.url}/api/jobs/{posted.json()['id']}"
        deadline = time.monotonic() + 120
        while (job := httpx.get(job_url).json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.05)
        assert job["status"] == "done" and job["result"]["score"] >= 90, job
        # each over a new connection, so both workers answer some of them
        answers = [httpx.get(job_url) for _ in range(20)]
        assert {(a.status_code, a.json()["result"]["score"]) for a in answers} == {
            (200, job["result"]["score"])}

        with told_of_shutdown(server):
            pass
        assert server.process.wait(timeout=60) == 0
        assert not any(process_alive(pid) for pid in pids)
        assert list(private_tmp.iterdir()) == [], "the jobs or an upload folder was left"
    finally:
        server.stop()


@pytest.mark.model
def test_one_process_keeps_its_jobs_the_same_way_and_removes_them_on_sigterm(
    tmp_path: Path, model_path: Path, private_tmp: Path
) -> None:
    poses = copy_library(tmp_path / "poses")
    with running_server(poses, model_path, tmp_path / "server.log",
                        TMPDIR=str(private_tmp)) as server:
        assert httpx.get(f"{server.url}/api/health").json()["pid"] == server.process.pid
        assert [p.name.rsplit("-", 1)[0] for p in private_tmp.iterdir()] == [
            f"{JOBS_PREFIX}{server.process.pid}"]
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
        assert list(private_tmp.iterdir()) == []


@pytest.mark.model
def test_a_worker_that_dies_is_started_again_while_the_other_serves_on(
    tmp_path: Path, model_path: Path
) -> None:
    poses = copy_library(tmp_path / "poses")
    with running_server(poses, model_path, tmp_path / "server.log",
                        DANCE_TUTOR_WORKERS="2") as server:
        killed, kept = sorted(_answering_pids(server.url, 2))
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 120
        while len(pids := _answering_pids(server.url, 2, tries=20)) < 2 or killed in pids:
            assert time.monotonic() < deadline, pids
            time.sleep(0.2)
        assert kept in pids
        assert f"(process {killed}) died with exit code -9; its sessions have ended, starting " \
               f"it again" in server.log()
        assert server.log().count("Dance tutor: open") == 1
        server.stop()
        assert server.process.returncode == 0


@pytest.mark.model
def test_an_address_in_use_stops_the_server_with_one_sentence(
    tmp_path: Path, model_path: Path
) -> None:
    poses = copy_library(tmp_path / "poses")
    env = {**os.environ, "DANCE_TUTOR_INSTRUCTOR_TOKEN": TOKEN,
           "DANCE_TUTOR_DATABASE_URL": f"sqlite:///{tmp_path / 'tutor.db'}"}
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "app", "serve", "--workers", "2", "--port", str(port),
             "--poses", str(poses), "--model", str(model_path)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"dance-tutor serve: cannot listen on 127.0.0.1 port {port} (Address already in use); "
        f"choose another --port or --host"]
