"""HTTP hardening: security headers on every response, and body limits that answer in JSON.

Plain ASGI middleware, so it sees every response, static files and error pages included.
:class:`BodyLimit` refuses a body whose declared length is over its limit before any of it is
read, and stops one sent without a length (chunked) as soon as it passes the limit; both get
the same JSON 413 naming the limit. FastAPI's own ``max_body_size`` stays unset: its 413 says
only "Content Too Large".
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The page's policy: its own scripts, styles and sockets only; the camera arrives as a
``mediastream:``. ``connect-src 'self'`` covers the same-origin WebSocket and the pose model's
download; ``'wasm-unsafe-eval'`` lets the pose runtime compile its WebAssembly (and nothing
else: no ``eval``)."""

DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: "
    "https://fastapi.tiangolo.com; connect-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'"
)
"""The interactive API docs load Swagger UI from its CDN with an inline bootstrap script."""

DOCS_PATHS = ("/docs", "/redoc")

_COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the Content-Security-Policy and the usual hardening headers to HTTP responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        csp = DOCS_CSP if path.startswith(DOCS_PATHS) else PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", [])
                    if k.lower() != b"content-security-policy"
                ]
                headers.append((b"content-security-policy", csp.encode()))
                headers.extend(_COMMON_HEADERS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """413 with a JSON sentence naming the limit for a body over the limit for its path.

    A declared ``Content-Length`` over the limit is answered before anything is read. A body
    without one (chunked) is counted as the application reads it; the read that passes the
    limit raises the 413 instead of returning more, so no more than the limit is ever held.

    Parameters
    ----------
    app
        The application.
    limits
        ``(path prefix, bytes)`` pairs, the first matching prefix wins; other paths get
        ``default``.
    default
        The limit elsewhere, in bytes.
    """

    def __init__(self, app: ASGIApp, limits: list[tuple[str, int]], default: int) -> None:
        self.app = app
        self.limits = limits
        self.default = default

    def _limit(self, path: str) -> int:
        return next((size for prefix, size in self.limits if path.startswith(prefix)),
                    self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            response = JSONResponse(status_code=413, content={"detail": _too_large(
                f"The request body of {int(declared)} bytes", limit)})
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, _too_large("The request body", limit))
            return message

        await self.app(scope, counted, send)


def _too_large(body: str, limit: int) -> str:
    return f"{body} is over this server's limit of {limit} bytes."
