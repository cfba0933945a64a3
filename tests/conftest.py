"""Fixtures shared by the whole suite: the real test footage and the real pose model.

``TESTDATA`` is the folder of real clips (``../shared/testdata`` beside the checkout, or
``$DANCE_TUTOR_TESTDATA``). ``model_path`` obtains the pose model once per session (building it
offline if needed); ``extracted(clip_name)`` runs the pose model over a clip once per session and
hands every test the same ``PoseSequence``. Tests using either are marked ``model``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from app.models import ensure_model
from app.sequence import PoseSequence
from tests.postgres_fixtures import database_url, fresh_postgres_url, postgres_url  # noqa: F401

REPO = Path(__file__).resolve().parent.parent
TESTDATA = Path(os.environ.get("DANCE_TUTOR_TESTDATA", REPO.parent / "shared" / "testdata"))

Extracted = Callable[[str], PoseSequence]


def clip(name: str) -> Path:
    """The path of a clip in ``TESTDATA``; fails the test clearly when it is not there."""
    path = TESTDATA / name
    if not path.is_file():
        pytest.fail(f"test clip {path} is missing; set DANCE_TUTOR_TESTDATA to the folder of "
                    f"real clips")
    return path


@pytest.fixture
def private_tmp(tmp_path: Path) -> Path:
    """A temporary folder of the test's own, for a server subprocess's ``TMPDIR``: what the
    server leaves behind shows there."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The verified pose model, fetched or built offline on first use."""
    return ensure_model()


@pytest.fixture(scope="session")
def extracted(model_path: Path) -> Extracted:
    """``extracted(clip_name)``: the clip's poses, extracted once per session."""
    from app.pose import extract_video

    cache: dict[str, PoseSequence] = {}

    def get(clip_name: str) -> PoseSequence:
        if clip_name not in cache:
            cache[clip_name] = extract_video(clip(clip_name), model_path=model_path)
        return cache[clip_name]

    return get
