"""``dance-tutor score``: how well an attempt matches a reference, in numbers and words."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.cli.library_cmd import open_library, poses_argument
from app.errors import UserError
from app.sequence import SUFFIX

BAR_WIDTH = 20


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score an attempt against a reference step or a routine",
        description=(
            "Compare an attempt with a reference step: an overall score 0-100 and its rating "
            "(Perfect, Great, Good, Almost, Miss), a score per limb, timing, the worst moments "
            "and corrections in words, most important first. For a routine, each of its steps "
            "in turn is scored too, with its own corrections."
        ),
    )
    parser.add_argument("reference", metavar="REFERENCE",
                        help=f"a {SUFFIX} file, or the name of a step or a routine in the "
                             f"library")
    parser.add_argument("attempt", type=Path, metavar="ATTEMPT",
                        help=f"a {SUFFIX} file, or a video (its poses are extracted first)")
    parser.add_argument("--mirror", action="store_true",
                        help="the attempt mirrors the reference (the learner's left copies its "
                             "right), as in a studio mirror")
    parser.add_argument("--speed", type=float, default=1.0, metavar="X",
                        help="the reference's playback speed the learner followed (default 1)")
    parser.add_argument("--facing", action="store_true",
                        help="turn both bodies to face the camera before comparing (a learner "
                             "filmed from an angle)")
    parser.add_argument("--json", action="store_true",
                        help="print the full report as JSON on stdout")
    poses_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from app.scoring import ScoreOptions

    target = load_target(args)
    attempt = load_attempt(args.attempt)
    options = ScoreOptions(mirror=args.mirror, speed=args.speed, align_facing=args.facing)
    report = target.score(attempt, options)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(readable(report.to_dict(), target.title))
    return 0


def load_target(args: argparse.Namespace) -> Any:
    """What to score against: a reference file (its takes averaged), or a step or a routine
    of the library by name (:meth:`app.library.Library.scorable`)."""
    from app import sequence
    from app.reference import Reference
    from app.routine import Target

    text: str = args.reference
    path = Path(text)
    if path.is_file():
        return Target(Reference.from_sequence(sequence.load(path)))
    if text.endswith((SUFFIX, ".json")) or "/" in text:
        raise UserError(f"reference file {text} does not exist")
    return open_library(args).scorable(text)


def load_attempt(path: Path) -> Any:
    """The attempt's poses: read from a pose file or extracted from a video."""
    from app import sequence

    if not path.is_file():
        raise UserError(f"attempt file {path} does not exist")
    if path.name.endswith((SUFFIX, ".json")):
        return sequence.load(path)
    from app.cli.extract_cmd import extract_with_progress

    return extract_with_progress(path)


def readable(report: dict[str, Any], title: str) -> str:
    """The report as text for a terminal."""
    lines = [f"{title or 'reference'}: {report['score']:.0f}/100 ({report['rating']})", ""]
    for limb, value in report["limbs"].items():
        filled = round(value / 100 * BAR_WIDTH)
        lines.append(f"  {limb.replace('_', ' '):<10} {value:5.0f}  "
                     f"{'#' * filled}{'.' * (BAR_WIDTH - filled)}")
    for limb in report["unseen"]:
        lines.append(f"  {limb.replace('_', ' '):<10}   not seen")
    timing = report["timing"]
    lines += ["", f"timing: {timing['description']}, tempo {timing['tempo'] * 100:.0f}% of the "
                  f"reference"]
    if report["steps"] and not report["parts"]:
        lines += ["", "steps:"]
        lines += [f"  {step['name']:<16} {step['score']:5.0f}  {step['rating']}"
                  for step in report["steps"]]
    if report["parts"]:
        lines += ["", "routine:"]
        for part in report["parts"]:
            lines.append(f"  {part['name']:<16} {part['score']:5.0f}  {part['rating']}")
            lines += [f"      {line}" for line in part["corrections"]]
    if report["worst_moments"]:
        lines += ["", "worst moments:"]
        for moment in report["worst_moments"]:
            when = ("left out" if moment["start_s"] is None
                    else f"{moment['start_s']:.1f}-{moment['end_s']:.1f} s")
            lines.append(f"  {when:<12} {moment['limb'].replace('_', ' '):<10} "
                         f"{moment['error']}")
    lines += ["", "feedback:"]
    lines += [f"  {i}. {line}" for i, line in enumerate(report["feedback"], start=1)]
    return "\n".join(lines)
