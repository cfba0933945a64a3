"""Error responses: a JSON ``detail`` sentence, never a stack trace or an internal path."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response

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


async def _http_error(request: Request, exc: Exception) -> Response:
    """FastAPI's answer, except that a 405 lists every method the API documents for the path.

    Each method of a path is a route of its own, and the router's own 405 names only the
    methods of the first route whose path matched.
    """
    assert isinstance(exc, HTTPException)
    if exc.status_code != HTTPStatus.METHOD_NOT_ALLOWED:
        return await http_exception_handler(request, exc)
    allowed = _documented_methods(request.app.openapi(), request.url.path)
    return JSONResponse(
        status_code=exc.status_code, headers={"Allow": ", ".join(allowed)},
        content={"detail": f"{request.method} is not allowed here; use {' or '.join(allowed)}."},
    )


def _documented_methods(schema: dict[str, Any], path: str) -> list[str]:
    """The methods the OpenAPI ``schema`` lists for the operation path matching ``path``."""
    for template, operations in schema["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path):
            return sorted(method.upper() for method in operations if method in _METHODS)
    return []


_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def install_error_handlers(app: FastAPI) -> None:
    """Unexpected exceptions become a plain 500 (the traceback goes to the log only); a 405
    lists the methods the path takes."""
    app.add_exception_handler(Exception, _internal_error)
    app.add_exception_handler(HTTPException, _http_error)
