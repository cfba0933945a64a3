"""``dance-tutor serve`` as a user runs it: the announcement, failing fast, graceful shutdown."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.server_fixtures import ROOT, TOKEN, copy_library, running_server, told_of_shutdown


def serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", "serve", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "70000"], "DANCE_TUTOR_PORT"),
        (["--poses", "/nonexistent/poses"], "/nonexistent/poses is not a folder"),
        (["--model", "/nonexistent/pose.task"], "/nonexistent/pose.task is not a file"),
    ],
)
def test_bad_configuration_fails_fast_with_one_line(args: list[str], words: str) -> None:
    result = serve(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dance-tutor serve: ")
    assert words in lines[0]


def test_a_model_file_that_is_not_a_model_fails_fast(tmp_path: Path) -> None:
    fake = tmp_path / "pose.task"
    fake.write_bytes(b"not a model")
    result = serve("--model", str(fake), "--poses", str(copy_library(tmp_path / "poses")))
    assert result.returncode == 2
    assert "pose.task" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_broken_reference_file_is_reported_and_skipped_not_fatal(
    tmp_path: Path, model_path: Path
) -> None:
    poses = copy_library(tmp_path / "poses")
    (poses / "wing-beat.pose.json").write_text("{ truncated")
    with running_server(poses, model_path, tmp_path / "server.log") as server:
        skipped = [line for line in server.log().splitlines() if "wing-beat.pose.json" in line]
        assert len(skipped) == 1 and skipped[0].startswith("Skipped library file")
        health = httpx.get(f"{server.url}/api/health").json()
        names = [r["name"] for r in httpx.get(f"{server.url}/api/references").json()]
        routines = httpx.get(f"{server.url}/api/routines").json()
    # The routine naming the broken step is skipped too, saying which step it lacks.
    assert [p["file"] for p in health["problems"]] == ["wing-beat.pose.json",
                                                       "burkit-bi.routine.json"]
    assert "JSON" in health["problems"][0]["reason"]
    assert "'wing-beat' is not a step of the library" in health["problems"][1]["reason"]
    assert routines == []
    assert str(poses) not in json.dumps(health)
    assert "wing-beat" not in names and len(names) == health["references"] > 0


def test_start_announces_the_address_and_sigterm_says_goodbye_to_sessions(
    tmp_path: Path, model_path: Path
) -> None:
    poses = copy_library(tmp_path / "poses")
    with running_server(poses, model_path, tmp_path / "server.log") as server:
        assert f"open {server.url}/ in a browser" in server.log()
        assert "Instructor token: as set in DANCE_TUTOR_INSTRUCTOR_TOKEN" in server.log()
        assert TOKEN not in server.log()
        with told_of_shutdown(server) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=30)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)


def test_a_generated_token_is_printed_once_and_kept_private(
    tmp_path: Path, model_path: Path
) -> None:
    poses = copy_library(tmp_path / "poses")
    token_file = tmp_path / "state" / "token"
    env = {"DANCE_TUTOR_INSTRUCTOR_TOKEN": "", "DANCE_TUTOR_TOKEN_FILE": str(token_file)}
    with running_server(poses, model_path, tmp_path / "first.log", **env) as server:
        token = token_file.read_text()
        assert f"Instructor token (new, kept in {token_file}): {token}" in server.log()
    with running_server(poses, model_path, tmp_path / "second.log", **env) as server:
        assert token not in server.log()
        assert f"Instructor token: kept in {token_file}." in server.log()
