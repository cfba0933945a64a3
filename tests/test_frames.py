"""Decoding real clips, phone rotation, variable frame rates, stills and JPEG messages."""

from __future__ import annotations

import inspect
import struct
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from app import frames
from app.errors import UserError
from tests.conftest import clip

_CONTAINER_BOXES = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, payload) of the top-level MP4 boxes in ``data``."""
    out, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        out.append((kind, data[pos + 8:pos + size]))
        pos += size
    return out


def _rewrite_box(data: bytes, kind: bytes, change: Callable[[bytes], bytes]) -> bytes:
    """``data`` with the payload of every ``kind`` box replaced by ``change(payload)``."""
    out = bytearray()
    for box, payload in _boxes(data):
        if box == kind:
            payload = change(payload)
        elif box in _CONTAINER_BOXES:
            payload = _rewrite_box(payload, kind, change)
        out += struct.pack(">I4s", 8 + len(payload), box) + payload
    return bytes(out)


def _write_clip(path: Path, n: int = 10) -> Path:
    """A 64x48 MP4 at 10 fps; frame i is grey level 20*i with a white top-left block."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(n):
        frame = np.full((48, 64, 3), 20 * i, np.uint8)
        frame[:8, :16] = 255
        writer.write(frame)
    writer.release()
    kinds = [kind for kind, _ in _boxes(path.read_bytes())]
    assert kinds.index(b"mdat") < kinds.index(b"moov"), "box rewrites would move the samples"
    return path


def test_probe_reports_real_clip_sizes_and_rates() -> None:
    portrait = frames.probe_video(clip("pose2sim_singleperson_cam01.mp4"))
    assert (portrait.width, portrait.height, portrait.fps) == (1080, 1920, 60.0)
    landscape = frames.probe_video(clip("hybrik_taiji.mp4"))
    assert (landscape.width, landscape.height) == (1280, 720)
    assert landscape.fps == pytest.approx(23.976, abs=1e-3)
    assert landscape.frame_count == 412


def test_reads_every_frame_in_order_with_increasing_timestamps() -> None:
    decoded = list(frames.read_video(clip("tfjs_pose_1.mp4")))
    assert len(decoded) == 120
    assert [f.index for f in decoded] == list(range(120))
    stamps = np.array([f.timestamp_ms for f in decoded])
    assert stamps[0] == 0.0 and np.all(np.diff(stamps) > 0)
    np.testing.assert_allclose(np.diff(stamps), 1000 / 30, atol=0.5)
    first = decoded[0].rgb
    assert first.shape == (576, 576, 3) and first.dtype == np.uint8 and first.flags.c_contiguous


def test_frames_are_rgb_not_bgr(tmp_path: Path) -> None:
    path = tmp_path / "red.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (32, 32))
    for _ in range(3):
        writer.write(np.full((32, 32, 3), (0, 0, 255), np.uint8))  # red, in OpenCV's BGR
    writer.release()
    rgb = next(frames.read_video(path)).rgb
    assert rgb[16, 16, 0] > 200 and rgb[16, 16, 2] < 50


def test_every_start_and_end_select_frames_by_time() -> None:
    picked = list(frames.read_video(clip("tfjs_pose_1.mp4"), every=3, start_s=1.0, end_s=2.0))
    assert [f.index for f in picked] == list(range(30, 60, 3))
    assert all(1000 <= f.timestamp_ms < 2000 for f in picked)


def test_reading_is_lazy_and_streamed() -> None:
    stream = frames.read_video(clip("hybrik_taiji.mp4"))
    assert inspect.isgenerator(stream)
    first = next(stream)
    second = next(stream)
    stream.close()
    assert (first.index, second.index) == (0, 1)


def _decoder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "frame-decoder"]


def test_read_ahead_gives_the_same_frames_in_order() -> None:
    path = clip("tfjs_dance_crop.avi")
    direct = list(frames.read_video(path, every=2))
    ahead = list(frames.read_ahead(frames.read_video(path, every=2), depth=2))
    assert [f.index for f in ahead] == [f.index for f in direct]
    assert [f.timestamp_ms for f in ahead] == [f.timestamp_ms for f in direct]
    assert all(np.array_equal(a.rgb, d.rgb) for a, d in zip(ahead, direct, strict=True))
    assert _decoder_threads() == []


def test_read_ahead_raises_decoding_errors_in_the_consumer(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video\n" * 100)
    with pytest.raises(frames.DecodeError, match="not a video file"):
        list(frames.read_ahead(frames.read_video(path)))
    assert _decoder_threads() == []


def test_closing_read_ahead_early_stops_its_thread() -> None:
    ahead = frames.read_ahead(frames.read_video(clip("hybrik_taiji.mp4")), depth=2)
    assert next(ahead).index == 0
    ahead.close()
    assert _decoder_threads() == []


def test_phone_rotation_metadata_is_applied(tmp_path: Path) -> None:
    path = _write_clip(tmp_path / "upright.mp4", n=3)

    def rotate_90(tkhd: bytes) -> bytes:
        # The display matrix sits 40 bytes into a version-0 track header.
        matrix = struct.pack(">9i", 0, 65536, 0, -65536, 0, 0, 0, 0, 1 << 30)
        return tkhd[:40] + matrix + tkhd[76:]

    rotated = tmp_path / "phone.mp4"
    rotated.write_bytes(_rewrite_box(path.read_bytes(), b"tkhd", rotate_90))
    info = frames.probe_video(rotated)
    assert (info.width, info.height, info.rotation_deg) == (48, 64, 90)
    rgb = next(frames.read_video(rotated)).rgb
    assert rgb.shape == (64, 48, 3)
    white = np.argwhere(rgb[..., 0] > 200)
    assert white[:, 0].max() < 20 and white[:, 1].min() > 35, "the corner turned clockwise"


def _stts(*runs: tuple[int, int]) -> Callable[[bytes], bytes]:
    """A sample-to-time table of (frame count, duration in timescale units) runs."""
    def change(_: bytes) -> bytes:
        table = b"".join(struct.pack(">II", count, delta) for count, delta in runs)
        return struct.pack(">II", 0, len(runs)) + table
    return change


def test_variable_frame_rate_keeps_the_container_times(tmp_path: Path) -> None:
    path = _write_clip(tmp_path / "constant.mp4")
    tick = 10240 // 10  # OpenCV's mp4v writer uses a 10240 Hz timescale at 10 fps
    vfr = tmp_path / "vfr.mp4"
    vfr.write_bytes(_rewrite_box(path.read_bytes(), b"stts", _stts((5, tick // 2),
                                                                    (5, 3 * tick // 2))))
    decoded = list(frames.read_video(vfr))
    assert [f.timestamp_ms for f in decoded] == pytest.approx(
        [0, 50, 100, 150, 200, 250, 400, 550, 700, 850])
    levels = [int(f.rgb[40, 40, 0]) for f in decoded]
    assert levels == sorted(levels), "frames come in order"


def test_repeated_timestamps_are_made_strictly_increasing(tmp_path: Path) -> None:
    path = _write_clip(tmp_path / "constant.mp4")
    tick = 10240 // 10
    repeated = tmp_path / "repeated.mp4"
    repeated.write_bytes(_rewrite_box(path.read_bytes(), b"stts", _stts((3, tick), (2, 0),
                                                                         (5, tick))))
    stamps = [f.timestamp_ms for f in frames.read_video(repeated)]
    assert len(stamps) == 10 and np.all(np.diff(stamps) > 0)
    assert stamps[3:6] == pytest.approx([300, 301, 302])
    assert stamps[6:] == pytest.approx([400, 500, 600, 700]), "later frames keep their times"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "absent.mp4", "no such file"),
        (lambda d: _touch(d / "empty.mp4", b""), "is empty"),
        (lambda d: _touch(d / "notes.mp4", b"these are my dance notes\n" * 100),
         "not a video file"),
        (lambda d: d, "is a folder"),
    ],
    ids=["missing", "zero-bytes", "text-renamed", "folder"],
)
def test_unreadable_files_fail_with_one_sentence_naming_them(
    tmp_path: Path, make: Callable[[Path], Path], message: str,
) -> None:
    path = make(tmp_path)
    with pytest.raises(frames.DecodeError, match=message) as caught:
        list(frames.read_video(path))
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def _touch(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_bad_ranges_are_user_errors(tmp_path: Path) -> None:
    path = _write_clip(tmp_path / "short.mp4")
    with pytest.raises(UserError, match="every must be 1 or more"):
        list(frames.read_video(path, every=0))
    with pytest.raises(UserError, match="must come after start"):
        list(frames.read_video(path, start_s=2.0, end_s=1.0))
    with pytest.raises(UserError, match="has no frames from 5"):
        list(frames.read_video(path, start_s=5.0))


def test_still_image_honours_exif_orientation(tmp_path: Path) -> None:
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:5, :10] = (255, 0, 0)
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    Image.fromarray(pixels).save(path, quality=95, exif=exif)
    rgb = frames.read_image(path)
    assert rgb.shape == (40, 20, 3)
    red = np.argwhere(rgb[..., 0] > 150)
    assert red[:, 1].min() > 10, "the red corner turned to the top right"


def test_still_image_errors(tmp_path: Path) -> None:
    with pytest.raises(frames.DecodeError, match="not an image file"):
        frames.read_image(_touch(tmp_path / "x.png", b"not a picture"))


def _jpeg(width: int, height: int) -> bytes:
    ok, data = cv2.imencode(".jpg", np.full((height, width, 3), (0, 0, 255), np.uint8))
    assert ok
    return data.tobytes()


def test_decode_jpeg_gives_rgb() -> None:
    rgb = frames.decode_jpeg(_jpeg(64, 48))
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert rgb[24, 32, 0] > 200 and rgb[24, 32, 2] < 50


def _with_declared_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with the size in its start-of-frame header changed."""
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[:sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9:]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not a JPEG"),
        (_jpeg(64, 48)[:20], "corrupt"),
        (_with_declared_size(_jpeg(64, 48), 40_000, 40_000), "over the limit"),
        (b"\xff\xd8" + b"\x00" * (frames.MAX_JPEG_BYTES + 1), "over the limit"),
    ],
    ids=["empty", "png", "cut", "huge-dimensions", "too-many-bytes"],
)
def test_decode_jpeg_refuses_bad_messages(data: bytes, message: str) -> None:
    with pytest.raises(frames.DecodeError, match=message):
        frames.decode_jpeg(data)
