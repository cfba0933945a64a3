"""``bash scripts/serve`` and ``bash scripts/test`` as a user runs them, on a fresh clone.

The clone is a ``git clone`` of this checkout into a temporary folder. So that it does not
install for minutes, its environment (``DANCE_TUTOR_VENV``) is a new virtual environment whose
only addition is a ``.pth`` line naming the site-packages of the environment running these
tests: the dependencies are found there, and ``scripts/bootstrap.sh`` still creates its install
stamp and installs the clone into that new environment with pip, as on a fresh machine. A plain
path line does not run that environment's own ``.pth`` hooks, so its editable install of this
checkout stays out of the clone's way, and pip leaves it alone (it is outside the new
environment); the tests check both. The clone's ``models/`` gets a link to the verified model
instead of fetching one. Its console scripts (``ruff``, ``mypy``) come from the same
environment's ``bin/``, on ``PATH`` after the new environment's. ``scripts/serve`` shows the
learner the address and the token, and none of MediaPipe's own log lines.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app.models import ensure_model
from tests.conftest import REPO
from tests.test_native_logs import NATIVE

pytestmark = [pytest.mark.scripts, pytest.mark.model]

SCRIPT_TIMEOUT_S = 300.0
ONE_TEST = "tests/test_atomic.py::test_replaces_content_and_leaves_no_temporary"


class Clone:
    """A fresh clone of the repository with its own environment, and how to run its scripts."""

    def __init__(self, root: Path, model: Path) -> None:
        self.folder = root.resolve() / "dance-tutor"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(self.folder)], check=True,
                       stdin=subprocess.DEVNULL, timeout=60)
        (self.folder / "models" / model.name).symlink_to(model)
        self.venv = root / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True, timeout=120)
        site = Path(sysconfig.get_path("purelib", vars={"base": str(self.venv)}))
        shared = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
        (site / "shared-dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(shared)))
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        ours = {k: v for k, v in os.environ.items() if not k.startswith("DANCE_TUTOR_")}
        self.env = {**ours, "DANCE_TUTOR_VENV": str(self.venv), "PATH": path,
                    "XDG_STATE_HOME": str(root / "state"), "PYTHONUNBUFFERED": "1"}

    def start(self, script: str, *args: str, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(["bash", f"scripts/{script}", *args], cwd=self.folder,
                                    env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def imports_app_from(self, python: Path) -> Path:
        """Where ``python`` imports ``app`` from, run outside any checkout."""
        found = subprocess.run([str(python), "-c", "import app; print(app.__file__)"],
                               cwd=self.folder.parent, capture_output=True, text=True,
                               check=True, timeout=60)
        return Path(found.stdout.strip()).resolve().parent.parent


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Clone:
    return Clone(tmp_path_factory.mktemp("fresh-clone"), ensure_model())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM to the script's process group; SIGKILL if it does not end."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            return process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def test_serve_passes_every_argument_to_dance_tutor_serve(clone: Clone, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    process = clone.start("serve", "--port", str(port), "--host", "127.0.0.1", log=log)
    try:
        deadline = time.monotonic() + SCRIPT_TIMEOUT_S
        while not answers(f"http://127.0.0.1:{port}/api/health"):
            assert process.poll() is None, f"scripts/serve stopped:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"no server on {port}:\n{log.read_text()}"
            time.sleep(0.5)
    finally:
        code = stop(process)
    output = log.read_text()
    assert f"open http://127.0.0.1:{port}/ in a browser" in output
    assert not [words for words in NATIVE if words in output], output
    # uvicorn re-raises the signal once it has shut down cleanly.
    assert code in (0, -signal.SIGTERM) and "Application shutdown complete." in output
    assert clone.imports_app_from(clone.venv / "bin" / "python") == clone.folder
    assert clone.imports_app_from(Path(sys.executable)) == REPO


def test_test_passes_every_argument_to_pytest(clone: Clone, tmp_path: Path) -> None:
    log = tmp_path / "test.log"
    process = clone.start("test", ONE_TEST, "-m", "not browser", "-p", "no:cacheprovider",
                          log=log)
    try:
        code = process.wait(timeout=SCRIPT_TIMEOUT_S)
    finally:
        stop(process)
    output = log.read_text()
    assert code == 0, output
    assert f"rootdir: {clone.folder}" in output
    assert "collected 1 item" in output and "1 passed" in output
    assert clone.imports_app_from(clone.venv / "bin" / "python") == clone.folder
    assert clone.imports_app_from(Path(sys.executable)) == REPO
