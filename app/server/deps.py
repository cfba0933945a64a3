"""FastAPI dependencies: the server's state, and the instructor check every write goes through."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from app.server.state import ServerState

_bearer = HTTPBearer(auto_error=False, description="The instructor token.")
_header = APIKeyHeader(
    name="X-Instructor-Token", auto_error=False, description="The instructor token."
)


def get_state(connection: HTTPConnection) -> ServerState:
    """The server's state, for a request or a WebSocket."""
    state: ServerState = connection.app.state.tutor
    return state


StateDep = Annotated[ServerState, Depends(get_state)]


def require_instructor(
    state: StateDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> None:
    """401 unless the request carries the instructor token (either header)."""
    candidate = bearer.credentials if bearer is not None else header
    if not state.token.matches(candidate):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="This needs the instructor token (Authorization: Bearer <token>).",
            headers={"WWW-Authenticate": "Bearer"},
        )


InstructorDep = Depends(require_instructor)
