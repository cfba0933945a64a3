"""``dance-tutor runtime``: the page's pose runtime for the browser, checked or installed."""

from __future__ import annotations

import argparse
from typing import Any

from app.runtime import WEB_DIR, ensure_runtime, problems, verified_files

_MIB = 1024 * 1024


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "runtime",
        help="show or install the page's npm packages (its pose runtime and chart library)",
        description=(
            "The page runs the pose model in the learner's browser with @mediapipe/tasks-vision "
            "and draws charts with chart.js, both pinned in web/package.json and "
            "web/package-lock.json; web/vendor.json lists the "
            "files the tutor serves from it with their SHA-256. Without an action: say whether "
            "every file is there and verifies. 'fetch' installs them with npm ci when one is "
            "missing or differs (npm must be on the PATH; scripts/serve brings Debian's)."
        ),
    )
    parser.set_defaults(handler=show)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    fetch = actions.add_parser(
        "fetch", help="install the pinned packages with npm ci unless every file verifies",
        description="Keep verified files; reinstall with npm ci when any is missing or differs.")
    fetch.set_defaults(handler=fetch_runtime)


def show(args: argparse.Namespace) -> int:
    found = problems(WEB_DIR)
    if found:
        for line in found:
            print(line)
        print("Run 'dance-tutor runtime fetch' to install them.")
        return 1
    _print_files(verified_files(WEB_DIR))
    return 0


def fetch_runtime(args: argparse.Namespace) -> int:
    _print_files(ensure_runtime(WEB_DIR))
    return 0


def _print_files(files: dict[str, Any]) -> None:
    total = sum(path.stat().st_size for path in files.values())
    print(f"The page's npm packages: {len(files)} files, {total / _MIB:.1f} MiB, verified "
          f"(served under /vendor/ from {WEB_DIR / 'node_modules'}).")
