"""The instructor token: where it comes from and the check every library write goes through.

Learners need nothing; creating, changing and deleting references needs the token, sent as
``Authorization: Bearer <token>`` or ``X-Instructor-Token: <token>``. The token is set in the
environment or generated on first start and kept in a private file; it is compared in constant
time and never logged. The check itself is the ``InstructorDep`` dependency in ``deps.py``.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from app.atomic import atomic_write_bytes
from app.errors import UserError
from app.server.settings import MIN_TOKEN_LENGTH, Settings


class InstructorToken:
    """The secret that unlocks instructor actions; its ``repr`` never shows it."""

    def __init__(self, value: str, generated: bool = False) -> None:
        self._value = value.encode("utf-8")
        self.generated = generated
        """True when this start created the token (so the CLI prints it)."""

    def matches(self, candidate: str | None) -> bool:
        """Constant-time comparison; ``None`` never matches."""
        if candidate is None:
            return False
        return hmac.compare_digest(candidate.encode("utf-8"), self._value)

    def reveal(self) -> str:
        """The token itself, for the one place that shows it to the instructor."""
        return self._value.decode("utf-8")

    def __repr__(self) -> str:
        return "InstructorToken(***)"


def resolve_token(settings: Settings) -> InstructorToken:
    """The configured token, else the one kept in ``settings.token_file``, else a new one.

    Raises
    ------
    UserError
        When the token file exists but cannot be read or holds too short a token.
    """
    if settings.instructor_token is not None:
        return InstructorToken(settings.instructor_token.get_secret_value())
    path = settings.token_file
    if path.exists():
        return InstructorToken(_read_token_file(path))
    token = secrets.token_urlsafe(24)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_bytes(path, token.encode("utf-8"))
        os.chmod(path, 0o600)
    except OSError as exc:
        raise UserError(
            f"{path}: cannot store the instructor token ({exc.strerror}); set "
            f"DANCE_TUTOR_INSTRUCTOR_TOKEN or DANCE_TUTOR_TOKEN_FILE"
        ) from exc
    return InstructorToken(token, generated=True)


def _read_token_file(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: the instructor token file cannot be read ({exc})") from exc
    if len(token) < MIN_TOKEN_LENGTH:
        raise UserError(
            f"{path}: the instructor token must be at least {MIN_TOKEN_LENGTH} characters"
        )
    return token
