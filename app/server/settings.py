"""The server's configuration: one object, read from ``DANCE_TUTOR_*`` variables and CLI flags.

Every limit the server enforces lives here, so an operator can read and change them in one
place. :func:`load_settings` refuses to build a configuration that cannot work and says why in
one sentence naming the variable.
"""

from __future__ import annotations

import math
import os
import ssl
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import UserError
from app.validation import first_error, problem

ENV_PREFIX = "DANCE_TUTOR_"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
MIN_TOKEN_LENGTH = 16


def _default_token_file() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "dance-tutor" / "instructor-token"


class Settings(BaseSettings):
    """Where things are, who may change the library, and how much the server accepts."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="forbid",
        hide_input_in_errors=True, use_attribute_docstrings=True,
    )

    host: str = "127.0.0.1"
    """Address to bind; loopback unless the studio's network should reach the page."""
    port: int = Field(8000, ge=0, le=65535)
    """TCP port; 0 picks a free one."""
    poses_dir: Path = PROJECT_ROOT / "poses"
    """The reference library folder (``*.pose.json``)."""
    model_path: Path | None = None
    """A PoseLandmarker ``.task`` file; unset fetches and verifies the default model."""
    web_dir: Path = PROJECT_ROOT / "web"
    """The page's static files."""
    instructor_token: SecretStr | None = None
    """Token for instructor actions; unset reads or creates ``token_file``."""
    token_file: Path = Field(default_factory=_default_token_file)
    """Where a generated instructor token is kept between starts (mode 0600)."""
    allowed_origins: list[str] = []
    """Other origins allowed to call the API and open sessions (CORS); none by default."""
    certfile: Path | None = None
    """TLS certificate (PEM) to serve https; browsers give the camera to a page from another
    machine only over https. Needs ``keyfile``."""
    keyfile: Path | None = Field(None, validate_default=True)
    """The certificate's private key (PEM)."""

    workers: int = Field(1, ge=1)
    """Server processes answering on the one address and port (``serve --workers``), for a
    class larger than one process answers at full rate; one per core is the sensible most. The
    session limits are split among them (:attr:`worker_max_sessions`)."""

    max_sessions: int = Field(128, ge=1)
    """Practice sessions open at once, of any kind (split among the ``workers``)."""
    max_camera_sessions: int = Field(4, ge=1)
    """Sessions sending camera images at once (each runs its own pose model on the server's
    cores; split among the ``workers``)."""
    max_message_bytes: int = Field(2 * 2**20, ge=1024)
    """Largest WebSocket message: one JPEG frame with its header, or one JSON message."""
    max_frame_pixels: int = Field(1920 * 1080, ge=64 * 64)
    """Largest decoded camera frame, width times height."""
    max_frame_rate: float = Field(60.0, gt=0)
    """Frames per second a session may send; faster frames are dropped and counted."""
    session_idle_s: float = Field(30.0, gt=0)
    """A session that sends nothing for this long is closed and its model freed."""
    max_recording_s: float = Field(120.0, gt=0)
    """Longest take an instructor can record in one go."""
    max_upload_bytes: int = Field(256 * 2**20, ge=1024)
    """Largest video or pose file accepted for a scoring job."""
    max_request_bytes: int = Field(64 * 2**20, ge=1024)
    """Largest JSON request body (a reference or a take)."""
    max_jobs: int = Field(32, ge=1)
    """Scoring jobs remembered at once, over all the ``workers``; the oldest finished ones are
    forgotten first."""
    database_url: SecretStr | None = None
    """Where accounts and practices are kept: ``sqlite:///FILE`` or
    ``postgresql://user:password@host:port/db``; unset, ``tutor.db`` in the state folder."""
    max_attempt_bytes: int = Field(4 * 2**20, ge=0)
    """Largest stored attempt (the learner's landmarks, gzipped) kept with a practice for its
    replay; a longer one keeps its report only."""
    busy_lag_ms: float = Field(20.0, gt=0)
    """How late the event loop may run before landmark sessions shed frames (each is then
    answered at most every twice the lateness) until it catches up."""
    min_device_fps: float = Field(12.0, gt=0)
    """Pose estimates per second a learner's device must reach to find the pose itself; a
    slower one sends camera images (which count against ``max_camera_sessions``)."""

    @field_validator("poses_dir", "web_dir")
    @classmethod
    def _must_be_folder(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"{value} is not a folder")
        return value

    @field_validator("model_path", "certfile")
    @classmethod
    def _must_be_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value

    @field_validator("instructor_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters")
        return value

    @field_validator("keyfile")
    @classmethod
    def _key_of_the_certificate(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        certfile = info.data.get("certfile")
        if (value is None) != (certfile is None):
            raise ValueError("certfile and keyfile go together: give both to serve https, or "
                             "neither")
        if value is not None and certfile is not None:
            try:
                ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile,
                                                                                   value)
            except (ssl.SSLError, OSError) as exc:
                raise ValueError(f"{certfile} and {value} are not a PEM certificate and its "
                                 f"private key ({exc.strerror or exc})") from None
        return value

    @property
    def tls(self) -> bool:
        """True when the server speaks https."""
        return self.certfile is not None

    @property
    def worker_max_sessions(self) -> int:
        """Each worker's share of ``max_sessions``: the limit over the workers, rounded up."""
        return math.ceil(self.max_sessions / self.workers)

    @property
    def worker_max_camera_sessions(self) -> int:
        """Each worker's share of ``max_camera_sessions``, rounded up."""
        return math.ceil(self.max_camera_sessions / self.workers)

    @property
    def loopback_only(self) -> bool:
        """True when only this machine can reach the server."""
        return self.host in ("127.0.0.1", "localhost", "::1")


class SettingsError(UserError):
    """The configuration cannot work; the message names the variable and the problem."""


def load_settings(**overrides: Any) -> Settings:
    """Read the environment, apply ``overrides`` (CLI flags; ``None`` means "not given").

    Raises
    ------
    SettingsError
        Naming the first bad setting, e.g. ``setting port (DANCE_TUTOR_PORT): Input should
        be less than or equal to 65535``.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        error = first_error(exc)
        field = str(error["loc"][0]) if error["loc"] else "settings"
        raise SettingsError(
            f"setting {field} ({ENV_PREFIX}{field.upper()}): {problem(error)}"
        ) from None
