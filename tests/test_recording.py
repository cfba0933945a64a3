"""Trimming still lead-in and lead-out, and splitting a recording where it pauses."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from app.library import InvalidName, Library
from app.metadata import ReferenceMetadata
from app.recording import STILL_SPEED, motion_speed, pause_steps, trim_still
from app.sequence import PoseSequence, Step
from tests.conftest import Extracted
from tests.library_fixtures import authored


def hold(seq: PoseSequence, frame: int, n: int, seed: int) -> PoseSequence:
    """``n`` frames of the pose at ``frame`` with the small jitter of a real pose model."""
    rng = np.random.default_rng(seed)
    jitter = (0, 0.0015, (n, 33, 3))
    return replace(
        seq.slice_frames(0, n), t=np.arange(n) / seq.fps,
        image_xyz=seq.image_xyz[frame] + rng.normal(*jitter),
        world_xyz=seq.world_xyz[frame] + rng.normal(*jitter),
        visibility=np.ones((n, 33)), present=np.ones(n, dtype=bool), steps=(),
    )


def joined(*parts: PoseSequence) -> PoseSequence:
    fps = parts[0].fps
    n = sum(len(p) for p in parts)
    return replace(
        parts[0], t=np.arange(n) / fps, steps=(),
        image_xyz=np.concatenate([p.image_xyz for p in parts]),
        world_xyz=np.concatenate([p.world_xyz for p in parts]),
        visibility=np.concatenate([p.visibility for p in parts]),
        present=np.concatenate([p.present for p in parts]),
    )


def test_a_held_pose_is_still_and_a_wing_beat_is_not() -> None:
    beat = authored("wing-beat")
    assert np.median(motion_speed(hold(beat, 0, 60, 1))) < STILL_SPEED
    assert np.median(motion_speed(beat)) > 2 * STILL_SPEED


def test_trim_still_cuts_the_lead_in_and_lead_out() -> None:
    beat = authored("wing-beat")
    recording = joined(hold(beat, 0, 90, 1), beat, hold(beat, len(beat) - 1, 60, 2))
    trimmed = trim_still(recording)
    assert trimmed.duration_s == pytest.approx(beat.duration_s, abs=0.7)
    assert trimmed.t[0] == 0
    assert len(trimmed) < len(recording) - 120


def test_trim_still_leaves_a_still_recording_alone() -> None:
    still = hold(authored("perched"), 0, 45, 3)
    assert trim_still(still) is still


def test_frames_with_nobody_count_as_still() -> None:
    beat = authored("wing-beat")
    empty = replace(hold(beat, 0, 30, 4), present=np.zeros(30, dtype=bool),
                    image_xyz=np.full((30, 33, 3), np.nan), visibility=np.zeros((30, 33)))
    trimmed = trim_still(joined(empty, beat))
    assert trimmed.present.all()


def test_pause_steps_split_where_the_movement_pauses() -> None:
    beat = authored("wing-beat")
    first, second = beat.slice_frames(0, 42), beat.slice_frames(42, len(beat))
    recording = joined(first, hold(beat, 41, 24, 5), second)
    steps = pause_steps(recording)
    assert [s.name for s in steps] == ["part 1", "part 2"]
    cut = steps[0].end_s
    assert 42 / 30 <= cut <= 66 / 30
    assert steps[-1].end_s == pytest.approx(recording.duration_s)


def test_no_pause_gives_no_steps() -> None:
    assert pause_steps(authored("wing-beat")) == ()


@pytest.mark.model
def test_real_still_start_is_trimmed(extracted: Extracted) -> None:
    """hybrik_taiji.mp4: the man stands still for a moment before the first arm sweep."""
    seq = extracted("hybrik_taiji.mp4")
    speed = motion_speed(seq)
    assert np.percentile(speed[:5], 50) < STILL_SPEED
    trimmed = trim_still(seq)
    assert 0 < len(seq) - len(trimmed) < len(seq) // 4


def test_a_take_becomes_a_reference_split_at_its_pauses_unless_steps_are_given(
    tmp_path: Path
) -> None:
    beat = authored("wing-beat")
    take = replace(joined(beat.slice_frames(0, 42), hold(beat, 41, 24, 5),
                          beat.slice_frames(42, len(beat))),
                   name="ignored", takes=(beat,), extra={"x-note": "kept", "order": 5})
    library = Library(tmp_path)
    metadata = ReferenceMetadata(description="Heavy strokes.", difficulty="beginner")
    info = library.create_from_take("my-beat", take, metadata)
    assert [s.name for s in info.steps] == [s.name for s in pause_steps(take)] == [
        "part 1", "part 2"]
    assert info.metadata == replace(metadata, title="my-beat")
    stored = library.get("my-beat")
    assert stored.takes == ()
    assert stored.extra == {"description": "Heavy strokes.", "difficulty": "beginner",
                            "x-note": "kept"}
    whole = (Step("whole", 0.0, 1.0),)
    again = library.create_from_take("my-beat", take, ReferenceMetadata(title="Mine"), whole,
                                     overwrite=True)
    assert (again.steps, again.metadata.title) == (whole, "Mine")
    assert library.create_from_take("no-steps", take, metadata, ()).steps == ()
    with pytest.raises(InvalidName):
        library.create_from_take("My Beat", take, metadata)
