"""What a learner is compared with: a reference movement and its tolerance.

A stored step with one take is judged with the default tolerance
(:attr:`app.schema.FeatureSchema.default_tolerance`); from several takes of the instructor the
reference is their mean movement, and the tolerance widens by how much the takes vary at each
moment (:func:`tolerance_from_takes`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
import numpy.typing as npt

from app.align import align_offline
from app.errors import NoAlignmentError, UserError
from app.features import Features
from app.normalise import common_space, feature_matrix, hip_centre, torso_length
from app.rhythm import Accents, accents_of
from app.schema import SKELETON
from app.sequence import PoseSequence
from app.visibility import landmark_weights

FloatArray = npt.NDArray[np.float64]

SPREAD_FACTOR = 2.0
"""Tolerance = sqrt(default^2 + (SPREAD_FACTOR x instructor's spread)^2)."""


@dataclass(frozen=True, eq=False)
class Reference:
    """What the learner is compared with.

    Attributes
    ----------
    sequence : PoseSequence
        The (mean) movement.
    tolerance : (n_frames, n_features) float64 or None
        Per moment and feature, the spread the instructor's own takes show, in feature units
        (0 where unknown); None: no measured spread. The scorer widens the default tolerance
        by it (:meth:`tolerance_matrix`), never narrows it.
    """

    sequence: PoseSequence
    tolerance: FloatArray | None = None

    def __post_init__(self) -> None:
        if len(self.sequence) == 0:
            raise UserError(f"reference {self.sequence.name or '(unnamed)'} has no frames")
        if not self.sequence.present.any():
            raise UserError(f"reference {self.sequence.name or '(unnamed)'} shows nobody")
        if self.tolerance is not None:
            expected = (len(self.sequence), SKELETON.n_features)
            if self.tolerance.shape != expected:
                raise ValueError(f"reference tolerance has shape {self.tolerance.shape}, "
                                 f"expected {expected}")
            if not (np.isfinite(self.tolerance).all() and np.all(self.tolerance >= 0)):
                raise ValueError("reference tolerance must be finite and not negative")

    @classmethod
    def from_sequence(cls, seq: PoseSequence) -> Reference:
        """The reference a stored sequence stands for.

        With one take, the sequence itself and the default tolerance. With several, the mean
        movement of the takes and their spread (:func:`tolerance_from_takes`), named, titled
        and split into steps like the first take.
        """
        if not seq.takes:
            return cls(seq)
        takes = [replace(seq, takes=())] + [replace(take, steps=seq.steps) for take in seq.takes]
        mean, spread = tolerance_from_takes(takes)
        return cls(replace(mean, name=seq.name, title=seq.title, steps=seq.steps, takes=()),
                   spread)

    @cached_property
    def accents(self) -> Accents:
        """When the reference's own dancer marks a beat (:func:`app.rhythm.accents_of`), found
        once: a class practising one step opens it once a learner, and the library keeps one
        :class:`Reference` per stored file."""
        seq = self.sequence
        return accents_of(seq.t - seq.t[0], seq.image_xyz, seq.visibility, seq.aspect)

    @property
    def name(self) -> str:
        return self.sequence.name

    def tolerance_matrix(self) -> FloatArray:
        """(n_frames, F) tolerance in feature units used for scoring and alignment."""
        n = len(self.sequence)
        if self.tolerance is None:
            return np.broadcast_to(SKELETON.default_tolerance, (n, SKELETON.n_features)).copy()
        return np.sqrt(SKELETON.default_tolerance ** 2 + (SPREAD_FACTOR * self.tolerance) ** 2)


def as_reference(reference: Reference | PoseSequence) -> Reference:
    """A :class:`Reference` for a bare sequence (default tolerance)."""
    return reference if isinstance(reference, Reference) else Reference(reference)


def tolerance_from_takes(takes: Sequence[PoseSequence]) -> tuple[PoseSequence, FloatArray]:
    """A mean sequence and its per-moment tolerance from several takes of one movement.

    The take closest to all others (lowest total alignment cost) is the anchor; every other
    take is aligned to it with :func:`app.align.align_offline`, and at each anchor frame the
    matched frames are averaged: landmarks (placed and sized like the anchor's body) and
    features, whose spread (standard deviation over takes, smoothed over 0.2 s) is the
    tolerance. One take gives itself and zero spread.

    Returns
    -------
    mean : PoseSequence
        Frames, steps and metadata of the anchor with averaged landmarks.
    spread : (n_frames, F) float64
        Feature units; for :class:`Reference`'s ``tolerance``.

    Raises
    ------
    ValueError
        With no takes.
    NoAlignmentError
        When a take cannot be aligned with another (durations more than twice apart).
    """
    if not takes:
        raise ValueError("need at least one take to build a reference")
    space = common_space(*takes)
    features = [feature_matrix(take, space=space) for take in takes]
    if len(takes) == 1:
        return takes[0], np.zeros((len(takes[0]), SKELETON.n_features))
    paths = {}
    totals = np.zeros(len(takes))
    for a in range(len(takes)):
        for b in range(len(takes)):
            if a == b:
                continue
            grid = features[b].resample(features[a].fps)
            try:
                alignment = align_offline(features[a], grid)
            except NoAlignmentError as exc:
                raise NoAlignmentError(f"take {b + 1} cannot be aligned with take {a + 1}: their "
                                 f"durations differ by more than twice") from exc
            paths[a, b] = (alignment.path, grid)
            totals[a] += alignment.cost
    anchor = int(np.argmin(totals))
    return _mean_of_takes(takes, features, anchor, paths)


def _mean_of_takes(takes: Sequence[PoseSequence], features: Sequence[Features], anchor: int,
                   paths: Mapping[tuple[int, int], tuple[npt.NDArray[np.int64], Features]]
                   ) -> tuple[PoseSequence, FloatArray]:
    base = takes[anchor]
    n = len(base)
    k = len(takes)
    values = np.zeros((k, n, SKELETON.n_features))
    weights = np.zeros((k, n, SKELETON.n_features))
    frame_of = np.zeros((k, n), dtype=np.int64)
    matched = np.zeros((k, n), dtype=bool)
    for b in range(k):
        if b == anchor:
            frame_of[b] = np.arange(n)
            matched[b] = True
            values[b], weights[b] = features[b].values, features[b].weights
            continue
        path, grid = paths[anchor, b]
        i, j = path[:, 0], path[:, 1]
        frame_of[b, i] = np.clip(np.searchsorted(takes[b].t, grid.t[j] - 1e-9), 0,
                                 len(takes[b]) - 1)
        matched[b, i] = True
        values[b, i], weights[b, i] = grid.values[j], grid.weights[j]
    weights *= matched[:, :, None]
    total = np.maximum(weights.sum(axis=0), 1e-12)
    mean = (weights * values).sum(axis=0) / total
    spread = np.sqrt((weights * (values - mean) ** 2).sum(axis=0) / total)
    window = max(1, min(round(0.2 * features[anchor].fps), n))
    kernel = np.ones(window) / window
    spread = np.apply_along_axis(lambda col: np.convolve(col, kernel, mode="same"), 0, spread)
    return _mean_landmarks(takes, anchor, frame_of, matched), spread


def _mean_landmarks(takes: Sequence[PoseSequence], anchor: int,
                    frame_of: npt.NDArray[np.int64], matched: npt.NDArray[np.bool_]
                    ) -> PoseSequence:
    """Anchor frames with landmarks averaged over takes, each take's body moved and sized
    onto the anchor's (image space isotropic), visibility averaged, world averaged."""
    base = takes[anchor]
    base_xy = base.image_xyz * np.array([base.aspect, 1.0, base.aspect])
    base_hips = hip_centre(base_xy)
    base_size = torso_length(base_xy, landmark_weights(base.image_xyz, base.visibility))
    image_sum = np.zeros_like(base.image_xyz)
    vis_sum = np.zeros_like(base.visibility)
    world_sum = np.zeros_like(base.world_xyz)
    world_count = np.zeros(len(base))
    count = np.zeros(len(base))
    for b, take in enumerate(takes):
        rows = frame_of[b]
        use = matched[b] & take.present[rows] & base.present
        iso = take.image_xyz[rows] * np.array([take.aspect, 1.0, take.aspect])
        size = torso_length(iso, landmark_weights(take.image_xyz[rows], take.visibility[rows]))
        placed = (iso - hip_centre(iso)) * (base_size / size) + base_hips
        image_sum[use] += placed[use] / np.array([base.aspect, 1.0, base.aspect])
        vis_sum[use] += take.visibility[rows][use]
        count[use] += 1
        has_world = use & take.has_world[rows]
        world_sum[has_world] += take.world_xyz[rows][has_world]
        world_count[has_world] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        image = np.where(count[:, None, None] > 0, image_sum / count[:, None, None],
                         base.image_xyz)
        visibility = np.where(count[:, None] > 0, vis_sum / count[:, None], base.visibility)
        world = np.where(world_count[:, None, None] > 0,
                         world_sum / world_count[:, None, None], base.world_xyz)
    return replace(base, image_xyz=image, visibility=visibility, world_xyz=world, takes=())
