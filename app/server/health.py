"""``GET /api/health``: is the server up, what does it hold, what are its limits."""

from __future__ import annotations

import os

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app import __version__
from app.server.deps import StateDep

router = APIRouter(prefix="/api", tags=["health"])


class LimitsPublic(BaseModel):
    """The limits a client must respect (all configurable, see ``dance-tutor serve --help``)."""

    max_sessions: int
    max_camera_sessions: int
    max_message_bytes: int
    max_frame_pixels: int
    max_frame_rate: float
    session_idle_s: float
    max_recording_s: float
    max_upload_bytes: int
    max_request_bytes: int


class ProblemPublic(BaseModel):
    """A library file that was skipped: its name (never its folder) and why."""

    file: str
    reason: str


class HealthPublic(BaseModel):
    status: str
    version: str
    model: str
    references: int
    problems: list[ProblemPublic]
    workers: int = Field(description="Server processes answering on this address.")
    pid: int = Field(description="The process that answered; its sessions, camera sessions "
                                 "and session limits are the ones reported.")
    sessions: int
    camera_sessions: int
    limits: LimitsPublic


@router.get("/health")
def health(state: StateDep) -> HealthPublic:
    """Liveness and a little state; safe to poll. ``problems`` lists skipped library files.

    With ``--workers``, sessions and the session limits are those of the process that answered
    (``pid``): each holds its share of the limits."""
    s = state.settings
    references = state.library.list()
    return HealthPublic(
        status="ok",
        version=__version__,
        model=state.model_path.name,
        references=len(references),
        problems=[ProblemPublic(file=p.path.name, reason=p.reason)
                  for p in state.library.problems],
        workers=s.workers,
        pid=os.getpid(),
        sessions=state.sessions.open_count,
        camera_sessions=state.sessions.camera_count,
        limits=LimitsPublic(
            max_sessions=state.sessions.max_sessions,
            max_camera_sessions=state.sessions.max_camera,
            max_message_bytes=s.max_message_bytes, max_frame_pixels=s.max_frame_pixels,
            max_frame_rate=s.max_frame_rate, session_idle_s=s.session_idle_s,
            max_recording_s=s.max_recording_s, max_upload_bytes=s.max_upload_bytes,
            max_request_bytes=s.max_request_bytes,
        ),
    )
