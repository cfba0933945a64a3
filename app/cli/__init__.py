"""The ``dance-tutor`` command: one sub-command module per job.

Each module in ``COMMANDS`` has ``register(subparsers)``, which adds its parser and sets
``handler`` to a function taking the parsed arguments and returning an exit code. A
:class:`~app.errors.UserError` becomes one line on stderr and exit code 2; any other exception
is a bug: its trace goes to stderr, with a line saying so, and the exit code is 70.

Every command takes ``--log-level`` (default ``$DANCE_TUTOR_LOG_LEVEL``, else ``info``), the
level of the project's loggers; ``debug`` lets the pose model's native lines through too (see
``app.pose``), and ``serve`` hands it to uvicorn.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from app import __version__
from app.errors import UserError

COMMANDS = ("serve", "extract", "score", "record", "library", "preview", "models", "runtime",
            "users")
EXIT_BAD_INPUT = 2
EXIT_IO = 74
"""Exit code when the machine refused a file operation (sysexits' EX_IOERR)."""
EXIT_BUG = 70
"""``EX_SOFTWARE`` of sysexits.h: the program failed, not the user's input."""
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_LEVEL_ENV = "DANCE_TUTOR_LOG_LEVEL"
DEFAULT_LOG_LEVEL = "info"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dance-tutor",
        description=(
            "Practise the Kazakh eagle dance (Burkit bi) in front of a webcam: extract poses "
            "from video, score attempts against reference steps, manage the step library and "
            "serve the live practice page."
        ),
        epilog="Run 'dance-tutor COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"app.cli.{name}_cmd")
        module.register(sub)
    _add_log_level(parser)
    return parser


def _add_log_level(parser: argparse.ArgumentParser) -> None:
    """``--log-level`` on ``parser`` and on every command under it, so it goes anywhere."""
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default=argparse.SUPPRESS,
        help=f"how much to log (default ${LOG_LEVEL_ENV}, else {DEFAULT_LOG_LEVEL}); debug also "
             "shows the pose model's own lines from MediaPipe and LiteRT",
    )
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_log_level(child)


def _log_level(args: argparse.Namespace) -> str:
    """The level asked for: ``--log-level``, else ``$DANCE_TUTOR_LOG_LEVEL``, else ``info``."""
    given: str | None = getattr(args, "log_level", None)
    if given is not None:
        return given
    level = (os.environ.get(LOG_LEVEL_ENV) or DEFAULT_LOG_LEVEL).lower()
    if level not in LOG_LEVELS:
        raise UserError(f"{LOG_LEVEL_ENV} is {level!r}; use one of {', '.join(LOG_LEVELS)}")
    return level


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        args.log_level = _log_level(args)
        logging.getLogger("app").setLevel(args.log_level.upper())
        return handler(args)
    except UserError as exc:
        print(f"dance-tutor {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"dance-tutor {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        # the machine, not the program: a full disk, a read-only folder, a file taken away
        where = f" {exc.filename}" if exc.filename else ""
        print(f"dance-tutor {args.command}: cannot use{where}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_IO
    except Exception:
        traceback.print_exc()
        print(f"dance-tutor {args.command}: failed inside the program (a bug, not your input); "
              f"the trace above says where", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
