"""Render the dombra-style accompaniment of the library's authored steps and attach it.

Each authored step gets ``NAME.music.ogg`` beside it (``app/dombra.py``: two plucked strings
a fourth apart, strummed on every beat, the bar's first beat accented) at the step's tempo,
its first beat where the step's first count falls, and the same grid in its ``.pose.json``.
The same steps render the same bytes, so a run that changes nothing leaves the files alone.
Synthesized, not a recorded küy: see docs/music.md.

    .venv/bin/python scripts/render_music.py                  # every authored step in poses/
    .venv/bin/python scripts/render_music.py wing-beat swoop  # only these
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.beats import BeatGrid
from app.dombra import accompaniment
from app.errors import UserError
from app.library import Library, default_poses_dir
from app.music import DEFAULT_METER, file_name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="only these steps (default: every authored step)")
    parser.add_argument("--poses", type=Path, default=None, metavar="DIR",
                        help="the library folder (default: $DANCE_TUTOR_POSES or poses/)")
    parser.add_argument("--meter", type=int, default=DEFAULT_METER, metavar="N",
                        help=f"beats a bar (default {DEFAULT_METER})")
    args = parser.parse_args(argv)
    library = Library(args.poses or default_poses_dir())
    infos = [info for info in library.list() if info.source_kind == "authored"
             and (not args.names or info.name in args.names)]
    missing = set(args.names) - {info.name for info in infos}
    if missing:
        print(f"no authored step named {', '.join(sorted(missing))} in {library.root}",
              file=sys.stderr)
        return 2
    for info in infos:
        if info.metadata.tempo_bpm is None:
            print(f"{info.name}: skipped, it has no tempo", file=sys.stderr)
            continue
        first_count = info.steps[0].start_s if info.steps else 0.0
        grid = BeatGrid(info.metadata.tempo_bpm, first_count, args.meter)
        try:
            data = accompaniment(grid, info.duration_s)
        except UserError as exc:
            print(f"{info.name}: {exc}", file=sys.stderr)
            return 2
        current = library.music(info.name)
        if (current is not None and current.grid == grid
                and library.audio_path(current).read_bytes() == data):
            print(f"{info.name}: unchanged")
            continue
        music = library.attach_music(info.name, data, file_name(info.name, "ogg"), grid=grid)
        print(f"{info.name}: {music.file}, {len(data) // 1024} KiB, {grid.tempo_bpm:g} BPM, "
              f"{grid.meter} beats a bar, first beat at {grid.first_beat_s:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
