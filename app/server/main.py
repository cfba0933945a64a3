"""The FastAPI application: middleware, routers, the page. Run it with ``dance-tutor serve``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.routing import Match, Mount
from starlette.types import Scope

from app import __version__
from app.server import (
    accounts,
    browser_pose,
    calibration,
    config,
    health,
    instructor,
    jobs,
    practice,
    references,
    routines,
    skeleton,
)
from app.server.errors import install_error_handlers
from app.server.identity import CSRF_HEADER
from app.server.security import BodyLimit, SecurityHeaders
from app.server.settings import Settings, load_settings
from app.server.state import ServerState, open_state
from app.server.store import RETRY_S

SHUTDOWN_REASON = "The tutor is shutting down; your session has ended."
API_PREFIX = "/api/"
NOT_PAGE = (API_PREFIX, "/node_modules/")


def create_app(settings: Settings | None = None, state: ServerState | None = None) -> FastAPI:
    """Build the app; without ``state``, check the model and library first (fails fast)."""
    settings = settings if settings is not None else load_settings()
    state = state if state is not None else open_state(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        flusher = asyncio.create_task(_flush_practices(state))
        yield
        flusher.cancel()
        await state.sessions.close_all(SHUTDOWN_REASON)
        state.jobs.shutdown()
        await asyncio.to_thread(state.store.flush)
        state.store.close()

    app = FastAPI(
        title="Burkit bi dance tutor",
        version=__version__,
        description="Live practice of the Kazakh eagle dance. The WebSocket protocol of "
                    "/ws/practice is described in docs/protocol.md.",
        lifespan=lifespan,
    )
    app.state.tutor = state
    install_error_handlers(app)
    app.add_middleware(BodyLimit, limits=[("/api/jobs", settings.max_upload_bytes)],
                       default=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.allowed_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "X-Instructor-Token", "Content-Type", CSRF_HEADER],
            allow_credentials=True,
        )
    app.include_router(health.router)
    app.include_router(skeleton.router)
    app.include_router(config.router)
    app.include_router(instructor.router)
    app.include_router(references.router)
    app.include_router(routines.router)
    app.include_router(jobs.router)
    app.include_router(practice.router)
    app.include_router(browser_pose.router)
    app.include_router(calibration.router)
    app.include_router(accounts.router)
    app.router.routes.append(_PageMount("/", StaticFiles(directory=settings.web_dir, html=True),
                                        name="web"))
    return app


async def _flush_practices(state: ServerState) -> None:
    """Write practices that waited for the database, as soon as it answers again."""
    while True:
        await asyncio.sleep(RETRY_S)
        if state.store.pending:
            await asyncio.to_thread(state.store.flush)


class _PageMount(Mount):
    """The page's files at ``/``, but never under ``/api``: a method an API path does not
    take is answered by the API (405 with the methods it does take), not by the static files.
    Nor its npm packages: only the files ``web/vendor.json`` lists and verifies are served, under
    ``/vendor/``."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and (scope["path"] + "/").startswith(NOT_PAGE):
            return Match.NONE, {}
        return super().matches(scope)
