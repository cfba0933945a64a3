"""What the running server holds, built once at start-up and reached from every handler.

:func:`open_state` checks the set-up first (:mod:`app.server.setup`: whatever can fail does so
before the server listens, in one sentence), then builds the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.library import Library
from app.live import warm_up
from app.runtime import BrowserPose, find_browser_pose
from app.server.auth import InstructorToken
from app.server.flow import FrameBudget, LoopLag
from app.server.sessions import SessionRegistry
from app.server.settings import Settings
from app.server.setup import check_setup
from app.server.store import PracticeStore
from app.server.tasks import JobRunner


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


def open_state(settings: Settings, jobs_folder: Path | None = None) -> ServerState:
    """Check the set-up (:func:`~app.server.setup.check_setup`), compile the scoring kernels.

    ``jobs_folder`` is the jobs folder of the server this process is a worker of
    (:class:`~app.server.tasks.JobRunner`); unset, this process starts a server and makes one.
    Each process holds its share of the session limits (:attr:`Settings.worker_max_sessions`).
    A missing browser pose runtime does not stop the server: pages are told and send camera
    images.

    Raises
    ------
    UserError
        One sentence: the model cannot be had, the library folder is unreadable, or the token
        file is broken.
    """
    setup = check_setup(settings)
    warm_up()
    return ServerState(
        settings=settings,
        model_path=setup.model_path,
        library=setup.library,
        token=setup.token,
        sessions=SessionRegistry(settings.worker_max_sessions,
                                 settings.worker_max_camera_sessions),
        jobs=JobRunner(settings.max_jobs, jobs_folder),
        store=setup.store,
        browser_pose=find_browser_pose(settings.web_dir),
        loop_lag=LoopLag(settings.busy_lag_ms / 1000),
    )
