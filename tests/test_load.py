"""A short version of ``benchmarks/load.py`` in CI: every session served, no errors.

Twenty learners send a real clip's landmarks at 30 fps and one sends camera frames, for ten
seconds, from two client processes against one ``dance-tutor serve --workers 2`` on one
address. Speed and memory targets are the benchmark's business; here every session must be
held to its summary without an error.
"""

from __future__ import annotations

import pytest

from benchmarks.load import run

SESSIONS = 20
CAMERA_SESSIONS = 1
SECONDS = 10.0
PROCESSES = 2


@pytest.mark.model
def test_many_sessions_at_once_are_all_served_without_errors() -> None:
    report = run(SESSIONS, CAMERA_SESSIONS, SECONDS, processes=PROCESSES,
                 client_processes=PROCESSES)
    assert report.errors == []
    assert len(report.sessions) == SESSIONS + CAMERA_SESSIONS
    for session in report.sessions:
        assert session.held, session
        assert session.updates > 0 and session.processed > 0, session
    landmarks = report.of("landmarks")
    assert sum(s.captured for s in landmarks) >= SESSIONS * SECONDS * 30 * 0.9
    # the clients keep to the pace the tutors ask, so nearly every frame sent is answered
    assert sum(s.updates for s in landmarks) >= 0.9 * sum(s.sent for s in landmarks)
    # the parent, its workers and multiprocessing's resource tracker
    assert len(report.rss_kb) == PROCESSES + 2 and all(report.rss_kb), \
        "a server process's memory was never sampled"
