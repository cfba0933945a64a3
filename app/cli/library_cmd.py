"""``dance-tutor library``: list, show, edit, delete and check references; regenerate steps;
give a step music."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.errors import UserError
from app.metadata import DIFFICULTIES
from app.music import MAX_AUDIO_BYTES, MAX_AUDIO_S

SOURCE_FOLDER = "source"


def poses_argument(parser: argparse.ArgumentParser) -> None:
    """``--poses DIR``, shared by every command that reads or writes the library."""
    parser.add_argument("--poses", type=Path, default=None, metavar="DIR",
                        help="the reference library folder (default: $DANCE_TUTOR_POSES or the "
                             "project's poses/)")


def open_library(args: argparse.Namespace, create: bool = False) -> Any:
    from app.library import Library, default_poses_dir

    return Library(args.poses or default_poses_dir(), create=create)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "library", help="list, show, edit, delete and check the reference steps",
        description="Manage the reference library: the .pose.json steps learners practise.")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    p = sub.add_parser("list", help="list the references in story order with title, "
                                    "difficulty, duration")
    poses_argument(p)
    p.set_defaults(handler=run_list)

    p = sub.add_parser("routines", help="list the routines (poses/routines/) and their steps "
                                        "in order")
    poses_argument(p)
    p.set_defaults(handler=run_routines)

    p = sub.add_parser(
        "routine", help="make or change a routine: steps in order, repeats, blends",
        description="Write poses/routines/NAME.routine.json: the steps danced one after "
                    "another. Every step must be in the library.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("steps", metavar="STEP[:N],...",
                   help='the steps in order, each optionally repeated N times in a row, like '
                        '"perched,wing-beat:2,landing"')
    p.add_argument("--title", help="default: the routine's title if it exists, else the name")
    p.add_argument("--description", help="default: the routine's description if it exists")
    p.add_argument("--transition", type=float, metavar="S",
                   help="seconds of blend between consecutive steps (default: as it was, "
                        "else 0.5)")
    poses_argument(p)
    p.set_defaults(handler=run_routine)

    p = sub.add_parser("show", help="show one reference's metadata and steps")
    p.add_argument("name", metavar="NAME")
    poses_argument(p)
    p.set_defaults(handler=run_show)

    p = sub.add_parser("edit", help="change a reference's title, description, difficulty, "
                                    "tempo, order or steps")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--title")
    p.add_argument("--description")
    p.add_argument("--difficulty", choices=DIFFICULTIES)
    p.add_argument("--tempo", type=float, metavar="BPM")
    p.add_argument("--order", type=int, metavar="N",
                   help="place in the dance's story (1 first); lists follow it")
    p.add_argument("--steps", metavar="NAME@S,...",
                   help='sub-steps by start time, like "lift@0,beat@1.5"')
    poses_argument(p)
    p.set_defaults(handler=run_edit)

    p = sub.add_parser(
        "music", help="give a step music, correct its beat grid, or take it away",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="A step's music is an audio file beside it (WAV, Ogg/Vorbis, Ogg/Opus or "
                    f"MP3, at most {MAX_AUDIO_BYTES // 2**20} MiB and {MAX_AUDIO_S / 60:g} "
                    "minutes)\nand its beat grid: the tempo, the time of the first beat "
                    "(count 1) and the beats a bar, in the music's seconds.",
        epilog="examples:\n"
               "  dance-tutor library music wing-beat song.mp3            attach; the grid is "
               "found in the music\n"
               "  dance-tutor library music wing-beat song.mp3 --meter 3  ... three beats a "
               "bar\n"
               "  dance-tutor library music wing-beat song.ogg --tempo 60 --first-beat 0.5\n"
               "  dance-tutor library music wing-beat --taps 0.52,1.50,2.49,3.51\n"
               "                                           correct the grid: the times you "
               "tapped, the first on count 1\n"
               "  dance-tutor library music wing-beat --tempo 61 --first-beat 0.48\n"
               "  dance-tutor library music wing-beat                     show the music\n"
               "  dance-tutor library music wing-beat --remove")
    p.add_argument("name", metavar="NAME")
    p.add_argument("file", nargs="?", type=Path, metavar="FILE",
                   help="the audio to attach (it replaces the step's music)")
    p.add_argument("--meter", type=int, metavar="N",
                   help="beats a bar (default: as it was, else 4)")
    p.add_argument("--tempo", type=float, metavar="BPM",
                   help="the beat grid's tempo, with --first-beat (default: found in the "
                        "music)")
    p.add_argument("--first-beat", type=float, metavar="S",
                   help="seconds from the start of the music to its first beat, with --tempo")
    p.add_argument("--taps", metavar="T1,T2,...",
                   help="the grid through these times (seconds, one a beat, at least 4)")
    p.add_argument("--remove", action="store_true", help="take the step's music away")
    poses_argument(p)
    p.set_defaults(handler=run_music)

    p = sub.add_parser("delete", help="delete a reference")
    p.add_argument("name", metavar="NAME")
    poses_argument(p)
    p.set_defaults(handler=run_delete)

    p = sub.add_parser("validate", help="check every file; exit 1 if any is broken")
    poses_argument(p)
    p.set_defaults(handler=run_validate)

    p = sub.add_parser(
        "generate", help="rebuild the authored steps from their keyframe files",
        description="Turn keyframe files (SOURCE/*.toml) into references. Run it after editing "
                    "a keyframe file; recorded references are never overwritten.")
    p.add_argument("names", nargs="*", metavar="NAME", help="only these steps (default: all)")
    p.add_argument("--source", type=Path, default=None, metavar="DIR",
                   help=f"keyframe files (default: the library's {SOURCE_FOLDER}/ folder)")
    poses_argument(p)
    p.set_defaults(handler=run_generate)


def run_list(args: argparse.Namespace) -> int:
    library = open_library(args)
    infos = library.list()
    if not infos:
        print(f"no references in {library.root}")
    width = max((len(info.name) for info in infos), default=4)
    for info in infos:
        meta = info.metadata
        tempo = f"{meta.tempo_bpm:g} bpm" if meta.tempo_bpm else "-"
        order = "-" if meta.order is None else str(meta.order)
        takes = f"{info.n_takes} take{'s' if info.n_takes != 1 else ' '}"
        print(f"{order:>3}  {info.name:<{width}}  {info.duration_s:4.1f} s  "
              f"{meta.difficulty or '-':<12}  {tempo:>7}  {takes}  {meta.title}")
    _report_problems(library.problems)
    return 0


def run_routines(args: argparse.Namespace) -> int:
    library = open_library(args)
    routines = library.routines()
    if not routines:
        print(f"no routines in {library.routines_dir}")
    for routine in routines:
        print(f"{routine.name}  {routine.title} ({len(routine.parts)} parts, "
              f"{routine.transition_s:g} s blends)")
        print("  " + ", ".join(entry.step if entry.repeat == 1 else
                               f"{entry.step} x{entry.repeat}" for entry in routine.entries))
    _report_problems(library.problems)
    return 0


def run_routine(args: argparse.Namespace) -> int:
    from app.routine import DEFAULT_TRANSITION_S, Routine, RoutineFormatError, load, parse_entries

    library = open_library(args)
    path = library.routine_path(args.name)
    try:
        old = load(path) if path.is_file() else None
    except RoutineFormatError:
        old = None
    routine = Routine(
        name=args.name,
        title=args.title or (old.title if old else args.name.replace("-", " ").capitalize()),
        description=args.description if args.description is not None
        else (old.description if old else ""),
        transition_s=args.transition if args.transition is not None
        else (old.transition_s if old else DEFAULT_TRANSITION_S),
        entries=parse_entries(args.steps))
    path = library.save_routine(routine)
    print(f"{'updated' if old else 'created'} {path}: {len(routine.parts)} parts")
    return 0


def run_show(args: argparse.Namespace) -> int:
    library = open_library(args)
    info = library.info(args.name)
    meta = info.metadata
    print(f"{meta.title} ({info.name})")
    print(f"  {meta.difficulty or 'no difficulty'}, "
          f"{f'{meta.tempo_bpm:g} bpm' if meta.tempo_bpm else 'no tempo'}, "
          f"{info.duration_s:.2f} s at {info.fps:g} fps ({info.n_frames} frames), "
          f"{info.n_takes} take(s), source: {info.source_kind}")
    if meta.description:
        print(f"  {meta.description}")
    for step in info.steps:
        print(f"  {step.start_s:5.2f}-{step.end_s:5.2f} s  {step.name}")
    music = library.music(args.name)
    if music is not None:
        print(f"  music: {_describe(music)}")
    return 0


def run_music(args: argparse.Namespace) -> int:
    from app.beats import BeatGrid
    from app.music import DEFAULT_METER, grid_from_taps, read_audio

    library = open_library(args)
    typed = args.tempo is not None, args.first_beat is not None
    if typed[0] != typed[1]:
        raise UserError("give --tempo and --first-beat together")
    if args.remove and (args.file or args.taps or any(typed) or args.meter):
        raise UserError("--remove takes no file, grid or meter")
    if args.taps is not None and (args.file or any(typed)):
        raise UserError("give --taps alone (with --meter), not with a file, --tempo or "
                        "--first-beat")
    if args.remove:
        library.remove_music(args.name)
        print(f"removed the music of {args.name}")
        return 0
    current = library.music(args.name)
    meter = args.meter or (current.grid.meter if current else DEFAULT_METER)
    grid = BeatGrid(args.tempo, args.first_beat, meter) if all(typed) else None
    if args.file is not None:
        data = read_audio(args.file, str(args.file))
        music = library.attach_music(args.name, data, str(args.file), meter=meter, grid=grid)
        how = "as given" if grid else "found in the music"
        print(f"{args.name}: {_describe(music)} ({how})")
        return 0
    if args.taps is not None:
        grid = grid_from_taps(_taps(args.taps), meter)
    elif grid is None and args.meter is not None and current is not None:
        grid = BeatGrid(current.grid.tempo_bpm, current.grid.first_beat_s, meter)
    if grid is not None:
        print(f"{args.name}: {_describe(library.set_beat_grid(args.name, grid))}")
    elif current is None:
        print(f"{args.name} has no music")
    else:
        print(f"{args.name}: {_describe(current)}")
    return 0


def _taps(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--taps {text!r} must be seconds separated by commas, like "
                        f"'0.52,1.50,2.49,3.51'") from None


def _describe(music: Any) -> str:
    grid = music.grid
    return (f"{music.file}, {grid.tempo_bpm:.2f} BPM, first beat at {grid.first_beat_s:.3f} s, "
            f"{grid.meter} beats a bar")


def run_edit(args: argparse.Namespace) -> int:
    from app.library import parse_steps

    library = open_library(args)
    steps = None
    if args.steps is not None:
        steps = parse_steps(args.steps, library.info(args.name).duration_s)
    info = library.update_metadata(args.name, title=args.title, description=args.description,
                                   difficulty=args.difficulty, tempo_bpm=args.tempo,
                                   order=args.order, steps=steps)
    print(f"updated {info.name}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    library = open_library(args)
    library.delete(args.name)
    print(f"deleted {args.name} from {library.root}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    library = open_library(args)
    infos = library.list()
    routines = library.routines()
    _report_problems(library.problems)
    print(f"{len(infos)} steps and {len(routines)} routines valid, {len(library.problems)} "
          f"broken in {library.root}")
    return 1 if library.problems else 0


def run_generate(args: argparse.Namespace) -> int:
    from app.authoring import SOURCE_SUFFIX, build_sequence, load_script
    from app.library import check_name

    library = open_library(args, create=True)
    source: Path = args.source or library.root / SOURCE_FOLDER
    if not source.is_dir():
        raise UserError(f"keyframe folder {source} does not exist")
    paths = sorted(source.glob(f"*{SOURCE_SUFFIX}"))
    if args.names:
        wanted = {check_name(name) for name in args.names}
        missing = wanted - {p.stem for p in paths}
        if missing:
            raise UserError(f"no keyframe file for {', '.join(sorted(missing))} in {source}")
        paths = [p for p in paths if p.stem in wanted]
    for path in paths:
        script = load_script(path)
        if script.name != path.stem:
            raise UserError(f"{path}: name is {script.name!r} but the file is {path.stem!r}; "
                            f"they must match")
        if script.name in library and library.get(script.name).source.kind != "authored":
            raise UserError(f"{script.name!r} in {library.root} was recorded, not authored; "
                            f"rename the keyframe file or delete the recording first")
        info = library.create(build_sequence(script), overwrite=True)
        print(f"{info.name}: {info.duration_s:.1f} s, {len(info.steps)} steps")
    return 0


def _report_problems(problems: list[Any]) -> None:
    for problem in problems:
        print(f"skipped {problem}", file=sys.stderr)
