"""``dance-tutor extract`` end to end: real clip in, valid ``.pose.json`` out."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from app import frames, sequence
from app.cli import main
from tests.conftest import clip


@pytest.mark.model
def test_extract_writes_a_valid_pose_file_and_a_summary(
    tmp_path: Path, model_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "dance.pose.json"
    code = main(["extract", str(clip("tfjs_dance_crop.avi")), "-o", str(out), "--every", "2",
                 "--start", "1", "--end", "3", "--model", str(model_path)])
    assert code == 0
    seq = sequence.load(out)
    assert len(seq) == 10 and seq.fps == 5.0 and seq.image_size == (400, 244)
    assert seq.source.kind == "video" and seq.present.all()
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert summary == f"10 frames, a person in 10 (100%), written to {out}"


@pytest.mark.model
def test_extract_a_still_image(tmp_path: Path, model_path: Path) -> None:
    photo = tmp_path / "pose.png"
    rgb = next(frames.read_video(clip("tfjs_pose_1.mp4"))).rgb
    cv2.imwrite(str(photo), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out = tmp_path / "pose.pose.json"
    assert main(["extract", str(photo), "-o", str(out), "--model", str(model_path)]) == 0
    seq = sequence.load(out)
    assert len(seq) == 1 and seq.present[0] and seq.image_size == (576, 576)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["notes.mp4", "-o", "x.pose.json"], "notes.mp4: is not a video file"),
        (["empty.mp4", "-o", "x.pose.json"], "empty.mp4: is empty"),
        (["absent.mp4", "-o", "x.pose.json"], "absent.mp4: no such file"),
        (["notes.mp4", "-o", "x.json"], "must end in .pose.json"),
        (["notes.mp4", "-o", "nowhere/x.pose.json"], "does not exist"),
    ],
    ids=["text-renamed", "zero-bytes", "missing", "bad-suffix", "no-folder"],
)
def test_bad_input_is_one_line_and_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    arguments: list[str], message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.mp4").write_text("my dance notes\n" * 100)
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert main(["extract", *arguments]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dance-tutor extract: ") and message in err
    assert "\n" not in err
    assert not (tmp_path / "x.pose.json").exists()
