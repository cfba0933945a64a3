"""The rhythm measure: accents found in the movement, timed against the beats, in words.

Synthetic dancers (``tests/rhythm_fixtures.py``) turn or stop at known times, on and off the
beat by known amounts, to music whose tempo drifts, seen with the pose model's jitter; then
the live path end to end: a session with a beat grid, the music's start, frames, the report's
rhythm, its JSON, and the practice WebSocket carrying the fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError
from websockets.sync.client import connect

from app.beats import BeatGrid
from app.live import LiveSession
from app.reference import Reference
from app.report_schema import Report
from app.rhythm import (
    Accents,
    Latency,
    Rhythm,
    accents_of,
    danced_beats,
    heard_beats,
    measure,
)
from app.scoring import ScoreOptions
from app.sequence import N_LANDMARKS, PoseSequence, save
from app.server.protocol import (
    OPEN_MESSAGE,
    SERVER_MESSAGE,
    SESSION_MESSAGE,
    Restart,
    StartPractice,
    landmarks_frame,
)
from app.server.sessions import beat_grid
from app.server.state import open_state
from tests.rhythm_fixtures import Camera, dancer, music_beats
from tests.server_fixtures import LiveServer, make_settings

OFFSETS_S = (-0.150, -0.060, 0.0, 0.060, 0.120)
TOLERANCE_MS = 20.0


def counts_of(n: int, meter: int = 4) -> np.ndarray[Any, np.dtype[np.int64]]:
    return (np.arange(n) % meter + 1).astype(np.int64)


def rhythm_of(seq: PoseSequence, beats: np.ndarray[Any, np.dtype[np.float64]],
              calibrated: bool = True) -> Rhythm:
    found = accents_of(seq.t, seq.image_xyz, seq.visibility, seq.aspect)
    rhythm = measure(found, beats, counts_of(len(beats)), 4, calibrated)
    assert rhythm is not None
    return rhythm


def performance(offset_s: float, seed: int, hits: bool = False, tempo: float | None = None,
                per_count: dict[int, float] | None = None, noise: float = 0.02
                ) -> tuple[PoseSequence, np.ndarray[Any, np.dtype[np.float64]]]:
    """A dancer ``offset_s`` off the beats (``per_count`` adds per count of the bar) of 24
    beats drifting +-3 % in tempo, with human scatter (10 ms) and the pose model's jitter."""
    rng = np.random.default_rng(seed)
    beats = music_beats(rng.uniform(80, 140) if tempo is None else tempo, 24, drift=0.03)
    extra = np.array([(per_count or {}).get(int(c), 0.0) for c in counts_of(len(beats))])
    accents = beats + offset_s + extra + rng.normal(0.0, 0.01, len(beats))
    return dancer(accents, rng, Camera(noise=noise), hits=hits), beats


# --- the measure ----------------------------------------------------------------------------


@pytest.mark.parametrize("hits", [False, True], ids=["turning", "hitting"])
@pytest.mark.parametrize("offset_s", OFFSETS_S)
def test_the_offset_is_measured_within_20_ms(offset_s: float, hits: bool) -> None:
    """On and off the beat by known amounts, tempo drifting +-3 %, 1-3 % landmark jitter."""
    for seed, noise in enumerate((0.01, 0.02, 0.03)):
        seq, beats = performance(offset_s, seed, hits=hits, noise=noise)
        rhythm = rhythm_of(seq, beats)
        assert rhythm.offset_ms is not None
        assert abs(rhythm.offset_ms - 1000.0 * offset_s) <= TOLERANCE_MS, (seed, rhythm)
        assert rhythm.hits >= rhythm.beats - 1
        assert rhythm.spread_ms is not None and rhythm.spread_ms < 30.0


def test_on_the_beat_is_praised_and_scores_high() -> None:
    seq, beats = performance(0.0, 7)
    rhythm = rhythm_of(seq, beats)
    assert rhythm.feedback == ("on the beat: your moves land with the music",)
    assert rhythm.score >= 90.0
    assert rhythm.beat_align >= 0.8
    assert rhythm.calibrated


@pytest.mark.parametrize(("offset_s", "said"), [(0.120, "about 120 ms late"),
                                                (-0.150, "about 150 ms early")])
def test_a_steady_offset_is_said_and_lowers_the_rhythm_score(offset_s: float,
                                                             said: str) -> None:
    seq, beats = performance(offset_s, 3, tempo=100.0)
    rhythm = rhythm_of(seq, beats)
    assert rhythm.feedback[0] == f"you are {said} on every beat"
    assert rhythm.score < 50.0
    on_beat = rhythm_of(*performance(0.0, 3, tempo=100.0))
    assert on_beat.score - rhythm.score >= 40.0


def test_without_calibration_the_learner_is_not_blamed_for_the_delay() -> None:
    seq, beats = performance(0.120, 4, tempo=110.0)
    calibrated = rhythm_of(seq, beats)
    uncalibrated = rhythm_of(seq, beats, calibrated=False)
    assert not uncalibrated.calibrated
    assert uncalibrated.offset_ms == calibrated.offset_ms
    assert uncalibrated.feedback[0] == ("your timing looks about 120 ms late, but this device's "
                                        "delay is not measured yet: calibrate to be sure")
    assert not any("you are" in line for line in uncalibrated.feedback)
    assert uncalibrated.score >= 90.0 > 50.0 > calibrated.score


@pytest.mark.parametrize(("shift", "verb"), [(-0.09, "rush"), (0.09, "drag")])
def test_a_count_consistently_off_is_named(shift: float, verb: str) -> None:
    seq, beats = performance(0.02, 5, tempo=120.0, per_count={3: shift})
    rhythm = rhythm_of(seq, beats)
    assert f"you {verb} the third count" in rhythm.feedback
    third = rhythm.counts[2]
    assert third.count == 3 and third.offset_ms is not None
    assert abs(third.offset_ms - 1000.0 * (0.02 + shift)) <= TOLERANCE_MS
    assert all(abs((c.offset_ms or 0.0) - 20.0) <= TOLERANCE_MS for c in rhythm.counts
               if c.count != 3)
    steady = rhythm_of(*performance(0.02, 5, tempo=120.0))
    assert not any(re.search(r"the \w+ count", line) for line in steady.feedback)


def test_wandering_timing_is_said() -> None:
    rng = np.random.default_rng(11)
    beats = music_beats(100.0, 24)
    accents = beats + rng.choice([-0.12, 0.12], len(beats))
    rhythm = rhythm_of(dancer(accents, rng), beats)
    assert any(line.startswith("your timing wanders") for line in rhythm.feedback)


def test_the_accents_fall_between_frames() -> None:
    """A clean turning dancer at 30 fps whose turns fall anywhere between frames: each accent
    within a quarter frame of its time, so the offset is better than the frame's 33 ms."""
    rng = np.random.default_rng(2)
    beats = music_beats(97.0, 20, first_s=0.513)
    seq = dancer(beats, rng, Camera(noise=0.0, capture_jitter_s=0.0, dropped=0.0, nobody=0.0))
    found = accents_of(seq.t, seq.image_xyz, seq.visibility, seq.aspect)
    plain = accents_of(seq.t, seq.image_xyz, seq.visibility, seq.aspect, interpolate=False)
    assert len(found.times) == len(beats)
    error = np.abs(found.times - beats)
    assert error.max() < 0.25 / 30.0
    assert error.mean() < 0.5 * np.abs(plain.times - beats).mean()


def test_nobody_in_view_gives_no_rhythm() -> None:
    beats = music_beats(120.0, 16)
    nobody = np.full((300, N_LANDMARKS, 3), np.nan)
    found = accents_of(np.arange(300) / 30.0, nobody, np.zeros((300, N_LANDMARKS)), 1.0)
    assert len(found.times) == 0 and len(found.spans) == 0
    assert measure(found, beats, counts_of(16), 4, True) is None


def test_beats_out_of_view_are_not_judged_and_standing_still_is_said() -> None:
    rng = np.random.default_rng(1)
    beats = music_beats(120.0, 16)
    seq = dancer(beats, rng, still_until_s=100.0)
    rhythm = rhythm_of(seq, beats)
    assert rhythm.hits == 0 and rhythm.offset_ms is None and rhythm.score == 0.0
    assert rhythm.feedback[0].startswith("no move landed near any of the")
    half = Accents(np.zeros(0), np.zeros(0), np.array([[0.0, 3.0]]))
    judged = measure(half, beats, counts_of(16), 4, True)
    assert judged is not None and judged.beats == 5


def test_a_long_session_keeps_every_accent() -> None:
    """Two minutes, found window by window as frames come, every beat's accent found once."""
    rng = np.random.default_rng(8)
    beats = music_beats(120.0, 240, drift=0.03)
    seq = dancer(beats, rng, Camera(noise=0.02))
    found = accents_of(seq.t, seq.image_xyz, seq.visibility, seq.aspect)
    assert np.all(np.diff(found.times) > 0)
    near = np.abs(found.times[:, None] - beats[None, :]).min(axis=1)
    assert len(found.times) == len(beats)
    assert np.percentile(near, 95) < 0.02


# --- beats heard ----------------------------------------------------------------------------


def test_beats_heard_follow_the_music_start_the_rate_and_a_loop() -> None:
    grid = BeatGrid(120.0, 0.25, 4)
    times, numbers = heard_beats(grid, 10.0, 0.5, (1.0, 3.0), loop=True, until_s=17.0)
    part = np.array([1.25, 1.75, 2.25, 2.75])
    expected = np.concatenate([10.0 + (part - 1.0) / 0.5 + 4.0 * p for p in range(2)])
    assert times == pytest.approx(expected[expected < 17.0])
    assert numbers.tolist() == [2, 3, 4, 5, 2, 3, 4][:len(times)]
    once, _ = heard_beats(grid, 10.0, 1.0, (0.0, 2.0), loop=False, until_s=100.0)
    assert once == pytest.approx(10.0 + np.array([0.25, 0.75, 1.25, 1.75]))


def test_beats_the_reference_does_not_dance_are_not_judged() -> None:
    grid = BeatGrid(120.0, 0.5, 4)
    reference = Accents(0.5 + 0.5 * np.array([0, 2, 4, 6, 8, 10]), np.ones(6), np.zeros((0, 2)))
    danced = danced_beats(grid, reference, 6.0)
    assert danced.tolist() == [k % 2 == 0 for k in range(11)]


# --- live -----------------------------------------------------------------------------------

GRID = BeatGrid(120.0, 0.5, 4)
MUSIC = {"file": "beat-sway.music.wav", "tempo_bpm": 120.0, "first_beat_s": 0.5, "meter": 4}


def reference_dance() -> PoseSequence:
    """Eight seconds of a dancer turning on every beat of :data:`GRID`, with its music."""
    beats = GRID.beats(8.0)
    seq = dancer(beats, np.random.default_rng(0), Camera(noise=0.01, dropped=0.0, nobody=0.0),
                 end_s=8.0)
    return replace(seq, name="beat-sway", extra={"music": dict(MUSIC)})


def learner(offset_s: float, music_start_s: float, rate: float, latency: Latency,
            seed: int = 1) -> PoseSequence:
    """The learner's frames in the session's clock: still through the count-in, then dancing
    ``offset_s`` off the beats heard (played at ``rate`` from ``music_start_s``, heard the
    audio delay later), each frame captured the camera delay after its movement."""
    heard = music_start_s + GRID.beats(8.0) / rate + latency.audio_s
    moves = dancer(heard + offset_s, np.random.default_rng(seed), Camera(noise=0.02),
                   end_s=float(heard[-1]) + 0.6, still_until_s=music_start_s)
    return replace(moves, t=moves.t + latency.camera_s)


def pushed(session: LiveSession, seq: PoseSequence) -> None:
    for i in range(len(seq)):
        present = bool(seq.present[i])
        session.push(float(seq.t[i]), seq.image_xyz[i] if present else None,
                     seq.visibility[i] if present else None, None, seq.image_size)


@pytest.mark.parametrize("rate", [1.0, 0.5])
@pytest.mark.parametrize("offset_s", [-0.060, 0.120])
def test_a_live_session_reports_the_rhythm(offset_s: float, rate: float) -> None:
    latency = Latency(camera_s=0.09, audio_s=0.04)
    session = LiveSession(Reference(reference_dance()), ScoreOptions(speed=rate), 30.0,
                          GRID, latency)
    session.reset(music_start_s=2.0, rate=rate)
    pushed(session, learner(offset_s, 2.0, rate, latency))
    report = session.finish()
    rhythm = report.rhythm
    assert rhythm is not None and rhythm.calibrated
    assert rhythm.offset_ms is not None
    assert abs(rhythm.offset_ms - 1000.0 * offset_s) <= TOLERANCE_MS
    assert rhythm.beats >= 14
    assert [c.count for c in rhythm.counts] == [1, 2, 3, 4]
    assert report.to_dict()["rhythm"]["offset_ms"] == round(rhythm.offset_ms)
    shape_only = LiveSession(Reference(reference_dance()), ScoreOptions(speed=rate), 30.0)
    pushed(shape_only, learner(offset_s, 2.0, rate, latency))
    assert replace(report, rhythm=None) == shape_only.finish()


def test_a_live_session_without_music_timing_has_no_rhythm() -> None:
    seq = reference_dance()
    latency = Latency(0.0, 0.0)
    session = LiveSession(Reference(seq), ScoreOptions(), 30.0, GRID)
    pushed(session, learner(0.0, 2.0, 1.0, latency))
    assert session.finish().rhythm is None
    session.reset(music_start_s=2.0)
    pushed(session, learner(0.0, 2.0, 1.0, latency))
    uncalibrated = session.finish().rhythm
    assert uncalibrated is not None and not uncalibrated.calibrated
    assert "calibrate to be sure" in uncalibrated.feedback[0]
    without_grid = LiveSession(Reference(seq), ScoreOptions())
    without_grid.reset(music_start_s=2.0)
    pushed(without_grid, learner(0.0, 2.0, 1.0, latency))
    report = without_grid.finish()
    assert report.rhythm is None and report.to_dict()["rhythm"] is None


def test_the_report_schema_carries_the_rhythm() -> None:
    latency = Latency(0.05, 0.05)
    session = LiveSession(Reference(reference_dance()), ScoreOptions(), 30.0, GRID, latency)
    session.reset(music_start_s=1.5)
    pushed(session, learner(0.0, 1.5, 1.0, latency))
    document = session.finish().to_dict()
    assert set(document["rhythm"]) == {"score", "offset_ms", "spread_ms", "beat_align", "beats",
                                       "hits", "counts", "calibrated", "feedback"}
    assert document["rhythm"]["counts"][0].keys() == {"count", "offset_ms", "beats", "hits"}
    assert Report.model_validate(document).rhythm is not None
    older = {key: value for key, value in document.items() if key != "rhythm"}
    assert Report.model_validate(older).rhythm is None
    schema = Report.model_json_schema()
    assert "rhythm" in schema["properties"] and "RhythmReport" in schema["$defs"]
    assert {"score", "offset_ms", "counts", "calibrated", "feedback"} <= set(
        schema["$defs"]["RhythmReport"]["properties"])


# --- the server -----------------------------------------------------------------------------


def test_the_grid_is_read_from_the_references_music_only() -> None:
    seq = reference_dance()
    assert beat_grid(seq) == GRID
    assert beat_grid(replace(seq, extra={})) is None
    assert beat_grid(replace(seq, extra={"music": {"tempo_bpm": 120.0}})) is None
    assert beat_grid(replace(seq, extra={"music": {**MUSIC, "tempo_bpm": 1000.0}})) is None
    assert beat_grid(replace(seq, extra={"music": {**MUSIC, "meter": "4"}})) is None


def test_the_messages_carry_latency_music_start_and_rate() -> None:
    opening = OPEN_MESSAGE.validate_json(json.dumps(
        {"type": "start", "reference": "x", "latency": {"camera_ms": 80, "audio_ms": 40}}))
    assert isinstance(opening, StartPractice) and opening.latency is not None
    assert opening.latency.seconds() == Latency(0.08, 0.04)
    old = OPEN_MESSAGE.validate_json('{"type": "start", "reference": "x"}')
    assert isinstance(old, StartPractice) and old.latency is None
    restart = SESSION_MESSAGE.validate_json(
        '{"type": "restart", "step": null, "music_start_ms": 12345.5, "rate": 0.5}')
    assert isinstance(restart, Restart)
    assert (restart.music_start_ms, restart.rate) == (12345.5, 0.5)
    plain = SESSION_MESSAGE.validate_json('{"type": "restart"}')
    assert isinstance(plain, Restart) and plain.music_start_ms is None and plain.rate is None
    for bad in ({"camera_ms": -1, "audio_ms": 0}, {"camera_ms": 0, "audio_ms": 5000},
                {"camera_ms": 10}):
        with pytest.raises(ValidationError):
            OPEN_MESSAGE.validate_json(json.dumps({"type": "start", "reference": "x",
                                                   "latency": bad}))
    for fields in ({"rate": 3.0}, {"rate": 0.1}, {"music_start_ms": "soon"},
                   {"music_start_ms": 1e400}):
        with pytest.raises(ValidationError):
            SESSION_MESSAGE.validate_json(json.dumps({"type": "restart", **fields}))


@pytest.fixture
def music_server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path, max_frame_rate=100_000.0)
    save(reference_dance(), settings.poses_dir / "beat-sway.pose.json")
    with LiveServer(open_state(settings)) as server:
        yield server


def test_the_practice_websocket_reports_the_rhythm(music_server: LiveServer) -> None:
    """The page's clock starts anywhere: frames and the music start are both in it."""
    latency = Latency(camera_s=0.1, audio_s=0.03)
    seq = learner(0.06, 2.0, 1.0, latency)
    page_ms = 734_000.0
    with connect(music_server.ws_url, max_size=2**24) as ws:
        ws.send(json.dumps({"type": "start", "reference": "beat-sway", "mode": "landmarks",
                            "mirror": False, "latency": {"camera_ms": 100, "audio_ms": 30}}))
        assert json.loads(ws.recv(timeout=30))["type"] == "ready"
        for i in range(len(seq)):
            if i == 1:
                ws.send(json.dumps({"type": "restart", "step": None,
                                    "music_start_ms": page_ms + 2000.0, "rate": 1.0}))
            landmarks = None
            if seq.present[i]:
                landmarks = np.concatenate([seq.image_xyz[i], seq.visibility[i][:, None]],
                                           axis=1)
            ws.send(landmarks_frame(i, page_ms + 1000.0 * float(seq.t[i]), seq.image_size,
                                    landmarks))
            while json.loads(ws.recv(timeout=30))["type"] != "update":
                pass
        ws.send(json.dumps({"type": "stop"}))
        while (message := json.loads(ws.recv(timeout=30)))["type"] != "summary":
            pass
    summary = SERVER_MESSAGE.validate_python(message)
    rhythm = message["report"]["rhythm"]
    assert summary.type == "summary" and rhythm is not None
    assert rhythm["calibrated"] is True
    assert abs(rhythm["offset_ms"] - 60.0) <= TOLERANCE_MS
    assert rhythm["beats"] >= 14


def test_a_short_stretch_between_gaps_is_smoothed_to_its_own_length() -> None:
    """Six frames between two gaps: the smoothing kernel is longer than the stretch (a live
    session of 200 learners failed here on a learner who stepped in and out of view)."""
    from app.rhythm import _speed

    t = np.arange(6) / 30.0
    points = np.random.default_rng(0).random((6, 33, 2))
    grid, speeds = _speed(t, points, np.ones((6, 33)), (0.2, 0.04), 1 / 60)
    assert all(len(speed) == len(grid) for speed in speeds)
