"""Server settings: environment, overrides, and refusing a configuration that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.server.settings import SettingsError, load_settings


@pytest.fixture
def poses(tmp_path: Path) -> Path:
    folder = tmp_path / "poses"
    folder.mkdir()
    return folder


def test_defaults_bind_to_loopback(poses: Path) -> None:
    settings = load_settings(poses_dir=poses)
    assert settings.host == "127.0.0.1"
    assert settings.loopback_only
    assert settings.allowed_origins == []


def test_environment_is_read_with_the_prefix(poses: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DANCE_TUTOR_PORT", "9123")
    monkeypatch.setenv("DANCE_TUTOR_MAX_SESSIONS", "7")
    settings = load_settings(poses_dir=poses)
    assert (settings.port, settings.max_sessions) == (9123, 7)


def test_flags_override_the_environment_and_none_means_not_given(
    poses: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DANCE_TUTOR_PORT", "9123")
    assert load_settings(poses_dir=poses, port=8001).port == 8001
    assert load_settings(poses_dir=poses, port=None).port == 9123


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"port": 70000}, "setting port (DANCE_TUTOR_PORT)"),
        ({"max_sessions": 0}, "setting max_sessions (DANCE_TUTOR_MAX_SESSIONS)"),
        ({"poses_dir": "/nonexistent/poses"}, "/nonexistent/poses is not a folder"),
        ({"model_path": "/nonexistent/model.task"}, "/nonexistent/model.task is not a file"),
        ({"instructor_token": "short"}, "at least 16 characters"),
    ],
)
def test_bad_settings_fail_with_one_sentence(
    poses: Path, override: dict[str, object], expected: str
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(**{"poses_dir": poses, **override})
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_a_bad_environment_value_names_the_variable(
    poses: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DANCE_TUTOR_MAX_FRAME_RATE", "fast")
    with pytest.raises(SettingsError, match="DANCE_TUTOR_MAX_FRAME_RATE"):
        load_settings(poses_dir=poses)


def test_the_token_never_shows_in_errors_or_repr(poses: Path) -> None:
    settings = load_settings(poses_dir=poses, instructor_token="a-very-secret-token-value")
    assert "a-very-secret-token-value" not in repr(settings)


def test_an_empty_variable_counts_as_unset(poses: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DANCE_TUTOR_INSTRUCTOR_TOKEN", "")
    monkeypatch.setenv("DANCE_TUTOR_PORT", "")
    settings = load_settings(poses_dir=poses)
    assert settings.instructor_token is None
    assert settings.port == 8000
