"""``GET /api/instructor``: lets the page check an instructor token before using it."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.server.deps import InstructorDep
from app.server.errors import error_responses

router = APIRouter(prefix="/api", tags=["instructor"],
                   responses=error_responses(401, 403, 503))


@router.get("/instructor", status_code=status.HTTP_204_NO_CONTENT,
            dependencies=[InstructorDep])
def check_token() -> Response:
    """204 when the request carries the instructor token, 401 otherwise."""
    return Response(status_code=status.HTTP_204_NO_CONTENT)
