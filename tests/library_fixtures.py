"""Helpers for the library tests: the plausibility checks a recorded or authored body passes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.authoring import build_sequence, load_script
from app.landmarks import Bone, Landmark
from app.library import Library, default_poses_dir
from app.sequence import PoseSequence

FloatArray = npt.NDArray[np.float64]
L = Landmark

LIMB_BONES = (
    Bone.LEFT_UPPER_ARM, Bone.LEFT_FOREARM, Bone.RIGHT_UPPER_ARM, Bone.RIGHT_FOREARM,
    Bone.LEFT_THIGH, Bone.LEFT_SHIN, Bone.RIGHT_THIGH, Bone.RIGHT_SHIN, Bone.SHOULDERS,
    Bone.HIPS, Bone.LEFT_FLANK, Bone.RIGHT_FLANK,
)
HINGES = {  # joint: (from, joint, to, smallest inner angle a human reaches, degrees)
    "left elbow": (L.LEFT_SHOULDER, L.LEFT_ELBOW, L.LEFT_WRIST, 25.0),
    "right elbow": (L.RIGHT_SHOULDER, L.RIGHT_ELBOW, L.RIGHT_WRIST, 25.0),
    "left knee": (L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE, 25.0),
    "right knee": (L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE, 25.0),
}
SOURCES = default_poses_dir() / "source"


def bone_spread(seq: PoseSequence, bone: Bone) -> float:
    """(p95 - p5) / median of the bone's world length over the frames that have one."""
    world = seq.world_xyz[seq.has_world]
    length = np.linalg.norm(world[:, bone.start] - world[:, bone.end], axis=1)
    p5, p95 = np.percentile(length, [5, 95])
    return float((p95 - p5) / np.median(length))


def inner_angles(seq: PoseSequence, a: int, b: int, c: int) -> FloatArray:
    """(n,) angle at ``b`` between ``b->a`` and ``b->c`` in degrees, world coordinates."""
    world = seq.world_xyz[seq.has_world]
    u, v = world[:, a] - world[:, b], world[:, c] - world[:, b]
    cos = np.sum(u * v, axis=1) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
    return np.asarray(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def knee_forward(seq: PoseSequence, side: str) -> FloatArray:
    """(n,) how far the knee sits in front of the hip-ankle line, along the foot, metres.

    A knee bends forward, toward the toes; negative values are hyperextension.
    """
    world = seq.world_xyz[seq.has_world]
    hip, knee, ankle, toe, heel = (world[:, L[f"{side}_{part}"]] for part in
                                   ("HIP", "KNEE", "ANKLE", "FOOT_INDEX", "HEEL"))
    axis = (ankle - hip) / np.linalg.norm(ankle - hip, axis=1, keepdims=True)
    offset = knee - hip
    offset -= np.sum(offset * axis, axis=1, keepdims=True) * axis
    foot = toe - heel
    foot -= np.sum(foot * axis, axis=1, keepdims=True) * axis
    foot /= np.linalg.norm(foot, axis=1, keepdims=True)
    return np.asarray(np.sum(offset * foot, axis=1))


def body_problems(seq: PoseSequence, max_bone_spread: float) -> list[str]:
    """What makes ``seq`` implausible as a human body; empty when it passes."""
    problems = []
    present = seq.present
    if not present.any():
        return ["nobody in any frame"]
    if not np.isfinite(seq.image_xyz[present]).all():
        problems.append("image landmarks hold NaN on present frames")
    if not ((seq.visibility >= 0) & (seq.visibility <= 1)).all():
        problems.append("visibility outside 0..1")
    if not seq.has_world[present].any():
        return [*problems, "no world landmarks"]
    for bone in LIMB_BONES:
        spread = bone_spread(seq, bone)
        if spread > max_bone_spread:
            problems.append(f"{bone.name} length varies by {spread:.1%}")
    for joint, (a, b, c, smallest) in HINGES.items():
        angles = inner_angles(seq, a, b, c)
        if np.percentile(angles, 1) < smallest:
            problems.append(f"{joint} folds to {angles.min():.0f} degrees")
    return problems


def authored(name: str) -> PoseSequence:
    """The step built from its keyframe file in the repository."""
    return build_sequence(load_script(SOURCES / f"{name}.toml"))


def step_names() -> list[str]:
    return sorted(p.stem for p in SOURCES.glob("*.toml"))


def small_library(root: Path, *names: str) -> Library:
    """A library in ``root`` holding the named authored steps."""
    library = Library(root, create=True)
    for name in names:
        library.create(authored(name))
    return library


def with_noise(seq: PoseSequence, sigma: float, seed: int) -> PoseSequence:
    """A copy with Gaussian noise on every coordinate: a stand-in for another take."""
    rng = np.random.default_rng(seed)
    return replace(
        seq, image_xyz=seq.image_xyz + rng.normal(0, sigma, seq.image_xyz.shape),
        world_xyz=seq.world_xyz + rng.normal(0, sigma, seq.world_xyz.shape),
    )
