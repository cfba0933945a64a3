"""Background jobs with progress: long work (scoring an uploaded video) off the request path.

Each server process has one worker thread that runs the jobs submitted to it in submission
order, so a queue of uploads never competes with that process's live sessions for more than one
core. Jobs are remembered up to a limit; the oldest finished ones are forgotten first, and a job
that cannot be remembered is refused rather than queued without bound.

What a job is, at any moment, is a small JSON file in the server's jobs folder (private,
mode 0700), written atomically by the process running the job and readable by any process: so
the processes of a server started with ``--workers`` answer for one another's jobs, and the
limit counts the jobs of all of them. The file names the process that runs the job; an
unfinished job whose process has died reads as failed, saying so, and counts as finished (so
it is forgotten first). A single-process server keeps its jobs the same way, in a folder of its
own.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import orjson

from app.atomic import atomic_write_bytes
from app.errors import UserError
from app.server.uploads import JOBS_PREFIX, private_folder, process_alive

logger = logging.getLogger(__name__)

Progress = Callable[[float], None]
"""Called by a job with its progress, 0..1."""
Work = Callable[[Progress], dict[str, Any]]
"""A job's body: does the work, reports progress, returns a JSON-able result. A
:class:`~app.errors.UserError` fails the job with its message; anything else is a bug, logged
with its trace, and the job fails with a sentence saying only that."""

JOB_SUFFIX = ".job.json"
JOB_ID = re.compile(r"[0-9a-f]{32}")
LOCK_FILE = ".lock"
PROGRESS_PERIOD_S = 0.2
"""A job's progress is written at most this often, unless it moved by ``PROGRESS_STEP``."""
PROGRESS_STEP = 0.01
ORPHANED = "The tutor restarted while this job was waiting or running; send the file again."


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Job:
    """A snapshot of one job."""

    id: str
    label: str
    status: JobStatus = JobStatus.QUEUED
    progress: float = 0.0
    result: dict[str, Any] | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)

    @property
    def finished(self) -> bool:
        return self.status in (JobStatus.DONE, JobStatus.FAILED)


class JobLimitError(RuntimeError):
    """Too many jobs are queued or running to accept another."""


class JobRunner:
    """Runs :data:`Work` one at a time in a background thread and keeps each job's state in a
    folder that every process of the server reads.

    Parameters
    ----------
    max_jobs : int
        Jobs remembered at once in the folder, finished or not, whichever process runs them.
    folder : Path, optional
        The server's jobs folder, made by the runner of the process that started the server
        (:attr:`folder`). Unset, this runner makes one and removes it when shut down (or, at
        the latest, when the process exits; a killed server's is removed by the next start,
        :func:`~app.server.uploads.remove_orphaned_folders`).
    """

    def __init__(self, max_jobs: int, folder: Path | None = None) -> None:
        self.max_jobs = max_jobs
        self.folder = private_folder(JOBS_PREFIX) if folder is None else folder
        self._remove_folder = (weakref.finalize(self, shutil.rmtree, self.folder, True)
                               if folder is None else None)
        self._running: dict[str, Job] = {}
        """This process's unfinished jobs, as last written."""
        self._lock = threading.Lock()
        self._closed = False
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")

    def submit(self, label: str, work: Work, cleanup: Callable[[], None] | None = None) -> Job:
        """Queue ``work``; ``cleanup`` runs after it, however it ends.

        Raises
        ------
        JobLimitError
            When ``max_jobs`` jobs are all still queued or running.
        """
        job = Job(id=uuid.uuid4().hex, label=label)
        with self._lock, self._folder_locked():
            remembered = self._forget_oldest_finished()
            if remembered >= self.max_jobs:
                raise JobLimitError(
                    f"{remembered} jobs are waiting or running, the limit; try again when "
                    f"one has finished"
                )
            self._write(job)
            self._running[job.id] = job
        self._pool.submit(self._run, job.id, work, cleanup)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job as last written by the process running it; None for a job never submitted
        or forgotten."""
        if not JOB_ID.fullmatch(job_id):
            return None
        return self._read(self._path(job_id))

    def shutdown(self) -> None:
        """Stop taking jobs; queued ones are cancelled, a running one finishes unrecorded. The
        folder goes too if this runner made it."""
        with self._lock:
            self._closed = True
            self._pool.shutdown(wait=False, cancel_futures=True)
            if self._remove_folder is not None:
                self._remove_folder()

    def _path(self, job_id: str) -> Path:
        return self.folder / f"{job_id}{JOB_SUFFIX}"

    @contextmanager
    def _folder_locked(self) -> Iterator[None]:
        """Held while counting and adding jobs, so the processes of a server keep one limit."""
        with (self.folder / LOCK_FILE).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _read(self, path: Path) -> Job | None:
        try:
            stored = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        owner = stored.pop("owner")
        job = Job(**{**stored, "status": JobStatus(stored["status"])})
        if not job.finished and not process_alive(owner):
            return replace(job, status=JobStatus.FAILED, error=ORPHANED)
        return job

    def _forget_oldest_finished(self) -> int:
        """Delete finished jobs, oldest first, until there is room for one more; how many jobs
        are then remembered."""
        jobs = [job for path in self.folder.glob(f"*{JOB_SUFFIX}")
                if (job := self._read(path)) is not None]
        finished = sorted((job for job in jobs if job.finished), key=lambda job: job.created)
        remembered = len(jobs)
        while remembered >= self.max_jobs and finished:
            self._path(finished.pop(0).id).unlink(missing_ok=True)
            remembered -= 1
        return remembered

    def _write(self, job: Job) -> None:
        atomic_write_bytes(self._path(job.id), orjson.dumps({**asdict(job), "owner": os.getpid()}))

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            if self._closed:
                return
            job = replace(self._running[job_id], **changes)
            self._write(job)
            if job.finished:
                del self._running[job_id]
            else:
                self._running[job_id] = job

    def _run(self, job_id: str, work: Work, cleanup: Callable[[], None] | None) -> None:
        self._update(job_id, status=JobStatus.RUNNING)
        written = (time.monotonic(), 0.0)

        def progress(fraction: float) -> None:
            nonlocal written
            value, now = min(1.0, max(0.0, float(fraction))), time.monotonic()
            if value != written[1] and (now - written[0] >= PROGRESS_PERIOD_S
                                        or abs(value - written[1]) >= PROGRESS_STEP):
                written = (now, value)
                self._update(job_id, progress=value)

        try:
            result = work(progress)
        except UserError as exc:
            self._update(job_id, status=JobStatus.FAILED, error=str(exc))
        except Exception:
            logger.exception("job %s failed", job_id)
            self._update(job_id, status=JobStatus.FAILED,
                         error="The job failed inside the server; the log has the details.")
        else:
            self._update(job_id, status=JobStatus.DONE, progress=1.0, result=result)
        finally:
            if cleanup is not None:
                cleanup()
