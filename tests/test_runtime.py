"""The page's pose runtime: its manifest, its check, and how the server hands it to the page.

The check runs on small made-up packages in a temporary folder; the server tests use the real
installed ``@mediapipe/tasks-vision`` and the real verified model.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.runtime import (
    WEB_DIR,
    RuntimeUnavailableError,
    find_browser_pose,
    load_manifest,
    problems,
    verified_files,
)
from app.server.main import create_app
from app.server.settings import Settings
from app.server.state import open_state
from tests.server_fixtures import make_settings

PACKAGE = "@example/pose"


def make_web(folder: Path, files: dict[str, bytes], *, version: str = "1.2.3",
             installed: str | None = "1.2.3") -> Path:
    """A page folder whose manifest pins ``files`` of one package, installed as given."""
    folder.mkdir(parents=True, exist_ok=True)
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    manifest = {"format": "dance-tutor.vendor-manifest", "version": 1,
                "packages": {PACKAGE: {"version": version, "files": digests}}}
    (folder / "vendor.json").write_text(json.dumps(manifest))
    if installed is not None:
        root = folder / "node_modules" / PACKAGE
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        (root / "package.json").write_text(json.dumps({"version": installed}))
    return folder


FILES = {"bundle.mjs": b"export const x = 1;\n", "wasm/core.wasm": b"\0asm\1\0\0\0"}


def test_a_complete_install_verifies_and_lists_every_file_by_its_url_path(tmp_path: Path) -> None:
    web = make_web(tmp_path / "web", FILES)
    assert problems(web) == []
    files = verified_files(web)
    assert set(files) == {f"{PACKAGE}/bundle.mjs", f"{PACKAGE}/wasm/core.wasm"}
    assert files[f"{PACKAGE}/wasm/core.wasm"].read_bytes() == FILES["wasm/core.wasm"]


def test_a_missing_package_names_the_folder_and_the_command_that_installs_it(
    tmp_path: Path,
) -> None:
    web = make_web(tmp_path / "web", FILES, installed=None)
    with pytest.raises(RuntimeUnavailableError) as info:
        verified_files(web)
    message = str(info.value)
    assert f"the npm package {PACKAGE} is not installed" in message
    assert "dance-tutor runtime fetch" in message
    assert "\n" not in message


def test_another_version_or_a_changed_file_is_refused_naming_it(tmp_path: Path) -> None:
    web = make_web(tmp_path / "old", FILES, installed="1.0.0")
    assert problems(web) == [f"{web / 'node_modules' / PACKAGE} holds {PACKAGE} 1.0.0, "
                             "not the pinned 1.2.3"]
    web = make_web(tmp_path / "changed", FILES)
    (web / "node_modules" / PACKAGE / "wasm" / "core.wasm").write_bytes(b"\0asm tampered")
    (web / "node_modules" / PACKAGE / "bundle.mjs").unlink()
    found = problems(web)
    assert any(p.endswith("bundle.mjs is missing") for p in found), found
    assert any("core.wasm is not the file" in p and "SHA-256" in p for p in found), found


def test_a_malformed_manifest_is_one_sentence_naming_the_field(tmp_path: Path) -> None:
    web = make_web(tmp_path / "web", FILES)
    data = json.loads((web / "vendor.json").read_text())
    data["packages"][PACKAGE]["files"]["bundle.mjs"] = "not-a-digest"
    (web / "vendor.json").write_text(json.dumps(data))
    with pytest.raises(RuntimeUnavailableError) as info:
        load_manifest(web)
    assert "vendor.json is malformed" in str(info.value)
    assert "bundle.mjs" in str(info.value)


def test_the_project_pins_the_tasks_vision_release_its_lock_file_installs() -> None:
    manifest = load_manifest(WEB_DIR)
    lock = json.loads((WEB_DIR / "package-lock.json").read_text())
    for name, package in manifest.packages.items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == package.version
        assert json.loads((WEB_DIR / "package.json").read_text())["dependencies"][name] == \
            package.version
    assert problems(WEB_DIR) == [], "scripts/test installs the runtime before the tests"


@pytest.fixture
def served(tmp_path: Path) -> TestClient:
    settings = make_settings(tmp_path)
    return TestClient(create_app(settings, open_state(settings)))


def test_the_page_learns_where_the_runtime_and_the_models_are(served: TestClient) -> None:
    pose = served.get("/api/config").json()["pose"]
    assert pose["available"] is True and pose["reason"] is None
    assert [m["variant"] for m in pose["models"]] == ["full"]
    assert pose["min_fps"] > 0 and pose["probe_frames"] > 0
    bundle = served.get(pose["bundle"])
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    wasm = served.get(f"{pose['wasm']}/vision_wasm_internal.wasm")
    assert wasm.headers["content-type"] == "application/wasm"
    assert wasm.content[:4] == b"\0asm"
    digest = load_manifest(WEB_DIR).packages["@mediapipe/tasks-vision"].files[
        "wasm/vision_wasm_internal.wasm"]
    assert hashlib.sha256(wasm.content).hexdigest() == digest
    model = served.get(pose["models"][0]["url"])
    assert model.status_code == 200
    assert len(model.content) == pose["models"][0]["bytes"]
    assert model.content[:2] == b"PK", "a .task bundle is a zip"


def test_only_the_listed_files_are_served(served: TestClient) -> None:
    for path in ("/vendor/@mediapipe/tasks-vision/package.json",
                 "/vendor/@mediapipe/tasks-vision/vision_bundle.mjs.map",
                 "/vendor/@mediapipe/tasks-vision/../tasks-vision/README.md",
                 "/node_modules/@mediapipe/tasks-vision/vision_bundle.mjs",
                 "/models/manifest.json", "/models/cache"):
        assert served.get(path).status_code == 404, path


def test_without_the_runtime_the_server_starts_and_tells_the_page_why(tmp_path: Path) -> None:
    web = tmp_path / "web"
    shutil.copytree(WEB_DIR, web, ignore=shutil.ignore_patterns("node_modules"))
    settings: Settings = make_settings(tmp_path, web_dir=web)
    pose = find_browser_pose(settings.web_dir)
    assert pose.files == {} and pose.problem is not None
    client = TestClient(create_app(settings, open_state(settings)))
    public = client.get("/api/config").json()["pose"]
    assert public["available"] is False
    assert "@mediapipe/tasks-vision is not installed" in public["reason"]
    assert public["bundle"] is None and public["models"] == []
    assert client.get("/vendor/@mediapipe/tasks-vision/vision_bundle.mjs").status_code == 404
    assert client.get("/").status_code == 200, "the page is still served"
