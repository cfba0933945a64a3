"""Bad input, file by file: each gets one clear sentence naming it, never a crash.

The same broken files go through the command line (exit code 2, one line on stderr naming the
file) and the API (a 4xx with a JSON ``detail``), and the library is left as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.cli import main
from app.server.state import open_state
from app.server.uploads import UPLOAD_PREFIX
from tests.conftest import clip
from tests.server_fixtures import (
    AUTH,
    ROOT,
    LiveServer,
    client,
    library_files,
    make_settings,
    settings,
    state,
)

__all__ = ["client", "settings", "state"]  # pytest fixtures this module uses

SOURCE = ROOT / "poses" / "wing-beat.pose.json"


def _document() -> dict[str, object]:
    doc: dict[str, object] = json.loads(SOURCE.read_bytes())
    return doc


def _edited(edit: Callable[[dict[str, object]], None]) -> bytes:
    doc = _document()
    edit(doc)
    return json.dumps(doc).encode()


def _first_number_replaced(word: str) -> bytes:
    text = json.dumps(_document())
    at = text.index('"landmarks": [[') + len('"landmarks": [[')
    return (text[:at] + word + text[text.index(",", at):]).encode()


def _frames(doc: dict[str, object]) -> list[dict[str, object]]:
    frames = doc["frames"]
    assert isinstance(frames, list)
    return frames


POSE_FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "truncated": (lambda: SOURCE.read_bytes()[: SOURCE.stat().st_size // 2], "is not valid JSON"),
    "empty": (lambda: b"", "is empty"),
    "not-utf8": (lambda: SOURCE.read_bytes().replace(b'"wing-beat"', b'"wing-beat\xe9"', 1),
                 "is not UTF-8"),
    "wrong-version": (lambda: _edited(lambda d: d.update(version=2)), "version must be 1"),
    "nan": (lambda: _first_number_replaced("NaN"), "contains NaN"),
    "infinity": (lambda: _first_number_replaced("Infinity"), "contains Infinity"),
    "landmark-count": (
        lambda: _edited(lambda d: _frames(d)[3].update(landmarks=_frames(d)[3]["landmarks"][:32])),
        "frames[3].landmarks must list 33 points, got 32"),
    "time-backwards": (
        lambda: _edited(lambda d: _frames(d)[5].update(t=_frames(d)[2]["t"])),
        "frames[5].t is"),
}


def _write_pose_file(folder: Path, case: str) -> Path:
    path = folder / f"{case}.pose.json"
    path.write_bytes(POSE_FILES[case][0]())
    return path


def _png_header_only(width: int, height: int) -> bytes:
    """A 69-byte PNG whose header claims ``width`` x ``height`` pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
            + chunk(b"IEND", b""))


def _huge_video(path: Path) -> None:
    """One black 5000 x 4000 frame, MJPEG: a 200 kB file over the pixel limit."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (5000, 4000))
    writer.write(np.zeros((4000, 5000, 3), np.uint8))
    writer.release()


def _cut_out_middle(source: Path, path: Path) -> None:
    """The real clip with its middle third cut out."""
    data = source.read_bytes()
    third = len(data) // 3
    path.write_bytes(data[:third] + data[2 * third:])


VIDEOS: dict[str, tuple[Callable[[Path], None], str]] = {
    "text.mp4": (lambda p: p.write_text("this is not a video\n" * 10), "is not a video file"),
    "zero.mp4": (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
    "huge.avi": (_huge_video, "over the limit of 16.8 megapixels"),
    "huge.png": (lambda p: p.write_bytes(_png_header_only(60000, 60000)),
                 "over the limit of 16.8 megapixels"),
}


def _write_video(folder: Path, case: str) -> Path:
    path = folder / case
    VIDEOS[case][0](path)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def _assert_one_line(err: str, command: str, path: Path, words: str) -> None:
    """One error line, naming the file (progress lines such as "extracting ..." may precede)."""
    lines = [line for line in err.splitlines() if line.startswith("dance-tutor ")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"dance-tutor {command}: {path}"), lines[0]
    assert words in lines[0]


@pytest.mark.parametrize("case", sorted(POSE_FILES))
def test_a_bad_pose_file_on_the_command_line(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_pose_file(tmp_path, case)
    code, err = _run(capsys, "score", str(SOURCE), str(path))
    assert code == 2
    _assert_one_line(err, "score", path, POSE_FILES[case][1])


def test_a_huge_pose_file_is_refused_before_it_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "huge.pose.json"
    with path.open("wb") as sparse:
        sparse.truncate(65 * 2**20)
    code, err = _run(capsys, "score", str(SOURCE), str(path))
    assert code == 2
    _assert_one_line(err, "score", path, "is 65 MiB, over the limit of 64 MiB")


@pytest.mark.parametrize("case", sorted(POSE_FILES))
def test_a_bad_pose_file_uploaded_for_scoring(case: str, client: TestClient) -> None:
    data = POSE_FILES[case][0]()
    response = client.post("/api/jobs", files={"file": (f"{case}.pose.json", data)},
                           data={"reference": "wing-beat"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith(f"{case}.pose.json") and POSE_FILES[case][1] in detail


@pytest.mark.parametrize("case", sorted(POSE_FILES))
def test_a_bad_pose_document_posted_as_a_reference(
    case: str, client: TestClient, settings: object
) -> None:
    poses = client.app.state.tutor.library.root  # type: ignore[attr-defined]
    before = library_files(poses)
    body = b'{"name": "new-step", "sequence": ' + POSE_FILES[case][0]() + b"}"
    response = client.post("/api/references", content=body,
                           headers={**AUTH, "Content-Type": "application/json"})
    assert 400 <= response.status_code < 500
    assert isinstance(response.json()["detail"], str | list)
    assert library_files(poses) == before


LIMIT = 2**20
CONTENT_TYPES = {"/api/references": "application/json",
                 "/api/jobs": "multipart/form-data; boundary=b"}


def _body_over(size: int, path: str) -> Iterator[bytes]:
    """The start of a JSON body that never ends, or of a form's file part, then ``size``
    bytes of it in 64 KiB pieces."""
    if path == "/api/jobs":
        yield (b'--b\r\nContent-Disposition: form-data; name="file"; filename="v.mp4"\r\n'
               b"Content-Type: video/mp4\r\n\r\n")
    else:
        yield b'{"name": "new-step", "sequence": '
    for _ in range(size // 2**16):
        yield b"x" * 2**16


def _unnamed_temporary_files() -> set[str]:
    """Deleted files in the temporary folder that this process (the live server's thread
    included) holds open: where an upload being parsed is spooled once past 1 MiB."""
    held = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # a descriptor closed since the listing
            target = os.readlink(fd)
            if target.startswith(tempfile.gettempdir()) and target.endswith(" (deleted)"):
                held.add(target)
    return held


def _upload_folders() -> list[Path]:
    return sorted(Path(tempfile.gettempdir()).glob(f"{UPLOAD_PREFIX}{os.getpid()}-*"))


def _new_temporary_files(before: set[str], timeout_s: float = 10) -> set[str]:
    """The unnamed temporary files opened since ``before``, once there are any."""
    deadline = time.monotonic() + timeout_s
    while not (new := _unnamed_temporary_files() - before) and time.monotonic() < deadline:
        time.sleep(0.01)
    return new


@pytest.mark.parametrize(("path", "limit"), [("/api/references", "max_request_bytes"),
                                             ("/api/jobs", "max_upload_bytes")])
@pytest.mark.parametrize("length", ["declared", "chunked"])
def test_a_body_over_its_limit_is_a_json_413_naming_the_limit(
    tmp_path: Path, path: str, limit: str, length: str
) -> None:
    settings = make_settings(tmp_path, **{limit: LIMIT})
    body = b"".join(_body_over(4 * LIMIT, path))
    content = body if length == "declared" else _body_over(4 * LIMIT, path)
    with LiveServer(open_state(settings)) as server:
        before = library_files(settings.poses_dir)
        response = httpx.post(f"{server.http_url}{path}", content=content, timeout=30,
                              headers={**AUTH, "Content-Type": CONTENT_TYPES[path]})
        assert ("content-length" in response.request.headers) == (length == "declared")
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/json"
        of_size = f" of {len(body)} bytes" if length == "declared" else ""
        assert response.json() == {
            "detail": f"The request body{of_size} is over this server's limit of {LIMIT} bytes."}
        assert library_files(settings.poses_dir) == before
        assert httpx.get(f"{server.http_url}/api/health").status_code == 200


def test_an_upload_stopped_at_its_limit_leaves_no_temporary_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_upload_bytes=4 * LIMIT)
    spooled: set[str] = set()

    def body(before: set[str]) -> Iterator[bytes]:
        """Past the 1 MiB an upload keeps in memory, waits until it is spooled, then goes on."""
        for sent, piece in enumerate(_body_over(8 * LIMIT, "/api/jobs")):
            yield piece
            if sent == 2 * LIMIT // 2**16:
                spooled.update(_new_temporary_files(before))

    with LiveServer(open_state(settings)) as server:
        before = _unnamed_temporary_files()
        folders = _upload_folders()
        response = httpx.post(f"{server.http_url}/api/jobs", content=body(before), timeout=30,
                              headers={**AUTH, "Content-Type": CONTENT_TYPES["/api/jobs"]})
        assert response.status_code == 413
        assert spooled, "the upload was never spooled to a temporary file"
        assert _unnamed_temporary_files() == before
        assert _upload_folders() == folders


@pytest.mark.model
@pytest.mark.parametrize("case", sorted(VIDEOS))
@pytest.mark.parametrize("command", ["extract", "score", "record"])
def test_a_bad_video_on_the_command_line(
    case: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_video(tmp_path, case)
    poses = tmp_path / "poses"
    poses.mkdir()
    argv = {
        "extract": ["extract", "-o", str(tmp_path / "out.pose.json"), str(path)],
        "score": ["score", str(SOURCE), str(path)],
        "record": ["record", "--name", "new-step", "--poses", str(poses), str(path)],
    }[command]
    code, err = _run(capsys, *argv)
    assert code == 2
    _assert_one_line(err, command, path, VIDEOS[case][1])
    assert list(poses.iterdir()) == [] and not (tmp_path / "out.pose.json").exists()


@pytest.mark.parametrize("case", sorted(VIDEOS))
def test_a_bad_video_uploaded_for_scoring(case: str, client: TestClient, tmp_path: Path) -> None:
    data = _write_video(tmp_path, case).read_bytes()
    response = client.post("/api/jobs", files={"file": (case, data)},
                           data={"reference": "wing-beat"})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith(case) and VIDEOS[case][1] in detail
    assert str(tmp_path) not in detail


@pytest.mark.model
def test_a_video_damaged_in_the_middle_is_reported_not_scored_in_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cut.avi"
    _cut_out_middle(clip("tfjs_dance_crop.avi"), path)
    code, err = _run(capsys, "extract", "-o", str(tmp_path / "out.pose.json"), str(path))
    assert code == 2
    _assert_one_line(err, "extract", path, "is damaged: only 28 of its 42 frames")
    assert not (tmp_path / "out.pose.json").exists()


@pytest.mark.model
def test_a_damaged_video_upload_fails_its_job_naming_the_upload(client: TestClient,
                                                                tmp_path: Path) -> None:
    from tests.test_server_jobs import wait_for

    path = tmp_path / "cut.avi"
    _cut_out_middle(clip("tfjs_dance_crop.avi"), path)
    response = client.post("/api/jobs", files={"file": ("attempt.avi", path.read_bytes())},
                           data={"reference": "wing-beat"})
    assert response.status_code == 202
    final = wait_for(client, response.json()["id"])[-1]
    assert final["status"] == "failed"
    assert final["error"].startswith("attempt.avi: is damaged")


@pytest.mark.parametrize(
    ("model", "words"),
    [("missing.task", "no such model file"), ("corrupt.task", "is not a complete zip archive")],
)
@pytest.mark.parametrize("command", ["extract", "record"])
def test_a_missing_or_corrupt_model_file(
    model: str, words: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "corrupt.task").write_bytes(b"PK\x03\x04 not really a model")
    poses = tmp_path / "poses"
    poses.mkdir()
    video = str(clip("tfjs_pose_1.mp4"))
    argv = {
        "extract": ["extract", "-o", str(tmp_path / "out.pose.json"), video],
        "record": ["record", "--name", "new-step", "--poses", str(poses), video],
    }[command]
    code, err = _run(capsys, *argv, "--model", str(tmp_path / model))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and model in lines[0] and words in lines[0], err


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/api/references", "GET, POST"),
    ("OPTIONS", "/api/references", "GET, POST"),
    ("POST", "/api/references/wing-beat", "DELETE, GET, PATCH"),
    ("DELETE", "/api/health", "GET"),
])
def test_a_method_a_path_does_not_take_is_405_listing_those_it_does(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path, headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["detail"].startswith(f"{method} is not allowed here; use ")
    assert client.get("/").status_code == 200, "the page is still served at /"
