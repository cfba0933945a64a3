"""``dance-tutor library``, ``preview`` and ``record`` end to end, through the real dispatcher."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from app.cli import EXIT_BAD_INPUT, EXIT_BUG, EXIT_IO, main
from app.library import Library, default_poses_dir
from tests.conftest import clip
from tests.library_fixtures import small_library


@pytest.fixture
def poses(tmp_path: Path) -> Path:
    small_library(tmp_path, "wing-spread", "wing-beat")
    return tmp_path


def test_list_shows_title_difficulty_duration_and_takes(poses: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["library", "list", "--poses", str(poses)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[1].split()[:5] == ["5", "wing-beat", "4.0", "s", "intermediate"]
    assert "1 take" in out[1] and out[1].endswith("Wing beat")
    assert out[0].split()[:2] == ["4", "wing-spread"]


def test_edit_places_a_step_in_the_story(poses: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["library", "edit", "wing-beat", "--order", "1", "--poses", str(poses)]) == 0
    capsys.readouterr()
    assert main(["library", "list", "--poses", str(poses)]) == 0
    assert capsys.readouterr().out.split()[:2] == ["1", "wing-beat"]


def test_show_prints_description_and_steps(poses: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["library", "show", "wing-beat", "--poses", str(poses)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Wing beat (wing-beat)")
    assert "knees dip" in out and "down 1" in out


def test_edit_then_show(poses: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["library", "edit", "wing-beat", "--difficulty", "advanced", "--steps",
                 "lift@0,beat@2", "--poses", str(poses)]) == 0
    info = Library(poses).info("wing-beat")
    assert info.metadata.difficulty == "advanced"
    assert [s.name for s in info.steps] == ["lift", "beat"]


def test_delete_and_missing_names(poses: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["library", "delete", "wing-beat", "--poses", str(poses)]) == 0
    assert main(["library", "show", "wing-beat", "--poses", str(poses)]) == 2
    assert "no reference named 'wing-beat'" in capsys.readouterr().err
    assert main(["library", "delete", "../secret", "--poses", str(poses)]) == 2
    assert "is not allowed" in capsys.readouterr().err


def test_validate_reports_broken_files_and_fails(poses: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["library", "validate", "--poses", str(poses)]) == 0
    (poses / "bad.pose.json").write_text("[]")
    assert main(["library", "validate", "--poses", str(poses)]) == 1
    captured = capsys.readouterr()
    assert "skipped bad.pose.json: the document must be a JSON object" in captured.err
    assert "2 steps and 0 routines valid, 1 broken" in captured.out
    assert main(["library", "list", "--poses", str(poses)]) == 0


def test_a_bug_prints_its_trace_and_is_not_blamed_on_the_input(
        poses: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(self: Library) -> list[object]:
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr(Library, "list", broken)
    code = main(["library", "list", "--poses", str(poses)])
    err = capsys.readouterr().err
    assert code == EXIT_BUG != EXIT_BAD_INPUT
    assert "Traceback (most recent call last)" in err and "in broken" in err
    assert "ValueError: operands could not be broadcast together" in err
    assert err.rstrip().splitlines()[-1] == (
        "dance-tutor library: failed inside the program (a bug, not your input); the trace "
        "above says where")


def test_a_file_the_machine_refuses_is_one_sentence_not_a_bug(
        poses: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Not the user's input and not a bug: the path and the reason, and its own exit code."""
    routines = poses / "routines"
    shutil.rmtree(routines, ignore_errors=True)
    routines.write_text("a file where the routines folder belongs")
    steps = [info.name for info in Library(poses).list()][:2]
    assert main(["library", "routine", "mine", ",".join(steps), "--poses", str(poses)]) == EXIT_IO
    err = capsys.readouterr().err
    assert err.startswith("dance-tutor library: cannot use ") and str(routines) in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_the_environment_chooses_the_library(poses: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DANCE_TUTOR_POSES", str(poses))
    assert main(["library", "list"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_generate_rebuilds_edited_steps(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(default_poses_dir() / "source" / "wing-spread.toml", source)
    text = (source / "wing-spread.toml").read_text()
    (source / "wing-spread.toml").write_text(text.replace('title = "Wing spread"',
                                                          'title = "Open the wings"'))
    assert main(["library", "generate", "--poses", str(tmp_path)]) == 0
    assert Library(tmp_path).info("wing-spread").metadata.title == "Open the wings"
    assert main(["library", "generate", "swoop", "--poses", str(tmp_path)]) == 2
    assert "no keyframe file for swoop" in capsys.readouterr().err


def test_generate_never_overwrites_a_recording(poses: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from dataclasses import replace

    from app.sequence import Source

    library = Library(poses)
    recorded = replace(library.get("wing-spread"), source=Source("video", "studio.mp4"))
    library.create(recorded, overwrite=True)
    assert main(["library", "generate", "wing-spread", "--poses", str(poses), "--source",
                 str(default_poses_dir() / "source")]) == 2
    assert "was recorded, not authored" in capsys.readouterr().err


@pytest.mark.parametrize(("suffix", "frames"), [(".png", 1), (".gif", 61)])
def test_preview_writes_a_picture(poses: Path, tmp_path: Path, suffix: str,
                                  frames: int) -> None:
    out = tmp_path / f"beat{suffix}"
    assert main(["preview", "wing-beat", "-o", str(out), "--poses", str(poses)]) == 0
    with Image.open(out) as image:
        assert getattr(image, "n_frames", 1) == frames


def test_preview_refuses_other_types(poses: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview", "wing-beat", "-o", str(tmp_path / "x.jpg"), "--poses",
                 str(poses)]) == 2
    assert "must end in .png, .gif, .mp4" in capsys.readouterr().err


def test_record_refuses_bad_names_before_extracting(poses: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["record", "missing.mp4", "--name", "Bad Name", "--poses", str(poses)]) == 2
    assert "is not allowed" in capsys.readouterr().err
    assert main(["record", "missing.mp4", "--name", "wing-beat", "--poses", str(poses)]) == 2
    assert "already exists; use --add-take" in capsys.readouterr().err
    assert main(["record", "missing.mp4", "--name", "new-step", "--tempo", "500", "--poses",
                 str(poses)]) == 2
    assert "tempo_bpm must be a number from 20 to 300, got 500.0" in capsys.readouterr().err
    assert main(["record", "missing.mp4", "--name", "wing-beat", "--add-take", "--steps", "",
                 "--poses", str(poses)]) == 2
    assert "drop --overwrite and --steps" in capsys.readouterr().err


@pytest.mark.model
def test_record_a_video_then_add_a_take(poses: Path, model_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    video = str(clip("tfjs_pose_1.mp4"))
    assert main(["record", video, "--name", "arms-up", "--title", "Arms up", "--steps",
                 "raise@0,balance@1.5", "--tempo", "60", "--model", str(model_path),
                 "--poses", str(poses)]) == 0
    info = Library(poses).info("arms-up")
    assert info.source_kind == "video" and info.metadata.title == "Arms up"
    assert [s.name for s in info.steps] == ["raise", "balance"]
    assert main(["record", video, "--name", "arms-up", "--add-take", "--end", "3.5",
                 "--model", str(model_path), "--poses", str(poses)]) == 0
    assert "added take 2 to arms-up" in capsys.readouterr().out
    reference = Library(poses).reference("arms-up")
    assert reference.tolerance is not None
