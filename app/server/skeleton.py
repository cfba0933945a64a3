"""``GET /api/skeleton``: the bones and limbs the page draws, from ``app.landmarks``.

The page colours each bone by its limb's state, so it must group bones exactly as scoring
groups landmarks; serving the definition keeps one source of truth.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from app.landmarks import LIMB_LANDMARKS, Bone, Landmark, Limb

router = APIRouter(prefix="/api", tags=["skeleton"])


class BonePublic(BaseModel):
    name: str
    start: int
    end: int
    limb: str


class SkeletonPublic(BaseModel):
    landmarks: list[str]
    limbs: list[str]
    bones: list[BonePublic]


def bone_limb(bone: Bone) -> Limb:
    """The limb holding both ends of ``bone`` (every bone lies within one)."""
    return next(
        limb for limb, points in LIMB_LANDMARKS.items()
        if bone.start in points and bone.end in points
    )


SKELETON = SkeletonPublic(
    landmarks=[lm.name.lower() for lm in Landmark],
    limbs=[limb.value for limb in Limb],
    bones=[
        BonePublic(name=b.name.lower(), start=b.start, end=b.end, limb=bone_limb(b).value)
        for b in Bone
    ],
)


@router.get("/skeleton")
def skeleton() -> SkeletonPublic:
    """Landmark names, limb names and every bone with the limb it belongs to."""
    return SKELETON
