"""Live sessions: who is connected, and the per-session worker that turns frames into feedback.

:class:`SessionRegistry` admits sessions up to the configured limits and can tell every open
session to close (graceful shutdown). The workers are plain synchronous objects, run by the
WebSocket handler in a worker thread one frame at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress

Closer = Callable[[str], Awaitable[None]]
"""Tells one session to close, with a reason for the client."""


class SessionLimitError(RuntimeError):
    """The server holds as many sessions of this kind as it is allowed."""


class SessionRegistry:
    """Counts open sessions against the limits; everything runs on the event loop.

    Parameters
    ----------
    max_sessions : int
        Sessions of any kind open at once.
    max_camera : int
        Of those, sessions sending camera images (each runs its own pose model).
    """

    def __init__(self, max_sessions: int, max_camera: int) -> None:
        self.max_sessions = max_sessions
        self.max_camera = max_camera
        self._closers: dict[str, Closer] = {}
        self._camera: set[str] = set()

    @property
    def open_count(self) -> int:
        return len(self._closers)

    @property
    def camera_count(self) -> int:
        return len(self._camera)

    @contextmanager
    def admit(self, camera: bool, closer: Closer) -> Iterator[str]:
        """Hold a place for one session for the duration of the ``with`` block.

        Raises
        ------
        SessionLimitError
            When the server is full; the message says which limit.
        """
        if len(self._closers) >= self.max_sessions:
            raise SessionLimitError(
                f"the tutor already has {self.max_sessions} sessions open, its limit; try again "
                f"shortly"
            )
        if camera and len(self._camera) >= self.max_camera:
            raise SessionLimitError(
                f"the tutor is already watching {self.max_camera} cameras, its limit; try again "
                f"shortly or send landmarks instead"
            )
        session_id = uuid.uuid4().hex[:12]
        self._closers[session_id] = closer
        if camera:
            self._camera.add(session_id)
        try:
            yield session_id
        finally:
            self._closers.pop(session_id, None)
            self._camera.discard(session_id)

    async def close_all(self, reason: str) -> None:
        """Ask every open session to close (server shutdown)."""
        for closer in list(self._closers.values()):
            with suppress(Exception):
                await closer(reason)
