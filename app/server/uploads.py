"""Private temporary folders named after their server's process (an upload's, a server's jobs),
and the removal of those a killed server left behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

UPLOAD_PREFIX = "dance-tutor-upload-"
JOBS_PREFIX = "dance-tutor-jobs-"
"""The folder of a server's scoring jobs (:mod:`app.server.tasks`), shared by its processes."""


def private_folder(prefix: str) -> Path:
    """A private (mode 0700) temporary folder, named ``prefix``, this process's id, a dash and
    a random part."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))


def new_upload_folder() -> Path:
    """A private folder for one upload."""
    return private_folder(UPLOAD_PREFIX)


def remove_orphaned_folders(parent: Path | None = None) -> list[Path]:
    """Delete upload and jobs folders left by a server that was killed; returns those removed.

    A folder's name carries its server's process id; folders of a live process are kept.
    """
    removed = []
    for prefix in (UPLOAD_PREFIX, JOBS_PREFIX):
        for folder in Path(parent or tempfile.gettempdir()).glob(f"{prefix}*"):
            pid = folder.name.removeprefix(prefix).split("-")[0]
            if pid.isdigit() and not process_alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process of that id runs (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
