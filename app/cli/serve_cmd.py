"""``dance-tutor serve``: the live practice server and page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.server.settings import Settings
    from app.server.setup import Setup
    from app.server.state import ServerState


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the live practice page",
        description=(
            "Serve the practice page and its API. Open the printed address in a browser, allow "
            "the camera, pick a step and dance. Every option can also be set in the "
            "environment as DANCE_TUTOR_<OPTION> (e.g. DANCE_TUTOR_PORT); limits such as "
            "DANCE_TUTOR_MAX_SESSIONS are listed in docs/protocol.md."
        ),
    )
    parser.add_argument("--host", default=None,
                        help="address to bind (default 127.0.0.1, this machine only; a phone "
                             "on the network needs https for its camera: see --certfile)")
    parser.add_argument("--port", type=int, default=None, help="TCP port (default 8000)")
    parser.add_argument("--poses", type=Path, default=None, metavar="DIR",
                        help="the reference library folder (default: the project's poses/)")
    parser.add_argument("--model", type=Path, default=None, metavar="PATH",
                        help="PoseLandmarker .task file (default: fetched and verified on first "
                             "use)")
    parser.add_argument("--certfile", type=Path, default=None, metavar="PEM",
                        help="serve https with this certificate (with --keyfile), so phones "
                             "and other laptops on the network may use their cameras")
    parser.add_argument("--keyfile", type=Path, default=None, metavar="PEM",
                        help="the certificate's private key")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="server processes sharing the one address and port (default 1): "
                             "for a class larger than one process answers at full rate, e.g. "
                             "200 learners; one per core is the sensible most. The session "
                             "limits are split among them; accounts, practices, the library "
                             "and scoring jobs are shared")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.server.settings import load_settings

    settings = load_settings(host=args.host, port=args.port, poses_dir=args.poses,
                             model_path=args.model, certfile=args.certfile,
                             keyfile=args.keyfile, workers=args.workers)
    if settings.workers == 1:
        from app.server.runner import serve
        from app.server.state import open_state

        state = open_state(settings)
        serve(state, lambda port: _announce(settings, state, port), log_level=args.log_level)
        return 0
    return _serve_workers(settings, args.log_level)


def _serve_workers(settings: Settings, log_level: str) -> int:
    """The parent of ``--workers``: it checks the set-up and imports nothing that serves."""
    from app.cli import EXIT_BUG
    from app.server.setup import check_setup
    from app.server.workers import WorkersFailed, serve_workers

    setup = check_setup(settings)
    try:
        serve_workers(settings, setup, lambda port: _announce(settings, setup, port),
                      log_level=log_level)
    except WorkersFailed as exc:
        print(f"dance-tutor serve: {exc}", file=sys.stderr)
        return EXIT_BUG
    return 0


def _announce(settings: Settings, state: Setup | ServerState, port: int) -> None:
    shown = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    if ":" in shown:
        shown = f"[{shown}]"
    scheme = "https" if settings.tls else "http"
    print(f"Dance tutor: open {scheme}://{shown}:{port}/ in a browser and allow the camera.")
    if settings.workers > 1:
        print(f"{settings.workers} server processes answer there, each holding up to "
              f"{settings.worker_max_sessions} sessions ({settings.worker_max_camera_sessions} "
              f"sending camera images).")
    for problem in state.library.problems:
        print(f"Skipped library file {problem} (dance-tutor library validate)")
    if state.token.generated:
        print(f"Instructor token (new, kept in {settings.token_file}): {state.token.reveal()}")
    elif settings.instructor_token is not None:
        print("Instructor token: as set in DANCE_TUTOR_INSTRUCTOR_TOKEN.")
    else:
        print(f"Instructor token: kept in {settings.token_file}.")
    if not settings.loopback_only:
        advice = "" if settings.instructor_token else (
            " Set DANCE_TUTOR_INSTRUCTOR_TOKEN to choose the instructor token yourself.")
        reach = f"Warning: serving on {settings.host}, so other machines on the network can reach"
        cameras = (" the page." if settings.tls
                   else " the page; their cameras need https (--certfile and --keyfile).")
        print(reach + cameras + advice)
    sys.stdout.flush()
