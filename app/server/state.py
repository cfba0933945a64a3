"""What the running server holds, built once at start-up and reached from every handler.

:func:`open_state` does everything that can fail before the server starts listening (the
model, the library folder, the instructor token), so a broken set-up stops ``dance-tutor
serve`` with one sentence instead of failing on the first request. A broken reference file is
not a broken set-up: the library skips it and lists it in ``library.problems``, which the
serve command prints and ``/api/health`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.library import Library
from app.live import warm_up
from app.models import ensure_model, verify_bundle
from app.runtime import BrowserPose, find_browser_pose
from app.server.auth import InstructorToken, resolve_token
from app.server.flow import FrameBudget, LoopLag
from app.server.sessions import SessionRegistry
from app.server.settings import Settings
from app.server.store import PracticeStore
from app.server.tasks import JobRunner
from app.server.uploads import remove_orphaned_folders


@dataclass
class ServerState:
    settings: Settings
    model_path: Path
    library: Library
    token: InstructorToken
    sessions: SessionRegistry
    jobs: JobRunner
    store: PracticeStore
    browser_pose: BrowserPose = field(default_factory=BrowserPose)
    loop_lag: LoopLag = field(default_factory=LoopLag)
    frame_budget: FrameBudget = field(default_factory=FrameBudget)


def _model(path: Path | None) -> Path:
    """The operator's own model file, verified but never replaced; else the managed one."""
    if path is None:
        return ensure_model()
    verify_bundle(path)
    return path


def open_state(settings: Settings, jobs_folder: Path | None = None) -> ServerState:
    """Check the model and the library, resolve the token, compile the scoring kernels.

    ``jobs_folder`` is the jobs folder of the server this process is a worker of
    (:class:`~app.server.tasks.JobRunner`); unset, this process starts a server and makes one.
    Each process holds its share of the session limits (:attr:`Settings.worker_max_sessions`).

    Broken reference files do not stop the server; they are in ``library.problems``. Nor does
    a missing browser pose runtime: pages are told and send camera images. Nor an unreachable
    database: it is logged, practice goes on and finished practices wait for it.

    Raises
    ------
    UserError
        One sentence: the model cannot be had, the library folder is unreadable, or the token
        file is broken.
    """
    model_path = _model(settings.model_path)
    library = Library(settings.poses_dir)
    remove_orphaned_folders()
    warm_up()
    url = settings.database_url.get_secret_value() if settings.database_url else None
    store = PracticeStore(url, settings.max_attempt_bytes)
    store.open()
    return ServerState(
        settings=settings,
        model_path=model_path,
        library=library,
        token=resolve_token(settings),
        sessions=SessionRegistry(settings.worker_max_sessions,
                                 settings.worker_max_camera_sessions),
        jobs=JobRunner(settings.max_jobs, jobs_folder),
        store=store,
        browser_pose=find_browser_pose(settings.web_dir),
        loop_lag=LoopLag(settings.busy_lag_ms / 1000),
    )
