"""The real page in Debian's Chromium, its fake camera playing a real clip of a person.

Each test starts ``dance-tutor serve`` on a private copy of the library and asserts on what a
person would see. Screenshots of every view go to ``test-artifacts/``. The page runs the pose
model itself (the tutor's tasks-vision runtime and model); the servers here ask a device for
only a few pose estimates a second, so that a busy test machine still counts as fast enough,
except where the test is the page's fallback to sending images.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, WebSocket, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from app import sequence
from tests.browser_fixtures import ARTIFACTS, CHROMIUM_ARGS, ROOT, chromium_path, write_y4m
from tests.conftest import clip
from tests.server_fixtures import TOKEN, ServerProcess, copy_library, running_server

pytestmark = [pytest.mark.browser, pytest.mark.model]

DESKTOP = {"width": 1280, "height": 720}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 60_000
SCORE_SHOWN = "() => /^\\d+$/.test(document.getElementById('score').textContent)"
SLOW_DEVICE_FPS = "4"
LANDMARK_FRAME_BYTES = {16, 16 + 4 * 33 * 4, 16 + 4 * 33 * 7}

# Keeps every camera stream and WebSocket the page opens in window.probe. While probe.hold is
# true a camera stream is handed over only when the test calls probe.release(); probe.onSocket
# runs as a socket is made. So a test can leave the view at any moment of a practice's start.
PROBE = """(() => {
  const probe = { streams: [], sockets: [], hold: true, release: null, onSocket: null };
  window.probe = probe;
  const getUserMedia = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    const stream = await getUserMedia(constraints);
    probe.streams.push(stream);
    if (probe.hold) await new Promise((resolve) => { probe.release = resolve; });
    return stream;
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      probe.sockets.push(this);
      probe.onSocket?.();
    }
  };
})()"""
# What the page still holds open: live camera tracks, sockets not closed.
STILL_OPEN = """() => ({
  tracks: window.probe.streams.flatMap((s) => s.getTracks())
    .filter((t) => t.readyState !== "ended").length,
  sockets: window.probe.sockets.filter((ws) => ws.readyState !== WebSocket.CLOSED).length,
})"""

# Counts the overlay's pixels near each limb colour (good, warn, bad) and the ghost's.
COUNT_COLOURS = """(id) => {
  const canvas = document.getElementById(id);
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const targets = {good: [46, 204, 113], warn: [245, 166, 35], bad: [255, 77, 77],
                   ghost: [140, 210, 255], amber: [232, 176, 74]};
  const counts = Object.fromEntries(Object.keys(targets).map((k) => [k, 0]));
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] < 200) continue;
    for (const [name, [r, g, b]] of Object.entries(targets)) {
      if (Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 60) {
        counts[name] += 1;
      }
    }
  }
  return counts;
}"""


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A woman raising her arms and balancing, as the fake webcam's 640x480 feed."""
    return write_y4m(clip("tfjs_pose_1.mp4"), tmp_path_factory.mktemp("camera") / "cam.y4m")


@pytest.fixture
def server(tmp_path: Path, model_path: Path) -> Iterator[ServerProcess]:
    poses = copy_library(tmp_path / "poses")
    with running_server(poses, model_path, tmp_path / "server.log",
                        DANCE_TUTOR_MIN_DEVICE_FPS=SLOW_DEVICE_FPS) as running:
        yield running


def sent_frames(page: Page) -> list[bytes]:
    """Every binary message the page sends over its WebSockets, collected as it goes."""
    frames: list[bytes] = []

    def watch(socket: WebSocket) -> None:
        socket.on("framesent",
                  lambda payload: isinstance(payload, bytes) and frames.append(payload))

    page.on("websocket", watch)
    return frames


@pytest.fixture
def browser(camera: Path) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium_path(), headless=True, viewport=DESKTOP,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera}"],
        )
        try:
            yield context
        finally:
            context.close()


def open_page(browser: BrowserContext, url: str) -> tuple[Page, list[str]]:
    """A new page at ``url`` and the list its script errors are collected in."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return page, errors


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def text(page: Page, selector: str) -> str:
    return (page.text_content(selector) or "").strip()


def finish(page: Page) -> None:
    """Finish the practice and wait for its summary. The run ends by itself once the aligner
    has held the step's last frame a moment (the fake camera's dancer dances another movement,
    so that can come at any time), so Finish is clicked only while it is still shown."""
    page.evaluate("() => { const stop = document.getElementById('btn-stop'); "
                  "if (stop.checkVisibility()) stop.click(); }")
    page.wait_for_selector("#view-summary:not([hidden])", timeout=TIMEOUT_MS)


def test_a_practice_session_from_library_to_summary(
    browser: BrowserContext, server: ServerProcess
) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    frames = sent_frames(page)
    page.goto(server.url)
    page.wait_for_selector(".card canvas", timeout=TIMEOUT_MS)
    assert page.locator("#step-list .card").count() == len(
        list(server_poses(server).glob("*.pose.json")))
    assert page.locator("#routine-list .card").count() == 1, "the whole dance, Burkit bi"
    assert "Wing spread" in text(page, ".card[data-name='wing-spread']")
    page.wait_for_timeout(500)
    assert page.evaluate(COUNT_COLOURS.replace("document.getElementById(id)",
                                               "document.querySelector('.card canvas')"),
                         "")["amber"] > 50, "the step previews are drawn"
    assert not page.is_checked("#opt-speech"), "spoken corrections are off by default"
    shot(page, "library")

    page.click(".card[data-name='wing-spread'] button")
    page.wait_for_selector("#framing:not([hidden])", timeout=TIMEOUT_MS)
    page.wait_for_selector("#countdown:not([hidden])", timeout=TIMEOUT_MS)
    shot(page, "practice-countdown")
    page.wait_for_function(SCORE_SHOWN,
                           timeout=TIMEOUT_MS)
    page.wait_for_timeout(2500)
    colours = page.evaluate(COUNT_COLOURS, "overlay")
    assert colours["good"] + colours["warn"] + colours["bad"] > 200, colours
    assert colours["ghost"] > 100, colours
    assert 0 <= int(text(page, "#score")) <= 100
    assert page.locator("#corrections li").count() <= 2
    progress = page.evaluate("document.getElementById('progress-fill').style.transform")
    assert progress.startswith("scaleX(") and float(progress[7:-1]) > 0
    assert "camera image stays on this device" in text(page, "#pose-note")
    assert text(page, "#session-stats").startswith("pose on this device (full)")
    shot(page, "practice")
    # By default the page finds the pose itself: only landmarks travel, never an image.
    assert len(frames) > 30
    assert {len(frame) for frame in frames} <= LANDMARK_FRAME_BYTES, "no camera image was sent"
    assert sum(len(frame) == max(LANDMARK_FRAME_BYTES) for frame in frames) > 30

    finish(page)
    page.wait_for_timeout(300)
    assert text(page, "#summary-overall").isdigit()
    assert text(page, "#summary-rating") in ("Perfect", "Great", "Good", "Almost", "Miss")
    assert page.locator("#summary-limbs li").count() >= 4
    assert page.locator("#summary-worst li").count() >= 1
    assert page.evaluate(COUNT_COLOURS, "summary-chart")["amber"] > 50, "the chart is drawn"
    shot(page, "summary")
    assert errors == []


def test_looping_a_step_and_watching_the_reference_slowly(
    browser: BrowserContext, server: ServerProcess
) -> None:
    page, errors = open_page(browser, f"{server.url}/#practice/wing-beat")
    page.wait_for_function(SCORE_SHOWN,
                           timeout=TIMEOUT_MS)
    steps = page.eval_on_selector_all("#opt-step option", "els => els.map(e => e.value)")
    assert steps[0] == "" and len(steps) > 2
    page.select_option("#opt-step", steps[2])
    page.wait_for_selector("#countdown:not([hidden])", timeout=TIMEOUT_MS)
    page.wait_for_selector("#countdown", state="hidden", timeout=TIMEOUT_MS)
    page.select_option("#opt-speed", "0.5")
    page.wait_for_function(SCORE_SHOWN,
                           timeout=TIMEOUT_MS)
    assert page.input_value("#opt-speed") == "0.5"
    page.click("#btn-watch")
    assert text(page, "#btn-watch") == "Stop watching"
    page.wait_for_timeout(800)
    assert page.evaluate(COUNT_COLOURS, "overlay")["ghost"] > 100
    shot(page, "practice-loop-watch")

    # Opened by its link, the practice still knows what comes next in the library.
    finish(page)
    names = [step["name"] for step in httpx.get(f"{server.url}/api/references").json()]
    following = names[names.index("wing-beat") + 1]
    assert page.is_visible("#btn-next")
    shot(page, "summary-of-a-linked-practice")
    page.click("#btn-next")
    page.wait_for_function(f"() => location.hash === '#practice/{following}'", timeout=TIMEOUT_MS)
    page.wait_for_selector("#framing:not([hidden])", timeout=TIMEOUT_MS)
    assert errors == []


def test_leaving_a_practice_as_it_starts_stops_the_camera_and_closes_the_socket(
    browser: BrowserContext, server: ServerProcess
) -> None:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(PROBE)
    page.goto(f"{server.url}/#practice/wing-beat")
    page.wait_for_function("() => window.probe.release", timeout=TIMEOUT_MS)
    page.evaluate("location.hash = '#library'")
    page.wait_for_selector(".card canvas", timeout=TIMEOUT_MS)
    page.evaluate("window.probe.release()")
    page.wait_for_timeout(1500)
    assert page.evaluate("window.probe.streams.length") == 1
    assert page.evaluate(STILL_OPEN) == {"tracks": 0, "sockets": 0}
    assert page.evaluate("window.probe.sockets.length") == 0, "no session was opened"

    page.evaluate("""() => {
      window.probe.hold = false;
      window.probe.onSocket = () => { location.hash = "#library"; };
    }""")
    page.click(".card[data-name='wing-beat'] button")
    page.wait_for_function("() => window.probe.sockets.length === 1", timeout=TIMEOUT_MS)
    page.wait_for_function(f"() => {{ const open = ({STILL_OPEN})(); "
                           "return open.tracks === 0 && open.sockets === 0; }",
                           timeout=TIMEOUT_MS)
    assert page.evaluate("window.probe.streams.length") == 2
    assert page.is_visible("#view-library") and not page.is_visible("#view-practice")
    deadline = time.monotonic() + 30
    while httpx.get(f"{server.url}/api/health").json()["sessions"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert httpx.get(f"{server.url}/api/health").json()["sessions"] == 0
    shot(page, "library-after-leaving-a-practice")
    assert errors == []


def test_the_practice_view_fits_a_phone(browser: BrowserContext, server: ServerProcess) -> None:
    page, errors = open_page(browser, f"{server.url}/#practice/wing-beat")
    page.set_viewport_size(PHONE)
    page.wait_for_function(SCORE_SHOWN,
                           timeout=TIMEOUT_MS)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    stage = page.locator("#stage").bounding_box()
    assert stage is not None and stage["width"] <= PHONE["width"]
    shot(page, "practice-phone")
    page.goto(f"{server.url}/#library")
    page.wait_for_selector(".card canvas", timeout=TIMEOUT_MS)
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    shot(page, "library-phone")
    assert errors == []


def test_an_instructor_records_a_new_step_and_a_take_of_an_existing_one(
    browser: BrowserContext, server: ServerProcess
) -> None:
    page, errors = open_page(browser, f"{server.url}/#instructor")
    page.fill("#token-input", "not-the-token-at-all")
    page.click("#token-form button[type=submit]")
    page.wait_for_function("() => document.getElementById('token-status').textContent")
    assert text(page, "#token-status") == "That token is not right."
    shot(page, "instructor-token")

    page.fill("#token-input", TOKEN)
    page.click("#token-form button[type=submit]")
    record_take(page, target="")
    page.fill("#take-name", "browser-take")
    page.fill("#take-title", "Recorded in the browser")
    page.select_option("#take-difficulty", "beginner")
    shot(page, "instructor-take")
    save_take(page, "browser-take")
    assert "Recorded in the browser" in text(page, ".card[data-name='browser-take']")
    shot(page, "library-after-recording")
    saved = sequence.load(server_poses(server) / "browser-take.pose.json")
    assert saved.source.kind == "webcam" and saved.present.mean() > 0.8
    assert saved.extra["difficulty"] == "beginner"

    page.goto(f"{server.url}/#instructor")
    record_take(page, target="wing-beat")
    save_take(page, "wing-beat")
    stored = json.loads((server_poses(server) / "wing-beat.pose.json").read_text())
    assert len(stored["takes"]) == 1
    assert errors == []


def record_take(page: Page, target: str) -> None:
    """Record about three seconds after the countdown and wait for the take form."""
    page.wait_for_selector("#recorder:not([hidden])", timeout=TIMEOUT_MS)
    page.select_option("#rec-target", target)
    page.wait_for_function("() => !document.getElementById('btn-record').disabled",
                           timeout=TIMEOUT_MS)
    page.wait_for_timeout(1000)
    assert page.evaluate(COUNT_COLOURS, "rec-overlay")["amber"] > 50, "the live skeleton shows"
    page.click("#btn-record")
    page.wait_for_selector("#rec-badge:not([hidden])", timeout=TIMEOUT_MS)
    page.wait_for_timeout(3000)
    page.click("#btn-record-stop")
    page.wait_for_selector("#take-form:not([hidden])", timeout=TIMEOUT_MS)
    assert float(page.input_value("#trim-end")) > 1.0


def save_take(page: Page, name: str) -> None:
    """Save the take and wait for its step's card in the library, or fail with what the page
    said instead."""
    page.click("#take-form button[type=submit]")
    card = f".card[data-name='{name}']"
    try:
        page.wait_for_function(
            f"() => document.querySelector(\"{card}\")?.offsetParent"
            " || /^Not saved/.test(document.getElementById('take-status').textContent)",
            timeout=TIMEOUT_MS)
    except PlaywrightTimeoutError:
        shot(page, f"no-card-for-{name}")
        cards = page.eval_on_selector_all(".card", "(cards) => cards.map((c) => c.dataset.name)")
        pytest.fail(f"no card for {name!r} at {page.url}; the take form said "
                    f"{text(page, '#take-status')!r}, the library {text(page, '#library-status')!r}"
                    f", its cards {cards}")
    assert page.is_visible(card), text(page, "#take-status")


def server_poses(server: ServerProcess) -> Path:
    """The library folder the server subprocess was started on."""
    args = server.process.args
    assert isinstance(args, list)
    return Path(args[args.index("--poses") + 1])


@pytest.mark.parametrize("cause", ["no runtime", "too slow"])
def test_the_page_sends_camera_images_when_it_cannot_find_the_pose_itself_and_says_why(
    browser: BrowserContext, tmp_path: Path, model_path: Path, cause: str
) -> None:
    poses = copy_library(tmp_path / "poses")
    if cause == "no runtime":
        web = tmp_path / "web"
        shutil.copytree(ROOT / "web", web, ignore=shutil.ignore_patterns("node_modules"))
        env = {"DANCE_TUTOR_WEB_DIR": str(web), "DANCE_TUTOR_MIN_DEVICE_FPS": SLOW_DEVICE_FPS}
        said = "cannot hand this page its pose model"
    else:
        env = {"DANCE_TUTOR_MIN_DEVICE_FPS": "1000"}
        said = "a frame for the full pose model; 1 ms or less is needed"
    with running_server(poses, model_path, tmp_path / "server.log", **env) as server:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        frames = sent_frames(page)
        page.goto(f"{server.url}/#practice/wing-beat")
        page.wait_for_function(SCORE_SHOWN, timeout=TIMEOUT_MS)
        note = text(page, "#pose-note")
        assert "Your camera images go to the tutor" in note and said in note, note
        assert text(page, "#session-stats").startswith("pose on the tutor")
        shot(page, f"practice-images-{cause.replace(' ', '-')}")
        jpegs = [f for f in frames if f[12:14] == b"\xff\xd8"]
        assert len(jpegs) > 5 and len(jpegs) == len(frames)
        assert errors == []


def test_the_learner_can_choose_where_the_pose_is_found(
    browser: BrowserContext, server: ServerProcess
) -> None:
    page, errors = open_page(browser, f"{server.url}/#practice/wing-beat")
    frames = sent_frames(page)
    page.wait_for_function(SCORE_SHOWN, timeout=TIMEOUT_MS)
    assert page.input_value("#opt-pose") == "auto"
    page.select_option("#opt-pose", "tutor")
    page.wait_for_function("() => document.getElementById('pose-note').textContent"
                           ".includes('You chose')", timeout=TIMEOUT_MS)
    page.wait_for_function(SCORE_SHOWN, timeout=TIMEOUT_MS)
    assert any(f[12:14] == b"\xff\xd8" for f in frames)
    page.reload()
    assert page.input_value("#opt-pose") == "tutor", "the choice is kept"
    assert errors == []
