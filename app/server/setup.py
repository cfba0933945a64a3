"""The set-up ``dance-tutor serve`` checks before it listens: the model, the library folder,
the database and the instructor token.

:func:`check_setup` does everything here that can fail, so a broken set-up stops the server
with one sentence instead of failing on the first request. A broken reference file is not a
broken set-up: the library skips it and lists it in ``library.problems``, which the serve
command prints and ``/api/health`` reports. Nothing here imports the pose model's runtime or
the web framework: the first process of ``serve --workers`` checks the set-up and stays small
while its workers serve.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.library import Library
from app.models import ensure_model, verify_bundle
from app.server.auth import InstructorToken, resolve_token
from app.server.settings import Settings
from app.server.store import PracticeStore
from app.server.uploads import remove_orphaned_folders


@dataclass
class Setup:
    """What was checked: the model file, the library, the opened practice store, the token."""

    model_path: Path
    library: Library
    store: PracticeStore
    token: InstructorToken


def _model(path: Path | None) -> Path:
    """The operator's own model file, verified but never replaced; else the managed one."""
    if path is None:
        return ensure_model()
    verify_bundle(path)
    return path


def check_setup(settings: Settings) -> Setup:
    """Check the model and the library, open (and migrate) the database, resolve the token;
    remove the folders a killed server left behind.

    Broken reference files do not stop the server; they are in ``library.problems``. Nor does
    an unreachable database: it is logged, practice goes on and finished practices wait for it.

    Raises
    ------
    UserError
        One sentence: the model cannot be had, the library folder is unreadable, or the token
        file is broken.
    """
    model_path = _model(settings.model_path)
    library = Library(settings.poses_dir)
    remove_orphaned_folders()
    url = settings.database_url.get_secret_value() if settings.database_url else None
    store = PracticeStore(url, settings.max_attempt_bytes)
    store.open()
    return Setup(model_path, library, store, resolve_token(settings))
