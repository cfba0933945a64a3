"""What the compared features are: one schema for every stage that needs to know.

The feature matrix has one column per *feature*: joint angles, the torso's lean, then the
``x``, ``y`` and ``z`` components of bone directions (:data:`JOINTS`, :data:`DIRECTIONS`).
Features group into *measurements* (an angle is one, a bone's direction is three columns) and
measurements into *limbs*. :class:`FeatureSchema` holds these facts and the arrays derived
from them (which limb and measurement each column belongs to, how much of a measurement it is,
its default tolerance); :data:`SKELETON` is the schema of the skeleton the tutor compares, and
the normaliser, the aligner, the scorer, the live session and the feedback all take what they
need from it rather than keeping their own copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from app.landmarks import Bone, Landmark, Limb

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

L = Landmark
_Array = TypeVar("_Array", bound=npt.NDArray[Any])


class Unit(StrEnum):
    """What a feature measures."""

    ANGLE = "angle"
    """An angle in radians."""
    DIRECTION = "direction"
    """One component (x right, y down, z away from the camera) of a unit vector."""


class Frame(StrEnum):
    """The axes a direction feature is expressed in."""

    GRAVITY = "gravity"
    TORSO = "torso"


@dataclass(frozen=True)
class Segment:
    """A directed segment between two points, each the midpoint of two landmarks."""

    name: str
    start: tuple[Landmark, Landmark]
    end: tuple[Landmark, Landmark]

    @classmethod
    def of(cls, bone: Bone) -> Segment:
        return cls(bone.name.lower(), (bone.start, bone.start), (bone.end, bone.end))


@dataclass(frozen=True)
class Joint:
    """The interior angle where two named bones meet."""

    name: str
    first: Bone
    second: Bone

    def landmarks(self) -> tuple[Landmark, Landmark, Landmark]:
        """(end of the first bone, the joint, end of the second bone)."""
        a, b = set(self.first.value), set(self.second.value)
        shared = a & b
        if len(shared) != 1:
            raise ValueError(f"bones {self.first.name} and {self.second.name} do not share a joint")
        joint = shared.pop()
        return (a - {joint}).pop(), joint, (b - {joint}).pop()


@dataclass(frozen=True)
class FeatureSpec:
    """One column of the feature matrix."""

    name: str
    limb: Limb
    unit: Unit
    tolerance: float
    """Default tolerance in feature units: the deviation that still counts as right."""


@dataclass(frozen=True)
class Measurement:
    """One thing measured: a joint angle (one column) or a bone direction (three columns)."""

    name: str
    limb: Limb
    columns: tuple[int, ...]


HIP_MID = (L.LEFT_HIP, L.RIGHT_HIP)
SHOULDER_MID = (L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
EAR_MID = (L.LEFT_EAR, L.RIGHT_EAR)

JOINTS: tuple[tuple[Joint, Limb], ...] = (
    (Joint("left_elbow", Bone.LEFT_UPPER_ARM, Bone.LEFT_FOREARM), Limb.LEFT_ARM),
    (Joint("left_shoulder", Bone.LEFT_FLANK, Bone.LEFT_UPPER_ARM), Limb.LEFT_ARM),
    (Joint("right_elbow", Bone.RIGHT_UPPER_ARM, Bone.RIGHT_FOREARM), Limb.RIGHT_ARM),
    (Joint("right_shoulder", Bone.RIGHT_FLANK, Bone.RIGHT_UPPER_ARM), Limb.RIGHT_ARM),
    (Joint("left_hip", Bone.LEFT_FLANK, Bone.LEFT_THIGH), Limb.LEFT_LEG),
    (Joint("left_knee", Bone.LEFT_THIGH, Bone.LEFT_SHIN), Limb.LEFT_LEG),
    (Joint("right_hip", Bone.RIGHT_FLANK, Bone.RIGHT_THIGH), Limb.RIGHT_LEG),
    (Joint("right_knee", Bone.RIGHT_THIGH, Bone.RIGHT_SHIN), Limb.RIGHT_LEG),
)
"""Joint angles: elbows and knees (bend), shoulders (arm raised from the flank), hips (thigh
raised from the flank, or the torso folded over the thigh)."""

TORSO_UP = Segment("torso", HIP_MID, SHOULDER_MID)

DIRECTIONS: tuple[tuple[Segment, Frame, Limb], ...] = (
    (Segment.of(Bone.LEFT_UPPER_ARM), Frame.TORSO, Limb.LEFT_ARM),
    (Segment.of(Bone.LEFT_FOREARM), Frame.TORSO, Limb.LEFT_ARM),
    (Segment.of(Bone.RIGHT_UPPER_ARM), Frame.TORSO, Limb.RIGHT_ARM),
    (Segment.of(Bone.RIGHT_FOREARM), Frame.TORSO, Limb.RIGHT_ARM),
    (Segment.of(Bone.LEFT_THIGH), Frame.GRAVITY, Limb.LEFT_LEG),
    (Segment.of(Bone.LEFT_SHIN), Frame.GRAVITY, Limb.LEFT_LEG),
    (Segment.of(Bone.RIGHT_THIGH), Frame.GRAVITY, Limb.RIGHT_LEG),
    (Segment.of(Bone.RIGHT_SHIN), Frame.GRAVITY, Limb.RIGHT_LEG),
    (TORSO_UP, Frame.GRAVITY, Limb.TORSO),
    (Segment("shoulders", (L.RIGHT_SHOULDER,) * 2, (L.LEFT_SHOULDER,) * 2), Frame.TORSO,
     Limb.TORSO),
    (Segment("gaze", EAR_MID, (L.NOSE, L.NOSE)), Frame.TORSO, Limb.HEAD),
    (Segment("ears", (L.RIGHT_EAR,) * 2, (L.LEFT_EAR,) * 2), Frame.TORSO, Limb.HEAD),
)
"""Bone directions: the angles above cannot tell an arm raised forward from one raised
sideways, or a turned body from a straight one; the directions can. ``gaze`` (ear midpoint to
nose) turns and nods with the head, ``ears`` tilts with it, ``shoulders`` turns with the upper
body."""

ANGLE_TOLERANCE = math.radians(15.0)
DIRECTION_TOLERANCE = 2.0 * math.sin(math.radians(15.0) / 2.0)
TORSO_LEAN_TOLERANCE = math.radians(10.0)
HEAD_TOLERANCE = 2.0 * math.sin(math.radians(22.0) / 2.0)


def _frozen(array: _Array) -> _Array:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class FeatureSchema:
    """The columns of a feature matrix and what each belongs to.

    Columns are the joint angles (in ``joints`` order), the torso's lean, then the ``x``,
    ``y`` and ``z`` components of each direction (in ``directions`` order); the feature
    kernel writes them in that order. Every array is read-only.

    Attributes
    ----------
    joints : tuple of (Joint, Limb)
    directions : tuple of (Segment, Frame, Limb)
    limbs : tuple of Limb
        The order of every per-limb axis (the columns of :attr:`limb_membership`, the limb
        scores the scorer computes).
    """

    joints: tuple[tuple[Joint, Limb], ...]
    directions: tuple[tuple[Segment, Frame, Limb], ...]
    limbs: tuple[Limb, ...] = tuple(Limb)

    @cached_property
    def features(self) -> tuple[FeatureSpec, ...]:
        """Every feature, in column order."""
        specs = [FeatureSpec(f"{joint.name}_angle", limb, Unit.ANGLE, ANGLE_TOLERANCE)
                 for joint, limb in self.joints]
        specs.append(FeatureSpec("torso_lean", Limb.TORSO, Unit.ANGLE, TORSO_LEAN_TOLERANCE))
        for segment, _, limb in self.directions:
            tolerance = HEAD_TOLERANCE if limb is Limb.HEAD else DIRECTION_TOLERANCE
            specs.extend(FeatureSpec(f"{segment.name}_{axis}", limb, Unit.DIRECTION, tolerance)
                         for axis in "xyz")
        return tuple(specs)

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @cached_property
    def index(self) -> dict[str, int]:
        """Column of each feature name."""
        return {name: i for i, name in enumerate(self.names)}

    @cached_property
    def feature_limbs(self) -> tuple[Limb, ...]:
        """The limb of each column."""
        return tuple(f.limb for f in self.features)

    @property
    def n_features(self) -> int:
        return len(self.features)

    @cached_property
    def default_tolerance(self) -> FloatArray:
        """(F,) default tolerance per feature, in feature units."""
        return _frozen(np.array([f.tolerance for f in self.features]))

    @cached_property
    def shares(self) -> FloatArray:
        """(F,) how much of one measurement each column is: 1 for an angle, 1/3 for each
        component of a direction, so that averages count a bone's direction once (its chord,
        in tolerance units)."""
        return _frozen(np.array([1.0 if f.unit is Unit.ANGLE else 1.0 / 3.0
                                 for f in self.features]))

    def columns_of(self, limb: Limb) -> IntArray:
        """Column indices of the features that belong to ``limb``."""
        return np.array([i for i, f in enumerate(self.features) if f.limb is limb],
                        dtype=np.int64)

    @cached_property
    def feature_limb_index(self) -> IntArray:
        """(F,): the limb (index in :attr:`limbs`) of each feature."""
        return _frozen(np.array([self.limbs.index(limb) for limb in self.feature_limbs],
                                dtype=np.int64))

    @cached_property
    def limb_membership(self) -> FloatArray:
        """(F, L): 1 where a feature belongs to a limb (columns in :attr:`limbs` order)."""
        return _frozen(np.array([[float(limb is lm) for lm in self.limbs]
                                 for limb in self.feature_limbs]))

    @cached_property
    def limb_counted(self) -> FloatArray:
        """(F, L): a feature's share of a measurement where it belongs to a limb (for
        averages)."""
        return _frozen(self.limb_membership * self.shares[:, None])

    @cached_property
    def limb_count(self) -> FloatArray:
        """(L,): how many measurements each limb has (the column sums of
        :attr:`limb_counted`)."""
        return _frozen(self.limb_counted.sum(axis=0))

    @cached_property
    def measurements(self) -> tuple[Measurement, ...]:
        """Features grouped into what they measure, in column order."""
        out: list[Measurement] = []
        for i, spec in enumerate(self.features):
            if spec.unit is Unit.ANGLE:
                out.append(Measurement(spec.name, spec.limb, (i,)))
            elif spec.name.endswith("_x"):
                out.append(Measurement(spec.name[:-2], spec.limb, (i, i + 1, i + 2)))
        return tuple(out)

    @cached_property
    def measurement_membership(self) -> FloatArray:
        """(F, M): 1 where a feature belongs to a measurement."""
        return _frozen(np.array([[float(f in m.columns) for m in self.measurements]
                                 for f in range(self.n_features)]))

    @cached_property
    def measurement_counted(self) -> FloatArray:
        """(F, M): a feature's share of its measurement (a direction's component counts a
        third)."""
        return _frozen(self.measurement_membership * self.shares[:, None])

    @cached_property
    def measurement_of(self) -> IntArray:
        """(F,): the measurement (index in :attr:`measurements`) of each feature."""
        return _frozen(np.argmax(self.measurement_membership, axis=1).astype(np.int64))

    @cached_property
    def measurement_limb(self) -> IntArray:
        """(M,): the limb (index in :attr:`limbs`) of each measurement."""
        return _frozen(np.array([self.limbs.index(m.limb) for m in self.measurements],
                                dtype=np.int64))

    @cached_property
    def limb_measurements(self) -> dict[Limb, IntArray]:
        """The measurements (indices in :attr:`measurements`) of each limb."""
        return {limb: _frozen(np.array([k for k, m in enumerate(self.measurements)
                                        if m.limb is limb]))
                for limb in self.limbs}

    @cached_property
    def joint_landmarks(self) -> IntArray:
        """(J, 3): per joint angle, the landmarks (end, joint, end) it is measured at."""
        return _frozen(np.array([[int(p) for p in j.landmarks()] for j, _ in self.joints],
                                dtype=np.int64))

    @cached_property
    def direction_landmarks(self) -> IntArray:
        """(D, 5): per direction, its start's and end's two landmarks and 1 where it is
        taken in the torso frame."""
        return _frozen(np.array(
            [[*map(int, s.start), *map(int, s.end), int(frame is Frame.TORSO)]
             for s, frame, _ in self.directions], dtype=np.int64))


SKELETON = FeatureSchema(JOINTS, DIRECTIONS)
"""The schema of the skeleton the tutor compares."""
