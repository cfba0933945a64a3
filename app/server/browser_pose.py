"""Pose estimation in the learner's browser: the runtime and the models the page loads.

The page runs MediaPipe's PoseLandmarker itself and sends landmarks, so the camera image never
leaves the device and one server holds a class. What it needs comes from this server only:
the verified files of ``@mediapipe/tasks-vision`` under ``/vendor/`` (see :mod:`app.runtime`)
and the verified pose model variants under ``/models/``. ``GET /api/config`` tells the page
where they are and how fast the device must be (:class:`BrowserPosePublic`); when the runtime
is not installed the page is told why and sends camera images instead.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from app.runtime import POSE_BUNDLE, POSE_PACKAGE, POSE_WASM_DIR, BrowserPose
from app.server.deps import StateDep

router = APIRouter(tags=["page"])

PROBE_FRAMES = 20
"""Camera frames the page times (after its first, which compiles) before it trusts a model."""
LIGHTEST_FIRST = ("lite", "full", "heavy")
_CACHE = "public, max-age=86400"
_MEDIA_TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
                ".task": "application/octet-stream"}


class ModelChoice(BaseModel):
    variant: str = Field(description="lite, full or heavy.")
    url: str
    bytes: int


class BrowserPosePublic(BaseModel):
    """How the page runs the pose model itself, or why it cannot."""

    available: bool
    reason: str | None = Field(description="Why the page must send camera images, else null.")
    bundle: str | None = Field(description="URL of the tasks-vision classic bundle (the page "
                                           "runs it in a worker).")
    wasm: str | None = Field(description="URL of the folder holding its WebAssembly files.")
    models: list[ModelChoice] = Field(description="Verified model variants, lightest first.")
    min_fps: float = Field(description="Pose estimates per second a device must reach; below "
                                       "it the page sends camera images.")
    probe_frames: int = Field(description="Frames the page times before deciding.")


def public(pose: BrowserPose, min_fps: float) -> BrowserPosePublic:
    available = pose.problem is None
    order = sorted(pose.models, key=lambda v: LIGHTEST_FIRST.index(v)
                   if v in LIGHTEST_FIRST else len(LIGHTEST_FIRST))
    return BrowserPosePublic(
        available=available,
        reason=None if available else
        f"The tutor cannot hand this page its pose model ({pose.problem}).",
        bundle=f"/vendor/{POSE_PACKAGE}/{POSE_BUNDLE}" if available else None,
        wasm=f"/vendor/{POSE_PACKAGE}/{POSE_WASM_DIR}" if available else None,
        models=[ModelChoice(variant=v, url=f"/models/{pose.models[v].name}",
                            bytes=pose.models[v].stat().st_size) for v in order]
        if available else [],
        min_fps=min_fps,
        probe_frames=PROBE_FRAMES,
    )


def _file(path: Path) -> FileResponse:
    return FileResponse(path, media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream"),
                        headers={"Cache-Control": _CACHE})


@router.get("/vendor/{path:path}", include_in_schema=False)
def vendor(path: str, state: StateDep) -> FileResponse:
    """A file of the browser's pose runtime, only those ``web/vendor.json`` lists and verifies."""
    found = state.browser_pose.files.get(path)
    if found is None:
        raise HTTPException(404, "There is no such file of the page's runtime.")
    return _file(found)


@router.get("/models/{name}", include_in_schema=False)
def model(name: str, state: StateDep) -> FileResponse:
    """A verified pose model bundle, for the page's PoseLandmarker."""
    for path in state.browser_pose.models.values():
        if path.name == name:
            return _file(path)
    raise HTTPException(404, "There is no such pose model.")
