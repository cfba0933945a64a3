"""Private folders for uploads, and the removal of those a killed server left behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

UPLOAD_PREFIX = "dance-tutor-upload-"


def new_upload_folder() -> Path:
    """A private (mode 0700) folder for one upload, named after this server's process."""
    return Path(tempfile.mkdtemp(prefix=f"{UPLOAD_PREFIX}{os.getpid()}-"))


def remove_orphaned_uploads(parent: Path | None = None) -> list[Path]:
    """Delete upload folders left by a server that was killed; returns those removed.

    A folder's name carries its server's process id; folders of a live process are kept.
    """
    removed = []
    for folder in Path(parent or tempfile.gettempdir()).glob(f"{UPLOAD_PREFIX}*"):
        pid = folder.name.removeprefix(UPLOAD_PREFIX).split("-")[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
