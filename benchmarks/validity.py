"""Validity benchmark: does the score separate right from wrong, and name the wrong limb?

Builds the labelled suite of ``tests/scoring_fixtures.py`` from real movement: the BlazePose
golden file of the squats clip, poses extracted from the real clips (cached outside the
repository, extracted on first run when the pose model is available) and the reference library
(``poses/*.pose.json``). Each reference is a 3-4 s part of a source. Prints, for the scorer and
for a naive baseline (plain DTW over image-space bone directions, score
``100 exp(-mean distance)``), the AUC of score for correct versus wrong attempts, the 10th
percentile of correct scores, the 90th percentile of wrong scores and how often the first
correction names the limb that was actually wrong.

Run from the repository root::

    python -m benchmarks.validity [--rounds 2] [--seed 0] [--cache DIR] [--no-extract]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from dtaidistance import dtw_ndim

from app import sequence as pose_file
from app.landmarks import Bone, Limb
from app.scoring import ScoreOptions, score, warm_up
from app.sequence import PoseSequence
from tests.scoring_fixtures import (
    TESTDATA,
    Case,
    Verdicts,
    build_suite,
    moves_enough,
    segments,
    squats_sequence,
    verdicts,
)

CLIPS = ("tfjs_pose_1.mp4", "hybrik_taiji.mp4", "romp_sample_video2_jumpingjacks.mp4",
         "musepose_dance.mp4", "pose2sim_singleperson_cam01.mp4", "tfjs_dance_crop.avi")
SEGMENT_S = 3.5
SEGMENTS_PER_SOURCE = 3
TARGETS = {"auc": 0.99, "correct_p10": 80.0, "wrong_p90": 60.0, "limb_named_first": 0.90}
NAIVE_BONES = (Bone.LEFT_UPPER_ARM, Bone.LEFT_FOREARM, Bone.RIGHT_UPPER_ARM, Bone.RIGHT_FOREARM,
               Bone.LEFT_THIGH, Bone.LEFT_SHIN, Bone.RIGHT_THIGH, Bone.RIGHT_SHIN)


def default_cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "dance-tutor" / "validity"


def extracted_clips(cache: Path, extract: bool) -> list[PoseSequence]:
    """Poses of the real clips, from the cache or extracted now (when allowed)."""
    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for clip in CLIPS:
        cached = cache / (clip.rsplit(".", 1)[0] + pose_file.SUFFIX)
        if not cached.exists():
            if not extract or not (TESTDATA / clip).exists():
                continue
            from app.pose import extract_video

            print(f"extracting {clip} (once, cached in {cache})", file=sys.stderr)
            pose_file.save(extract_video(TESTDATA / clip), cached)
        out.append(replace(pose_file.load(cached), name=clip))
    return out


def library_references(root: Path) -> list[PoseSequence]:
    return [pose_file.load(path) for path in sorted(root.glob(f"*{pose_file.SUFFIX}"))]


def references(cache: Path, extract: bool, library: Path) -> list[PoseSequence]:
    sources = [squats_sequence(), *extracted_clips(cache, extract)]
    refs = []
    for source in sources:
        refs.extend(segments(source, SEGMENT_S, SEGMENTS_PER_SOURCE))
    refs.extend(library_references(library))
    return [r for r in refs if r.present.mean() > 0.8 and moves_enough(r)]


def naive_score(reference: PoseSequence, attempt: PoseSequence) -> float:
    """Plain DTW over image-space 2-D bone directions; 100 exp(-mean distance per step)."""
    ref = _bone_directions(reference)
    att = _bone_directions(attempt)
    path = dtw_ndim.warping_path(ref, att, use_c=True)
    distances = [np.linalg.norm(ref[i] - att[j]) for i, j in path]
    return float(100.0 * math.exp(-float(np.mean(distances))))


def _bone_directions(seq: PoseSequence) -> np.ndarray:
    xy = seq.image_xyz[..., :2] * np.array([seq.aspect, 1.0])
    columns = []
    for bone in NAIVE_BONES:
        d = xy[:, bone.end] - xy[:, bone.start]
        columns.append(d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9))
    out = np.nan_to_num(np.concatenate(columns, axis=1))
    return np.ascontiguousarray(out[seq.present], dtype=np.float64)


def run(cases: Sequence[Case]) -> tuple[Verdicts, Verdicts, list[tuple[Case, float, str]]]:
    ours, named, naive, rows = [], [], [], []
    for case in cases:
        report = score(case.reference, case.attempt, ScoreOptions(mirror=case.mirror))
        ours.append(report.score)
        first: Limb | None = report.corrections[0].limb if report.corrections else None
        named.append(first)
        naive.append(naive_score(case.reference, case.attempt))
        rows.append((case, report.score, report.feedback[0] if report.feedback else ""))
    return verdicts(cases, ours, named), verdicts(cases, naive, [None] * len(cases)), rows


def _line(label: str, v: Verdicts) -> str:
    return (f"{label:<10} AUC {v.auc:.4f}   correct p10 {v.correct_p10:5.1f}   "
            f"wrong p90 {v.wrong_p90:5.1f}   wrong limb named first {v.limb_named_first:6.1%}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=default_cache())
    parser.add_argument("--library", type=Path, default=Path("poses"))
    parser.add_argument("--no-extract", action="store_true",
                        help="use only clips already in the cache")
    parser.add_argument("--verbose", action="store_true", help="print every case")
    args = parser.parse_args(argv)
    warm_up()
    refs = references(args.cache, not args.no_extract, args.library)
    cases = build_suite(refs, seed=args.seed, rounds=args.rounds)
    started = time.perf_counter()
    ours, naive, rows = run(cases)
    elapsed = time.perf_counter() - started
    print(f"{len(refs)} references, {len(cases)} cases "
          f"({sum(c.correct for c in cases)} correct, {sum(not c.correct for c in cases)} wrong), "
          f"scored in {elapsed:.1f} s")
    by_kind: dict[str, list[float]] = defaultdict(list)
    for case, value, _ in rows:
        by_kind[("+ " if case.correct else "- ") + case.kind].append(value)
    for kind, values in sorted(by_kind.items()):
        print(f"  {kind:<18} n={len(values):3d}  min {min(values):5.1f}  "
              f"median {np.median(values):5.1f}  max {max(values):5.1f}")
    if args.verbose:
        for case, value, first in rows:
            print(f"    {case.reference.name[:24]:<24} {case.kind:<16} {value:5.1f}  {first}")
    print(_line("scorer", ours))
    print(_line("naive", naive))
    met = (ours.auc >= TARGETS["auc"] and ours.correct_p10 >= TARGETS["correct_p10"]
           and ours.wrong_p90 <= TARGETS["wrong_p90"]
           and ours.limb_named_first >= TARGETS["limb_named_first"])
    print("targets (AUC >= 0.99, p10 >= 80, p90 <= 60, named >= 90%):",
          "met" if met else "NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
