"""Running the app under uvicorn, with a polite goodbye to open sessions on shutdown."""

from __future__ import annotations

import gc
import socket
from collections.abc import Callable
from typing import Any

import uvicorn

from app.server.main import SHUTDOWN_REASON, create_app
from app.server.state import ServerState


class TutorServer(uvicorn.Server):
    """uvicorn's server, reporting its port once listening and closing sessions first."""

    def __init__(self, config: uvicorn.Config, state: ServerState,
                 on_listening: Callable[[int], None]) -> None:
        super().__init__(config)
        self.state = state
        self.on_listening = on_listening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.servers:
            self.on_listening(self.servers[0].sockets[0].getsockname()[1])

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # Sessions hear why before uvicorn closes their sockets.
        await self.state.sessions.close_all(SHUTDOWN_REASON)
        await super().shutdown(sockets)


def make_server(state: ServerState, on_listening: Callable[[int], None],
                **config: Any) -> TutorServer:
    """The server for ``state``'s app; ``config`` overrides uvicorn options (e.g. ``port``)."""
    settings = state.settings
    options: dict[str, Any] = {
        "host": settings.host, "port": settings.port,
        # Our own limit answers with a message; uvicorn's is only the backstop.
        "ws_max_size": 2 * settings.max_message_bytes,
        # JPEG frames do not compress, and deflating every landmark message and update cost
        # about a sixth of the event loop's time under load.
        "ws_per_message_deflate": False,
        "ws_ping_interval": 10.0, "ws_ping_timeout": 10.0, "timeout_graceful_shutdown": 5,
        "log_level": "info", "server_header": False,
        "ssl_certfile": settings.certfile, "ssl_keyfile": settings.keyfile, **config,
    }
    return TutorServer(uvicorn.Config(create_app(settings, state), **options), state,
                       on_listening)


GC_YOUNG_THRESHOLD = 20_000
"""Allocations between collections of the youngest generation (Python's default is 700)."""


def serve(state: ServerState, on_listening: Callable[[int], None], *, log_level: str) -> None:
    """Serve until SIGINT or SIGTERM; ``on_listening(port)`` once the socket is bound.

    ``log_level`` is uvicorn's: ``debug``, ``info``, ``warning`` or ``error``.
    """
    settle_heap()
    make_server(state, on_listening, log_level=log_level).run()


def settle_heap() -> None:
    """Keep the cyclic garbage collector away from what lives as long as the server.

    Every landmark message parsed allocates a few hundred lists and floats, so collections
    run hundreds of times a second under load, and each older-generation one walked every
    object of the library, the compiled kernels and the imported modules. Freezing what
    exists once the server is ready, and collecting the young generation less often, took
    100 landmark sessions from 1,400 to 2,100 frames processed a second
    (``python -m benchmarks.load``).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
