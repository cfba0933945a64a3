"""How well the camera saw the body: landmark weights, parts out of view, jitter.

A landmark's weight (:func:`landmark_weights`) says how far its point can be trusted, and a
feature is judged only as far as its landmarks are; body parts hidden on most frames are named
(:func:`out_of_view`) so the feedback can say so rather than blame the learner; how much the
points jump about from frame to frame (:func:`landmark_jitter`) tells a dim, blurred or tiny
picture the pose model could only guess at.
"""

from __future__ import annotations

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


def jitter_points(image_xyz: FloatArray, visibility: FloatArray, present: npt.NDArray[np.bool_],
                  aspect: float) -> tuple[FloatArray, npt.NDArray[np.bool_], FloatArray]:
    """Isotropic image points of (n, 33, 3) image landmarks for :func:`jitter_counts`: (n, k, 2)
    points of :data:`JITTER_LANDMARKS`, (n, k) whether each was seen, and (n,) each frame's
    torso length (NaN where the torso was not seen)."""
    xyz, weights = raw_points(image_xyz, visibility, None, aspect, "image")
    torso = np.linalg.norm(xyz[:, SHOULDERS].mean(axis=1) - xyz[:, HIPS].mean(axis=1), axis=-1)
    core = np.minimum(weights[:, SHOULDERS].min(axis=1), weights[:, HIPS].min(axis=1))
    torso = np.where(present & (core > 0) & (torso > 1e-6), torso, np.nan)
    seen = (weights[:, JITTER_LANDMARKS] > 0) & present[:, None]
    return xyz[:, JITTER_LANDMARKS, :2], seen, torso


def jitter_counts(xy: FloatArray, seen: npt.NDArray[np.bool_], t: FloatArray,
                  torso: float) -> FloatArray:
    """Histogram (:data:`JITTER_EDGES`) of the accelerations, in ``torso`` lengths per second
    squared, of points seen on three consecutive frames, from :func:`jitter_points` of frames
    at seconds ``t`` (n >= 3)."""
    dt = np.diff(t)
    step = np.maximum(dt[1:], dt[:-1])[:, None]
    acceleration = np.linalg.norm(xy[2:] - 2.0 * xy[1:-1] + xy[:-2], axis=-1) / step ** 2
    both = seen[2:] & seen[1:-1] & seen[:-2]
    return np.bincount(np.searchsorted(JITTER_EDGES, acceleration[both] / torso),
                       minlength=len(JITTER_EDGES) + 1).astype(np.float64)


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
    measures the same from the frames it is given (:func:`jitter_points`,
    :func:`jitter_counts`, :func:`jitter_of`).
    """
    if len(seq) < 3:
        return 0.0
    xy, seen, torso = jitter_points(seq.image_xyz, seq.visibility, seq.present, seq.aspect)
    if not np.isfinite(torso).any():
        return 0.0
    return jitter_of(jitter_counts(xy, seen, seq.t, float(np.nanmedian(torso))))
