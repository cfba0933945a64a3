"""The page's npm packages: MediaPipe's pose runtime for the browser (``@mediapipe/tasks-vision``)
and the chart library (``chart.js``).

The page runs the pose model on the learner's device with MediaPipe's web runtime, a JavaScript
bundle and its WebAssembly files, and draws its score charts with Chart.js. They are not
committed: ``web/package.json`` and
``web/package-lock.json`` pin the npm release (with npm's own integrity hash), and
``web/vendor.json`` lists the files the tutor serves from it with their SHA-256. The install
step (:func:`ensure_runtime`, ``dance-tutor runtime fetch``) runs ``npm ci`` into
``web/node_modules`` when a file is missing or differs; the server serves only the listed files
and only when every hash matches (:func:`verified_files`). Nothing comes from a CDN.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.errors import UserError
from app.models import file_sha256, model_status
from app.validation import describe, first_error

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
"""The page's folder: its files, ``package.json`` and ``vendor.json``."""
MANIFEST_NAME = "vendor.json"
PACKAGES_DIR = "node_modules"
NPM_TIMEOUT_S = 900.0
POSE_PACKAGE = "@mediapipe/tasks-vision"
POSE_BUNDLE = "vision_bundle.js"
"""The classic (IIFE) bundle: the page runs it in a worker, which loads the WebAssembly glue
with ``importScripts``."""
POSE_WASM_DIR = "wasm"

log = logging.getLogger(__name__)


class RuntimeUnavailableError(UserError):
    """The browser's pose runtime is missing or damaged and could not be installed."""


Sha256 = Annotated[str, Field(pattern="^[0-9a-f]{64}$")]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, strict=True, extra="forbid")


class VendorPackage(_Part):
    """One npm package: its pinned version and the files served from it, by SHA-256."""

    version: str
    files: dict[str, Sha256] = Field(min_length=1)


class VendorManifest(_Part):
    """``web/vendor.json``."""

    format: Literal["dance-tutor.vendor-manifest"]
    version: Literal[1]
    packages: dict[str, VendorPackage] = Field(min_length=1)


def load_manifest(web_dir: Path = WEB_DIR) -> VendorManifest:
    """Read and validate ``vendor.json``; a missing or malformed one is one sentence naming it."""
    path = web_dir / MANIFEST_NAME
    try:
        return VendorManifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        raise RuntimeUnavailableError(f"the page's package manifest {path} is missing") from None
    except OSError as exc:
        raise RuntimeUnavailableError(f"{path} cannot be read ({exc.strerror})") from exc
    except ValidationError as exc:
        raise RuntimeUnavailableError(
            f"{path} is malformed: {describe(first_error(exc))}") from None


def problems(web_dir: Path = WEB_DIR) -> list[str]:
    """What is wrong with the installed packages, one sentence per file; empty when all is well."""
    manifest = load_manifest(web_dir)
    found: list[str] = []
    for name, package in manifest.packages.items():
        root = web_dir / PACKAGES_DIR / name
        installed = _installed_version(root)
        if installed is None:
            found.append(f"the npm package {name} is not installed in {root.parent}")
            continue
        if installed != package.version:
            found.append(f"{root} holds {name} {installed}, not the pinned {package.version}")
            continue
        for relative, digest in package.files.items():
            path = root / relative
            if not path.is_file():
                found.append(f"{path} is missing")
            elif _digest(path) != digest:
                found.append(f"{path} is not the file {name} {package.version} ships "
                             "(its SHA-256 differs from web/vendor.json)")
    return found


def ensure_runtime(web_dir: Path = WEB_DIR) -> dict[str, Path]:
    """Install the page's packages with ``npm ci`` unless they are all there and verify.

    Returns the served files (see :func:`verified_files`).

    Raises
    ------
    RuntimeUnavailableError
        When npm is missing or fails, or a file still differs after installing.
    """
    if problems(web_dir):
        _npm_ci(web_dir)
        _digest_of.cache_clear()
    return verified_files(web_dir)


def verified_files(web_dir: Path = WEB_DIR) -> dict[str, Path]:
    """Every file the manifest lists, by its URL path under ``/vendor/`` (``package/file``).

    Raises
    ------
    RuntimeUnavailableError
        Naming the first missing or damaged file, and the command that installs it.
    """
    found = problems(web_dir)
    if found:
        raise RuntimeUnavailableError(
            f"{found[0]}; run 'dance-tutor runtime fetch' (or scripts/serve) to install it")
    manifest = load_manifest(web_dir)
    return {
        f"{name}/{relative}": web_dir / PACKAGES_DIR / name / relative
        for name, package in manifest.packages.items()
        for relative in package.files
    }


def _installed_version(root: Path) -> str | None:
    try:
        version = json.loads((root / "package.json").read_bytes()).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return version if isinstance(version, str) else None


@functools.cache
def _digest_of(path: Path, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def _digest(path: Path) -> str:
    """A file's SHA-256, hashed once per size and modification time (the server checks at every
    start, the tests at every app they build)."""
    stat = path.stat()
    return _digest_of(path, stat.st_size, stat.st_mtime_ns)


def _npm_ci(web_dir: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeUnavailableError(
            "npm is needed to install the page's pose runtime and is not on the PATH; install "
            "Node.js with npm (Debian: apt-get install npm) or run scripts/serve as root")
    log.info("Installing the page's npm packages into %s", web_dir / PACKAGES_DIR)
    command = [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--omit=dev",
               "--loglevel=error"]
    try:
        done = subprocess.run(command, cwd=web_dir, timeout=NPM_TIMEOUT_S, check=False,
                              capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        raise RuntimeUnavailableError(
            f"npm ci in {web_dir} did not finish in {NPM_TIMEOUT_S:.0f} s; is the npm registry "
            "reachable?") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeUnavailableError(f"npm ci in {web_dir} failed: {last}")


@dataclass(frozen=True)
class BrowserPose:
    """What this server can hand the page: runtime files by URL path, models by variant."""

    files: dict[str, Path] = field(default_factory=dict)
    models: dict[str, Path] = field(default_factory=dict)
    problem: str | None = None


def find_browser_pose(web_dir: Path) -> BrowserPose:
    """The verified runtime under ``web_dir`` and the verified model variants; an unusable
    runtime is logged once and reported to the page, never a reason not to start."""
    models = {info.variant: info.path for info in model_status()
              if info.present and info.verified}
    try:
        files = verified_files(web_dir)
    except UserError as exc:
        log.warning("Pose estimation in the browser is off (pages send camera images): %s", exc)
        return BrowserPose(models=models, problem=str(exc))
    if not models:
        problem = "no verified pose model is in the model folder"
        log.warning("Pose estimation in the browser is off: %s", problem)
        return BrowserPose(files=files, problem=problem)
    return BrowserPose(files=files, models=models)
