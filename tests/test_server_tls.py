"""``dance-tutor serve --certfile --keyfile``: https and wss for cameras on other machines."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from websockets.sync.client import connect

from app.server.state import open_state
from tests.server_fixtures import ROOT, LiveServer, copy_library, make_settings


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def pem(authority: trustme.CA, tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as an operator would keep them."""
    issued = authority.issue_cert("127.0.0.1", "localhost")
    cert, key = tmp_path / "tutor.crt", tmp_path / "tutor.key"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return cert, key


@pytest.fixture
def server(tmp_path: Path, pem: tuple[Path, Path]) -> Iterator[LiveServer]:
    cert, key = pem
    settings = make_settings(tmp_path, certfile=cert, keyfile=key)
    with LiveServer(open_state(settings)) as running:
        yield running


def test_the_page_and_the_api_are_served_over_https(server: LiveServer,
                                                     authority: trustme.CA) -> None:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    base = f"https://127.0.0.1:{server.port}"
    health = httpx.get(f"{base}/api/health", verify=context)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert "<html" in httpx.get(f"{base}/", verify=context).text.lower()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/api/health")


def test_a_practice_session_opens_over_wss(server: LiveServer, authority: trustme.CA) -> None:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    with connect(f"wss://127.0.0.1:{server.port}/ws/practice", ssl=context,
                 origin=f"https://127.0.0.1:{server.port}") as ws:
        ws.send(json.dumps({"type": "start", "reference": "wing-beat", "mode": "landmarks"}))
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", "serve", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_certificate_without_its_key_fails_fast(pem: tuple[Path, Path]) -> None:
    result = serve("--certfile", str(pem[0]))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dance-tutor serve: setting keyfile (DANCE_TUTOR_KEYFILE): certfile and keyfile go "
        "together: give both to serve https, or neither")


def test_a_key_that_is_not_the_certificates_fails_fast(pem: tuple[Path, Path],
                                                       authority: trustme.CA,
                                                       tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    authority.issue_cert("127.0.0.1").private_key_pem.write_to_path(str(other))
    result = serve("--certfile", str(pem[0]), "--keyfile", str(other),
                   "--poses", str(copy_library(tmp_path / "poses")))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1
    assert f"{pem[0]} and {other} are not a PEM certificate and its private key" in lines[0]


def test_a_missing_certificate_file_is_named(tmp_path: Path) -> None:
    result = serve("--certfile", str(tmp_path / "nope.crt"), "--keyfile", str(tmp_path / "k"))
    assert result.returncode == 2
    assert f"{tmp_path / 'nope.crt'} is not a file" in result.stderr
