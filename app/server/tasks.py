"""Background jobs with progress: long work (scoring an uploaded video) off the request path.

One worker thread runs jobs in submission order, so a queue of uploads never competes with the
live sessions for more than one core. Jobs are remembered up to a limit; the oldest finished
ones are forgotten first, and a job that cannot be remembered is refused rather than queued
without bound.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from app.errors import UserError

logger = logging.getLogger(__name__)

Progress = Callable[[float], None]
"""Called by a job with its progress, 0..1."""
Work = Callable[[Progress], dict[str, Any]]
"""A job's body: does the work, reports progress, returns a JSON-able result. A
:class:`~app.errors.UserError` fails the job with its message; anything else is a bug, logged
with its trace, and the job fails with a sentence saying only that."""


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
    """Runs :data:`Work` one at a time in a background thread and tracks each job's state.

    Parameters
    ----------
    max_jobs : int
        Jobs remembered at once, finished or not.
    """

    def __init__(self, max_jobs: int) -> None:
        self.max_jobs = max_jobs
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")

    def submit(self, label: str, work: Work, cleanup: Callable[[], None] | None = None) -> Job:
        """Queue ``work``; ``cleanup`` runs after it, however it ends.

        Raises
        ------
        JobLimitError
            When ``max_jobs`` jobs are all still queued or running.
        """
        job = Job(id=uuid.uuid4().hex, label=label)
        with self._lock:
            self._forget_oldest_finished()
            if len(self._jobs) >= self.max_jobs:
                raise JobLimitError(
                    f"{len(self._jobs)} jobs are waiting or running, the limit; try again when "
                    f"one has finished"
                )
            self._jobs[job.id] = job
        self._pool.submit(self._run, job.id, work, cleanup)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def shutdown(self) -> None:
        """Stop taking jobs; queued ones are cancelled, a running one finishes."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _forget_oldest_finished(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.finished), key=lambda j: j.created)
        while len(self._jobs) >= self.max_jobs and finished:
            del self._jobs[finished.pop(0).id]

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id] = replace(self._jobs[job_id], **changes)

    def _run(self, job_id: str, work: Work, cleanup: Callable[[], None] | None) -> None:
        self._update(job_id, status=JobStatus.RUNNING)

        def progress(fraction: float) -> None:
            self._update(job_id, progress=min(1.0, max(0.0, float(fraction))))

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
