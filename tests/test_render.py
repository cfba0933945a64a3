"""Skeleton drawing: annotators, key moments, contact sheets and animations."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.errors import UserError
from app.render import (
    BACKGROUND,
    LEFT_COLOR,
    RIGHT_COLOR,
    Framing,
    SkeletonAnnotator,
    contact_sheet,
    key_moments,
    save_preview,
)
from app.sequence import PoseSequence
from tests.library_fixtures import authored


def colour_share(image: Image.Image, colour: tuple[int, int, int]) -> float:
    pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
    return float(np.mean(np.all(pixels == colour, axis=1)))


def test_skeleton_annotator_draws_left_and_right_sides() -> None:
    seq = authored("wing-spread")
    image = Image.new("RGB", (200, 280), BACKGROUND)
    framing = Framing.fit(seq, image.size)
    SkeletonAnnotator().annotate(image, framing.points(seq.image_xyz[60]), seq.visibility[60])
    pixels = np.asarray(image)
    left = np.argwhere(np.all(pixels == LEFT_COLOR, axis=-1))
    right = np.argwhere(np.all(pixels == RIGHT_COLOR, axis=-1))
    assert len(left) > 100 and len(right) > 100
    assert left[:, 1].mean() > right[:, 1].mean(), "the dancer's left is on the image's right"


def test_hidden_points_are_not_drawn() -> None:
    seq = authored("wing-spread")
    image = Image.new("RGB", (200, 280), BACKGROUND)
    framing = Framing.fit(seq, image.size)
    SkeletonAnnotator().annotate(image, framing.points(seq.image_xyz[0]), np.zeros(33))
    assert colour_share(image, BACKGROUND) == 1.0


def test_annotator_refuses_wrong_shapes() -> None:
    with pytest.raises(ValueError, match=r"shape \(33, 2\)"):
        SkeletonAnnotator().annotate(Image.new("RGB", (10, 10)), np.zeros((17, 2)), np.ones(17))


def test_framing_keeps_every_frame_inside_the_panel() -> None:
    seq = authored("swoop")
    framing = Framing.fit(seq, (200, 280))
    points = np.stack([framing.points(frame) for frame in seq.image_xyz])
    assert points.min() >= 0
    assert points[..., 0].max() <= 200 and points[..., 1].max() <= 280


def test_key_moments_follow_the_steps() -> None:
    seq = authored("wing-beat")
    moments = key_moments(seq)
    assert [name for _, name in moments] == [s.name for s in seq.steps]
    for (frame, _), step in zip(moments, seq.steps, strict=True):
        assert step.start_s <= seq.t[frame] < step.end_s
    # "down 1" ends with the arms low: its key moment has the wrists below the shoulders.
    frame = moments[1][0]
    assert seq.image_xyz[frame, 15, 1] > seq.image_xyz[frame, 11, 1]


def test_key_moments_without_steps_are_spread_over_time() -> None:
    seq = replace(authored("wing-beat"), steps=())
    moments = key_moments(seq)
    assert len(moments) == 6
    assert moments[0][1].endswith(" s")
    assert sorted(frame for frame, _ in moments) == [frame for frame, _ in moments]


def test_contact_sheet_has_one_panel_per_step() -> None:
    seq = authored("talons")
    sheet = contact_sheet(seq, panel=(150, 210), columns=3)
    rows = -(-len(seq.steps) // 3)
    assert sheet.size == (3 * 150, 44 + rows * 210)
    assert colour_share(sheet, LEFT_COLOR) > 0.002


def test_empty_sequence_cannot_be_drawn() -> None:
    with pytest.raises(ValueError, match="has no frames"):
        key_moments(PoseSequence.empty())


@pytest.mark.parametrize("suffix", [".png", ".gif", ".mp4"])
def test_save_preview_writes_each_kind(tmp_path: Path, suffix: str) -> None:
    seq = authored("unhooding")
    out = tmp_path / f"preview{suffix}"
    save_preview(seq, out)
    assert out.stat().st_size > 1000
    if suffix == ".gif":
        with Image.open(out) as gif:
            assert gif.n_frames == len(range(0, len(seq), 2))
    if suffix == ".mp4":
        import cv2

        capture = cv2.VideoCapture(str(out))
        try:
            assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == len(seq)
            ok, frame = capture.read()
            assert ok and frame.shape == (480, 360, 3)
        finally:
            capture.release()


def test_save_preview_refuses_unknown_types(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"unknown preview type \.bmp"):
        save_preview(authored("unhooding"), tmp_path / "x.bmp")
