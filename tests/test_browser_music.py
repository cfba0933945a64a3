"""Practice to the music in Debian's Chromium (autoplay allowed): the count-in, the music
playing on the reference's clock with the ghost following it, the slow-down keeping the pitch
and the beat grid, and the calibration keeping its figure for the device."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page

from tests.server_fixtures import TOKEN, ServerProcess, copy_library, running_server
from tests.test_browser import (
    SCORE_SHOWN,
    SLOW_DEVICE_FPS,
    TIMEOUT_MS,
    browser,  # noqa: F401
    camera,  # noqa: F401
    open_page,
    shot,
    text,
)

pytestmark = [pytest.mark.browser, pytest.mark.model]

GHOST_LAG_S = 0.050 + 1 / 60
"""web/js/practice.js ``GHOST_REDRAW_MS`` and one animation frame."""

# The music's time and the ghost's frame read in one go, and the reference's frame rate.
CLOCKS = """() => ({t: document.getElementById('music').currentTime,
  paused: document.getElementById('music').paused,
  rate: document.getElementById('music').playbackRate,
  pitch: document.getElementById('music').preservesPitch,
  ghost: Number(document.getElementById('overlay').dataset.ghostFrame)})"""


@pytest.fixture
def server(tmp_path: Path, model_path: Path) -> Iterator[ServerProcess]:
    with running_server(copy_library(tmp_path / "poses"), model_path, tmp_path / "server.log",
                        DANCE_TUTOR_MIN_DEVICE_FPS=SLOW_DEVICE_FPS) as running:
        yield running


def counted_in(page: Page) -> list[str]:
    """The counts shown before the music, as they appear."""
    seen: list[str] = []
    page.wait_for_selector("#countdown:not([hidden])", timeout=TIMEOUT_MS)
    while page.is_visible("#countdown"):
        word = text(page, "#countdown")
        if word and (not seen or seen[-1] != word):
            seen.append(word)
        page.wait_for_timeout(50)
    return seen


def test_practice_to_the_music_follows_its_clock_and_slows_down_on_the_grid(
    browser: BrowserContext, server: ServerProcess  # noqa: F811
) -> None:
    page, errors = open_page(browser, f"{server.url}/#practice/wing-beat")
    assert counted_in(page)[-4:] == ["5", "6", "7", "8"], "a bar counted in on the beat"
    page.wait_for_function(SCORE_SHOWN, timeout=TIMEOUT_MS)
    clocks = page.evaluate(CLOCKS)
    assert not clocks["paused"] and clocks["rate"] == 1 and clocks["t"] > 0
    fps = json.loads(page.evaluate(
        "fetch('/api/references/wing-beat').then((r) => r.text())"))["fps"]
    for _ in range(5):
        clocks = page.evaluate(CLOCKS)
        # the ghost is drawn at the music's time at least every GHOST_REDRAW_MS: the last
        # drawing is at most that and one animation frame old, plus the rounding to a frame
        assert abs(clocks["ghost"] - clocks["t"] * fps) <= GHOST_LAG_S * fps + 0.5, clocks
        page.wait_for_timeout(200)
    shot(page, "practice-with-music")

    page.select_option("#opt-speed", "0.5")
    counted_in(page)
    page.wait_for_function("() => !document.getElementById('music').paused", timeout=TIMEOUT_MS)
    start = page.evaluate(CLOCKS)
    page.wait_for_timeout(1000)
    later = page.evaluate(CLOCKS)
    assert later["rate"] == 0.5 and later["pitch"] is True, "slower, at the same pitch"
    assert 0.35 <= later["t"] - start["t"] <= 0.65, "the music's clock runs at half speed"
    assert errors == []


def test_the_calibration_keeps_its_figure_for_the_device(
    browser: BrowserContext, server: ServerProcess  # noqa: F811
) -> None:
    page, errors = open_page(browser, f"{server.url}/#calibrate")
    page.wait_for_selector("#btn-cal-start:not([disabled])", timeout=TIMEOUT_MS)
    assert "not measured yet" in text(page, "#cal-result")
    page.click("#btn-cal-start")
    page.wait_for_function("() => document.getElementById('cal-result').textContent"
                           ".includes('ms for the camera')", timeout=TIMEOUT_MS)
    stored = json.loads(page.evaluate("localStorage.getItem('dance-tutor.latency')"))
    assert stored["camera_ms"] >= 0 and stored["audio_ms"] >= 0
    shot(page, "calibration")
    assert errors == []


def test_an_instructor_attaches_music_and_types_its_grid_in_the_page(
    browser: BrowserContext, server: ServerProcess, tmp_path: Path  # noqa: F811
) -> None:
    import soundfile

    from app import dombra
    from app.beats import BeatGrid

    track = tmp_path / "kuy.wav"
    soundfile.write(track, dombra.render(BeatGrid(90.0, 0.5, 4), 16), dombra.SAMPLE_RATE)
    page, errors = open_page(browser, f"{server.url}/#instructor")
    page.fill("#token-input", TOKEN)
    page.click("#token-form button[type=submit]")
    page.wait_for_selector("#music-editor:not([hidden])", timeout=TIMEOUT_MS)
    page.select_option("#music-step", "talons")
    page.set_input_files("#music-file", str(track))
    page.click("#music-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('music-status').textContent"
                           ".startsWith('Saved')", timeout=TIMEOUT_MS)
    found = httpx.get(f"{server.url}/api/references/talons").json()["music"]
    assert abs(found["tempo_bpm"] - 90.0) < 1 and abs(found["first_beat_s"] - 0.5) < 0.03
    page.fill("#grid-tempo", "92")
    page.fill("#grid-first", "0.25")
    page.click("#btn-grid-save")
    page.wait_for_function("() => document.getElementById('music-status').textContent"
                           ".includes('92 BPM')", timeout=TIMEOUT_MS)
    typed = httpx.get(f"{server.url}/api/references/talons").json()["music"]
    assert (typed["tempo_bpm"], typed["first_beat_s"]) == (92.0, 0.25)
    shot(page, "instructor-music")
    assert errors == []
