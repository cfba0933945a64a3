"""Names for MediaPipe's 33 pose landmarks, the bones between them and the limbs they form."""

from __future__ import annotations

from enum import Enum, IntEnum, StrEnum

import numpy as np
import numpy.typing as npt


class Landmark(IntEnum):
    """MediaPipe pose landmark indices; left and right are the person's own sides."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


L = Landmark


class Bone(Enum):
    """Skeleton edges, as (from, to) landmarks; the same edges MediaPipe draws."""

    LEFT_UPPER_ARM = (L.LEFT_SHOULDER, L.LEFT_ELBOW)
    LEFT_FOREARM = (L.LEFT_ELBOW, L.LEFT_WRIST)
    RIGHT_UPPER_ARM = (L.RIGHT_SHOULDER, L.RIGHT_ELBOW)
    RIGHT_FOREARM = (L.RIGHT_ELBOW, L.RIGHT_WRIST)
    LEFT_THIGH = (L.LEFT_HIP, L.LEFT_KNEE)
    LEFT_SHIN = (L.LEFT_KNEE, L.LEFT_ANKLE)
    RIGHT_THIGH = (L.RIGHT_HIP, L.RIGHT_KNEE)
    RIGHT_SHIN = (L.RIGHT_KNEE, L.RIGHT_ANKLE)
    SHOULDERS = (L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
    HIPS = (L.LEFT_HIP, L.RIGHT_HIP)
    LEFT_FLANK = (L.LEFT_SHOULDER, L.LEFT_HIP)
    RIGHT_FLANK = (L.RIGHT_SHOULDER, L.RIGHT_HIP)
    LEFT_HAND_PINKY = (L.LEFT_WRIST, L.LEFT_PINKY)
    LEFT_HAND_INDEX = (L.LEFT_WRIST, L.LEFT_INDEX)
    LEFT_HAND_TIP = (L.LEFT_PINKY, L.LEFT_INDEX)
    LEFT_HAND_THUMB = (L.LEFT_WRIST, L.LEFT_THUMB)
    RIGHT_HAND_PINKY = (L.RIGHT_WRIST, L.RIGHT_PINKY)
    RIGHT_HAND_INDEX = (L.RIGHT_WRIST, L.RIGHT_INDEX)
    RIGHT_HAND_TIP = (L.RIGHT_PINKY, L.RIGHT_INDEX)
    RIGHT_HAND_THUMB = (L.RIGHT_WRIST, L.RIGHT_THUMB)
    LEFT_HEEL_BONE = (L.LEFT_ANKLE, L.LEFT_HEEL)
    LEFT_SOLE = (L.LEFT_HEEL, L.LEFT_FOOT_INDEX)
    LEFT_INSTEP = (L.LEFT_ANKLE, L.LEFT_FOOT_INDEX)
    RIGHT_HEEL_BONE = (L.RIGHT_ANKLE, L.RIGHT_HEEL)
    RIGHT_SOLE = (L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX)
    RIGHT_INSTEP = (L.RIGHT_ANKLE, L.RIGHT_FOOT_INDEX)
    NOSE_LEFT_EYE_INNER = (L.NOSE, L.LEFT_EYE_INNER)
    LEFT_EYE_INNER_EYE = (L.LEFT_EYE_INNER, L.LEFT_EYE)
    LEFT_EYE_EYE_OUTER = (L.LEFT_EYE, L.LEFT_EYE_OUTER)
    LEFT_EYE_EAR = (L.LEFT_EYE_OUTER, L.LEFT_EAR)
    NOSE_RIGHT_EYE_INNER = (L.NOSE, L.RIGHT_EYE_INNER)
    RIGHT_EYE_INNER_EYE = (L.RIGHT_EYE_INNER, L.RIGHT_EYE)
    RIGHT_EYE_EYE_OUTER = (L.RIGHT_EYE, L.RIGHT_EYE_OUTER)
    RIGHT_EYE_EAR = (L.RIGHT_EYE_OUTER, L.RIGHT_EAR)
    MOUTH = (L.MOUTH_LEFT, L.MOUTH_RIGHT)

    @property
    def start(self) -> Landmark:
        return self.value[0]

    @property
    def end(self) -> Landmark:
        return self.value[1]


class Limb(StrEnum):
    """Body parts that scores and corrections are given for."""

    LEFT_ARM = "left_arm"
    RIGHT_ARM = "right_arm"
    LEFT_LEG = "left_leg"
    RIGHT_LEG = "right_leg"
    TORSO = "torso"
    HEAD = "head"

    @property
    def words(self) -> str:
        """The limb as a learner says it: "left arm"."""
        return self.value.replace("_", " ")


LIMB_LANDMARKS: dict[Limb, tuple[Landmark, ...]] = {
    Limb.LEFT_ARM: (L.LEFT_SHOULDER, L.LEFT_ELBOW, L.LEFT_WRIST, L.LEFT_PINKY, L.LEFT_INDEX,
                    L.LEFT_THUMB),
    Limb.RIGHT_ARM: (L.RIGHT_SHOULDER, L.RIGHT_ELBOW, L.RIGHT_WRIST, L.RIGHT_PINKY,
                     L.RIGHT_INDEX, L.RIGHT_THUMB),
    Limb.LEFT_LEG: (L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX),
    Limb.RIGHT_LEG: (L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE, L.RIGHT_HEEL,
                     L.RIGHT_FOOT_INDEX),
    Limb.TORSO: (L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_HIP, L.RIGHT_HIP),
    Limb.HEAD: (L.NOSE, L.LEFT_EYE_INNER, L.LEFT_EYE, L.LEFT_EYE_OUTER, L.RIGHT_EYE_INNER,
                L.RIGHT_EYE, L.RIGHT_EYE_OUTER, L.LEFT_EAR, L.RIGHT_EAR, L.MOUTH_LEFT,
                L.MOUTH_RIGHT),
}


def _mirror_permutation() -> npt.NDArray[np.intp]:
    """Index array that swaps every LEFT_* landmark with its RIGHT_* twin."""
    perm = np.arange(len(Landmark))
    for lm in Landmark:
        if lm.name.startswith("LEFT_") or "_LEFT" in lm.name:
            twin = Landmark[lm.name.replace("LEFT", "RIGHT")]
            perm[lm], perm[twin] = twin, lm
    return perm


MIRROR_PERMUTATION = _mirror_permutation()
"""``points[MIRROR_PERMUTATION]`` relabels left as right and right as left."""
