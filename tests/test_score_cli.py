"""``dance-tutor score``: files and library names in, a report out, one-line errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app import sequence
from app.cli import main
from app.landmarks import Limb
from app.sequence import PoseSequence, Step
from tests.scoring_fixtures import mirrored_performance, rotated_limb, squats_sequence


@pytest.fixture(scope="module")
def reference() -> PoseSequence:
    seq = squats_sequence().trim_seconds(0.0, 4.0)
    return replace(seq, name="squat-step", title="Squat step",
                   steps=(Step("down", 0.0, 2.0), Step("up", 2.0, 4.0)))


@pytest.fixture
def files(tmp_path: Path, reference: PoseSequence) -> tuple[Path, Path]:
    ref_path = tmp_path / "squat-step.pose.json"
    sequence.save(reference, ref_path)
    attempt = rotated_limb(reference, Limb.LEFT_ARM, np.random.default_rng(0))
    attempt_path = tmp_path / "attempt.pose.json"
    sequence.save(attempt, attempt_path)
    return ref_path, attempt_path


def test_json_report(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    ref_path, attempt_path = files
    assert main(["score", str(ref_path), str(attempt_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert 0 <= doc["score"] <= 100
    assert doc["rating"] in {"Perfect", "Great", "Good", "Almost", "Miss"}
    assert set(doc["limbs"]) == {limb.value for limb in Limb}
    assert {"offset_s", "tempo"} <= set(doc["timing"])
    assert "left arm" in doc["feedback"][0]
    assert min(doc["limbs"], key=doc["limbs"].get) == "left_arm"


def test_readable_report(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    ref_path, attempt_path = files
    assert main(["score", str(ref_path), str(attempt_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Squat step: ")
    assert "left arm" in out and "feedback:" in out and "steps:" in out


def test_library_name_and_mirror(tmp_path: Path, reference: PoseSequence,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    library = tmp_path / "poses"
    library.mkdir()
    sequence.save(reference, library / "squat-step.pose.json")
    attempt = tmp_path / "mirrored.pose.json"
    sequence.save(mirrored_performance(reference, np.random.default_rng(1)), attempt)
    assert main(["score", "squat-step", str(attempt), "--poses", str(library), "--json",
                 "--mirror"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] >= 95.0


@pytest.mark.parametrize(("args", "message"), [
    (["missing.pose.json", "{attempt}"], "reference file missing.pose.json does not exist"),
    (["{reference}", "missing.pose.json"], "attempt file missing.pose.json does not exist"),
    (["no-such-step", "{attempt}", "--poses", "{folder}"],
     "no step or routine named 'no-such-step'"),
    (["{reference}", "{broken}"], "is not valid JSON"),
])
def test_errors_are_one_line_and_exit_2(files: tuple[Path, Path], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str], args: list[str],
                                        message: str) -> None:
    ref_path, attempt_path = files
    broken = tmp_path / "broken.pose.json"
    broken.write_text("{not json")
    filled = [a.format(reference=ref_path, attempt=attempt_path, folder=tmp_path,
                       broken=broken) for a in args]
    assert main(["score", *filled]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


@pytest.mark.model
def test_video_attempt_is_extracted(files: tuple[Path, Path], model_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import clip

    ref_path, _ = files
    assert main(["score", str(ref_path), str(clip("tfjs_pose_squats.mp4")), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["score"] >= 60.0
