"""The instructor token: where it comes from, how it is compared, that it stays secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from app.errors import UserError
from app.server.auth import InstructorToken, resolve_token
from app.server.settings import load_settings


@pytest.fixture
def poses(tmp_path: Path) -> Path:
    folder = tmp_path / "poses"
    folder.mkdir()
    return folder


def test_matches_only_the_exact_token() -> None:
    token = InstructorToken("correct-horse-battery-staple")
    assert token.matches("correct-horse-battery-staple")
    assert not token.matches("correct-horse-battery-stapl")
    assert not token.matches("correct-horse-battery-staple ")
    assert not token.matches("")
    assert not token.matches(None)


def test_repr_hides_the_token() -> None:
    assert "staple" not in repr(InstructorToken("correct-horse-battery-staple"))


def test_configured_token_is_used_as_given(poses: Path, tmp_path: Path) -> None:
    settings = load_settings(poses_dir=poses, instructor_token="x" * 20,
                             token_file=tmp_path / "token")
    token = resolve_token(settings)
    assert token.matches("x" * 20)
    assert not token.generated
    assert not (tmp_path / "token").exists()


def test_first_start_generates_a_private_token_that_later_starts_reuse(
    poses: Path, tmp_path: Path
) -> None:
    path = tmp_path / "state" / "instructor-token"
    settings = load_settings(poses_dir=poses, token_file=path)
    first = resolve_token(settings)
    assert first.generated
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.reveal()) >= 16
    second = resolve_token(settings)
    assert not second.generated
    assert second.matches(first.reveal())


def test_a_damaged_token_file_is_refused(poses: Path, tmp_path: Path) -> None:
    path = tmp_path / "instructor-token"
    path.write_text("short\n")
    with pytest.raises(UserError, match="at least 16 characters"):
        resolve_token(load_settings(poses_dir=poses, token_file=path))
