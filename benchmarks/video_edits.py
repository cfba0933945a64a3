"""Video-edited scoring cases: the same performance filmed differently, through the pose model.

Each real clip (its first few seconds) is edited in pixels with OpenCV: mirrored left-right
(``flip``, scored with ``mirror``), scaled to 0.6 and placed off-centre on a canvas of the
background's colour (``small_off_centre``), the camera rolled by 7 degrees (``rolled``), played
at 0.8x and 1.25x (``slower``, ``faster``: every frame kept, the container's rate times the
speed), much darker (``darker``: gamma 2.2, gain 0.35), downscaled to a third of the width, 320
px at most (``low_res``), and all of these at once (``all_at_once``: flip, small off-centre,
rolled by -6 degrees, 0.8x, darker, half the width, 480 px at most). The poses of each edited
video are extracted with the project's own pipeline (``app.pose.extract_video``) and scored
against the poses of the original video over the same seconds: a correct case. The same
attempt against another clip's reference is a wrong one (``other_clip_<edit>``).

Edited videos and their poses are cached under ``<cache>/edits`` (outside the repository),
named by clip, edit and a key of the edit's parameters, so a second run extracts nothing.

Run from the repository root::

    python -m benchmarks.video_edits [--cache DIR] [--no-extract] [--verbose]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from app import sequence as pose_file
from app.atomic import TEMP_PREFIX
from app.frames import RgbImage, probe_video, read_video
from app.scoring import ScoreOptions, score, warm_up
from app.sequence import PoseSequence
from tests.scoring_fixtures import TESTDATA, Case, auc

VERSION = "1"
"""Part of every cache key: bump it when the way an edit is applied changes."""
CODEC = "mp4v"
BORDER_SHARE = 0.04
"""Width of the frame's border, as a share of its size, whose median colour is the background."""


@dataclass(frozen=True)
class Clip:
    """The first ``end_s`` seconds of a clip in ``TESTDATA``."""

    name: str
    end_s: float


@dataclass(frozen=True)
class Edit:
    """How a video is changed, applied in this order: flip, scale onto a canvas of the
    background's colour with the picture's top-left corner at ``place`` (shares of the room
    left), roll (degrees, counter-clockwise) about the centre, brightness ``255 gain
    (v / 255) ** gamma``, downscale to ``width_share`` of the width (``max_width`` px at most),
    and playback at ``speed``."""

    name: str
    flip: bool = False
    scale: float = 1.0
    place: tuple[float, float] = (0.5, 0.5)
    roll_deg: float = 0.0
    gamma: float = 1.0
    gain: float = 1.0
    width_share: float = 1.0
    max_width: int | None = None
    speed: float = 1.0


CLIPS = (Clip("tfjs_pose_1.mp4", 6.0), Clip("hybrik_taiji.mp4", 6.0),
         Clip("romp_sample_video2_jumpingjacks.mp4", 3.0), Clip("musepose_dance.mp4", 6.0))
EDITS = (
    Edit("flip", flip=True),
    Edit("small_off_centre", scale=0.6, place=(0.9, 0.8)),
    Edit("rolled", roll_deg=7.0),
    Edit("slower", speed=0.8),
    Edit("faster", speed=1.25),
    Edit("darker", gamma=2.2, gain=0.35),
    Edit("low_res", width_share=1 / 3, max_width=320),
    Edit("all_at_once", flip=True, scale=0.6, place=(0.9, 0.8), roll_deg=-6.0, gamma=2.2,
         gain=0.35, width_share=0.5, max_width=480, speed=0.8),
)


def edited_frame(edit: Edit, rgb: RgbImage, background: tuple[int, int, int]) -> RgbImage:
    """One frame of ``rgb`` (RGB) as ``edit`` changes it (every step but the speed)."""
    out = cv2.flip(rgb, 1) if edit.flip else rgb
    height, width = out.shape[:2]
    if edit.scale != 1.0:
        small_w, small_h = round(width * edit.scale), round(height * edit.scale)
        small = cv2.resize(out, (small_w, small_h), interpolation=cv2.INTER_AREA)
        canvas = np.empty_like(out)
        canvas[:] = background
        x = round((width - small_w) * edit.place[0])
        y = round((height - small_h) * edit.place[1])
        canvas[y:y + small_h, x:x + small_w] = small
        out = canvas
    if edit.roll_deg:
        turn = cv2.getRotationMatrix2D((width / 2, height / 2), edit.roll_deg, 1.0)
        out = cv2.warpAffine(out, turn, (width, height), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=background)
    if edit.gamma != 1.0 or edit.gain != 1.0:
        levels = 255.0 * edit.gain * (np.arange(256) / 255.0) ** edit.gamma
        out = cv2.LUT(out, np.clip(np.round(levels), 0, 255).astype(np.uint8))
    if edit.width_share != 1.0 or edit.max_width is not None:
        out = cv2.resize(out, _reduced_size(width, height, edit), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(out, dtype=np.uint8)


def _reduced_size(width: int, height: int, edit: Edit) -> tuple[int, int]:
    """(width, height) after the downscale, both even (as the codec wants), aspect kept."""
    new_width = min(width * edit.width_share, edit.max_width or math.inf)
    factor = new_width / width
    return 2 * round(width * factor / 2), 2 * round(height * factor / 2)


def background_colour(rgb: RgbImage) -> tuple[int, int, int]:
    """Median colour of the frame's border (``BORDER_SHARE`` of its size on each side)."""
    height, width = rgb.shape[:2]
    band = max(1, round(min(width, height) * BORDER_SHARE))
    border = np.concatenate([rgb[:band].reshape(-1, 3), rgb[-band:].reshape(-1, 3),
                             rgb[:, :band].reshape(-1, 3), rgb[:, -band:].reshape(-1, 3)])
    red, green, blue = np.median(border, axis=0)
    return int(red), int(green), int(blue)


def write_edited(source: Path, clip: Clip, edit: Edit, out: Path) -> None:
    """Write ``edit`` of the first ``clip.end_s`` seconds of ``source`` to ``out`` atomically.

    Every frame is kept; the container's rate is the source's times ``edit.speed``, so the
    movement plays at that speed.
    """
    info = probe_video(source)
    fps = (info.fps or 30.0) * edit.speed
    tmp_name = str(out.with_name(f"{TEMP_PREFIX}{os.getpid()}-{out.name}"))
    writer: cv2.VideoWriter | None = None
    try:
        background: tuple[int, int, int] | None = None
        for frame in read_video(source, end_s=clip.end_s):
            if background is None:
                background = background_colour(frame.rgb)
            rgb = edited_frame(edit, frame.rgb, background)
            if writer is None:
                size = (rgb.shape[1], rgb.shape[0])
                writer = cv2.VideoWriter(tmp_name, cv2.VideoWriter.fourcc(*CODEC), fps, size)
                if not writer.isOpened():
                    raise RuntimeError(f"OpenCV cannot write {CODEC} video to {tmp_name}")
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        if writer is None:
            raise RuntimeError(f"{source} has no frame before {clip.end_s} s")
        writer.release()
        os.replace(tmp_name, out)
    except BaseException:
        if writer is not None:
            writer.release()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def cache_key(clip: Clip, edit: Edit) -> str:
    """Stem of the cached files of ``edit`` of ``clip``: clip, edit and a parameter hash."""
    digest = hashlib.sha256(repr((VERSION, CODEC, clip, edit)).encode()).hexdigest()[:10]
    return f"{clip.name.rsplit('.', 1)[0]}.{edit.name}.{digest}"


def edited_poses(cache: Path, clip: Clip, edit: Edit, extract: bool) -> PoseSequence | None:
    """Poses of ``edit`` of ``clip``: cached, or made now when ``extract`` allows; else None."""
    folder = cache / "edits"
    stem = cache_key(clip, edit)
    poses = folder / (stem + pose_file.SUFFIX)
    if not poses.exists():
        source = TESTDATA / clip.name
        if not extract or not source.exists():
            return None
        from app.pose import extract_video

        folder.mkdir(parents=True, exist_ok=True)
        video = folder / (stem + ".mp4")
        started = time.perf_counter()
        if not video.exists():
            write_edited(source, clip, edit, video)
        seq = extract_video(video)
        pose_file.save(seq, poses)
        print(f"extracted {clip.name} {edit.name}: {len(seq)} frames in "
              f"{time.perf_counter() - started:.1f} s (cached in {folder})", file=sys.stderr)
    return replace(pose_file.load(poses), name=f"{clip.name} {edit.name}")


def edited_cases(cache: Path, extract: bool = True) -> list[Case]:
    """Correct cases (each edit of each clip against the clip's original poses over the same
    seconds) and wrong ones (the same attempt against every other clip's reference).

    The original poses come from ``benchmarks.validity.extracted_clips`` (same cache). Clips
    or edits missing from the cache are skipped when ``extract`` is False, and so are edited
    videos in which the pose model finds nobody (they cannot be scored).
    """
    # Imported here: benchmarks.validity imports this module.
    from benchmarks.validity import extracted_clips

    originals = {seq.name: seq for seq in extracted_clips(cache, extract)}
    references = {clip.name: originals[clip.name].trim_seconds(0.0, clip.end_s)
                  for clip in CLIPS if clip.name in originals}
    cases = []
    for edit in EDITS:
        for clip in CLIPS:
            if clip.name not in references:
                continue
            attempt = edited_poses(cache, clip, edit, extract)
            if attempt is None:
                continue
            if not attempt.present.any():
                print(f"skipped {attempt.name}: the pose model found nobody in it",
                      file=sys.stderr)
                continue
            cases.append(Case(edit.name, True, references[clip.name], attempt, edit.flip))
            cases.extend(Case(f"other_clip_{edit.name}", False, reference, attempt, edit.flip)
                         for name, reference in references.items() if name != clip.name)
    return cases


def _row(label: str, scored: Sequence[tuple[Case, float]]) -> str:
    right = [s for c, s in scored if c.correct]
    wrong = [s for c, s in scored if not c.correct]
    if not right or not wrong:
        return f"  {label:<17} {len(right):3d} (too few cases to compare)"
    seen = np.mean([c.attempt.present.mean() for c, _ in scored if c.correct])
    return (f"  {label:<17} {len(right):3d} {seen:5.0%} {np.median(right):7.1f} "
            f"{min(right):6.1f}   {len(wrong):7d} {max(wrong):6.1f}   {auc(right, wrong):6.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.validity import default_cache

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--no-extract", action="store_true",
                        help="use only clips and edits already in the cache")
    parser.add_argument("--verbose", action="store_true", help="print every case")
    args = parser.parse_args(argv)
    warm_up()
    cases = edited_cases(args.cache, not args.no_extract)
    if not cases:
        print(f"no cases: no poses of the clips or their edits in {args.cache}, and no extraction")
        return 1
    scores = [score(c.reference, c.attempt, ScoreOptions(mirror=c.mirror)).score for c in cases]
    print(f"{len(cases)} cases ({sum(c.correct for c in cases)} correct, "
          f"{sum(not c.correct for c in cases)} wrong); seen: share of the attempts' frames "
          f"with a pose")
    print(f"  {'edit':<17} {'n':>3} {'seen':>5} {'median':>7} {'min':>6}   {'n wrong':>7} "
          f"{'max':>6}   {'AUC':>6}")
    for edit in EDITS:
        print(_row(edit.name, [(c, s) for c, s in zip(cases, scores, strict=True)
                               if c.kind in (edit.name, f"other_clip_{edit.name}")]))
    print(_row("all", list(zip(cases, scores, strict=True))))
    if args.verbose:
        for case, value in zip(cases, scores, strict=True):
            print(f"    {case.attempt.name[:44]:<44} vs {case.reference.name[:36]:<36} "
                  f"{'+' if case.correct else '-'} {value:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
