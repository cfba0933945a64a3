"""``POST /api/calibration``: a device's delay, from a learner moving on clicks.

The page plays clicks, finds the learner's pose itself and sends the frames it found with
their capture times and the times it played the clicks, all in its own clock. The accents in
the movement (``app.rhythm``, as the rhythm measure finds them) answer the clicks some
milliseconds late: the camera's, the pose model's and the speakers' delay together. The page
keeps the figure for the device and sends it with every practice.
"""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from app.errors import UserError
from app.rhythm import accents_of, delay_of
from app.server.errors import error_responses, sentence
from app.server.protocol import ImageSize, Points4

router = APIRouter(prefix="/api", tags=["rhythm"], responses=error_responses(400, 413, 422))

MAX_FRAMES = 60 * 60
MAX_CLICKS = 200


class CalibrationFrame(BaseModel):
    capture_ms: float = Field(allow_inf_nan=False, description="The page's clock, ms.")
    landmarks: Points4 | None = Field(description="33 x (x, y, z, visibility), or null.")


class CalibrationIn(BaseModel):
    image: ImageSize
    frames: list[CalibrationFrame] = Field(min_length=2, max_length=MAX_FRAMES)
    clicks_ms: list[float] = Field(min_length=2, max_length=MAX_CLICKS,
                                   description="When each click was played, the same clock.")


class CalibrationOut(BaseModel):
    delay_ms: float = Field(description="Median delay from a click to the movement answering "
                                        "it, ms: camera, pose model and speakers together.")
    spread_ms: float = Field(description="How much it varied (robust standard deviation).")
    clicks: int
    answered: int


@router.post("/calibration")
def calibrate(body: CalibrationIn) -> CalibrationOut:
    """The delay of this device, from frames of a learner moving on clicks."""
    frames = sorted(body.frames, key=lambda f: f.capture_ms)
    t = np.array([f.capture_ms / 1000 for f in frames])
    if np.any(np.diff(t) <= 0):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            "Two frames have the same capture time.")
    image = np.full((len(frames), 33, 3), np.nan)
    visibility = np.zeros((len(frames), 33))
    for k, frame in enumerate(frames):
        if frame.landmarks is not None:
            points = np.asarray(frame.landmarks, dtype=np.float64)
            image[k], visibility[k] = points[:, :3], np.clip(points[:, 3], 0, 1)
    accents = accents_of(t, image, visibility, body.image.width / body.image.height)
    try:
        delay = delay_of(accents, np.asarray(body.clicks_ms) / 1000)
    except UserError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, sentence(exc)) from None
    return CalibrationOut(delay_ms=delay.delay_ms, spread_ms=delay.spread_ms,
                          clicks=delay.clicks, answered=delay.answered)
