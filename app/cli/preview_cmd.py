"""``dance-tutor preview``: draw a reference as a contact sheet (PNG) or an animation."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.library_cmd import open_library, poses_argument
from app.errors import UserError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "preview", help="draw a reference as a skeleton: contact sheet or animation",
        description=(
            "Draw a reference step as a skeleton. FILE.png: a contact sheet of its key "
            "moments side by side with the step names under them; FILE.gif or FILE.mp4: an "
            "animation with the current step named and a progress bar."
        ),
    )
    parser.add_argument("name", metavar="NAME", help="the reference (see 'library list')")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        metavar="FILE.png|.gif|.mp4", help="where to write the picture")
    poses_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.render import PREVIEW_SUFFIXES, save_preview

    output: Path = args.output
    if output.suffix.lower() not in PREVIEW_SUFFIXES:
        raise UserError(f"the output must end in {', '.join(PREVIEW_SUFFIXES)}, got "
                        f"{output.name}")
    if not output.parent.is_dir():
        raise UserError(f"the output folder {output.parent} does not exist")
    seq = open_library(args).get(args.name)
    save_preview(seq, output)
    print(f"wrote {output}")
    return 0
