"""Running the app under uvicorn, with a polite goodbye to open sessions on shutdown."""

from __future__ import annotations

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
        "log_level": "info", "server_header": False, **config,
    }
    return TutorServer(uvicorn.Config(create_app(settings, state), **options), state,
                       on_listening)


def serve(state: ServerState, on_listening: Callable[[int], None]) -> None:
    """Serve until SIGINT or SIGTERM; ``on_listening(port)`` once the socket is bound."""
    make_server(state, on_listening).run()
