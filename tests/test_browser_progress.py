"""The real page in Debian's Chromium: progress, replay, routines, learners and teachers.

A learner at home practises, sees how the try compares, replays it beside the reference and
finds it on the progress chart; in a studio a learner logs in and a teacher opens that
learner's attempt; the whole dance is practised as a routine. The fake camera plays a real
clip of a person (see tests/test_browser.py for the fixtures).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page

from tests.server_fixtures import AUTH, ServerProcess, copy_library, running_server
from tests.test_browser import (
    COUNT_COLOURS,
    SCORE_SHOWN,
    SLOW_DEVICE_FPS,
    TIMEOUT_MS,
    browser,  # noqa: F401
    camera,  # noqa: F401
    finish,
    open_page,
    shot,
    text,
)

pytestmark = [pytest.mark.browser, pytest.mark.model]

BOTH_SKELETONS = ("() => { const count = (" + COUNT_COLOURS + ")('replay-canvas'); "
                  "return count.ghost > 50 && count.amber + count.good + count.bad > 50; }")


@pytest.fixture
def home(tmp_path: Path, model_path: Path) -> Iterator[ServerProcess]:
    with running_server(copy_library(tmp_path / "poses"), model_path, tmp_path / "server.log",
                        DANCE_TUTOR_MIN_DEVICE_FPS=SLOW_DEVICE_FPS) as running:
        yield running


def dance_and_finish(page: Page, name: str | None, seconds: float = 3.0) -> None:
    """Practise ``name`` (None: again, from the summary) for a few seconds and finish."""
    if name is None:
        page.click("#btn-again")
    else:
        page.evaluate(f"location.hash = '#practice/{name}'")
    page.wait_for_selector("#view-practice:not([hidden])", timeout=TIMEOUT_MS)
    page.wait_for_function(SCORE_SHOWN, timeout=TIMEOUT_MS)
    page.wait_for_timeout(seconds * 1000)
    finish(page)


def log_in(page: Page, name: str, password: str) -> None:
    page.click("#btn-login")
    page.fill("#login-name", name)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_function(f"() => document.getElementById('who').textContent.startsWith('{name}')",
                           timeout=TIMEOUT_MS)


def test_at_home_a_try_is_kept_replayed_beside_the_reference_and_charted(
    browser: BrowserContext, home: ServerProcess  # noqa: F811
) -> None:
    page, errors = open_page(browser, home.url)
    page.wait_for_selector(".card canvas", timeout=TIMEOUT_MS)
    assert page.is_visible("#btn-progress") and not page.is_visible("#btn-login"), \
        "at home nobody has to log in"
    dance_and_finish(page, "wing-spread")
    page.wait_for_function("() => document.getElementById('summary-kept').textContent",
                           timeout=TIMEOUT_MS)
    assert text(page, "#summary-kept").startswith("Your first try today")
    shot(page, "summary-kept")

    page.click("#btn-replay")
    page.wait_for_selector("#view-replay:not([hidden])", timeout=TIMEOUT_MS)
    chapters = page.locator("#replay-chapters button")
    if chapters.count():
        chapters.first.click()
        assert text(page, "#replay-moment"), "a chapter shows its correction"
    else:
        middle = int(page.get_attribute("#replay-scrubber", "max") or 0) // 2
        page.fill("#replay-scrubber", str(middle))
        page.dispatch_event("#replay-scrubber", "input")
    page.wait_for_function(BOTH_SKELETONS, timeout=TIMEOUT_MS)
    shot(page, "replay-side-by-side")
    page.select_option("#replay-layout", "overlay")
    page.wait_for_function(BOTH_SKELETONS, timeout=TIMEOUT_MS)
    page.select_option("#replay-speed", "0.25")
    page.click("#replay-play")
    assert text(page, "#replay-play") == "Pause"
    page.click("#btn-replay-back")
    assert page.is_visible("#view-summary")

    dance_and_finish(page, None, seconds=2.0)
    page.wait_for_function("() => document.getElementById('summary-kept').textContent"
                           ".startsWith('Your second try today')", timeout=TIMEOUT_MS)
    page.click("#summary-kept button")
    page.wait_for_selector("#view-progress:not([hidden]) .progress-step", timeout=TIMEOUT_MS)
    assert "2 tries" in text(page, ".progress-step[data-reference='wing-spread']")
    page.wait_for_timeout(500)
    chart = COUNT_COLOURS.replace("document.getElementById(id)",
                                  "document.querySelector('.progress-step canvas')")
    assert page.evaluate(chart, "")["amber"] > 20, "the progress chart shows both tries"
    shot(page, "progress")
    page.locator("#progress-attempts button", has_text="Replay").first.click()
    page.wait_for_function("() => document.getElementById('replay-chapters').childElementCount",
                           timeout=TIMEOUT_MS)
    page.fill("#replay-scrubber", "5")
    page.dispatch_event("#replay-scrubber", "input")
    page.wait_for_function(BOTH_SKELETONS, timeout=TIMEOUT_MS)
    shot(page, "replay-of-a-kept-attempt")
    assert errors == []


def test_a_learner_logs_in_and_practises_and_the_teacher_opens_the_attempt(
    browser: BrowserContext, tmp_path: Path, model_path: Path  # noqa: F811
) -> None:
    with running_server(copy_library(tmp_path / "poses"), model_path, tmp_path / "server.log",
                        DANCE_TUTOR_MIN_DEVICE_FPS=SLOW_DEVICE_FPS) as server:
        for name, role, password in (("aigul", "teacher", "golden-eagle"),
                                     ("nurlan", "learner", "young-falcon")):
            made = httpx.post(f"{server.url}/api/users", headers=AUTH,
                              json={"name": name, "role": role, "password": password})
            assert made.status_code == 201, made.text

        learner, errors = open_page(browser, server.url)
        learner.wait_for_selector("#btn-login:not([hidden])", timeout=TIMEOUT_MS)
        log_in(learner, "nurlan", "young-falcon")
        dance_and_finish(learner, "wing-beat")
        learner.wait_for_function("() => document.getElementById('summary-kept').textContent",
                                  timeout=TIMEOUT_MS)
        assert text(learner, "#summary-kept").startswith("Your first try today")
        learner.click("#btn-logout")
        learner.wait_for_selector("#btn-login:not([hidden])", timeout=TIMEOUT_MS)

        log_in(learner, "aigul", "golden-eagle")
        learner.click("#btn-class")
        learner.wait_for_selector("#class-roster tbody tr", timeout=TIMEOUT_MS)
        assert "nurlan" in text(learner, "#class-roster tbody")
        shot(learner, "class")
        learner.click("#class-roster tbody button")
        learner.wait_for_selector("#progress-attempts li", timeout=TIMEOUT_MS)
        assert "nurlan's progress" in text(learner, "#progress-title")
        learner.locator("#progress-attempts button", has_text="Replay").first.click()
        learner.wait_for_function(
            "() => document.getElementById('replay-chapters').childElementCount",
            timeout=TIMEOUT_MS)
        learner.fill("#replay-scrubber", "5")
        learner.dispatch_event("#replay-scrubber", "input")
        learner.wait_for_function(BOTH_SKELETONS, timeout=TIMEOUT_MS)
        shot(learner, "teacher-replays-an-attempt")
        assert errors == []


def test_the_whole_dance_is_practised_as_a_routine_with_a_score_per_step(
    browser: BrowserContext, home: ServerProcess  # noqa: F811
) -> None:
    page, errors = open_page(browser, home.url)
    page.wait_for_selector("#routine-list .card canvas", timeout=TIMEOUT_MS)
    assert "Burkit bi" in text(page, "#routine-list")
    page.click("#routine-list .card button")
    page.wait_for_function(SCORE_SHOWN, timeout=TIMEOUT_MS)
    steps = page.eval_on_selector_all("#opt-step option", "els => els.map(e => e.value)")
    assert len(steps) == 11, "the whole dance and its ten steps"
    page.wait_for_timeout(2000)
    finish(page)
    assert page.locator("#summary-parts li").count() == 10
    assert text(page, "#btn-next").startswith("Practise “"), "the weakest step is offered next"
    shot(page, "summary-of-the-routine")
    assert errors == []


def test_the_learner_can_keep_their_own_video_on_the_device_for_the_replay(
    browser: BrowserContext, home: ServerProcess  # noqa: F811
) -> None:
    page, errors = open_page(browser, f"{home.url}/#library")
    page.wait_for_selector(".card canvas", timeout=TIMEOUT_MS)
    assert not page.is_checked("#opt-video"), "off by default"
    page.evaluate("location.hash = '#practice/wing-spread'")
    page.wait_for_selector("#view-practice:not([hidden])", timeout=TIMEOUT_MS)
    page.check("#opt-video")
    page.wait_for_function(SCORE_SHOWN, timeout=TIMEOUT_MS)
    page.wait_for_timeout(3000)
    finish(page)
    page.click("#btn-replay")
    page.wait_for_selector("#replay-video-box:not([hidden])", timeout=TIMEOUT_MS)
    assert "never sent to the tutor" in text(page, "#replay-video-box")
    page.wait_for_function("() => document.getElementById('replay-video').readyState >= 1",
                           timeout=TIMEOUT_MS)
    page.fill("#replay-scrubber", "20")
    page.dispatch_event("#replay-scrubber", "input")
    page.wait_for_function("() => document.getElementById('replay-video').currentTime > 0",
                           timeout=TIMEOUT_MS)
    shot(page, "replay-with-own-video")
    kept = page.evaluate("""() => new Promise((resolve) => {
      const request = indexedDB.open("dance-tutor", 1);
      request.onsuccess = () => {
        const keys = request.result.transaction("videos").objectStore("videos").getAllKeys();
        keys.onsuccess = () => resolve(keys.result);
      };
    })""")
    assert len(kept) == 1
    page.click("#btn-video-delete")
    page.wait_for_selector("#replay-video-box", state="hidden", timeout=TIMEOUT_MS)
    assert errors == []
