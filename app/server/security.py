"""HTTP hardening: security headers on every response, and body limits that answer in JSON.

Plain ASGI middleware, so it sees every response, static files and error pages included.
:class:`DeclaredBodyLimit` refuses a body whose declared length is over its limit before any
of it is read; FastAPI's own ``max_body_size`` (set in ``main.py``) stays the backstop for a
body sent without a length.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""The page's policy: its own scripts, styles and sockets only; the camera arrives as a
``mediastream:``. ``connect-src 'self'`` covers the same-origin WebSocket."""

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


class DeclaredBodyLimit:
    """413 with a JSON sentence when ``Content-Length`` is over the limit for the path.

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
        if scope["type"] == "http":
            declared = dict(scope["headers"]).get(b"content-length", b"")
            limit = self._limit(scope["path"])
            if declared.isdigit() and int(declared) > limit:
                response = JSONResponse(status_code=413, content={
                    "detail": f"The request body is {int(declared)} bytes, over this "
                              f"server's limit of {limit} bytes."})
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
