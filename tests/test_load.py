"""A short version of ``benchmarks/load.py`` in CI: every session served, no errors.

Twenty learners send a real clip's landmarks at 30 fps and one sends camera frames, for ten
seconds, against ``dance-tutor serve`` in a subprocess. Speed and memory targets are the
benchmark's business; here every session must be held to its summary without an error.
"""

from __future__ import annotations

import pytest

from benchmarks.load import run

SESSIONS = 20
CAMERA_SESSIONS = 1
SECONDS = 10.0


@pytest.mark.model
def test_many_sessions_at_once_are_all_served_without_errors() -> None:
    report = run(SESSIONS, CAMERA_SESSIONS, SECONDS)
    assert report.errors == []
    assert len(report.sessions) == SESSIONS + CAMERA_SESSIONS
    for session in report.sessions:
        assert session.held, session
        assert session.updates > 0 and session.processed > 0, session
    landmarks = report.of("landmarks")
    assert sum(s.sent for s in landmarks) >= SESSIONS * SECONDS * 30 * 0.9
    assert report.rss_kb, "the server's memory was never sampled"
