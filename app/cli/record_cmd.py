"""``dance-tutor record``: a video of the instructor becomes a reference (or another take)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.library_cmd import open_library, poses_argument
from app.errors import UserError
from app.metadata import DIFFICULTIES


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "record", help="turn a video of the instructor into a reference step",
        description=(
            "Extract the poses of a video, cut the still lead-in and lead-out, name the "
            "sub-steps and save the result in the library, or add it as another take of an "
            "existing reference (the library then tolerates the variation between takes)."
        ),
    )
    parser.add_argument("video", type=Path, metavar="VIDEO")
    parser.add_argument("--name", required=True, help="reference name, like wing-beat")
    parser.add_argument("--title", help="title learners see (default: the name)")
    parser.add_argument("--start", type=float, default=None, metavar="S",
                        help="ignore the video before S seconds")
    parser.add_argument("--end", type=float, default=None, metavar="S",
                        help="ignore the video after S seconds")
    parser.add_argument("--steps", metavar="NAME@S,...",
                        help='sub-steps by start time in the saved reference (after trimming), '
                             'like "lift@0,beat@1.5", or "" for none (default: split where the '
                             'movement pauses)')
    parser.add_argument("--keep-still", action="store_true",
                        help="keep the still lead-in and lead-out")
    parser.add_argument("--add-take", action="store_true",
                        help="add the video as another take of the existing reference NAME")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing reference of that name")
    parser.add_argument("--description")
    parser.add_argument("--difficulty", choices=DIFFICULTIES)
    parser.add_argument("--tempo", type=float, metavar="BPM")
    parser.add_argument("--model", type=Path, default=None, metavar="PATH",
                        help="PoseLandmarker .task file (default: the managed model)")
    poses_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.library import check_name, parse_steps
    from app.metadata import ReferenceMetadata
    from app.recording import trim_still

    name = check_name(args.name)
    if args.add_take and (args.overwrite or args.steps is not None):
        raise UserError("--add-take keeps the reference's steps and metadata; drop --overwrite "
                        "and --steps")
    metadata = ReferenceMetadata(title=args.title or "", description=args.description or "",
                                 difficulty=args.difficulty, tempo_bpm=args.tempo)
    library = open_library(args, create=not args.add_take)
    if args.add_take and name not in library:
        raise UserError(f"no reference named {name!r} to add a take to; record it first "
                        f"without --add-take")
    if not args.add_take and name in library and not args.overwrite:
        raise UserError(f"reference {name!r} already exists; use --add-take for another take "
                        f"or --overwrite to replace it")
    seq = _extract(args)
    if not args.keep_still:
        before = seq.duration_s
        seq = trim_still(seq)
        print(f"kept {seq.duration_s:.2f} s of movement out of {before:.2f} s")
    if args.add_take:
        info = library.add_take(name, seq)
        print(f"added take {info.n_takes} to {name}")
        return 0
    steps = None if args.steps is None else parse_steps(args.steps, seq.duration_s)
    info = library.create_from_take(name, seq, metadata, steps, overwrite=args.overwrite)
    print(f"saved {info.name} ({info.duration_s:.2f} s, {len(info.steps)} steps) in "
          f"{library.root}")
    return 0


def _extract(args: argparse.Namespace) -> Any:
    from app.cli.extract_cmd import extract_with_progress

    if not args.video.is_file():
        raise UserError(f"video {args.video} does not exist")
    seq = extract_with_progress(args.video, model_path=args.model, start_s=args.start,
                                end_s=args.end)
    if not seq.present.any():
        raise UserError(f"nobody was found in {args.video}")
    return seq
