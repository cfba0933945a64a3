"""Property-based fuzz of the HTTP API from its own OpenAPI schema (schemathesis).

Every operation gets generated requests, valid and invalid, with the instructor token (so the
writes are reached too) against a private copy of the library. Every answer must be a
documented status with a body matching the schema: no 5xx, no stack trace, no server path.
Invalid requests must be refused and, but for the operations in ``EXCLUDED_CHECKS``, valid
ones accepted.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import CheckFunction
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.server.main import create_app
from app.server.state import open_state
from tests.server_fixtures import AUTH, make_settings

EXAMPLES_PER_OPERATION = 100
EXCLUDED_CHECKS: dict[str, list[CheckFunction]] = {
    # "A request the schema calls valid is accepted" holds everywhere except where validity
    # depends on more than JSON Schema can state:
    # a "sequence" is a whole .pose.json document (33 landmarks a frame, times increasing),
    # validated by app.sequence rather than spelled out in the schema;
    "POST /api/references": [positive_data_acceptance],
    "POST /api/references/{name}/takes": [positive_data_acceptance],
    # a part must end after it starts and within the reference, relations between values;
    "PATCH /api/references/{name}": [positive_data_acceptance],
    # the file must be a video or a .pose.json document, which the schema can only call bytes;
    "POST /api/jobs": [positive_data_acceptance],
    # music must be whole WAV, Ogg or MP3 audio, bytes to the schema too;
    "PUT /api/references/{name}/music": [positive_data_acceptance],
    # taps must be a beat apart, and a grid is typed or tapped, not both;
    "PATCH /api/references/{name}/music": [positive_data_acceptance],
    # a routine's steps must be steps of the library, which the schema cannot list;
    "PUT /api/routines/{name}": [positive_data_acceptance],
    # the frames must show a learner moving on the clicks.
    "POST /api/calibration": [positive_data_acceptance],
}
LEAKS = ("Traceback", "site-packages", "/work/", "/tmp/", 'File "')


# schemathesis reads the schema when the module is collected, so the app is built here, over a
# private copy of the library that the module's last fixture removes.
_FOLDER = Path(tempfile.mkdtemp(prefix="dance-tutor-fuzz-"))
_SETTINGS = make_settings(_FOLDER)
schema = schemathesis.openapi.from_asgi("/openapi.json",
                                        create_app(_SETTINGS, open_state(_SETTINGS)))


@pytest.fixture(scope="module", autouse=True)
def _remove_library_copy() -> Iterator[None]:
    yield
    shutil.rmtree(_FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case: schemathesis.Case) -> None:
    response = case.call_and_validate(
        headers=AUTH, excluded_checks=EXCLUDED_CHECKS.get(case.operation.label, []))
    assert response.status_code < 500
    assert not any(leak in response.text for leak in LEAKS), response.text[:500]
