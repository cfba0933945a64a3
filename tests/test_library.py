"""The reference library: names, atomic writes, broken files, takes and tolerance, threads."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app import atomic
from app.atomic import TEMP_PREFIX
from app.errors import UserError
from app.library import (
    AlreadyExists,
    BrokenReference,
    InvalidName,
    InvalidReference,
    Library,
    LibraryError,
    NotFound,
    check_name,
    default_poses_dir,
    parse_steps,
)
from app.metadata import ReferenceMetadata
from app.scoring import score
from app.sequence import PoseSequence, Source, Step
from tests.library_fixtures import authored, small_library, with_noise


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return small_library(tmp_path, "wing-spread", "wing-beat")


@pytest.mark.parametrize("name", [
    "", "Wing", "wing beat", "../etc/passwd", "a/b", "..", ".", "wing_beat", "x" * 65,
    "wing-beat\n", "ünicode", "/abs",
])
def test_names_other_than_slugs_are_refused(library: Library, name: str) -> None:
    with pytest.raises(InvalidName, match="use 1 to 64 lowercase letters"):
        check_name(name)
    with pytest.raises(InvalidName):
        library.get(name)
    with pytest.raises(InvalidName):
        library.delete(name)
    with pytest.raises(InvalidName):
        library.create(replace(authored("swoop"), name=name))
    assert name not in library


def test_list_shows_metadata_of_every_reference(library: Library) -> None:
    infos = {info.name: info for info in library.list()}
    assert set(infos) == {"wing-spread", "wing-beat"}
    beat = infos["wing-beat"]
    assert beat.metadata.title == "Wing beat"
    assert beat.metadata.difficulty == "intermediate" and beat.metadata.tempo_bpm == 60
    assert beat.n_takes == 1 and beat.source_kind == "authored"
    assert beat.duration_s == pytest.approx(4.0, abs=0.05)
    assert [s.name for s in beat.steps][:2] == ["open", "down 1"]


def test_get_returns_what_create_stored(library: Library) -> None:
    original = authored("swoop")
    library.create(original)
    loaded = library.get("swoop")
    assert np.allclose(loaded.world_xyz, original.world_xyz, atol=1e-5)
    assert [(s.name, s.start_s, s.end_s) for s in loaded.steps] == [
        (s.name, round(s.start_s, 4), round(s.end_s, 4)) for s in original.steps]
    assert loaded.extra["description"] == original.extra["description"]


def test_create_refuses_to_overwrite_unless_asked(library: Library) -> None:
    with pytest.raises(AlreadyExists, match="'wing-beat' already exists"):
        library.create(authored("wing-beat"))
    changed = replace(authored("wing-beat"), title="Wing beat, slow")
    assert library.create(changed, overwrite=True).metadata.title == "Wing beat, slow"


def test_missing_reference_is_reported_by_name(library: Library) -> None:
    with pytest.raises(NotFound, match="no reference named 'swoop'"):
        library.get("swoop")
    with pytest.raises(NotFound):
        library.delete("swoop")


def test_delete_removes_the_file(library: Library) -> None:
    library.delete("wing-beat")
    assert "wing-beat" not in library
    assert [info.name for info in library.list()] == ["wing-spread"]


def test_list_follows_the_story_order_and_puts_unplaced_steps_last(library: Library) -> None:
    assert [info.name for info in library.list()] == ["wing-spread", "wing-beat"]
    library.create(replace(authored("swoop"), name="a-new-step", extra={}))
    library.update_metadata("wing-beat", order=1)
    infos = library.list()
    assert [(info.name, info.metadata.order) for info in infos] == [
        ("wing-beat", 1), ("wing-spread", 4), ("a-new-step", None)]


def test_update_metadata_changes_only_what_is_given(library: Library) -> None:
    before = library.get("wing-beat")
    steps = parse_steps("lift@0,beat@1.5", before.duration_s)
    info = library.update_metadata("wing-beat", description="Slow and heavy.",
                                   difficulty="advanced", tempo_bpm=50, steps=steps)
    assert info.metadata == ReferenceMetadata("Wing beat", "Slow and heavy.", "advanced", 50.0,
                                              before.extra["order"])
    after = library.get("wing-beat")
    assert after.title == before.title
    assert after.steps == (Step("lift", 0, 1.5), Step("beat", 1.5, round(before.duration_s, 4)))
    assert np.array_equal(after.world_xyz, before.world_xyz)


@pytest.mark.parametrize(("change", "message"), [
    ({"difficulty": "easy"}, "difficulty must be one of"),
    ({"tempo_bpm": 1000}, "tempo_bpm must be a number from 20 to 300"),
    ({"order": 0}, "order must be a whole number from 1 to 999"),
    ({"order": True}, "order must be a whole number from 1 to 999"),
    ({"title": "  "}, "a title cannot be empty"),
    ({"steps": (Step("late", 3.0, 9.0),)}, "outside the sequence"),
    ({"steps": (Step("a", 0.0, 2.0), Step("b", 1.0, 3.0))}, "before step 'a' ends"),
])
def test_bad_metadata_is_refused_and_the_file_kept(library: Library, change: dict[str, object],
                                                   message: str) -> None:
    before = library.path_of("wing-beat").read_bytes()
    with pytest.raises(UserError, match=message):
        library.update_metadata("wing-beat", **change)  # type: ignore[arg-type]
    assert library.path_of("wing-beat").read_bytes() == before


@pytest.mark.parametrize(("text", "message"), [
    ("lift", "must be NAME@SECONDS"), ("lift@x", "must be NAME@SECONDS"),
    ("@1", "must be NAME@SECONDS"), ("lift@9", "from 0 to under"),
    ("a@1,b@0.5", "not after the previous step"),
])
def test_parse_steps_refuses_malformed_lists(text: str, message: str) -> None:
    with pytest.raises(InvalidReference, match=message):
        parse_steps(text, 4.0)


def test_a_broken_file_is_reported_and_skipped(library: Library) -> None:
    (library.root / "broken.pose.json").write_text('{"format": "dance-tutor.pose-sequence"')
    (library.root / "Bad Name.pose.json").write_text("{}")
    renamed = json.loads(library.path_of("wing-beat").read_text())
    renamed["name"] = "other"
    (library.root / "copy.pose.json").write_text(json.dumps(renamed))
    names = [info.name for info in library.list()]
    assert names == ["wing-spread", "wing-beat"]
    reasons = {p.path.name: p.reason for p in library.problems}
    assert "is not valid JSON" in reasons["broken.pose.json"]
    assert "not a valid reference name" in reasons["Bad Name.pose.json"]
    assert "named 'other' but the file 'copy'" in reasons["copy.pose.json"]
    assert library.validate() == library.problems
    with pytest.raises(BrokenReference, match="is not valid JSON"):
        library.get("broken")
    assert str(library.problems[0]).startswith("Bad Name.pose.json: ")


def test_a_reference_without_anybody_is_refused(library: Library) -> None:
    empty = PoseSequence.empty(fps=30.0, image_size=(640, 480))
    with pytest.raises(InvalidReference, match="at least 2"):
        library.create(replace(empty, name="nobody"))


def test_missing_folder_is_an_error_unless_created(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="does not exist"):
        Library(tmp_path / "nope")
    assert Library(tmp_path / "nope", create=True).list() == []


def test_opening_removes_temporaries_of_a_killed_writer(library: Library) -> None:
    stale = library.root / f"{TEMP_PREFIX}abc.json"
    stale.write_bytes(b'{"half')
    Library(library.root)
    assert not stale.exists()


def test_a_failing_save_keeps_the_previous_version(library: Library,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    before = library.path_of("wing-beat").read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        library.update_metadata("wing-beat", title="Changed")
    monkeypatch.undo()
    assert library.path_of("wing-beat").read_bytes() == before
    assert not list(library.root.glob(f"{TEMP_PREFIX}*"))
    assert library.info("wing-beat").metadata.title == "Wing beat"


def test_a_killed_save_never_leaves_a_broken_reference(tmp_path: Path) -> None:
    """A writer process killed at random moments: the file is always old or new, never half."""
    import subprocess
    import sys
    import time

    library = small_library(tmp_path, "wing-beat")
    script = (
        "import sys; from dataclasses import replace; from pathlib import Path\n"
        "from app.library import Library\n"
        "lib = Library(Path(sys.argv[1]))\n"
        "seq = lib.get('wing-beat')\n"
        "i = 0\n"
        "while True:\n"
        "    i += 1; lib.create(replace(seq, title=f'take {i}'), overwrite=True)\n"
    )
    for delay in (0.6, 0.9, 1.3):
        writer = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)],
                                  cwd=Path(__file__).resolve().parent.parent)
        time.sleep(delay)
        writer.kill()
        writer.wait()
        reopened = Library(tmp_path)
        assert reopened.problems == []
        assert reopened.get("wing-beat").world_xyz.shape == library.get("wing-beat").world_xyz.shape
        assert not list(tmp_path.glob(f"{TEMP_PREFIX}*"))


def test_written_files_are_readable_by_others(library: Library) -> None:
    old = os.umask(0o022)
    try:
        mode = library.path_of("wing-beat").stat().st_mode & 0o777
    finally:
        os.umask(old)
    assert mode & 0o044 == 0o044


def test_a_single_take_reference_is_derived_once_per_file_version(library: Library) -> None:
    reference = library.reference("wing-beat")
    accents = reference.accents
    again = library.reference("wing-beat")
    assert again is reference and again.accents is accents, "a class opens it once a learner"
    library.add_take("wing-beat", replace(with_noise(library.get("wing-beat"), 0.01, 1),
                                          source=Source("webcam", "take 1")))
    assert library.reference("wing-beat") is not reference, "a changed file is read again"


def test_takes_are_stored_and_give_a_tolerance(library: Library) -> None:
    base = library.get("wing-beat")
    for seed in (1, 2):
        take = replace(with_noise(base, 0.01, seed), source=Source("webcam", f"take {seed}"))
        info = library.add_take("wing-beat", take)
    assert info.n_takes == 3
    stored = library.get("wing-beat")
    assert [t.source.detail for t in stored.takes] == ["take 1", "take 2"]
    reference = library.reference("wing-beat")
    assert reference.tolerance is not None
    assert reference.tolerance.shape[0] == len(reference.sequence)
    assert reference.tolerance.max() > 0
    assert reference.sequence.steps == base.steps
    assert library.reference("wing-beat") is reference, "derived once per file version"


def test_varied_takes_tolerate_a_learner_who_varies_the_same_way(library: Library) -> None:
    base = library.get("wing-beat")
    varied = [with_noise(base, 0.03, seed) for seed in (3, 4, 5)]
    learner = with_noise(base, 0.03, 6)
    single = score(library.reference("wing-beat"), learner).score
    for take in varied:
        library.add_take("wing-beat", take)
    assert score(library.reference("wing-beat"), learner).score > single


def test_a_single_take_uses_the_default_tolerance(library: Library) -> None:
    reference = library.reference("wing-spread")
    assert reference.tolerance is None
    assert reference.sequence.name == "wing-spread"


def test_webcam_recordings_can_be_created(library: Library) -> None:
    recorded = replace(authored("swoop"), name="my-swoop", source=Source("webcam", "browser"),
                       extra={})
    info = library.create(recorded)
    assert info.source_kind == "webcam" and info.metadata.difficulty is None


def test_concurrent_writers_lose_no_take(library: Library) -> None:
    base = library.get("wing-spread")
    errors: list[BaseException] = []

    def add(seed: int) -> None:
        try:
            library.add_take("wing-spread", with_noise(base, 0.005, seed))
        except BaseException as exc:  # collected to fail the test in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert library.info("wing-spread").n_takes == 7


def test_the_repository_library_is_valid() -> None:
    library = Library(default_poses_dir())
    assert library.problems == []
    assert len(library.list()) >= 7


def test_default_poses_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("DANCE_TUTOR_POSES", str(tmp_path))
    assert default_poses_dir() == tmp_path
    monkeypatch.delenv("DANCE_TUTOR_POSES")
    assert (default_poses_dir() / "source").is_dir()


def test_a_step_ending_with_its_recording_survives_the_rounding_of_the_file(
        library: Library) -> None:
    # A browser take's rate is whatever the camera gave; its last step ends with it, and a step
    # is written to 4 decimals of a second: here rounded up, past the recording's end.
    take = replace(authored("swoop"), source=Source("webcam", "browser"), extra={})
    fps = next(f for f in np.arange(29.0, 30.0, 0.0007)
               if round(_duration(take, f), 4) - _duration(take, f) > 3e-5)
    take = replace(take, t=(take.t - take.t[0]) * take.fps / fps, fps=float(fps))
    info = library.create_from_take("recorded", take, ReferenceMetadata(title="Recorded"),
                                    (Step("all of it", 0.0, take.duration_s),))
    assert info.name in [i.name for i in library.list()], library.problems
    assert library.get("recorded").steps[0].end_s == round(take.duration_s, 4)


def _duration(take: PoseSequence, fps: float) -> float:
    return float((take.t[-1] - take.t[0]) * take.fps / fps + 1 / fps)
