"""The ``dance-tutor`` command: one sub-command module per job.

Each module in ``COMMANDS`` has ``register(subparsers)``, which adds its parser and sets
``handler`` to a function taking the parsed arguments and returning an exit code. A
``UserError`` (or a ``ValueError`` from the library's validation) becomes one line on stderr and
exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from app import __version__

COMMANDS = ("serve", "extract", "score", "record", "library", "preview", "models")
EXIT_BAD_INPUT = 2


class UserError(Exception):
    """Something the user can fix; the message is one sentence saying what."""


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (UserError, ValueError, FileNotFoundError) as exc:
        print(f"dance-tutor {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print(f"dance-tutor {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
