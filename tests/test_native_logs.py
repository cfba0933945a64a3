"""MediaPipe's and LiteRT's native log lines: off stderr by default, there at ``--log-level debug``.

Each test runs the real model in a new process, since those lines come from native code writing
to the process's file descriptor 2, once per process for some of them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.model

# What creating, running and closing a landmarker writes, as measured with mediapipe 1.2.
NATIVE = ("Sparsity tensors may not yet be fully supported", "Creating LiteRT environment",
          "XNNPACK", "RegisterAccelerator", "DestroyAccelerator")
FIRST_FRAME = "inference_runner_litert.cc"

# Worker threads create, run and close landmarkers while another thread writes to stderr and a
# third dies with a traceback; then the main thread writes to descriptor 2 directly.
THREADS = r"""
import os, sys, threading, time
import numpy as np
from app.pose import PoseEstimator

before = os.fstat(2)
stop = threading.Event()
def chatter():
    n = 0
    while not stop.is_set():
        sys.stderr.write(f"python line {n}\n")
        n += 1
        time.sleep(0.002)
    print(f"python lines: {n}", file=sys.stderr, flush=True)
def estimate():
    with PoseEstimator(sys.argv[1], mode="image", background=True) as estimator:
        estimator.detect(np.zeros((96, 128, 3), np.uint8))
def crash():
    time.sleep(0.05)
    raise RuntimeError("a bug in another thread")
talker = threading.Thread(target=chatter)
talker.start()
workers = [threading.Thread(target=estimate) for _ in range(3)] + [threading.Thread(target=crash)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
stop.set()
talker.join()
after = os.fstat(2)
same = (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)
os.write(2, b"stderr is the same file again: %d\n" % same)
"""


def run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DANCE_TUTOR_LOG_LEVEL"}
    return subprocess.run([sys.executable, *args], cwd=REPO, env={**environment, **env},
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=120, check=False)


def fetch(model_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    result = run(["-m", "app", "models", "fetch", *args],
                 DANCE_TUTOR_MODEL_DIR=str(model_path.parent), **env)
    assert result.returncode == 0, result.stderr
    assert "MediaPipe's PoseLandmarker loads it" in result.stdout
    return result


def test_models_fetch_prints_no_native_lines_by_default(model_path: Path) -> None:
    result = fetch(model_path)
    assert not [words for words in NATIVE if words in result.stderr], result.stderr


@pytest.mark.parametrize("how", ["option", "environment"])
def test_models_fetch_prints_them_at_debug(model_path: Path, how: str) -> None:
    if how == "option":
        result = fetch(model_path, "--log-level", "debug")
    else:
        result = fetch(model_path, DANCE_TUTOR_LOG_LEVEL="debug")
    assert all(words in result.stderr for words in NATIVE), result.stderr


def test_a_bad_log_level_in_the_environment_is_one_sentence(model_path: Path) -> None:
    result = run(["-m", "app", "models"], DANCE_TUTOR_LOG_LEVEL="loud")
    assert result.returncode == 2
    assert "DANCE_TUTOR_LOG_LEVEL" in result.stderr and "'loud'" in result.stderr


def test_other_threads_output_passes_while_native_lines_are_held_back(model_path: Path) -> None:
    result = run(["-c", THREADS, str(model_path)])
    assert result.returncode == 0, result.stderr
    err = result.stderr
    assert not [words for words in (*NATIVE, FIRST_FRAME) if words in err], err
    # Python's own writes of one thread may land inside another's traceback, as without any
    # filter; each of them arrives whole and in order.
    count = int(re.findall(r"python lines: (\d+)", err)[0])
    assert re.findall(r"python line (\d+)", err) == [str(n) for n in range(count)]
    assert "Traceback" in err and "a bug in another thread" in err
    assert err.splitlines()[-1] == "stderr is the same file again: 1"


def test_the_same_run_at_debug_shows_them(model_path: Path) -> None:
    debug = "import logging; logging.getLogger('app').setLevel(logging.DEBUG)\n"
    result = run(["-c", debug + THREADS, str(model_path)])
    assert result.returncode == 0, result.stderr
    assert all(words in result.stderr for words in (*NATIVE, FIRST_FRAME)), result.stderr


PIECES = """
import os
from app.pose import _NATIVE_LOGS
with _NATIVE_LOGS.hidden():
    for piece in (b"INFO: ", b"python output", b"\\n",
                  b"INFO: ", b"[environment.cc:36] Creating LiteRT environment", b"\\n",
                  b"ERROR: ", b"[model.cc:12] failed to open", b"\\n"):
        os.write(2, piece)
"""


def test_only_native_lines_are_held_back_whatever_comes_between_their_pieces() -> None:
    """Native code writes a line in three pieces (level, message, newline), and other
    threads write between them: what is not a native message passes, and a native error is
    never swallowed, even while the prefix of an unmatched line is pending."""
    result = run(["-c", PIECES])
    assert result.returncode == 0, result.stderr
    assert result.stderr == "python output\nERROR: [model.cc:12] failed to open\n"
