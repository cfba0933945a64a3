"""FastAPI dependencies: the server's state, and the instructor check every write goes through."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status
from starlette.requests import HTTPConnection

from app.server.identity import NOT_A_TEACHER, Caller, login_or_token
from app.server.state import ServerState


def get_state(connection: HTTPConnection) -> ServerState:
    """The server's state, for a request or a WebSocket."""
    state: ServerState = connection.app.state.tutor
    return state


StateDep = Annotated[ServerState, Depends(get_state)]


def require_instructor(caller: Annotated[Caller | None, Depends(login_or_token)]) -> None:
    """401 unless the request carries the instructor token (either header) or a teacher's
    login (its cookie, and on a write the page's CSRF token); 403 for a learner's login."""
    if caller is not None and caller.is_teacher:
        return
    if caller is not None:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=NOT_A_TEACHER)
    raise HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="This needs the instructor token (Authorization: Bearer <token>).",
        headers={"WWW-Authenticate": "Bearer"},
    )


InstructorDep = Depends(require_instructor)
