"""A labelled suite for the scorer: correct and wrong variants of real movement.

Used by the scoring tests (a small fixed-seed suite) and by ``benchmarks/validity.py`` (the full
one). Every variant is built from real landmarks (a BlazePose golden file, extracted clips or
the reference library) by a transformation whose verdict is known:

* correct: non-uniform time warps (0.6x-1.6x), scale 0.5-2x, translation, detector noise,
  dropped frames, camera roll up to 10 degrees, a late start, limb segments 15 % longer or
  shorter, feet cut off by the frame, a mirrored performance (scored with ``mirror``), and
  another dancer (all of these at once plus a personal style of up to 10 degrees per limb);
* wrong: the most moving limb held still, one limb rotated by 35-60 degrees, a different
  movement, a static pose, random motion.

Geometry is done in isotropic image space (``x`` and ``z`` times width / height) and, where the
sequence has them, on world landmarks alike.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from app.landmarks import MIRROR_PERMUTATION, Landmark, Limb
from app.normalise import IMAGE_DEPTH_SCALE
from app.sequence import N_LANDMARKS, PoseSequence

FloatArray = npt.NDArray[np.float64]
L = Landmark

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO.parent / "shared" / "testdata"
SQUATS_GOLDEN = TESTDATA / "tfjs_pose_squats.full.json"
SQUATS_SIZE = (720, 1280)
SQUATS_FPS = 5.0

# Parent of each landmark in a limb's chain; the first entry is the limb's root.
CHAINS: dict[Limb, tuple[tuple[Landmark, Landmark | None], ...]] = {
    Limb.LEFT_ARM: ((L.LEFT_SHOULDER, None), (L.LEFT_ELBOW, L.LEFT_SHOULDER),
                    (L.LEFT_WRIST, L.LEFT_ELBOW), (L.LEFT_PINKY, L.LEFT_WRIST),
                    (L.LEFT_INDEX, L.LEFT_WRIST), (L.LEFT_THUMB, L.LEFT_WRIST)),
    Limb.RIGHT_ARM: ((L.RIGHT_SHOULDER, None), (L.RIGHT_ELBOW, L.RIGHT_SHOULDER),
                     (L.RIGHT_WRIST, L.RIGHT_ELBOW), (L.RIGHT_PINKY, L.RIGHT_WRIST),
                     (L.RIGHT_INDEX, L.RIGHT_WRIST), (L.RIGHT_THUMB, L.RIGHT_WRIST)),
    Limb.LEFT_LEG: ((L.LEFT_HIP, None), (L.LEFT_KNEE, L.LEFT_HIP), (L.LEFT_ANKLE, L.LEFT_KNEE),
                    (L.LEFT_HEEL, L.LEFT_ANKLE), (L.LEFT_FOOT_INDEX, L.LEFT_ANKLE)),
    Limb.RIGHT_LEG: ((L.RIGHT_HIP, None), (L.RIGHT_KNEE, L.RIGHT_HIP),
                     (L.RIGHT_ANKLE, L.RIGHT_KNEE), (L.RIGHT_HEEL, L.RIGHT_ANKLE),
                     (L.RIGHT_FOOT_INDEX, L.RIGHT_ANKLE)),
}
HEAD = tuple(range(int(L.NOSE), int(L.MOUTH_RIGHT) + 1))
BELOW_KNEES = (L.LEFT_ANKLE, L.RIGHT_ANKLE, L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX,
               L.RIGHT_FOOT_INDEX)
MOVING_LIMBS = (Limb.LEFT_ARM, Limb.RIGHT_ARM, Limb.LEFT_LEG, Limb.RIGHT_LEG)
MIN_MOTION = 30.0
"""Degrees a limb (or the body) must move for holding it still to be clearly wrong."""


@dataclass(frozen=True, eq=False)
class Case:
    """One labelled attempt."""

    kind: str
    correct: bool
    reference: PoseSequence
    attempt: PoseSequence
    mirror: bool = False
    wrong_limb: Limb | None = None


def stick_figure() -> FloatArray:
    """(33, 3) isotropic image points of a person standing upright facing the camera, arms
    hanging, in a 1:1 image (units of the image height)."""
    points = {
        L.NOSE: (0.50, 0.12, -0.05), L.LEFT_EYE_INNER: (0.51, 0.11, -0.04),
        L.LEFT_EYE: (0.52, 0.11, -0.04), L.LEFT_EYE_OUTER: (0.53, 0.11, -0.03),
        L.RIGHT_EYE_INNER: (0.49, 0.11, -0.04), L.RIGHT_EYE: (0.48, 0.11, -0.04),
        L.RIGHT_EYE_OUTER: (0.47, 0.11, -0.03), L.LEFT_EAR: (0.54, 0.12, 0.0),
        L.RIGHT_EAR: (0.46, 0.12, 0.0), L.MOUTH_LEFT: (0.51, 0.14, -0.04),
        L.MOUTH_RIGHT: (0.49, 0.14, -0.04),
        L.LEFT_SHOULDER: (0.58, 0.22, 0.0), L.RIGHT_SHOULDER: (0.42, 0.22, 0.0),
        L.LEFT_ELBOW: (0.60, 0.36, 0.0), L.RIGHT_ELBOW: (0.40, 0.36, 0.0),
        L.LEFT_WRIST: (0.61, 0.49, 0.0), L.RIGHT_WRIST: (0.39, 0.49, 0.0),
        L.LEFT_PINKY: (0.615, 0.52, 0.0), L.RIGHT_PINKY: (0.385, 0.52, 0.0),
        L.LEFT_INDEX: (0.61, 0.53, -0.01), L.RIGHT_INDEX: (0.39, 0.53, -0.01),
        L.LEFT_THUMB: (0.60, 0.51, -0.01), L.RIGHT_THUMB: (0.40, 0.51, -0.01),
        L.LEFT_HIP: (0.55, 0.50, 0.0), L.RIGHT_HIP: (0.45, 0.50, 0.0),
        L.LEFT_KNEE: (0.555, 0.70, -0.01), L.RIGHT_KNEE: (0.445, 0.70, -0.01),
        L.LEFT_ANKLE: (0.56, 0.90, 0.0), L.RIGHT_ANKLE: (0.44, 0.90, 0.0),
        L.LEFT_HEEL: (0.56, 0.92, 0.02), L.RIGHT_HEEL: (0.44, 0.92, 0.02),
        L.LEFT_FOOT_INDEX: (0.57, 0.93, -0.04), L.RIGHT_FOOT_INDEX: (0.43, 0.93, -0.04),
    }
    return np.array([points[lm] for lm in Landmark], dtype=np.float64)


def still_sequence(points: FloatArray, n: int = 30, fps: float = 30.0) -> PoseSequence:
    """``n`` frames of (33, 3) isotropic points in a square image, fully visible (image ``z``
    at the pose model's depth scale)."""
    image = points * np.array([1.0, 1.0, IMAGE_DEPTH_SCALE])
    return PoseSequence.from_frames(np.arange(n) / fps, [image] * n, [np.ones(N_LANDMARKS)] * n,
                                    [None] * n, fps=fps, image_size=(720, 720))


def squats_sequence() -> PoseSequence:
    """The tfjs squats golden file (real BlazePose landmarks) as a sequence, 5 fps."""
    frames = np.asarray(json.loads(SQUATS_GOLDEN.read_text()), dtype=np.float64)
    width, height = SQUATS_SIZE
    image = frames / np.array([width, height, width])
    n = len(frames)
    return PoseSequence.from_frames(
        np.arange(n) / SQUATS_FPS, list(image), [np.ones(N_LANDMARKS)] * n, [None] * n,
        fps=SQUATS_FPS, image_size=SQUATS_SIZE, name="squats",
    )


def segments(seq: PoseSequence, length_s: float, count: int) -> list[PoseSequence]:
    """Up to ``count`` evenly spread, non-overlapping parts of ``length_s`` seconds."""
    if seq.duration_s < length_s:
        return [seq]
    starts = np.linspace(0.0, seq.duration_s - length_s, count)
    out = []
    last_end = -1.0
    for start in starts:
        if start < last_end:
            continue
        out.append(seq.trim_seconds(float(start), float(start) + length_s))
        last_end = float(start) + length_s
    return out


# --- geometry -----------------------------------------------------------------------------


def _iso(seq: PoseSequence) -> FloatArray:
    """Image landmarks in the scorer's isotropic space (see :func:`app.normalise.raw_points`)."""
    return seq.image_xyz * np.array([seq.aspect, 1.0, seq.aspect / IMAGE_DEPTH_SCALE])


def _from_iso(seq: PoseSequence, iso: FloatArray, **changes: object) -> PoseSequence:
    image_size = changes.get("image_size", seq.image_size)
    assert isinstance(image_size, tuple)
    aspect = image_size[0] / image_size[1]
    image = iso / np.array([aspect, 1.0, aspect / IMAGE_DEPTH_SCALE])
    return replace(seq, image_xyz=image, **changes)  # type: ignore[arg-type]


def _rotation(axis: FloatArray, angle: float) -> FloatArray:
    axis = axis / np.linalg.norm(axis)
    x, y, z = axis
    k = np.array([[0.0, -z, y], [z, 0.0, -x], [-y, x, 0.0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def _apply_points(seq: PoseSequence, fn: Callable[[FloatArray, bool], FloatArray]
                  ) -> PoseSequence:
    """Apply ``fn(points, is_world)`` to (n, 33, 3) isotropic image points and world points."""
    iso = fn(_iso(seq), False)
    world = seq.world_xyz
    if seq.has_world.any():
        world = fn(seq.world_xyz, True)
    return _from_iso(seq, iso, world_xyz=world)


def _limb_rotated(points: FloatArray, limb: Limb, rotation: FloatArray) -> FloatArray:
    out = points.copy()
    root = int(CHAINS[limb][0][0])
    for landmark, parent in CHAINS[limb]:
        if parent is None:
            continue
        rel = points[:, int(landmark)] - points[:, root]
        out[:, int(landmark)] = points[:, root] + rel @ rotation.T
    return out


def _head_rotated(points: FloatArray, rotation: FloatArray) -> FloatArray:
    out = points.copy()
    neck = points[:, [int(L.LEFT_SHOULDER), int(L.RIGHT_SHOULDER)]].mean(axis=1)
    for landmark in HEAD:
        out[:, landmark] = neck + (points[:, landmark] - neck) @ rotation.T
    return out


def _torso_length(points: FloatArray) -> float:
    shoulders = points[:, [int(L.LEFT_SHOULDER), int(L.RIGHT_SHOULDER)]].mean(axis=1)
    hips = points[:, [int(L.LEFT_HIP), int(L.RIGHT_HIP)]].mean(axis=1)
    return float(np.nanmedian(np.linalg.norm(shoulders - hips, axis=-1)))


def _resampled(seq: PoseSequence, times: FloatArray, new_t: FloatArray, fps: float
               ) -> PoseSequence:
    """Landmarks at original ``times`` (interpolated), stamped ``new_t``."""
    idx = np.clip(np.searchsorted(seq.t, times, side="right") - 1, 0, len(seq) - 1)
    nxt = np.minimum(idx + 1, len(seq) - 1)
    span = np.where(nxt > idx, seq.t[nxt] - seq.t[idx], 1.0)
    frac = np.clip((times - seq.t[idx]) / span, 0.0, 1.0)

    def mix(a: FloatArray) -> FloatArray:
        shape = (-1,) + (1,) * (a.ndim - 1)
        return np.asarray(a[idx] * (1 - frac).reshape(shape) + a[nxt] * frac.reshape(shape))

    present = seq.present[idx] & seq.present[nxt]
    return replace(seq, t=new_t, image_xyz=mix(seq.image_xyz), visibility=mix(seq.visibility),
                   world_xyz=mix(seq.world_xyz), present=present, fps=fps, steps=())


# --- correct variants ---------------------------------------------------------------------


def time_warp(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """Slower or faster overall (0.6x-1.6x) and unevenly, at another frame rate."""
    factor = rng.uniform(0.6, 1.6)
    fps = float(rng.choice([15.0, 24.0, 30.0]))
    duration = seq.duration_s * factor
    n = max(2, round(duration * fps))
    x = np.arange(n) / (n - 1)
    wobble = rng.uniform(0.1, 0.15)
    cycles = rng.integers(1, 3)
    phase = rng.uniform(0, 2 * math.pi)
    warp = x + wobble * (np.sin(2 * math.pi * cycles * x + phase) - math.sin(phase)
                         - x * (math.sin(2 * math.pi * cycles + phase) - math.sin(phase))
                         ) / (2 * math.pi * cycles)
    times = seq.t[0] + np.clip(warp, 0, 1) * (seq.t[-1] - seq.t[0])
    return _resampled(seq, times, np.arange(n) / fps, fps)


def scaled(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """The body 0.5x-2x as large in the image (nearer or further), the frame grown to fit."""
    factor = float(np.exp(rng.uniform(math.log(0.5), math.log(2.0))))
    iso = _iso(seq)
    centre = np.nanmean(iso[:, :, :2], axis=(0, 1))
    out = iso.copy()
    out[..., :2] = centre + (iso[..., :2] - centre) * factor
    out[..., 2] *= factor
    width, height = seq.image_size
    lo = np.nanmin(out[..., :2], axis=(0, 1))
    hi = np.nanmax(out[..., :2], axis=(0, 1))
    grow = max(1.0, float(np.max((hi - lo) / (np.array([seq.aspect, 1.0]) * 0.9))))
    out[..., :2] = (out[..., :2] - (lo + hi) / 2) / grow + np.array([seq.aspect, 1.0]) / 2
    out[..., 2] /= grow
    size = (round(width * grow), round(height * grow))
    return _from_iso(seq, out, image_size=size)


def translated(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """The whole performance moved to another part of the frame."""
    iso = _iso(seq)
    lo = np.nanmin(iso[..., :2], axis=(0, 1))
    hi = np.nanmax(iso[..., :2], axis=(0, 1))
    room_lo = -lo + 0.01
    room_hi = np.array([seq.aspect, 1.0]) - hi - 0.01
    shift = rng.uniform(np.minimum(room_lo, 0), np.maximum(room_hi, 0))
    out = iso.copy()
    out[..., :2] += shift
    return _from_iso(seq, out)


def noisy(seq: PoseSequence, rng: np.random.Generator, level: float | None = None
          ) -> PoseSequence:
    """Detector jitter: 1-3 % of the torso length per axis (depth twice that)."""
    sigma = (rng.uniform(0.01, 0.03) if level is None else level) * _torso_length(_iso(seq))
    iso = _iso(seq) + rng.normal(size=seq.image_xyz.shape) * sigma * np.array([1.0, 1.0, 2.0])
    world = seq.world_xyz + rng.normal(size=seq.world_xyz.shape) * 0.01
    visibility = np.clip(seq.visibility - rng.uniform(0, 0.05, seq.visibility.shape), 0, 1)
    return _from_iso(seq, iso, world_xyz=world, visibility=visibility)


def dropped_frames(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """A fifth of the frames lost and a few with nobody detected."""
    keep = rng.uniform(size=len(seq)) > 0.2
    keep[0] = keep[-1] = True
    rows = np.flatnonzero(keep)
    out = replace(seq, t=seq.t[rows], image_xyz=seq.image_xyz[rows],
                  visibility=seq.visibility[rows], world_xyz=seq.world_xyz[rows],
                  present=seq.present[rows].copy())
    lost = rng.uniform(size=len(out)) < 0.05
    out.present[lost] = False
    out.image_xyz[lost] = np.nan
    out.visibility[lost] = 0.0
    out.world_xyz[lost] = np.nan
    return out


def rolled(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """The camera turned 3-10 degrees about its axis."""
    angle = math.radians(rng.uniform(3.0, 10.0) * rng.choice([-1.0, 1.0]))
    rotation = _rotation(np.array([0.0, 0.0, 1.0]), angle)
    centre = np.array([seq.aspect / 2, 0.5, 0.0])

    def turn(points: FloatArray, is_world: bool) -> FloatArray:
        origin = 0.0 if is_world else centre
        return np.asarray((points - origin) @ rotation.T + origin)

    return _apply_points(seq, turn)


def late_start(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """0.5-2 s of standing in the first pose before moving."""
    wait = rng.uniform(0.5, 2.0)
    n = round(wait * seq.fps)
    first = slice(0, 1)
    pad = replace(seq, t=np.arange(n) / seq.fps, image_xyz=np.repeat(seq.image_xyz[first], n, 0),
                  visibility=np.repeat(seq.visibility[first], n, 0),
                  world_xyz=np.repeat(seq.world_xyz[first], n, 0),
                  present=np.repeat(seq.present[first], n, 0))
    pad = noisy(pad, rng, level=0.01)
    return replace(seq, t=np.concatenate([pad.t, seq.t - seq.t[0] + n / seq.fps]),
                   image_xyz=np.concatenate([pad.image_xyz, seq.image_xyz]),
                   visibility=np.concatenate([pad.visibility, seq.visibility]),
                   world_xyz=np.concatenate([pad.world_xyz, seq.world_xyz]),
                   present=np.concatenate([pad.present, seq.present]))


def other_proportions(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """Arm and leg segments 15 % longer or shorter (each limb its own way)."""
    factors = {limb: float(rng.choice([0.85, 1.15])) for limb in CHAINS}

    def stretch(points: FloatArray, is_world: bool) -> FloatArray:
        out = points.copy()
        for limb, chain in CHAINS.items():
            for landmark, parent in chain:
                if parent is not None:
                    out[:, int(landmark)] = out[:, int(parent)] + (
                        points[:, int(landmark)] - points[:, int(parent)]) * factors[limb]
        return out

    return _apply_points(seq, stretch)


def feet_cut_off(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """Everything below the knees out of the frame: low visibility and guessed positions."""
    columns = [int(lm) for lm in BELOW_KNEES]
    visibility = seq.visibility.copy()
    visibility[:, columns] = rng.uniform(0.0, 0.3, (len(seq), len(columns)))
    iso = _iso(seq)
    size = _torso_length(iso)
    iso[:, columns] += rng.normal(size=(len(seq), len(columns), 3)) * 0.3 * size
    world = seq.world_xyz.copy()
    world[:, columns] += rng.normal(size=(len(seq), len(columns), 3)) * 0.15
    return _from_iso(seq, iso, visibility=visibility, world_xyz=world)


def mirrored_performance(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """The same movement danced with the other side (left and right swapped, x flipped)."""
    iso = _iso(seq)[:, MIRROR_PERMUTATION]
    iso[..., 0] = seq.aspect - iso[..., 0]
    world = seq.world_xyz[:, MIRROR_PERMUTATION] * np.array([-1.0, 1.0, 1.0])
    return _from_iso(seq, iso, world_xyz=world, visibility=seq.visibility[:, MIRROR_PERMUTATION])




# --- wrong variants -----------------------------------------------------------------------


def _bone_units(seq: PoseSequence, limb: Limb) -> FloatArray:
    """(n, 2, 3) unit directions of the limb's two main bones (isotropic image space)."""
    iso = _iso(seq)
    bones = []
    for landmark, parent in CHAINS[limb][1:3]:
        assert parent is not None
        bone = iso[:, int(landmark)] - iso[:, int(parent)]
        bones.append(bone / np.linalg.norm(bone, axis=-1, keepdims=True))
    return np.stack(bones, axis=1)


def _deviation(a: FloatArray, b: FloatArray) -> FloatArray:
    """Degrees between unit vectors, averaged over the last-but-one axis."""
    cos = np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)
    return np.asarray(np.nanmean(np.degrees(np.arccos(cos)), axis=-1))


def limb_motion(seq: PoseSequence, limb: Limb, frame: int = 0) -> float:
    """Mean over frames of how far (degrees) the limb's bones turn from ``frame``'s pose."""
    bones = _bone_units(seq, limb)
    return float(np.nanmean(_deviation(bones, bones[frame])))


def body_difference(a: PoseSequence, b: PoseSequence) -> float:
    """Mean over time (both stretched to the same length) of the most different limb, degrees."""
    n = max(len(a), len(b))
    rows_a = np.round(np.linspace(0, len(a) - 1, n)).astype(int)
    rows_b = np.round(np.linspace(0, len(b) - 1, n)).astype(int)
    per_limb = [_deviation(_bone_units(a, limb)[rows_a], _bone_units(b, limb)[rows_b])
                for limb in MOVING_LIMBS]
    return float(np.nanmean(np.nanmax(np.stack(per_limb), axis=0)))


def moves_enough(seq: PoseSequence, degrees: float = MIN_MOTION) -> bool:
    """Some limb turns at least ``degrees`` on average away from its first pose."""
    return max(limb_motion(seq, limb) for limb in MOVING_LIMBS) >= degrees


def held_still(seq: PoseSequence, limb: Limb) -> PoseSequence:
    """``limb`` frozen, relative to its root, in its first-frame pose."""
    def freeze(points: FloatArray, is_world: bool) -> FloatArray:
        out = points.copy()
        root = int(CHAINS[limb][0][0])
        for landmark, parent in CHAINS[limb]:
            if parent is not None:
                offset = points[0, int(landmark)] - points[0, root]
                out[:, int(landmark)] = points[:, root] + offset
        return out

    return _apply_points(seq, freeze)


def rotated_limb(seq: PoseSequence, limb: Limb, rng: np.random.Generator) -> PoseSequence:
    """``limb`` turned 35-60 degrees about its root, on every frame across its upper bone.

    The axis is perpendicular to the upper bone (or the neck) on each frame, so that bone is
    off by the full angle all through the movement.
    """
    angle = math.radians(rng.uniform(35.0, 60.0))
    direction = rng.normal(size=3)

    def turn(points: FloatArray, is_world: bool) -> FloatArray:
        out = points.copy()
        for i in range(len(points)):
            frame = points[i:i + 1]
            if limb is Limb.HEAD:
                bone = np.array([0.0, -1.0, 0.0])
            else:
                (root, _), (child, _) = CHAINS[limb][:2]
                bone = frame[0, int(child)] - frame[0, int(root)]
            if not np.isfinite(bone).all():
                continue
            axis = np.cross(bone, direction)
            rotation = _rotation(axis, angle)
            out[i:i + 1] = (_head_rotated(frame, rotation) if limb is Limb.HEAD
                            else _limb_rotated(frame, limb, rotation))
        return out

    return _apply_points(seq, turn)


def static_pose(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """One frame of the movement held for its whole duration."""
    k = int(rng.integers(0, len(seq)))
    rows = np.full(len(seq), k)
    frozen = replace(seq, image_xyz=seq.image_xyz[rows], visibility=seq.visibility[rows],
                     world_xyz=seq.world_xyz[rows], present=seq.present[rows])
    return noisy(frozen, rng, level=0.01)


def _swung(seq: PoseSequence, rng: np.random.Generator, degrees: tuple[float, float],
           hertz: tuple[float, float]) -> PoseSequence:
    """Every limb and the head turned about a random axis by a smooth random angle: a sine
    of amplitude in ``degrees`` and frequency in ``hertz``."""
    t = seq.t - seq.t[0]
    plans = []
    for limb in (*MOVING_LIMBS, Limb.HEAD):
        axis = rng.normal(size=3)
        amplitude = math.radians(rng.uniform(*degrees))
        frequency = rng.uniform(*hertz)
        phase = rng.uniform(0, 2 * math.pi)
        plans.append((limb, axis, amplitude * np.sin(2 * math.pi * frequency * t + phase)))

    def swing(points: FloatArray, is_world: bool) -> FloatArray:
        out = points.copy()
        for limb, axis, angles in plans:
            for i, angle in enumerate(angles):
                rotation = _rotation(axis, float(angle))
                frame = out[i:i + 1]
                out[i:i + 1] = (_head_rotated(frame, rotation) if limb is Limb.HEAD
                                else _limb_rotated(frame, limb, rotation))
        return out

    return _apply_points(seq, swing)


def another_dancer(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """Everything fair at once: another body, camera roll, uneven tempo, a noisier detector
    and a personal style (each limb wandering smoothly by up to 10 degrees)."""
    styled = _swung(seq, rng, degrees=(5.0, 10.0), hertz=(0.2, 0.6))
    return noisy(time_warp(rolled(other_proportions(styled, rng), rng), rng), rng, level=0.02)


def random_motion(seq: PoseSequence, rng: np.random.Generator) -> PoseSequence:
    """The first pose with every limb and the head swinging at random, smoothly."""
    rows = np.zeros(len(seq), dtype=np.int64)
    base = replace(seq, image_xyz=seq.image_xyz[rows], visibility=seq.visibility[rows],
                   world_xyz=seq.world_xyz[rows], present=np.ones(len(seq), dtype=bool))
    return noisy(_swung(base, rng, degrees=(40.0, 90.0), hertz=(0.3, 1.0)), rng, level=0.01)


def different_step(seq: PoseSequence, other: PoseSequence, rng: np.random.Generator
                   ) -> PoseSequence:
    """Another movement, stretched to about this one's duration."""
    factor = seq.duration_s / other.duration_s * rng.uniform(0.85, 1.15)
    n = max(2, round(other.duration_s * factor * other.fps))
    times = other.t[0] + np.linspace(0.0, other.t[-1] - other.t[0], n)
    return _resampled(other, times, np.arange(n) / other.fps, other.fps)


CORRECT: dict[str, Callable[[PoseSequence, np.random.Generator], PoseSequence]] = {
    "time_warp": time_warp, "scale": scaled, "translation": translated, "noise": noisy,
    "dropped_frames": dropped_frames, "roll": rolled, "late_start": late_start,
    "proportions": other_proportions, "feet_cut_off": feet_cut_off,
    "mirrored": mirrored_performance, "another_dancer": another_dancer,
}


# --- the suite ----------------------------------------------------------------------------


def cases_for(reference: PoseSequence, others: Sequence[PoseSequence],
              rng: np.random.Generator) -> list[Case]:
    """Every correct variant and every wrong variant of one reference.

    A wrong variant is only made when it is clearly wrong: a limb is held still only if it
    moves at least :data:`MIN_MOTION` degrees on average, the static pose is a frame the rest
    of the movement departs from by that much, the different step differs by that much.
    """
    cases = []
    for kind, make in CORRECT.items():
        attempt = make(reference, rng)
        if kind != "noise":
            attempt = noisy(attempt, rng, level=0.01)
        cases.append(Case(kind, True, reference, attempt, mirror=kind == "mirrored"))
    motions = {limb: limb_motion(reference, limb) for limb in MOVING_LIMBS}
    most = max(motions, key=lambda limb: motions[limb])
    if motions[most] >= MIN_MOTION:
        cases.append(Case("limb_held_still", False, reference,
                          noisy(held_still(reference, most), rng, level=0.01), wrong_limb=most))
    limb = MOVING_LIMBS[int(rng.integers(0, len(MOVING_LIMBS)))]
    cases.append(Case("limb_rotated", False, reference,
                      noisy(rotated_limb(reference, limb, rng), rng, level=0.01),
                      wrong_limb=limb))
    different = [o for o in others if body_difference(reference, o) >= MIN_MOTION]
    if different:
        other = different[int(rng.integers(0, len(different)))]
        cases.append(Case("different_step", False, reference,
                          noisy(different_step(reference, other, rng), rng, level=0.01)))
    static = static_pose(reference, rng)
    if body_difference(reference, static) >= MIN_MOTION:
        cases.append(Case("static_pose", False, reference, static))
    cases.append(Case("random_motion", False, reference, random_motion(reference, rng)))
    return cases


def build_suite(references: Sequence[PoseSequence], seed: int = 0,
                rounds: int = 1) -> list[Case]:
    """Cases for every reference, ``rounds`` times with fresh randomness.

    A reference's "different step" comes from the other references.
    """
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(rounds):
        for k, reference in enumerate(references):
            others = [r for j, r in enumerate(references) if j != k]
            cases.extend(cases_for(reference, others, rng))
    return cases


@dataclass(frozen=True)
class Verdicts:
    """What the suite says about a scorer."""

    auc: float
    correct_p10: float
    wrong_p90: float
    limb_named_first: float
    correct_scores: tuple[float, ...]
    wrong_scores: tuple[float, ...]


def auc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Probability that a random positive outscores a random negative (ties count half)."""
    pos = np.asarray(positive)[:, None]
    neg = np.asarray(negative)[None, :]
    return float(np.mean((pos > neg) + 0.5 * (pos == neg)))


def verdicts(cases: Sequence[Case], scores: Sequence[float],
             first_limbs: Sequence[Limb | None]) -> Verdicts:
    """Metrics of the suite from each case's score and first-named limb."""
    correct = [s for c, s in zip(cases, scores, strict=True) if c.correct]
    wrong = [s for c, s in zip(cases, scores, strict=True) if not c.correct]
    single = [(c.wrong_limb, named) for c, named in zip(cases, first_limbs, strict=True)
              if c.wrong_limb is not None]
    named = float(np.mean([w == n for w, n in single])) if single else float("nan")
    return Verdicts(auc(correct, wrong), float(np.percentile(correct, 10)),
                    float(np.percentile(wrong, 90)), named, tuple(correct), tuple(wrong))


def plain_json(value: object) -> bool:
    """True when ``value`` is made only of JSON's own Python types (no numpy scalars)."""
    if isinstance(value, dict):
        return all(type(k) is str and plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain_json(v) for v in value)
    return value is None or type(value) in (bool, int, float, str)


# --- real people: the paired set -----------------------------------------------------------

PAIRED = TESTDATA / "paired"
WINDOW_S = 4.0
"""Length of the windows cut from a paired file: about one step."""


@dataclass(frozen=True, eq=False)
class PairedCase:
    """A reference (a whole paired file or a window of one) against another person's whole
    file; ``same`` when both dance the same routine. Judged both mirror ways, the better
    taken (the files do not say who mirrors whom)."""

    kind: str
    same: bool
    reference: PoseSequence
    attempt: PoseSequence


def paired_files(folder: Path = PAIRED) -> dict[str, PoseSequence]:
    """The paired pose files by name. Files whose names share the part before the first
    underscore are the same routine danced by two people (or twice)."""
    from app import sequence as pose_file

    return {path.name.removesuffix(pose_file.SUFFIX): pose_file.load(path)
            for path in sorted(folder.glob(f"*{pose_file.SUFFIX}"))}


def routine_of(name: str) -> str:
    """The routine a paired file shows: its name up to the first underscore."""
    return name.split("_", 1)[0]


def windows(seq: PoseSequence, length_s: float = WINDOW_S, step_s: float = 2.0
            ) -> list[PoseSequence]:
    """Parts of ``length_s`` seconds starting every ``step_s`` seconds."""
    out = []
    start = 0.0
    while start + length_s <= seq.duration_s + 1e-6:
        out.append(seq.trim_seconds(start, start + length_s))
        start += step_s
    return out


def paired_cases(files: dict[str, PoseSequence], others: Sequence[PoseSequence] = (),
                 step_s: float = 2.0) -> list[PairedCase]:
    """Whole files against each other, and windows of each file against every other whole
    file and against ``others`` (other dances).

    A whole file is only compared with one lasting at least half as long (a shorter attempt
    cannot dance all of it).
    """
    cases = []
    attempts = list(files.items())
    attempts += [(other.name or f"other{k}", other) for k, other in enumerate(others)]
    for name, reference in files.items():
        for other_name, attempt in attempts:
            if other_name == name:
                continue
            same = other_name in files and routine_of(other_name) == routine_of(name)
            if attempt.duration_s >= 0.5 * reference.duration_s and other_name in files:
                cases.append(PairedCase("whole", same, reference, attempt))
            cases.extend(PairedCase("window", same, window, attempt)
                         for window in windows(reference, step_s=step_s))
    return cases
