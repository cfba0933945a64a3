"""Error responses: a JSON ``detail`` sentence, never a stack trace or an internal path."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

logger = logging.getLogger(__name__)


class ErrorPublic(BaseModel):
    """An error: one sentence, or (a request that fails validation) one entry per field."""

    detail: str | list[dict[str, Any]]


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a router answers with, all :class:`ErrorPublic`."""
    return {code: {"model": ErrorPublic, "description": HTTPStatus(code).phrase}
            for code in codes}


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
