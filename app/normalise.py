"""From landmarks to a body-centred skeleton, and from the skeleton to the features compared.

Pipeline, in the order applied (each step named after the space it produces):

1. ``body_xyz``: the coordinate space is chosen once per comparison (:func:`common_space`):
   MediaPipe's *world* landmarks (metres) when both sides carry them, otherwise *image*
   landmarks made isotropic (normalised ``x`` and ``z`` multiplied by width / height, so all
   three axes are in units of the image height). Mixing the two would compare a metric 3-D
   estimate with a flat projection and invent errors, hence one space for both.
2. Centred on the hip midpoint, optionally mirrored (left and right swapped and ``x`` flipped),
   turned so the camera's roll is undone (the hip and shoulder lines are level on average over
   the sequence), optionally turned so the body faces the camera on average, and scaled so the
   median torso (hip midpoint to shoulder midpoint) is 1 long.
3. Features: joint angles and bone directions (:data:`app.schema.SKELETON`). Angles and unit
   directions do not depend on where the person stands, how big they are or how long their
   limbs are; arm and head directions are taken in a *torso frame* (the frame turned so the
   torso points straight up), so an arm held right relative to a leaning body is not blamed for
   the lean; legs and the torso itself are taken in the *gravity frame* (roll-corrected camera
   axes), where "bend your knees" and "lean forward" are meant.

Every landmark carries a weight from its visibility (:func:`raw_points`, which
:func:`app.visibility.landmark_weights` returns alone); a feature's weight is the smallest
weight of the landmarks it uses, so a landmark out of view or guessed by the detector never
produces an error, it is simply not judged.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from app.features import BodyPoints, Features, Space
from app.landmarks import MIRROR_PERMUTATION, Landmark
from app.schema import SKELETON
from app.sequence import N_LANDMARKS, PoseSequence

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

VISIBLE_FROM = 0.4
"""Visibility below which a landmark is not judged at all."""
FULLY_VISIBLE = 0.7
"""Visibility from which a landmark is judged with full weight (linear ramp in between)."""
IMAGE_MARGIN = 0.02
"""Image landmarks further than this outside the frame (normalised units) are not judged."""
WORLD_SHARE = 0.9
"""Share of present frames that must carry world landmarks for the world space to be used."""
IMAGE_DEPTH_SCALE = 3.0
"""How many times deeper the pose model's image ``z`` is than its ``x`` (after the aspect
ratio): 3.9 on a jumping-jacks clip and 2.7 on a dance clip (fitted against the model's own world
landmarks), 2.3 on the tfjs squats (a thigh's length at the bottom of a squat). Image ``z`` is
divided by it, so image-space directions are not tipped toward the camera."""
MAX_ROLL_CORRECTION = math.radians(20.0)
"""Camera roll is undone up to this angle; beyond it the tilt is the dancer's, not the camera's."""

L = Landmark
HIPS = np.array([int(L.LEFT_HIP), int(L.RIGHT_HIP)])
"""Landmark indices of the hips."""
SHOULDERS = np.array([int(L.LEFT_SHOULDER), int(L.RIGHT_SHOULDER)])
"""Landmark indices of the shoulders."""
_LINE_LEFT = np.array([int(L.LEFT_HIP), int(L.LEFT_SHOULDER)])
_LINE_RIGHT = np.array([int(L.RIGHT_HIP), int(L.RIGHT_SHOULDER)])
_MIRROR = MIRROR_PERMUTATION.astype(np.int64)
_LEFT_HIP, _RIGHT_HIP = int(L.LEFT_HIP), int(L.RIGHT_HIP)
_LEFT_SHOULDER, _RIGHT_SHOULDER = int(L.LEFT_SHOULDER), int(L.RIGHT_SHOULDER)


def common_space(*sequences: PoseSequence) -> Space:
    """``"world"`` when every sequence carries world landmarks on nearly all present frames."""
    for seq in sequences:
        present = int(seq.present.sum())
        if present == 0 or (seq.has_world & seq.present).sum() < WORLD_SHARE * present:
            return "image"
    return "world"


def raw_points(image_xyz: FloatArray, visibility: FloatArray, world_xyz: FloatArray | None,
               aspect: float, space: Space) -> tuple[FloatArray, FloatArray]:
    """Isotropic points and landmark weights of one or more frames, before normalisation.

    Parameters
    ----------
    image_xyz : (n, 33, 3) float64
        Normalised image landmarks; NaN rows for absent frames.
    visibility : (n, 33) float64
    world_xyz : (n, 33, 3) float64 or None
        Needed when ``space`` is ``"world"``; frames without world landmarks get weight 0.
    aspect : float
        Image width over height.
    space : {"world", "image"}

    Returns
    -------
    xyz : (n, 33, 3) float64
        Image points with ``x`` times ``aspect`` and ``z`` times ``aspect /``
        :data:`IMAGE_DEPTH_SCALE`, or world points; finite everywhere (0 where unknown).
    weights : (n, 33) float64
        See :func:`landmark_weights`; 0 where the chosen points are unknown.
    """
    use_world = space == "world"
    if use_world and world_xyz is None:
        raise ValueError("the world space needs world landmarks")
    n = image_xyz.shape[0]
    if image_xyz.shape != (n, N_LANDMARKS, 3) or visibility.shape != (n, N_LANDMARKS):
        raise ValueError(f"landmarks have shape {image_xyz.shape} and visibility "
                         f"{visibility.shape}, expected ({n}, {N_LANDMARKS}, 3) and "
                         f"({n}, {N_LANDMARKS})")
    xyz = np.empty((n, N_LANDMARKS, 3))
    weights = np.empty((n, N_LANDMARKS))
    _raw_kernel(np.ascontiguousarray(image_xyz, dtype=np.float64),
                np.ascontiguousarray(visibility, dtype=np.float64),
                np.ascontiguousarray(world_xyz if use_world else image_xyz, dtype=np.float64),
                aspect, use_world, xyz, weights)
    return xyz, weights


@numba.njit(cache=True, nogil=True)
def _raw_kernel(image: FloatArray, visibility: FloatArray, world: FloatArray, aspect: float,
                use_world: bool, xyz: FloatArray, weights: FloatArray) -> None:  # pragma: no cover
    lo = -IMAGE_MARGIN
    hi = 1.0 + IMAGE_MARGIN
    for n in range(image.shape[0]):
        for k in range(image.shape[1]):
            x = image[n, k, 0]
            y = image[n, k, 1]
            ramp = (visibility[n, k] - VISIBLE_FROM) / (FULLY_VISIBLE - VISIBLE_FROM)
            w = min(1.0, max(0.0, ramp)) if lo < x < hi and lo < y < hi else 0.0
            if use_world:
                px, py, pz = world[n, k, 0], world[n, k, 1], world[n, k, 2]
            else:
                px, py, pz = x * aspect, y, image[n, k, 2] * aspect / IMAGE_DEPTH_SCALE
            if np.isfinite(px) and np.isfinite(py) and np.isfinite(pz) and np.isfinite(w):
                xyz[n, k, 0], xyz[n, k, 1], xyz[n, k, 2] = px, py, pz
                weights[n, k] = w
            else:
                xyz[n, k, 0], xyz[n, k, 1], xyz[n, k, 2] = 0.0, 0.0, 0.0
                weights[n, k] = 0.0


def hip_centre(xyz: FloatArray) -> FloatArray:
    """(n, 1, 3) hip midpoint of each frame of (n, 33, 3) points."""
    return np.asarray(xyz[:, HIPS].mean(axis=1, keepdims=True))


def prepared(xyz: FloatArray, weights: FloatArray, mirror: bool = False
             ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mirror (optionally) and centre raw points, and collect evidence of roll and facing.

    Parameters
    ----------
    xyz : (n, 33, 3) float64
        Points from :func:`raw_points`.
    weights : (n, 33) float64
    mirror : bool
        Swap left and right landmarks and flip ``x`` (the left-right mirror image).

    Returns
    -------
    centred : (n, 33, 3) float64
        Hip midpoint at the origin; 0 where the weight is 0.
    weights : (n, 33) float64
        In the (possibly mirrored) landmark order.
    evidence : (n, 4) float64
        Per frame, from the hip and shoulder lines weighted by their landmarks: the camera's
        roll as ``(c, s)`` (sums of the doubled line angle's cosine and sine times the squared
        length, for :func:`roll_from_sums`) and the body's facing as ``(x, z)`` (sums of the
        lines' ``x`` and ``z``, for :func:`facing_from_sums`). Evidence adds up over frames.
    """
    n = xyz.shape[0]
    centred = np.empty((n, N_LANDMARKS, 3))
    out_w = np.empty((n, N_LANDMARKS))
    evidence = np.zeros((n, 4))
    _prepare_kernel(np.ascontiguousarray(xyz, dtype=np.float64),
                    np.ascontiguousarray(weights, dtype=np.float64), mirror, _MIRROR,
                    centred, out_w, evidence)
    return centred, out_w, evidence


def roll_from_sums(c: float, s: float) -> float:
    """Radians to turn points by (about the camera axis) to level the lines summed."""
    if math.hypot(c, s) < 1e-9:
        return 0.0
    roll = 0.5 * math.atan2(s, c)
    return min(MAX_ROLL_CORRECTION, max(-MAX_ROLL_CORRECTION, -roll))


def facing_from_sums(x: float, z: float) -> float:
    """Radians about the vertical axis that turn the summed lines to face the camera."""
    if math.hypot(x, z) < 1e-9:
        return 0.0
    return float(-math.atan2(z, x))


def orientation(evidence: FloatArray, align_facing: bool = False) -> tuple[float, float]:
    """``(roll, yaw)`` radians from evidence summed to (4,) (see :func:`prepared`)."""
    roll = roll_from_sums(float(evidence[0]), float(evidence[1]))
    yaw = facing_from_sums(float(evidence[2]), float(evidence[3])) if align_facing else 0.0
    return roll, yaw


def rotated_about_z(xyz: FloatArray, angle: float) -> FloatArray:
    """(..., 3) points turned by ``angle`` radians in the image plane."""
    c, s = math.cos(angle), math.sin(angle)
    out = xyz.copy()
    out[..., 0] = c * xyz[..., 0] - s * xyz[..., 1]
    out[..., 1] = s * xyz[..., 0] + c * xyz[..., 1]
    return out


def rotated_about_y(xyz: FloatArray, angle: float) -> FloatArray:
    """(..., 3) points turned by ``angle`` radians about the vertical axis."""
    c, s = math.cos(angle), math.sin(angle)
    out = xyz.copy()
    out[..., 0] = c * xyz[..., 0] - s * xyz[..., 2]
    out[..., 2] = s * xyz[..., 0] + c * xyz[..., 2]
    return out


def torso_length(xyz: FloatArray, weights: FloatArray) -> float:
    """Median distance from hip midpoint to shoulder midpoint over frames where both show."""
    w = np.minimum(weights[:, HIPS].min(axis=1), weights[:, SHOULDERS].min(axis=1))
    lengths = np.linalg.norm(xyz[:, SHOULDERS].mean(axis=1) - xyz[:, HIPS].mean(axis=1),
                             axis=-1)
    seen = lengths[w > 0]
    return float(np.median(seen)) if seen.size and np.median(seen) > 1e-9 else 1.0


def body_points(seq: PoseSequence, space: Space = "image", mirror: bool = False,
                align_facing: bool = False) -> BodyPoints:
    """Landmarks of ``seq`` in the normalised body space (steps 1-2 of the module docstring).

    Raises
    ------
    ValueError
        If ``space`` is ``"world"`` and ``seq`` has no world landmarks.
    """
    xyz, weights, evidence = _prepared_sequence(seq, space, mirror)
    roll, yaw = orientation(evidence.sum(axis=0), align_facing)
    xyz = rotated_about_y(rotated_about_z(xyz, roll), yaw)
    return BodyPoints(xyz / torso_length(xyz, weights), weights, roll)


def _prepared_sequence(seq: PoseSequence, space: Space, mirror: bool
                       ) -> tuple[FloatArray, FloatArray, FloatArray]:
    if space == "world" and not seq.has_world.any():
        raise ValueError(f"sequence {seq.name or '(unnamed)'} has no world landmarks")
    xyz, weights = raw_points(seq.image_xyz, seq.visibility, seq.world_xyz, seq.aspect, space)
    return prepared(xyz, weights, mirror)


def feature_matrix(seq: PoseSequence, mirror: bool = False, space: Space | None = None,
                   align_facing: bool = False) -> Features:
    """Joint angles and bone directions of every frame of ``seq``.

    Parameters
    ----------
    seq : PoseSequence
    mirror : bool
        Compare as the left-right mirror image (the learner's left copies the reference's
        right).
    space : {"world", "image"} or None
        Landmarks to use; None picks world landmarks when ``seq`` has them on nearly every
        frame. To compare two sequences, pass :func:`common_space` of both.
    align_facing : bool
        Turn the body to face the camera on average before measuring.

    Returns
    -------
    Features
        ``values`` and ``weights`` of shape (n, F) with F = ``SKELETON.n_features``.

    Examples
    --------
    >>> from app.sequence import PoseSequence
    >>> feature_matrix(PoseSequence.empty()).values.shape
    (0, 45)
    """
    chosen: Space = common_space(seq) if space is None else space
    xyz, weights, evidence = _prepared_sequence(seq, chosen, mirror)
    values, feature_w = features_of_points(xyz, weights,
                                           *orientation(evidence.sum(axis=0), align_facing))
    feature_w[~seq.present] = 0.0
    return Features(values, feature_w, seq.t.astype(np.float64), chosen)


class FrameFeatures:
    """Features of frames given one at a time, as :func:`feature_matrix` computes them.

    The camera's roll (and, with ``align_facing``, the body's facing) is estimated from the
    frames seen so far, older frames fading with a time constant of ``memory_frames``.

    Parameters
    ----------
    space : {"world", "image"}
        Landmarks to use; a frame without world landmarks in the world space is not judged.
    mirror, align_facing : bool
        As for :func:`feature_matrix`.
    """

    def __init__(self, space: Space = "image", mirror: bool = False,
                 align_facing: bool = False, memory_frames: float = 300.0) -> None:
        self.space: Space = space
        self.mirror = mirror
        self.align_facing = align_facing
        self._decay = math.exp(-1.0 / memory_frames)
        self._missing_world = np.full((1, N_LANDMARKS, 3), np.nan)
        self._xyz = np.empty((1, N_LANDMARKS, 3))
        self._centred = np.empty((1, N_LANDMARKS, 3))
        self._prepared_w = np.empty((1, N_LANDMARKS))
        self._frame_evidence = np.empty((1, 4))
        self.reset()

    def reset(self) -> None:
        """Forget the roll and facing estimated so far."""
        self._evidence = np.zeros(4)

    def __call__(self, image_xyz: FloatArray, visibility: FloatArray,
                 world_xyz: FloatArray | None, aspect: float
                 ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(values, weights, landmark_weights)`` of one frame: (F,), (F,) and (33,).

        ``landmark_weights`` are in the learner's own (unmirrored) landmark order.
        """
        use_world = self.space == "world"
        image = np.ascontiguousarray(image_xyz, dtype=np.float64).reshape(1, N_LANDMARKS, 3)
        if use_world and world_xyz is None:
            points = self._missing_world
        elif use_world:
            points = np.ascontiguousarray(world_xyz, dtype=np.float64).reshape(1, N_LANDMARKS, 3)
        else:
            points = image
        landmark_w = np.empty((1, N_LANDMARKS))
        _frame_points_kernel(image, np.ascontiguousarray(visibility, dtype=np.float64)
                             .reshape(1, N_LANDMARKS), points, aspect, use_world, self.mirror,
                             _MIRROR, self._decay, self._xyz, landmark_w, self._centred,
                             self._prepared_w, self._frame_evidence, self._evidence)
        roll, yaw = orientation(self._evidence, self.align_facing)
        values = np.zeros((1, SKELETON.n_features))
        weights = np.zeros((1, SKELETON.n_features))
        _features_kernel(self._centred, self._prepared_w, roll, yaw, SKELETON.joint_landmarks,
                         SKELETON.direction_landmarks, values, weights)
        return values[0], weights[0], landmark_w[0]


@numba.njit(cache=True, nogil=True)
def _frame_points_kernel(image: FloatArray, visibility: FloatArray, points: FloatArray,
                         aspect: float, use_world: bool, mirror: bool, permutation: IntArray,
                         decay: float, xyz: FloatArray, lw: FloatArray, centred: FloatArray,
                         prepared_w: FloatArray, frame_evidence: FloatArray,
                         evidence: FloatArray) -> None:  # pragma: no cover
    """:func:`raw_points` and :func:`prepared` of one frame; ``evidence`` (4,) fades by
    ``decay`` and takes the frame's."""
    _raw_kernel(image, visibility, points, aspect, use_world, xyz, lw)
    frame_evidence[:] = 0.0
    _prepare_kernel(xyz, lw, mirror, permutation, centred, prepared_w, frame_evidence)
    for k in range(4):
        evidence[k] = evidence[k] * decay + frame_evidence[0, k]


def features_of_points(xyz: FloatArray, weights: FloatArray, roll: float = 0.0,
                       yaw: float = 0.0) -> tuple[FloatArray, FloatArray]:
    """Feature values and weights of (n, 33, 3) centred points with (n, 33) weights.

    The points are first turned by ``roll`` radians about the camera axis, then by ``yaw``
    about the vertical. Returns two (n, F) arrays; a frame without a visible torso gets weight
    0 throughout the torso-frame features.
    """
    n = xyz.shape[0]
    if xyz.shape != (n, N_LANDMARKS, 3) or weights.shape != (n, N_LANDMARKS):
        raise ValueError(f"points have shape {xyz.shape} and weights {weights.shape}, expected "
                         f"({n}, {N_LANDMARKS}, 3) and ({n}, {N_LANDMARKS})")
    values = np.zeros((n, SKELETON.n_features))
    out_w = np.zeros((n, SKELETON.n_features))
    _features_kernel(np.ascontiguousarray(xyz, dtype=np.float64),
                     np.ascontiguousarray(weights, dtype=np.float64), roll, yaw,
                     SKELETON.joint_landmarks, SKELETON.direction_landmarks, values, out_w)
    return values, out_w


@numba.njit(cache=True, nogil=True)
def _prepare_kernel(xyz: FloatArray, lw: FloatArray, mirror: bool, permutation: IntArray,
                    out: FloatArray, out_w: FloatArray,
                    evidence: FloatArray) -> None:  # pragma: no cover
    sign = -1.0 if mirror else 1.0
    for n in range(xyz.shape[0]):
        for k in range(xyz.shape[1]):
            source = permutation[k] if mirror else k
            out_w[n, k] = lw[n, source]
            out[n, k, 0] = sign * xyz[n, source, 0]
            out[n, k, 1] = xyz[n, source, 1]
            out[n, k, 2] = xyz[n, source, 2]
        for axis in range(3):
            centre = 0.5 * (out[n, _LEFT_HIP, axis] + out[n, _RIGHT_HIP, axis])
            for k in range(xyz.shape[1]):
                out[n, k, axis] = out[n, k, axis] - centre if out_w[n, k] > 0.0 else 0.0
        for pair in range(2):
            a = _LINE_LEFT[pair]
            b = _LINE_RIGHT[pair]
            w = min(out_w[n, a], out_w[n, b])
            dx = out[n, a, 0] - out[n, b, 0]
            dy = out[n, a, 1] - out[n, b, 1]
            dz = out[n, a, 2] - out[n, b, 2]
            evidence[n, 0] += w * (dx * dx - dy * dy)
            evidence[n, 1] += w * 2.0 * dx * dy
            evidence[n, 2] += w * dx
            evidence[n, 3] += w * dz


@numba.njit(cache=True, nogil=True)
def _features_kernel(xyz: FloatArray, lw: FloatArray, roll: float, yaw: float,
                     joints: IntArray, directions: IntArray, values: FloatArray,
                     weights: FloatArray) -> None:  # pragma: no cover
    n_joints = joints.shape[0]
    up_column = n_joints
    rot = np.empty((3, 3))
    up = np.empty(3)
    d = np.empty(3)
    p = np.empty((xyz.shape[1], 3))
    cr, sr = np.cos(roll), np.sin(roll)
    cy, sy = np.cos(yaw), np.sin(yaw)
    for n in range(xyz.shape[0]):
        w = lw[n]
        for k in range(xyz.shape[1]):
            x = cr * xyz[n, k, 0] - sr * xyz[n, k, 1]
            p[k, 1] = sr * xyz[n, k, 0] + cr * xyz[n, k, 1]
            p[k, 0] = cy * x - sy * xyz[n, k, 2]
            p[k, 2] = sy * x + cy * xyz[n, k, 2]
        for k in range(n_joints):
            a, j, b = joints[k, 0], joints[k, 1], joints[k, 2]
            uv = uu = vv = 0.0
            for axis in range(3):
                u = p[a, axis] - p[j, axis]
                v = p[b, axis] - p[j, axis]
                uv += u * v
                uu += u * u
                vv += v * v
            if uu < 1e-18 or vv < 1e-18:
                continue
            values[n, k] = np.arccos(min(1.0, max(-1.0, uv / np.sqrt(uu * vv))))
            weights[n, k] = min(w[a], min(w[j], w[b]))
        torso_w = min(min(w[_LEFT_SHOULDER], w[_RIGHT_SHOULDER]),
                      min(w[_LEFT_HIP], w[_RIGHT_HIP]))
        for axis in range(3):
            up[axis] = 0.5 * (p[_LEFT_SHOULDER, axis] + p[_RIGHT_SHOULDER, axis]
                              - p[_LEFT_HIP, axis] - p[_RIGHT_HIP, axis])
        norm = np.sqrt(up[0] * up[0] + up[1] * up[1] + up[2] * up[2])
        if norm < 1e-9:
            torso_w = 0.0
            up[0], up[1], up[2] = 0.0, -1.0, 0.0
        else:
            up /= norm
        values[n, up_column] = np.arccos(min(1.0, max(-1.0, -up[1])))
        weights[n, up_column] = torso_w
        _rotation_to_up(up, rot)
        column = up_column + 1
        for k in range(directions.shape[0]):
            s0, s1, e0, e1 = directions[k, 0], directions[k, 1], directions[k, 2], directions[k, 3]
            in_torso = directions[k, 4] == 1
            for axis in range(3):
                d[axis] = 0.5 * (p[e0, axis] + p[e1, axis] - p[s0, axis] - p[s1, axis])
            length = np.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
            weight = min(min(w[s0], w[s1]), min(w[e0], w[e1]))
            if in_torso:
                weight = min(weight, torso_w)
            if length > 1e-9:
                for axis in range(3):
                    if in_torso:
                        component = rot[axis, 0] * d[0] + rot[axis, 1] * d[1] + rot[axis, 2] * d[2]
                    else:
                        component = d[axis]
                    values[n, column + axis] = component / length
                    weights[n, column + axis] = weight
            column += 3


@numba.njit(cache=True, nogil=True)
def _rotation_to_up(u: FloatArray, out: FloatArray) -> None:  # pragma: no cover
    """The smallest rotation taking unit vector ``u`` to straight up, (0, -1, 0)."""
    c = -u[1]
    if c < -0.999999:
        out[:] = 0.0
        out[0, 0] = -1.0
        out[1, 1] = -1.0
        out[2, 2] = 1.0
        return
    # axis v = u x up = (u_z, 0, -u_x) with up = (0, -1, 0); Rodrigues with k = 1 / (1 + c)
    vx, vy, vz = u[2], 0.0, -u[0]
    k = 1.0 / (1.0 + c)
    out[0, 0] = 1.0 - k * (vy * vy + vz * vz)
    out[0, 1] = -vz + k * vx * vy
    out[0, 2] = vy + k * vx * vz
    out[1, 0] = vz + k * vx * vy
    out[1, 1] = 1.0 - k * (vx * vx + vz * vz)
    out[1, 2] = -vx + k * vy * vz
    out[2, 0] = -vy + k * vx * vz
    out[2, 1] = vx + k * vy * vz
    out[2, 2] = 1.0 - k * (vx * vx + vy * vy)


def warm_up() -> None:
    """Compile (or load from cache) the feature kernel so the first real call is fast."""
    features_of_points(np.zeros((1, N_LANDMARKS, 3)), np.zeros((1, N_LANDMARKS)))
