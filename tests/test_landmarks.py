"""Landmark, bone and limb names."""

from __future__ import annotations

import numpy as np

from app.landmarks import LIMB_LANDMARKS, MIRROR_PERMUTATION, Bone, Landmark, Limb


def test_mirror_permutation_swaps_sides_and_is_its_own_inverse() -> None:
    assert MIRROR_PERMUTATION[Landmark.LEFT_WRIST] == Landmark.RIGHT_WRIST
    assert MIRROR_PERMUTATION[Landmark.MOUTH_RIGHT] == Landmark.MOUTH_LEFT
    assert MIRROR_PERMUTATION[Landmark.NOSE] == Landmark.NOSE
    np.testing.assert_array_equal(MIRROR_PERMUTATION[MIRROR_PERMUTATION], np.arange(33))


def test_bones_join_named_landmarks() -> None:
    assert Bone.LEFT_FOREARM.start is Landmark.LEFT_ELBOW
    assert Bone.LEFT_FOREARM.end is Landmark.LEFT_WRIST
    assert len({b.value for b in Bone}) == len(Bone)


def test_every_landmark_belongs_to_a_limb_and_limbs_have_words() -> None:
    covered = {lm for lms in LIMB_LANDMARKS.values() for lm in lms}
    assert covered == set(Landmark)
    assert Limb.LEFT_ARM.words == "left arm"
