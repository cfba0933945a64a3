"""Background jobs: progress, results, failures, cleanup and the limit on remembered jobs."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest

from app.frames import DecodeError
from app.server.tasks import Job, JobLimitError, JobRunner, JobStatus, Progress


def wait_finished(runner: JobRunner, job_id: str, timeout_s: float = 10.0) -> Job:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = runner.get(job_id)
        assert job is not None
        if job.finished:
            return job
        time.sleep(0.005)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_job_reports_progress_and_its_result() -> None:
    seen: list[float] = []
    release = threading.Event()
    runner = JobRunner(max_jobs=4)

    def work(progress: Progress) -> dict[str, Any]:
        progress(0.5)
        release.wait(5)
        return {"answer": 42}

    job = runner.submit("test", work)
    while (current := runner.get(job.id)) is not None and current.progress < 0.5:
        time.sleep(0.005)
    assert current is not None
    seen.append(current.progress)
    assert current.status is JobStatus.RUNNING
    release.set()
    done = wait_finished(runner, job.id)
    assert (done.status, done.progress, done.result) == (JobStatus.DONE, 1.0, {"answer": 42})
    assert seen == [0.5]


def test_a_user_error_becomes_the_jobs_error_and_cleanup_runs() -> None:
    cleaned = threading.Event()
    runner = JobRunner(max_jobs=4)

    def work(progress: Progress) -> dict[str, Any]:
        raise DecodeError("clip.mp4: is not a video")

    job = runner.submit("bad", work, cleanup=cleaned.set)
    done = wait_finished(runner, job.id)
    assert (done.status, done.error) == (JobStatus.FAILED, "clip.mp4: is not a video")
    assert cleaned.wait(5)


@pytest.mark.parametrize("bug", [ValueError("operands could not be broadcast in /srv/secret"),
                                 KeyError("/srv/secret/path")])
def test_a_bug_is_logged_with_its_trace_and_reported_without_internals(
    bug: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    cleaned = threading.Event()
    runner = JobRunner(max_jobs=4)

    def work(progress: Progress) -> dict[str, Any]:
        raise bug

    with caplog.at_level(logging.ERROR, logger="app.server.tasks"):
        done = wait_finished(runner, runner.submit("boom", work, cleanup=cleaned.set).id)
    assert done.status is JobStatus.FAILED
    assert done.error == "The job failed inside the server; the log has the details."
    logged = [r for r in caplog.records if r.name == "app.server.tasks"]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert logged[0].exc_info[1] is bug
    assert cleaned.wait(5)


def test_finished_jobs_are_forgotten_oldest_first_and_running_ones_never() -> None:
    runner = JobRunner(max_jobs=2)
    block = threading.Event()

    def quick(progress: Progress) -> dict[str, Any]:
        return {}

    def slow(progress: Progress) -> dict[str, Any]:
        block.wait(5)
        return {}

    first = runner.submit("first", quick)
    wait_finished(runner, first.id)
    second = runner.submit("second", slow)
    third = runner.submit("third", slow)  # forgets the finished first job
    assert runner.get(first.id) is None
    with pytest.raises(JobLimitError, match="limit"):
        runner.submit("fourth", quick)
    block.set()
    wait_finished(runner, second.id)
    wait_finished(runner, third.id)
    runner.shutdown()
