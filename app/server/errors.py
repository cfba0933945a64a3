"""Error responses: a JSON ``detail`` sentence, never a stack trace or an internal path."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

logger = logging.getLogger(__name__)


def sentence(exc: Exception) -> str:
    """An error's message as a sentence for a person: capital first, full stop last."""
    text = str(exc)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(
        status_code=500,
        content={"detail": "The server failed to handle this request; its log has the details."},
    )


def install_error_handlers(app: FastAPI) -> None:
    """Unexpected exceptions become a plain 500 (the traceback goes to the log only)."""
    app.add_exception_handler(Exception, _internal_error)
