"""Atomic writes leave the old file or the new one, and no debris."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import atomic


def test_replaces_content_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "step.pose.json"
    atomic.atomic_write_bytes(target, b"old")
    atomic.atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["step.pose.json"]


def test_failed_write_keeps_the_previous_version(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "step.pose.json"
    atomic.atomic_write_bytes(target, b"previous")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic.atomic_write_bytes(target, b"half")
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["step.pose.json"]


def test_stale_temporaries_from_a_killed_writer_are_removed(tmp_path: Path) -> None:
    (tmp_path / f"{atomic.TEMP_PREFIX}abc.json").write_bytes(b"half")
    (tmp_path / "keep.pose.json").write_bytes(b"{}")
    removed = atomic.remove_stale_temporaries(tmp_path)
    assert [p.name for p in removed] == [f"{atomic.TEMP_PREFIX}abc.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["keep.pose.json"]
