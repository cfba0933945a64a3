"""Authored steps: keyframes on a jointed body model turned into MediaPipe-like sequences.

No motion capture of the eagle dance exists, so the starter library is written by hand as
keyframes (``poses/source/*.toml``). Each keyframe sets a few joint angles of a body with
fixed bone lengths; values not set are carried over from the previous keyframe. Between
keyframes every parameter follows a monotone cubic (no overshoot, so joints never swing past
what the keyframes ask). Forward kinematics places the trunk, arms and head; the legs are
solved backwards from the feet, so a planted foot stays flat on the floor and the pelvis
lowers when the knees bend. The 33 points come out in MediaPipe's two spaces: ``world_xyz``
(metres, hip-centred, x to the image's right, y down, z away from the camera) and
``image_xyz`` from a virtual 1280x720 camera (normalised x and y, z in the scale of x).

A keyframe file::

    name = "wing-beat"
    title = "Wing beat"
    description = "..."
    difficulty = "intermediate"
    tempo_bpm = 60
    order = 5          # place in the dance's story (optional)
    fps = 30

    [pose.up]
    left_arm = { raise = 150, elbow = 10 }
    right_arm = { raise = 150, elbow = 10 }

    [[keyframe]]
    t = 0.0
    step = "lift"
    pose = "up"
    body = { crouch = 0.0 }

Angles are degrees, distances metres. ``left`` and ``right`` are the dancer's own sides; a
dancer facing the camera shows the left side on the image's right, as MediaPipe does.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from app.errors import UserError
from app.landmarks import Landmark
from app.metadata import MetadataError, ReferenceMetadata
from app.normalise import IMAGE_DEPTH_SCALE
from app.sequence import N_LANDMARKS, PoseSequence, Source, Step

FloatArray = npt.NDArray[np.float64]

SOURCE_SUFFIX = ".toml"
MAX_DURATION_S = 60.0


@dataclass(frozen=True)
class Limit:
    """The range a parameter may take and its value in the neutral standing pose."""

    low: float
    high: float
    neutral: float
    meaning: str


def _arm(side: str) -> dict[str, Limit]:
    return {
        f"{side}_arm.raise": Limit(0, 180, 8, "upper arm from hanging (0) to overhead (180)"),
        f"{side}_arm.swing": Limit(-60, 135, 10, "upper arm to the side (0), forward (90), "
                                                 "back (-)"),
        f"{side}_arm.elbow": Limit(0, 150, 12, "elbow bend, 0 is straight"),
        f"{side}_arm.twist": Limit(-90, 90, 0, "upper-arm rotation, + turns the forearm up or "
                                               "out"),
        f"{side}_arm.roll": Limit(-90, 90, 0, "forearm rotation, + turns the palm up"),
        f"{side}_arm.wrist": Limit(-70, 70, 0, "wrist bend, + toward the palm"),
    }


def _foot(side: str) -> dict[str, Limit]:
    return {
        f"{side}_foot.side": Limit(-0.2, 0.6, 0.1, "metres out from the centre line"),
        f"{side}_foot.forward": Limit(-0.6, 0.6, 0.0, "metres toward the camera"),
        f"{side}_foot.lift": Limit(0.0, 0.5, 0.0, "ankle height above the floor, metres"),
        f"{side}_foot.turn": Limit(-90, 90, 8, "toe-out angle, degrees"),
        f"{side}_foot.point": Limit(-20, 50, 0, "toes down while the foot is lifted"),
    }


PARAMETERS: dict[str, Limit] = {
    "body.turn": Limit(-180, 180, 0, "whole body, + turns to the dancer's left"),
    "body.lean": Limit(-20, 80, 0, "trunk tips forward (+) or back (-)"),
    "body.tilt": Limit(-30, 30, 0, "trunk tips toward the dancer's left (+)"),
    "body.crouch": Limit(0.0, 0.45, 0.02, "pelvis lowered from straight legs, metres"),
    "body.shift": Limit(-0.3, 0.3, 0.0, "pelvis toward the dancer's left, metres"),
    "body.forward": Limit(-0.4, 0.6, 0.0, "pelvis toward the camera, metres"),
    "head.turn": Limit(-80, 80, 0, "head turns to the dancer's left (+)"),
    "head.nod": Limit(-50, 60, 0, "chin down (+) or up (-)"),
    "head.tilt": Limit(-40, 40, 0, "ear toward the left shoulder (+)"),
    **_arm("left"), **_arm("right"), **_foot("left"), **_foot("right"),
}
"""Every keyframe parameter, as ``group.name`` in the order of the parameter vector."""

_INDEX = {name: i for i, name in enumerate(PARAMETERS)}
_GROUPS = sorted({name.split(".")[0] for name in PARAMETERS})
_NEUTRAL = np.array([limit.neutral for limit in PARAMETERS.values()])


@dataclass(frozen=True)
class BodyModel:
    """Bone lengths and offsets of the body, in metres.

    The lengths are the medians MediaPipe's world landmarks give for adults filmed standing
    (its world skeleton is smaller than a tape measure would say), so authored and recorded
    sequences share one scale.
    """

    shoulder_half_width: float = 0.165
    hip_half_width: float = 0.115
    trunk: float = 0.49
    neck: float = 0.10
    upper_arm: float = 0.245
    forearm: float = 0.24
    thigh: float = 0.40
    shin: float = 0.37
    ankle_height: float = 0.065
    heel_back: float = 0.045
    toe_forward: float = 0.13
    knee_slack: float = 0.995
    """Fraction of the full leg length the hip may reach: knees are never locked."""

    @property
    def leg(self) -> float:
        return self.thigh + self.shin


ADULT = BodyModel()

# Face points in the head frame (left, up, forward) from the head's pivot on the neck. MediaPipe
# places the face well forward of the shoulders (nose about as far forward as it is above the
# shoulder line); the template follows it so head directions compare with recordings.
_FACE: dict[Landmark, tuple[float, float, float]] = {
    Landmark.NOSE: (0.0, 0.06, 0.17),
    Landmark.LEFT_EYE_INNER: (0.015, 0.095, 0.16),
    Landmark.LEFT_EYE: (0.032, 0.098, 0.155),
    Landmark.LEFT_EYE_OUTER: (0.048, 0.097, 0.145),
    Landmark.RIGHT_EYE_INNER: (-0.015, 0.095, 0.16),
    Landmark.RIGHT_EYE: (-0.032, 0.098, 0.155),
    Landmark.RIGHT_EYE_OUTER: (-0.048, 0.097, 0.145),
    Landmark.LEFT_EAR: (0.072, 0.08, 0.075),
    Landmark.RIGHT_EAR: (-0.072, 0.08, 0.075),
    Landmark.MOUTH_LEFT: (0.03, 0.035, 0.155),
    Landmark.MOUTH_RIGHT: (-0.03, 0.035, 0.155),
}

# Hand points from the wrist along (hand direction, thumb side, palm normal).
_HAND = {
    "index": (0.085, 0.025, 0.0),
    "pinky": (0.075, -0.035, 0.0),
    "thumb": (0.045, 0.05, 0.02),
}

_L = np.array([1.0, 0.0, 0.0])
_U = np.array([0.0, 1.0, 0.0])
_F = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class Camera:
    """A pinhole camera on a tripod in front of the dancer, level with the floor.

    The stage frame has its origin on the floor between the feet; the camera stands
    ``distance`` metres in front (toward the dancer's forward) at ``height`` metres.
    """

    width: int = 1280
    height_px: int = 720
    focal_px: float = 1100.0
    distance: float = 3.5
    height: float = 0.9

    def project(self, stage: FloatArray) -> FloatArray:
        """Stage points (n, 33, 3) in (left, up, forward) metres -> image (n, 33, 3).

        x and y are fractions of the image width and height; z is depth relative to the hip
        centre, negative toward the camera, in the scale of x times the pose model's
        :data:`~app.normalise.IMAGE_DEPTH_SCALE` (MediaPipe's image landmarks, as they are).
        """
        depth = self.distance - stage[..., 2]
        x = 0.5 + self.focal_px * stage[..., 0] / depth / self.width
        y = 0.5 + self.focal_px * (self.height - stage[..., 1]) / depth / self.height_px
        hips = depth[:, [Landmark.LEFT_HIP, Landmark.RIGHT_HIP]].mean(axis=1, keepdims=True)
        z = (depth - hips) * self.focal_px / hips / self.width * IMAGE_DEPTH_SCALE
        return np.stack([x, y, z], axis=-1)


VIRTUAL_CAMERA = Camera()


@dataclass(frozen=True)
class Keyframe:
    """The pose at time ``t``: a full parameter vector (values carried over already)."""

    t: float
    values: FloatArray
    step: str = ""


@dataclass(frozen=True)
class StepScript:
    """An authored step: its metadata and keyframes, as read from a keyframe file."""

    name: str
    metadata: ReferenceMetadata
    """Title, description, difficulty, tempo and (when given) place in the story."""
    fps: float
    keyframes: tuple[Keyframe, ...]
    origin: str = ""

    @property
    def duration_s(self) -> float:
        return self.keyframes[-1].t


class ScriptError(UserError):
    """A keyframe file is wrong; the message names the file, the keyframe and the field."""


def load_script(path: Path) -> StepScript:
    """Read a keyframe file (TOML).

    Raises
    ------
    ScriptError
        Naming the file and the field at fault.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScriptError(f"{path}: is not valid TOML ({exc})") from exc
    return parse_script(doc, origin=str(path))


def parse_script(doc: Mapping[str, Any], origin: str = "<keyframes>") -> StepScript:
    """Validate a decoded keyframe document and carry values over between keyframes."""
    def fail(problem: str) -> ScriptError:
        return ScriptError(f"{origin}: {problem}")

    for key in ("name", "title", "description"):
        if not isinstance(doc.get(key), str) or not doc[key].strip():
            raise fail(f"{key} must be a non-empty string")
    for key in ("difficulty", "tempo_bpm"):
        if doc.get(key) is None:
            raise fail(f"{key} is missing")
    try:
        metadata = ReferenceMetadata(title=doc["title"], description=doc["description"],
                                     difficulty=doc["difficulty"], tempo_bpm=doc["tempo_bpm"],
                                     order=doc.get("order"))
    except MetadataError as exc:
        raise fail(str(exc)) from None
    fps = _positive(doc.get("fps", 30), "fps", fail)
    named: dict[str, dict[str, float]] = {}
    for pose_name, table in dict(doc.get("pose", {})).items():
        named[pose_name] = _flatten(table, f"pose.{pose_name}", fail)
    raw = doc.get("keyframe")
    if not isinstance(raw, list) or len(raw) < 2:
        raise fail("needs at least two [[keyframe]] tables")
    keyframes: list[Keyframe] = []
    values = _NEUTRAL.copy()
    for i, table in enumerate(raw):
        where = f"keyframe {i + 1}"
        t = table.get("t")
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            raise fail(f"{where}: t must be a number of seconds")
        if keyframes and t <= keyframes[-1].t:
            raise fail(f"{where}: t = {t} s is not after the previous keyframe's "
                       f"{keyframes[-1].t} s")
        if not keyframes and t != 0:
            raise fail(f"{where}: the first keyframe must be at t = 0, got {t}")
        changes: dict[str, float] = {}
        if "pose" in table:
            if table["pose"] not in named:
                raise fail(f"{where}: pose {table['pose']!r} is not defined under [pose]")
            changes.update(named[table["pose"]])
        body = {k: v for k, v in table.items() if k not in ("t", "pose", "step")}
        changes.update(_flatten(body, where, fail))
        values = values.copy()
        for key, value in changes.items():
            values[_INDEX[key]] = value
        step = table.get("step", "")
        if not isinstance(step, str):
            raise fail(f"{where}: step must be a string")
        keyframes.append(Keyframe(float(t), values, step))
    if keyframes[-1].t > MAX_DURATION_S:
        raise fail(f"lasts {keyframes[-1].t} s, over the limit of {MAX_DURATION_S:.0f} s")
    return StepScript(name=doc["name"], metadata=metadata, fps=fps, keyframes=tuple(keyframes),
                      origin=origin)


def _positive(value: Any, key: str, fail: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise fail(f"{key} must be a positive number, got {value!r}")
    return float(value)


def _flatten(table: Any, where: str, fail: Any) -> dict[str, float]:
    """``{"left_arm": {"raise": 90}}`` -> ``{"left_arm.raise": 90.0}``, checked against limits."""
    if not isinstance(table, dict):
        raise fail(f"{where} must be a table")
    flat: dict[str, float] = {}
    for group, fields in table.items():
        if group not in _GROUPS:
            raise fail(f"{where}: unknown part {group!r} (known: {', '.join(_GROUPS)})")
        if not isinstance(fields, dict):
            raise fail(f"{where}: {group} must be a table like {{ raise = 90 }}")
        for field_name, value in fields.items():
            key = f"{group}.{field_name}"
            if key not in PARAMETERS:
                known = ", ".join(k.split(".")[1] for k in PARAMETERS if k.startswith(group + "."))
                raise fail(f"{where}: {group} has no {field_name!r} (known: {known})")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise fail(f"{where}: {key} must be a number")
            limit = PARAMETERS[key]
            if not limit.low <= value <= limit.high:
                raise fail(f"{where}: {key} = {value} is outside {limit.low}..{limit.high} "
                           f"({limit.meaning})")
            flat[key] = float(value)
    return flat


def interpolate(script: StepScript) -> tuple[FloatArray, FloatArray]:
    """Sample the keyframes at the script's frame rate.

    Returns
    -------
    t : (n,) float64
        Frame times from 0 to the last keyframe inclusive, ``1 / fps`` apart.
    values : (n, len(PARAMETERS)) float64
        Parameters per frame, each a monotone cubic through the keyframes.
    """
    n = math.floor(script.duration_s * script.fps + 1e-9) + 1
    t = np.arange(n) / script.fps
    knots = np.array([k.t for k in script.keyframes])
    table = np.stack([k.values for k in script.keyframes])
    values = np.stack([_pchip(knots, table[:, j], t) for j in range(table.shape[1])], axis=1)
    return t, values


def _pchip(x: FloatArray, y: FloatArray, at: FloatArray) -> FloatArray:
    """Fritsch-Carlson monotone cubic through (x, y), evaluated at ``at``."""
    h = np.diff(x)
    delta = np.diff(y) / h
    slope = np.zeros_like(y)
    for k in range(1, len(x) - 1):
        if delta[k - 1] * delta[k] > 0:
            w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            slope[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
    seg = np.clip(np.searchsorted(x, at, side="right") - 1, 0, len(x) - 2)
    s = (at - x[seg]) / h[seg]
    h00, h10 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s
    h01, h11 = -2 * s**3 + 3 * s**2, s**3 - s**2
    return np.asarray(h00 * y[seg] + h10 * h[seg] * slope[seg] + h01 * y[seg + 1]
                      + h11 * h[seg] * slope[seg + 1])


def build_sequence(script: StepScript, body: BodyModel = ADULT,
                   camera: Camera = VIRTUAL_CAMERA) -> PoseSequence:
    """Turn a step script into a sequence with world and image landmarks for every frame.

    Raises
    ------
    ScriptError
        When a planted foot cannot be reached by its leg at some frame.
    """
    t, values = interpolate(script)
    stage = np.stack([_pose_points(v, body, f"{script.origin}: at t = {ti:.2f} s")
                      for v, ti in zip(values, t, strict=True)])
    hips = stage[:, [Landmark.LEFT_HIP, Landmark.RIGHT_HIP]].mean(axis=1, keepdims=True)
    world = (stage - hips) * np.array([1.0, -1.0, -1.0])
    image = camera.project(stage)
    starts = [(k.t, k.step) for k in script.keyframes if k.step]
    end = float(t[-1] + 1.0 / script.fps)
    steps = tuple(
        Step(name, start, starts[i + 1][0] if i + 1 < len(starts) else end)
        for i, (start, name) in enumerate(starts)
    )
    return script.metadata.applied_to(PoseSequence(
        t=t, image_xyz=image, visibility=np.ones((len(t), N_LANDMARKS)), world_xyz=world,
        present=np.ones(len(t), dtype=bool), fps=script.fps,
        image_size=(camera.width, camera.height_px), name=script.name,
        source=Source("authored", f"keyframes {Path(script.origin).name}"), steps=steps,
    ))


def neutral_pose(body: BodyModel = ADULT) -> FloatArray:
    """(33, 3) stage points of the relaxed standing pose, (left, up, forward) metres."""
    return _pose_points(_NEUTRAL, body, "the neutral pose")


def _param(v: FloatArray, key: str) -> float:
    return float(v[_INDEX[key]])


def _rotation(axis: FloatArray, degrees: float) -> FloatArray:
    """(3, 3) rotation by ``degrees`` about unit ``axis`` (right hand rule)."""
    a = math.radians(degrees)
    x, y, z = axis
    k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.asarray(np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * k @ k)


def _pose_points(v: FloatArray, body: BodyModel, where: str) -> FloatArray:
    """(33, 3) stage points for one parameter vector; ``where`` prefixes errors."""
    points = np.zeros((N_LANDMARKS, 3))
    trunk = (_rotation(_U, _param(v, "body.turn")) @ _rotation(_L, _param(v, "body.lean"))
             @ _rotation(_F, -_param(v, "body.tilt")))
    hip_offsets = {side: trunk @ (sign * body.hip_half_width * _L)
                   for side, sign in (("left", 1.0), ("right", -1.0))}
    ankles = {side: _ankle_target(v, side, body) for side in hip_offsets}
    pelvis = _pelvis(v, body, hip_offsets, ankles, where)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        hip = pelvis + hip_offsets[side]
        points[_lm(side, "HIP")] = hip
        _place_leg(points, v, side, hip, ankles[side], body)
        shoulder = pelvis + trunk @ np.array([sign * body.shoulder_half_width, body.trunk, 0.0])
        points[_lm(side, "SHOULDER")] = shoulder
        _place_arm(points, v, side, sign, shoulder, trunk, body)
    neck = pelvis + trunk @ (body.trunk * _U)
    head = (trunk @ _rotation(_U, _param(v, "head.turn")) @ _rotation(_L, _param(v, "head.nod"))
            @ _rotation(_F, -_param(v, "head.tilt")))
    pivot = neck + trunk @ (body.neck * _U)
    for landmark, offset in _FACE.items():
        points[landmark] = pivot + head @ np.array(offset)
    return points


def _lm(side: str, part: str) -> Landmark:
    return Landmark[f"{side.upper()}_{part}"]


def _ankle_target(v: FloatArray, side: str, body: BodyModel) -> FloatArray:
    sign = 1.0 if side == "left" else -1.0
    return np.array([
        sign * _param(v, f"{side}_foot.side"),
        body.ankle_height + _param(v, f"{side}_foot.lift"),
        _param(v, f"{side}_foot.forward"),
    ])


def _pelvis(v: FloatArray, body: BodyModel, hip_offsets: dict[str, FloatArray],
            ankles: dict[str, FloatArray], where: str) -> FloatArray:
    """Pelvis centre: as high as the planted feet allow, lowered by ``body.crouch``.

    A foot counts fully while on the floor and fades out over its first 5 cm of lift, so the
    pelvis height stays continuous when a foot leaves the floor.
    """
    x, z = _param(v, "body.shift"), _param(v, "body.forward")
    reach = body.leg * body.knee_slack
    highest = []
    for side, offset in hip_offsets.items():
        floor_ankle = ankles[side] - _param(v, f"{side}_foot.lift") * _U
        dx, dz = x + offset[0] - floor_ankle[0], z + offset[2] - floor_ankle[2]
        horizontal = math.hypot(dx, dz)
        lift = _param(v, f"{side}_foot.lift")
        if horizontal >= reach and lift == 0:
            raise ScriptError(
                f"{where} the {side} foot is {horizontal:.3f} m from the hip across the floor, "
                f"beyond the leg's reach of {reach:.3f} m"
            )
        height = floor_ankle[1] - offset[1] + math.sqrt(max(reach**2 - horizontal**2, 0.0))
        highest.append(height + min(lift / 0.05, 1.0) * body.leg)
    return np.array([x, min(highest) - _param(v, "body.crouch"), z])


def _place_leg(points: FloatArray, v: FloatArray, side: str, hip: FloatArray,
               ankle: FloatArray, body: BodyModel) -> None:
    """Knee by two-bone inverse kinematics, knee over the toes; the foot as a rigid triangle."""
    sign = 1.0 if side == "left" else -1.0
    toe_dir = _rotation(_U, sign * _param(v, f"{side}_foot.turn")) @ _F
    span = ankle - hip
    dist = float(np.clip(np.linalg.norm(span), abs(body.thigh - body.shin) + 1e-6,
                         body.leg - 1e-9))
    axis = span / np.linalg.norm(span)
    along = (body.thigh**2 - body.shin**2 + dist**2) / (2 * dist)
    out = math.sqrt(max(body.thigh**2 - along**2, 0.0))
    pole = toe_dir - np.dot(toe_dir, axis) * axis
    knee = hip + along * axis + out * pole / np.linalg.norm(pole)
    ankle = hip + dist * axis
    pitch = _rotation(np.cross(_U, toe_dir), _param(v, f"{side}_foot.point"))
    down = pitch @ (-body.ankle_height * _U)
    points[_lm(side, "KNEE")] = knee
    points[_lm(side, "ANKLE")] = ankle
    points[_lm(side, "HEEL")] = ankle + down + pitch @ (-body.heel_back * toe_dir)
    points[_lm(side, "FOOT_INDEX")] = ankle + down + pitch @ (body.toe_forward * toe_dir)


def _place_arm(points: FloatArray, v: FloatArray, side: str, sign: float,
               shoulder: FloatArray, trunk: FloatArray, body: BodyModel) -> None:
    """Arm points by forward kinematics, computed as a left arm and mirrored for the right."""
    p = {k: _param(v, f"{side}_arm.{k}") for k in ("raise", "swing", "elbow", "twist", "roll",
                                                     "wrist")}
    r, s = math.radians(p["raise"]), math.radians(p["swing"])
    upper = -math.cos(r) * _U + math.sin(r) * (math.cos(s) * _L + math.sin(s) * _F)
    reference = _F - np.dot(_F, upper) * upper
    if np.linalg.norm(reference) < 1e-6:
        reference = _U - np.dot(_U, upper) * upper
    reference /= np.linalg.norm(reference)
    bend = _rotation(upper, -p["twist"]) @ reference
    e = math.radians(p["elbow"])
    fore = math.cos(e) * upper + math.sin(e) * bend
    palm = _rotation(fore, -p["roll"]) @ np.cross(upper, bend)
    thumb_side = np.cross(palm, fore)
    w = math.radians(p["wrist"])
    hand = math.cos(w) * fore + math.sin(w) * palm
    palm_normal = math.cos(w) * palm - math.sin(w) * fore
    mirror = np.array([sign, 1.0, 1.0])
    elbow = upper * body.upper_arm
    wrist = elbow + fore * body.forearm
    local = {"ELBOW": elbow, "WRIST": wrist}
    for part, (a, b, c) in _HAND.items():
        local[part.upper()] = wrist + a * hand + b * thumb_side + c * palm_normal
    for part, offset in local.items():
        points[_lm(side, part)] = shoulder + trunk @ (offset * mirror)
