"""``dance-tutor extract``: a video (or a still image) to a ``.pose.json`` pose sequence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.errors import UserError
from app.sequence import SUFFIX, PoseSequence

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="extract the poses of a video into a .pose.json file",
        description=(
            "Run the pose model over every frame of a video (or over a still image) and write "
            "the pose sequence: 33 landmarks per frame in image and world coordinates, frames "
            "with nobody in view kept as missing. The model is fetched on first use."
        ),
    )
    parser.add_argument("video", type=Path, metavar="VIDEO", help="video file (or still image)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE.pose.json",
                        help="where to write the pose sequence")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="use every N-th frame (default 1: all)")
    parser.add_argument("--start", type=float, default=None, metavar="S",
                        help="start at S seconds into the video")
    parser.add_argument("--end", type=float, default=None, metavar="S",
                        help="stop at S seconds into the video")
    parser.add_argument("--model", type=Path, default=None, metavar="PATH",
                        help="PoseLandmarker .task file (default: the managed model)")
    parser.add_argument("--people", type=int, default=1, choices=(1, 2),
                        help="people the model looks for; with 2 the main one is followed "
                             "(slower, default 1)")
    parser.set_defaults(handler=run)


def extract_with_progress(video: Path, **options: Any) -> PoseSequence:
    """``app.pose.extract_video`` with a progress bar on stderr (hidden when not a terminal)."""
    from tqdm import tqdm

    from app.pose import extract_video

    with tqdm(unit="frame", desc=video.name, file=sys.stderr, disable=None) as bar:
        def progress(done: int, expected: int) -> None:
            bar.total = max(expected, done) or None
            bar.update(done - bar.n)

        return extract_video(video, progress=progress, **options)


def run(args: argparse.Namespace) -> int:
    from app import sequence
    from app.pose import extract_image

    output: Path = args.output
    if not output.name.endswith(SUFFIX):
        raise UserError(f"the output file must end in {SUFFIX}, got {output.name}")
    if not output.parent.is_dir():
        raise UserError(f"the output folder {output.parent} does not exist")
    if args.video.suffix.lower() in IMAGE_SUFFIXES:
        seq = extract_image(args.video, model_path=args.model)
    else:
        seq = extract_with_progress(args.video, model_path=args.model, every=args.every,
                                    start_s=args.start, end_s=args.end, num_poses=args.people)
    sequence.save(seq, output)
    found = int(seq.present.sum())
    rate = found / len(seq) if len(seq) else 0.0
    print(f"{len(seq)} frames, a person in {found} ({rate:.0%}), written to {output}")
    return 0
