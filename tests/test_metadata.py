"""The teacher's metadata of a reference: one set of rules, read from and written to the file."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from app import sequence
from app.library import default_poses_dir
from app.metadata import DIFFICULTIES, MetadataError, ReferenceMetadata
from app.sequence import PoseSequence


def wing_beat() -> PoseSequence:
    return sequence.load(default_poses_dir() / "wing-beat.pose.json")


def test_every_committed_reference_reads_and_writes_back_unchanged() -> None:
    for path in sorted(default_poses_dir().glob(f"*{sequence.SUFFIX}")):
        seq = sequence.load(path)
        metadata = ReferenceMetadata.of(seq)
        assert metadata.difficulty in DIFFICULTIES and metadata.order is not None
        assert metadata.applied_to(seq).to_json() == path.read_text(), path.name


def test_metadata_replaces_the_teachers_fields_and_keeps_the_others() -> None:
    seq = replace(wing_beat(), extra={"x-note": "by hand", "order": 5, "difficulty": "advanced"})
    written = ReferenceMetadata(title=" Heavy wings ", tempo_bpm=60).applied_to(seq)
    assert written.title == "Heavy wings"
    assert written.extra == {"tempo_bpm": 60.0, "x-note": "by hand"}
    doc = json.loads(written.to_json())
    assert list(doc)[:2] == ["tempo_bpm", "x-note"]
    assert "description" not in doc and "order" not in doc


def test_no_title_means_the_name() -> None:
    seq = replace(wing_beat(), title="")
    assert ReferenceMetadata.of(seq).title == "wing-beat"
    assert ReferenceMetadata().applied_to(seq).title == "wing-beat"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("difficulty", "hard", "difficulty must be one of beginner, intermediate, advanced"),
    ("tempo_bpm", 19.9, "tempo_bpm must be a number from 20 to 300, got 19.9"),
    ("tempo_bpm", "60", "tempo_bpm must be a number from 20 to 300, got '60'"),
    ("tempo_bpm", True, "tempo_bpm must be a number"),
    ("order", 1000, "order must be a whole number from 1 to 999, got 1000"),
    ("order", 2.0, "order must be a whole number"),
    ("title", "x" * 201, "title must be text of at most 200 characters"),
    ("description", 7, "description must be text of at most 2000 characters"),
])
def test_a_value_out_of_bounds_is_refused_naming_the_field(field: str, value: object,
                                                           message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        ReferenceMetadata(**{field: value})  # type: ignore[arg-type]


def test_a_file_with_a_bad_value_is_refused_by_the_same_rule() -> None:
    doc = json.loads((default_poses_dir() / "wing-beat.pose.json").read_text())
    doc["tempo_bpm"] = 900
    with pytest.raises(MetadataError, match="tempo_bpm must be a number from 20 to 300"):
        ReferenceMetadata.of(sequence.from_dict(doc))
