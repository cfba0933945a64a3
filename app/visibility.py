"""How well the camera saw the body: landmark weights, parts out of view, jitter.

A landmark's weight (:func:`landmark_weights`) says how far its point can be trusted, and a
feature is judged only as far as its landmarks are; body parts hidden on most frames are named
(:func:`out_of_view`) so the feedback can say so rather than blame the learner; how much the
points jump about from frame to frame (:func:`landmark_jitter`) tells a dim, blurred or tiny
picture the pose model could only guess at.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from app.landmarks import Landmark
from app.normalise import HIPS, SHOULDERS, raw_points
from app.sequence import PoseSequence

FloatArray = npt.NDArray[np.float64]

L = Landmark


def landmark_weights(image_xyz: FloatArray, visibility: FloatArray) -> FloatArray:
    """(n, 33) landmark weights: 0 below visibility 0.4, 1 from 0.7, linear between; 0 for
    landmarks more than 2 % outside the image or unknown.

    ``image_xyz`` is (n, 33, 3) normalised image coordinates, ``visibility`` (n, 33).
    """
    _, weights = raw_points(image_xyz, visibility, None, 1.0, "image")
    return weights


BODY_PARTS: dict[str, tuple[Landmark, ...]] = {
    "head": (L.NOSE, L.LEFT_EYE, L.RIGHT_EYE, L.LEFT_EAR, L.RIGHT_EAR),
    "hands": (L.LEFT_WRIST, L.RIGHT_WRIST, L.LEFT_INDEX, L.RIGHT_INDEX),
    "hips": (L.LEFT_HIP, L.RIGHT_HIP),
    "knees": (L.LEFT_KNEE, L.RIGHT_KNEE),
    "feet": (L.LEFT_ANKLE, L.RIGHT_ANKLE, L.LEFT_HEEL, L.RIGHT_HEEL, L.LEFT_FOOT_INDEX,
             L.RIGHT_FOOT_INDEX),
}
"""Body parts named when they are out of view, as a learner would say them."""
OUT_OF_VIEW_SHARE = 0.5
"""A part is out of view when hidden on more than this share of the frames that show anyone."""


BODY_PART_MATRIX: FloatArray = np.array(
    [[1.0 / len(landmarks) if lm in landmarks else 0.0 for landmarks in BODY_PARTS.values()]
     for lm in Landmark])
"""(33, parts): landmark weights @ this = each body part's mean landmark weight."""


def out_of_view(weights: FloatArray, present: npt.NDArray[np.bool_],
                expected: FloatArray | None = None) -> list[str]:
    """Body parts hidden on most frames, from (n, 33) landmark weights.

    ``expected`` are (m, 33) landmark weights of a reference: parts it does not show either
    are not reported.
    """
    hidden = []
    for part, landmarks in BODY_PARTS.items():
        columns = [int(lm) for lm in landmarks]
        if _hidden_share(weights[:, columns], present) <= OUT_OF_VIEW_SHARE:
            continue
        if expected is not None and _hidden_share(
                expected[:, columns], np.ones(len(expected), dtype=bool)) > OUT_OF_VIEW_SHARE:
            continue
        hidden.append(part)
    return hidden


def _hidden_share(weights: FloatArray, present: npt.NDArray[np.bool_]) -> float:
    """Share of present frames where the mean of (n, k) landmark weights is under 0.5."""
    if not present.any():
        return 0.0
    return float(np.mean(weights[present].mean(axis=1) < 0.5))


JITTER_LANDMARKS = np.array([int(lm) for lm in (
    L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_ELBOW, L.RIGHT_ELBOW, L.LEFT_WRIST, L.RIGHT_WRIST,
    L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE, L.RIGHT_ANKLE)])
"""The landmarks whose frame-to-frame jumps tell how steadily the pose model saw a body."""


JITTER_EDGES: FloatArray = np.geomspace(1.0, 1e4, 97)
"""Bin edges of the acceleration histogram (torso lengths per second squared), 10 % apart."""


def jitter_of(counts: FloatArray) -> float:
    """The 90th percentile of a :func:`jitter_counts` histogram (0 when empty), to a bin."""
    total = float(counts.sum())
    if total == 0:
        return 0.0
    k = int(np.searchsorted(np.cumsum(counts), 0.9 * total))
    return float(JITTER_EDGES[min(k, len(JITTER_EDGES) - 1)])


def landmark_jitter(seq: PoseSequence) -> float:
    """How much the pose model's points jump about: the 90th percentile, over the visible
    landmarks of :data:`JITTER_LANDMARKS` on three consecutive frames, of the acceleration in
    the image plane, in median torso lengths per second squared (0 with too few frames).

    Dancing moves the points smoothly; a dim, blurred or tiny picture makes the model's
    guesses jump from frame to frame, often by a large part of the body. A live session
    measures the same from the frames it is given (:class:`JitterMeter`, :func:`jitter_of`).
    """
    xyz, weights = raw_points(seq.image_xyz, seq.visibility, None, seq.aspect, "image")
    torso = np.linalg.norm(xyz[:, SHOULDERS].mean(axis=1) - xyz[:, HIPS].mean(axis=1), axis=-1)
    core = np.minimum(weights[:, SHOULDERS].min(axis=1), weights[:, HIPS].min(axis=1))
    seen = seq.present & (core > 0) & (torso > 1e-6)
    if len(seq) < 3 or not seen.any():
        return 0.0
    meter = JitterMeter(1.0, scale=float(np.median(torso[seen])))
    for k in range(len(seq)):
        if seq.present[k]:
            meter.add_points(float(seq.t[k]), xyz[k], weights[k])
        else:
            meter.gap()
    return jitter_of(meter.counts)


class JitterMeter:
    """:func:`landmark_jitter` measured frame by frame, in bounded memory (a live session).

    ``counts`` is the histogram (:data:`JITTER_EDGES`) of every acceleration so far, in torso
    lengths per second squared: ``scale``, or the mean torso of the frames seen so far when
    None; ``recent`` the same with each count fading by ``e`` every ``memory_s`` seconds. One
    frame costs a few microseconds.
    """

    def __init__(self, memory_s: float, scale: float | None = None) -> None:
        if not memory_s > 0:
            raise ValueError(f"memory_s must be positive, got {memory_s}")
        if scale is not None and not scale > 0:
            raise ValueError(f"scale must be positive or None, got {scale}")
        self.memory_s = memory_s
        self.scale = 0.0 if scale is None else scale
        self.counts = np.zeros(len(JITTER_EDGES) + 1)
        self.recent = np.zeros(len(JITTER_EDGES) + 1)
        self._xy = np.zeros((3, len(JITTER_LANDMARKS), 2))
        self._seen = np.zeros((3, len(JITTER_LANDMARKS)), dtype=np.bool_)
        self._t = np.zeros(3)
        # frames held (0-3), torso lengths summed, torso lengths counted
        self._state = np.zeros(3)

    def add(self, t: float, image_xyz: FloatArray, visibility: FloatArray,
            aspect: float) -> None:
        """One frame's (33, 3) image landmarks and (33,) visibility at ``t`` seconds."""
        xyz, weights = raw_points(image_xyz[None], visibility[None], None, aspect, "image")
        self.add_points(t, xyz[0], weights[0])

    def add_points(self, t: float, xyz: FloatArray, weights: FloatArray) -> None:
        """One frame's (33, 3) points and (33,) weights from :func:`raw_points` (image space)."""
        _jitter_kernel(xyz, weights, t, math.exp(-1.0 / self.memory_s), self.scale, self._xy,
                       self._seen, self._t, self._state, self.counts, self.recent)

    def gap(self) -> None:
        """Nobody was seen: accelerations start again from the next three frames."""
        self._state[0] = 0.0


@numba.njit(cache=True, nogil=True)
def _jitter_kernel(xyz: FloatArray, weights: FloatArray, t: float, decay_per_s: float,
                   fixed_scale: float, ring_xy: FloatArray, ring_seen: npt.NDArray[np.bool_],
                   ring_t: FloatArray, state: FloatArray, counts: FloatArray,
                   recent: FloatArray) -> None:  # pragma: no cover
    """:meth:`JitterMeter.add` from the frame's raw points and weights (:func:`raw_points`)."""
    torso = 0.0
    for axis in range(3):
        shoulder = 0.5 * (xyz[SHOULDERS[0], axis] + xyz[SHOULDERS[1], axis])
        hip = 0.5 * (xyz[HIPS[0], axis] + xyz[HIPS[1], axis])
        torso += (shoulder - hip) ** 2
    torso = math.sqrt(torso)
    core = min(weights[SHOULDERS[0]], weights[SHOULDERS[1]], weights[HIPS[0]],
               weights[HIPS[1]])
    if core > 0 and torso > 1e-6:
        state[1] += torso
        state[2] += 1.0
    held = int(state[0])
    if held == 3:
        ring_xy[:2] = ring_xy[1:].copy()
        ring_seen[:2] = ring_seen[1:].copy()
        ring_t[:2] = ring_t[1:].copy()
    slot = min(held, 2)
    for k in range(JITTER_LANDMARKS.shape[0]):
        landmark = JITTER_LANDMARKS[k]
        ring_xy[slot, k, 0] = xyz[landmark, 0]
        ring_xy[slot, k, 1] = xyz[landmark, 1]
        ring_seen[slot, k] = weights[landmark] > 0
    ring_t[slot] = t
    state[0] = min(held + 1, 3)
    if state[0] < 3 or (fixed_scale == 0 and state[2] == 0):
        return
    scale = fixed_scale if fixed_scale > 0 else state[1] / state[2]
    step = max(ring_t[2] - ring_t[1], ring_t[1] - ring_t[0])
    fade = decay_per_s ** (ring_t[2] - ring_t[1])
    for b in range(recent.shape[0]):
        recent[b] *= fade
    for k in range(JITTER_LANDMARKS.shape[0]):
        if not (ring_seen[0, k] and ring_seen[1, k] and ring_seen[2, k]):
            continue
        ax = ring_xy[2, k, 0] - 2.0 * ring_xy[1, k, 0] + ring_xy[0, k, 0]
        ay = ring_xy[2, k, 1] - 2.0 * ring_xy[1, k, 1] + ring_xy[0, k, 1]
        acceleration = math.sqrt(ax * ax + ay * ay) / step ** 2 / scale
        b = np.searchsorted(JITTER_EDGES, acceleration)
        counts[b] += 1.0
        recent[b] += 1.0
