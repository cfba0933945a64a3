"""``dance-tutor serve --workers N``: N server processes behind one address and port.

The parent process checks the set-up once (:func:`~app.server.setup.check_setup`, as a single
process does), binds the listening socket once and starts N worker processes (multiprocessing's
"spawn", as uvicorn's own ``--workers`` does); it imports neither the pose model's runtime nor
the web framework, so it stays small. Each worker is handed the bound socket, the instructor
token the parent resolved and the parent's jobs folder, builds its own
:class:`~app.server.state.ServerState` and runs the usual
:class:`~app.server.runner.TutorServer` on the shared socket; the kernel gives each new
connection to whichever worker accepts it first. Workers share the database, the library
folder and the jobs folder; sessions live in the worker that accepted them, each worker holding
its share of the session limits. The parent announces the address once every worker listens,
forwards SIGINT and SIGTERM to the workers as SIGTERM (each says goodbye to its sessions and
stops), waits for them and removes the jobs folder. Workers leave the terminal's process group
(a Ctrl-C reaches the parent only) and stop when the parent dies, however it dies.

A worker that dies unexpectedly (a crash, the kernel's out-of-memory killer) is logged and
started again, so the rest of the class goes on dancing while the learners it served start
again (their pages say the connection closed; a new one reaches a live worker). A worker that
dies before it listens, or the workers dying more than ``RESTARTS_PER_MINUTE``
times within a minute, stop the whole server with a sentence saying why: starting again would
not help.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from pydantic import SecretStr

from app.errors import UserError
from app.server.settings import Settings
from app.server.setup import Setup
from app.server.tasks import JobRunner

logger = logging.getLogger(__name__)

BACKLOG = 2048
"""Connections waiting to be accepted (uvicorn's default)."""
RESTARTS_PER_MINUTE = 5
STOP_TIMEOUT_S = 30.0
"""How long the workers have to say goodbye and stop before they are killed."""
EXIT_SETUP = 2
"""A worker's exit code when its set-up failed (it logs the sentence)."""
PR_SET_PDEATHSIG = 1
"""Linux's prctl option: the signal this process gets when its parent dies."""


class WorkersFailed(RuntimeError):
    """The workers cannot go on; the message says which and why in one sentence."""


@dataclass(frozen=True)
class WorkerPlan:
    """What every worker is handed: the settings (with the parent's instructor token), the
    server's jobs folder and uvicorn's log level."""

    settings: Settings
    jobs_folder: Path
    log_level: str


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound as uvicorn binds the one it shares among workers.

    Raises
    ------
    UserError
        Naming the address and port when they cannot be had (in use, not this machine's).
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise UserError(f"cannot listen on {host} port {port} ({exc.strerror}); choose another "
                        f"--port or --host") from None
    return sock


def serve_workers(settings: Settings, setup: Setup, on_listening: Callable[[int], None], *,
                  log_level: str) -> None:
    """Serve with ``settings.workers`` processes until SIGINT or SIGTERM; ``on_listening(port)``
    once every worker listens.

    ``setup`` is what the parent checked: its database is closed here (each worker opens its
    own). The parent makes the server's jobs folder and removes it once the workers stopped.

    Raises
    ------
    UserError
        The address cannot be had.
    WorkersFailed
        A worker died before it listened, or the workers keep dying.
    """
    setup.store.close()
    jobs = JobRunner(settings.max_jobs)
    token = SecretStr(setup.token.reveal())
    plan = WorkerPlan(settings.model_copy(update={"instructor_token": token}), jobs.folder,
                      log_level)
    try:
        with listen(settings.host, settings.port) as sock, _stop_signals() as stop:
            workers: list[_Worker] = []
            try:
                for number in range(settings.workers):
                    workers.append(_Worker(plan, number, sock))
                _supervise(workers, stop, lambda: on_listening(sock.getsockname()[1]))
            finally:
                _stop(workers)
    finally:
        jobs.shutdown()


class _Worker:
    """One worker process, started again under the same number when it dies."""

    def __init__(self, plan: WorkerPlan, number: int, sock: socket.socket) -> None:
        self.plan, self.number, self.sock = plan, number, sock
        self.start()

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.ready, ready = context.Pipe(duplex=False)
        self.listening = False
        self.process: BaseProcess = context.Process(
            target=run_worker, args=(self.plan, self.sock, ready),
            name=f"dance-tutor-worker-{self.number}")
        self.process.start()
        ready.close()

    @property
    def name(self) -> str:
        return f"worker {self.number + 1} (process {self.process.pid})"


@contextmanager
def _stop_signals() -> Iterator[Connection]:
    """While inside, SIGINT and SIGTERM make the connection given readable."""
    readable, writable = multiprocessing.Pipe(duplex=False)

    def handle(signum: int, frame: FrameType | None) -> None:
        writable.send(signum)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield readable
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        readable.close()
        writable.close()


def _supervise(workers: list[_Worker], stop: Connection, announce: Callable[[], None]) -> None:
    """Until ``stop`` is readable: note workers as they listen, announce once all do, start
    again a worker that died."""
    deaths: deque[float] = deque()
    announced = False
    while True:
        waiting: list[Connection | int] = [stop, *(w.process.sentinel for w in workers),
                                           *(w.ready for w in workers if not w.listening)]
        wait(waiting)
        if stop.poll():
            return
        for worker in workers:
            if not worker.listening and worker.ready.poll():
                with suppress(EOFError):
                    worker.ready.recv()
                    worker.listening = True
            if worker.process.exitcode is not None:
                _died(worker, deaths)
        if not announced and all(w.listening for w in workers):
            announce()
            announced = True


def _died(worker: _Worker, deaths: deque[float]) -> None:
    """Start ``worker`` again, or say why the server cannot go on."""
    code = worker.process.exitcode
    if not worker.listening:
        raise WorkersFailed(f"{worker.name} stopped before it could serve (exit code {code}); "
                            f"its messages above say why")
    now = time.monotonic()
    deaths.append(now)
    while deaths[0] < now - 60:
        deaths.popleft()
    if len(deaths) > RESTARTS_PER_MINUTE:
        raise WorkersFailed(f"the workers died {len(deaths)} times within a minute, the last "
                            f"{worker.name} with exit code {code}; the server stops")
    logger.error("%s died with exit code %s; its sessions have ended, starting it again",
                 worker.name, code)
    worker.ready.close()
    worker.start()


def _stop(workers: list[_Worker]) -> None:
    """SIGTERM to every worker still running, then wait; those not gone in time are killed."""
    for worker in workers:
        if worker.process.exitcode is None:
            worker.process.terminate()
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for worker in workers:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.exitcode is None:
            logger.error("%s did not stop within %g s; killed", worker.name, STOP_TIMEOUT_S)
            worker.process.kill()
            worker.process.join()
        worker.ready.close()


def _follow_the_parent() -> None:
    """Hear signals from the parent only, and stop when it dies however it dies.

    A terminal's Ctrl-C goes to its whole process group; out of it, a worker stops only when
    the parent says so (and says goodbye to its sessions once, not twice over).
    """
    os.setpgrp()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = multiprocessing.parent_process()
    if parent is None or os.getppid() != parent.pid:
        sys.exit()


def run_worker(plan: WorkerPlan, sock: socket.socket, ready: Connection) -> None:
    """A worker process: its own state, then the server on the shared socket until SIGTERM.

    ``ready`` hears this process's id once the server listens.
    """
    # Imported here: the parent, which imports this module too, never serves.
    from app.server.runner import make_server, settle_heap
    from app.server.state import open_state

    _follow_the_parent()
    logging.getLogger("app").setLevel(plan.log_level.upper())
    try:
        state = open_state(plan.settings, plan.jobs_folder)
    except UserError as exc:
        logger.error("dance-tutor serve: worker process %d: %s", os.getpid(), exc)
        sys.exit(EXIT_SETUP)
    settle_heap()
    server = make_server(state, lambda _port: ready.send(os.getpid()), log_level=plan.log_level)
    server.run(sockets=[sock])
