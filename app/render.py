"""Drawing sequences as skeletons: contact sheets (PNG) and animations (GIF, MP4).

Annotators are small objects with one ``annotate(image, ...)`` method that draw onto a Pillow
image in place and return it. The sheet and animation functions frame the whole sequence once
(one scale for every frame, from the image coordinates of all frames) so the dancer's size and
position read the same from panel to panel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from app.errors import UserError
from app.landmarks import Bone, Landmark
from app.sequence import PoseSequence

FloatArray = npt.NDArray[np.float64]
Color = tuple[int, int, int]

BACKGROUND: Color = (250, 248, 243)
LEFT_COLOR: Color = (214, 110, 30)
RIGHT_COLOR: Color = (40, 110, 190)
CENTRE_COLOR: Color = (90, 90, 90)
TEXT_COLOR: Color = (40, 40, 40)
PREVIEW_SUFFIXES = (".png", ".gif", ".mp4")
MAX_SHEET_PANELS = 12


def _side_color(bone: Bone) -> Color:
    names = bone.start.name + bone.end.name
    if "LEFT" in names and "RIGHT" not in names:
        return LEFT_COLOR
    if "RIGHT" in names and "LEFT" not in names:
        return RIGHT_COLOR
    return CENTRE_COLOR


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


class SkeletonAnnotator:
    """Draws bones and joints; the dancer's left side orange, right side blue.

    Parameters
    ----------
    thickness : int
        Bone width in pixels.
    radius : int
        Joint dot radius in pixels.
    min_visibility : float
        Points below this visibility are not drawn, nor the bones that touch them.
    """

    def __init__(self, thickness: int = 4, radius: int = 4, min_visibility: float = 0.3) -> None:
        self.thickness = thickness
        self.radius = radius
        self.min_visibility = min_visibility

    def annotate(self, image: Image.Image, points_xy: FloatArray,
                 visibility: FloatArray) -> Image.Image:
        """Draw one skeleton.

        Parameters
        ----------
        image : PIL.Image.Image
            Drawn on in place.
        points_xy : (33, 2) float64
            Pixel coordinates in ``image``.
        visibility : (33,) float64
            0..1 per landmark.
        """
        if points_xy.shape != (len(Landmark), 2) or visibility.shape != (len(Landmark),):
            raise ValueError(f"points_xy must have shape (33, 2) and visibility (33,), got "
                             f"{points_xy.shape} and {visibility.shape}")
        draw = ImageDraw.Draw(image)
        shown = np.isfinite(points_xy).all(axis=1) & (visibility >= self.min_visibility)
        for bone in Bone:
            if shown[bone.start] and shown[bone.end]:
                a, b = points_xy[bone.start], points_xy[bone.end]
                draw.line([(a[0], a[1]), (b[0], b[1])], fill=_side_color(bone),
                          width=self.thickness)
        r = self.radius
        for landmark in Landmark:
            if shown[landmark]:
                x, y = points_xy[landmark]
                draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255),
                             outline=CENTRE_COLOR)
        return image


class LabelAnnotator:
    """Writes a line of text centred on a point."""

    def __init__(self, size: int = 16, color: Color = TEXT_COLOR) -> None:
        self.font = _font(size)
        self.color = color

    def annotate(self, image: Image.Image, text: str, centre: tuple[float, float]) -> Image.Image:
        """Draw ``text`` centred at ``centre`` (pixels)."""
        ImageDraw.Draw(image).text(centre, text, fill=self.color, font=self.font, anchor="mm")
        return image


class ProgressAnnotator:
    """A thin bar along the bottom edge showing how far through the sequence a frame is."""

    def __init__(self, height: int = 5, color: Color = CENTRE_COLOR) -> None:
        self.height = height
        self.color = color

    def annotate(self, image: Image.Image, fraction: float) -> Image.Image:
        """Fill ``fraction`` (0..1) of the bar."""
        width, height = image.size
        ImageDraw.Draw(image).rectangle(
            [0, height - self.height, max(0.0, min(1.0, fraction)) * width, height],
            fill=self.color)
        return image


@dataclass(frozen=True)
class Framing:
    """Maps a sequence's image coordinates into a panel of ``size`` pixels, same for all frames.

    Attributes
    ----------
    origin : (2,) float64
        Top-left of the framed region, in source pixels.
    scale : float
        Panel pixels per source pixel.
    """

    origin: FloatArray
    scale: float
    source_size: tuple[int, int]
    offset: FloatArray

    @classmethod
    def fit(cls, seq: PoseSequence, size: tuple[int, int], margin: float = 0.08) -> Framing:
        """Frame every present pose of ``seq`` inside ``size`` with ``margin`` on each side."""
        pixels = seq.image_xyz[seq.present][..., :2] * np.array(seq.image_size)
        pixels = pixels.reshape(-1, 2)
        pixels = pixels[np.isfinite(pixels).all(axis=1)]
        if len(pixels) == 0:
            raise ValueError(f"sequence {seq.name or '(unnamed)'} has no frame with a pose "
                             "to draw")
        low, high = pixels.min(axis=0), pixels.max(axis=0)
        span = np.maximum(high - low, 1.0)
        inner = np.array(size) * (1 - 2 * margin)
        scale = float(min(inner / span))
        offset = (np.array(size) - span * scale) / 2
        return cls(origin=low, scale=scale, source_size=seq.image_size, offset=offset)

    def points(self, image_xyz: FloatArray) -> FloatArray:
        """(33, 3) normalised image coordinates -> (33, 2) panel pixels."""
        pixels = image_xyz[:, :2] * np.array(self.source_size)
        return np.asarray((pixels - self.origin) * self.scale + self.offset)


def key_moments(seq: PoseSequence, max_panels: int = MAX_SHEET_PANELS) -> list[tuple[int, str]]:
    """Frames that show a step best, with the label to write under each.

    Each named step contributes the frame where the pose is furthest from the step's first
    frame (the top of a raise, the bottom of a dip). Without steps the sequence is cut into six
    equal parts, labelled by time.

    Returns
    -------
    list of (frame index, label)
    """
    if len(seq) == 0:
        raise ValueError(f"sequence {seq.name or '(unnamed)'} has no frames")
    if seq.steps:
        spans = [(*seq.step_frames(s), s.name) for s in seq.steps[:max_panels]]
    else:
        parts = min(6, len(seq))
        edges = np.linspace(float(seq.t[0]), float(seq.t[-1]) + 1 / seq.fps, parts + 1)
        cuts = np.searchsorted(seq.t, edges, side="left")
        spans = [(int(cuts[i]), int(cuts[i + 1]), "") for i in range(parts)]
    moments = []
    for start, stop, name in spans:
        idx = start + np.flatnonzero(seq.present[start:stop])
        if len(idx) == 0:
            continue
        pose = seq.image_xyz[idx, :, :2]
        distance = np.nanmean(np.linalg.norm(pose - pose[0], axis=-1), axis=1)
        best = int(idx[int(np.nanargmax(distance))]) if np.isfinite(distance).any() else int(
            idx[0])
        moments.append((best, name or f"{seq.t[best]:.1f} s"))
    return moments


def contact_sheet(seq: PoseSequence, panel: tuple[int, int] = (200, 280),
                  columns: int = 6) -> Image.Image:
    """Key moments of ``seq`` side by side, the step name under each, the title on top.

    Parameters
    ----------
    seq : PoseSequence
        Drawn from its image coordinates.
    panel : (width, height)
        Pixels per key moment, caption included.
    columns : int
        Panels per row before wrapping.
    """
    moments = key_moments(seq)
    rows = -(-len(moments) // columns)
    cols = min(columns, len(moments))
    caption, header = 30, 44
    pose_size = (panel[0], panel[1] - caption)
    framing = Framing.fit(seq, pose_size)
    sheet = Image.new("RGB", (cols * panel[0], header + rows * panel[1]), BACKGROUND)
    title = seq.title or seq.name or "sequence"
    LabelAnnotator(size=20).annotate(
        sheet, f"{title}  ({seq.duration_s:.1f} s)", (sheet.width / 2, header / 2))
    skeleton, label = SkeletonAnnotator(), LabelAnnotator()
    for i, (frame, name) in enumerate(moments):
        x0, y0 = (i % columns) * panel[0], header + (i // columns) * panel[1]
        cell = Image.new("RGB", panel, BACKGROUND)
        ImageDraw.Draw(cell).rectangle([2, 2, panel[0] - 3, panel[1] - 3], outline=(220, 215, 205))
        skeleton.annotate(cell, framing.points(seq.image_xyz[frame]), seq.visibility[frame])
        label.annotate(cell, name, (panel[0] / 2, panel[1] - caption / 2 - 2))
        sheet.paste(cell, (x0, y0))
    return sheet


def animation_frames(seq: PoseSequence, size: tuple[int, int] = (360, 480),
                     every: int = 1) -> Iterator[Image.Image]:
    """One image per ``every``-th frame: skeleton, current step name, progress bar."""
    caption = 34
    framing = Framing.fit(seq, (size[0], size[1] - caption))
    skeleton, label, progress = SkeletonAnnotator(), LabelAnnotator(size=18), ProgressAnnotator()
    captions = _captions(seq)
    for i in range(0, len(seq), every):
        image = Image.new("RGB", size, BACKGROUND)
        if seq.present[i]:
            skeleton.annotate(image, framing.points(seq.image_xyz[i]), seq.visibility[i])
        else:
            label.annotate(image, "no pose", (size[0] / 2, size[1] / 2))
        label.annotate(image, captions[i], (size[0] / 2, size[1] - caption / 2))
        progress.annotate(image, (i + 1) / len(seq))
        yield image


def _captions(seq: PoseSequence) -> list[str]:
    """Each frame's caption: the first step holding it, else the sequence's title."""
    captions = [seq.title or seq.name] * len(seq)
    for step in reversed(seq.steps):
        start, stop = seq.step_frames(step)
        captions[start:stop] = [step.name] * (stop - start)
    return captions


def save_gif(seq: PoseSequence, path: Path, size: tuple[int, int] = (360, 480),
             max_fps: float = 15.0) -> None:
    """Write a looping GIF, dropping frames to at most ``max_fps``."""
    every = max(1, round(seq.fps / max_fps))
    frames = list(animation_frames(seq, size, every))
    duration_ms = round(1000 * every / seq.fps)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0,
                   optimize=True)


def save_mp4(seq: PoseSequence, path: Path, size: tuple[int, int] = (360, 480)) -> None:
    """Write an MP4 (MPEG-4 Part 2) at the sequence's frame rate with OpenCV."""
    import cv2  # imported here: only this writer needs OpenCV

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), seq.fps, size)
    if not writer.isOpened():
        raise UserError(f"{path}: OpenCV cannot open an MP4 writer here")
    try:
        for image in animation_frames(seq, size):
            writer.write(np.asarray(image)[:, :, ::-1])
    finally:
        writer.release()


def save_preview(seq: PoseSequence, path: Path) -> None:
    """Write a contact sheet (``.png``) or an animation (``.gif``, ``.mp4``) by file suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".png":
        contact_sheet(seq).save(path, optimize=True)
    elif suffix == ".gif":
        save_gif(seq, path)
    elif suffix == ".mp4":
        save_mp4(seq, path)
    else:
        raise UserError(f"{path}: unknown preview type {suffix or '(none)'}; use one of "
                         f"{', '.join(PREVIEW_SUFFIXES)}")
