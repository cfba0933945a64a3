"""A step's music: audio checks, beat grids (tracked and tapped), the dombra accompaniment, the
library's storage, the REST endpoints and ``dance-tutor library music``."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import librosa
import numpy as np
import numpy.typing as npt
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from app import dombra, music
from app.beats import BeatGrid
from app.cli import EXIT_BAD_INPUT, main
from app.library import BrokenReference, Library, NoMusic, default_poses_dir
from app.music import AudioTooLarge, MusicError, check_audio, find_beat_grid, grid_from_taps
from app.sequence import PoseSequence
from app.server.settings import Settings
from tests.library_fixtures import authored, small_library
from tests.server_fixtures import AUTH, client, library_files, settings, state

__all__ = ["client", "settings", "state"]  # pytest fixtures this module uses

FloatArray = npt.NDArray[np.float64]
RATE = 22050
SENTENCE = re.compile(r"^[^\n]+$")


def one_sentence(text: str, starts: str = "") -> None:
    """One line, no sentence break inside, starting with ``starts``."""
    assert SENTENCE.match(text), text
    assert ". " not in text.rstrip("."), text
    assert text.startswith(starts), text


def tone(seconds: float, rate: int = RATE, channels: int = 1) -> FloatArray:
    t = np.arange(round(seconds * rate)) / rate
    wave = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
    return np.repeat(wave[:, None], channels, axis=1) if channels > 1 else wave


def encode(samples: FloatArray, rate: int, fmt: str, subtype: str) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples.astype(np.float32), rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def wav(seconds: float = 2.0, rate: int = RATE) -> bytes:
    return encode(tone(seconds, rate), rate, "WAV", "PCM_16")


def ogg(seconds: float = 2.0) -> bytes:
    return encode(tone(seconds), RATE, "OGG", "VORBIS")


def mp3(seconds: float = 2.0) -> bytes:
    return encode(tone(seconds), RATE, "MP3", "MPEG_LAYER_III")


def clicks(tempo: float, first_s: float, n: int, *, accent_at: int = 0, meter: int = 4,
           noise: float = 0.0, seed: int = 0) -> FloatArray:
    """A click track: a short decaying noise burst a beat, louder every ``meter`` beats from
    beat ``accent_at``; white noise of ``noise`` under it."""
    rng = np.random.default_rng(seed)
    period = 60.0 / tempo
    out = rng.normal(0.0, noise, round((first_s + n * period + 1.0) * RATE))
    burst = rng.uniform(-1, 1, round(0.03 * RATE)) * np.exp(-np.arange(round(0.03 * RATE))
                                                             / (0.005 * RATE))
    for beat in range(n):
        start = round((first_s + beat * period) * RATE)
        loud = 0.9 if (beat - accent_at) % meter == 0 else 0.35
        out[start:start + len(burst)] += loud * burst
    return out


# --- check_audio ------------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "extension", "codec", "media"), [
    (wav, "wav", "PCM_16", "audio/wav"),
    (ogg, "ogg", "VORBIS", "audio/ogg"),
    (mp3, "mp3", "MPEG_LAYER_III", "audio/mpeg"),
])
def test_wav_ogg_and_mp3_are_accepted_by_what_they_hold(
        make: object, extension: str, codec: str, media: str, tmp_path: Path) -> None:
    assert callable(make)
    data = make(3.0)
    info = check_audio(data, "song")
    assert (info.extension, info.codec, info.media_type) == (extension, codec, media)
    assert info.duration_s == pytest.approx(3.0, abs=0.06)
    assert info.sample_rate == RATE and info.channels == 1 and info.size_bytes == len(data)
    misnamed = tmp_path / "song.txt"
    misnamed.write_bytes(data)
    assert check_audio(misnamed, "song.txt").extension == extension


def test_opus_and_stereo_are_accepted() -> None:
    info = check_audio(encode(tone(2.0, 48000, channels=2), 48000, "OGG", "OPUS"), "a.opus")
    assert (info.extension, info.codec, info.media_type, info.channels) == (
        "opus", "OPUS", "audio/ogg", 2)


@pytest.mark.parametrize(("data", "says"), [
    (b"", "song.mp3: is empty (0 bytes)"),
    (b"<html>not music</html>" * 50, "song.mp3: is not WAV, Ogg (Vorbis or Opus) or MP3 audio"),
    (wav()[:-4000], "song.mp3: is cut short: its samples end 4000 bytes early"),
    (wav()[:30], "song.mp3: is cut short: it ends before its samples"),
    (ogg()[:-700], "song.mp3: is cut short"),
    (mp3()[:-100], "song.mp3: is cut short: its last MPEG frame ends"),
    (wav(0.5), "song.mp3: lasts 0.5 s; music must last from 1 s to 10 minutes"),
])
def test_broken_or_unusable_files_are_refused_in_one_sentence(data: bytes, says: str) -> None:
    with pytest.raises(MusicError) as refused:
        check_audio(data, "song.mp3")
    one_sentence(str(refused.value), says)


def test_a_damaged_ogg_page_fails_its_checksum() -> None:
    data = bytearray(ogg())
    data[len(data) // 2] ^= 0x55
    with pytest.raises(MusicError, match="fails its checksum") as refused:
        check_audio(bytes(data), "a.ogg")
    one_sentence(str(refused.value), "a.ogg: is damaged: the Ogg page at byte ")


def test_garbage_inside_an_mp3_is_refused() -> None:
    data = bytearray(mp3())
    data[len(data) // 2:len(data) // 2 + 400] = bytes(400)
    with pytest.raises(MusicError) as refused:
        check_audio(bytes(data), "a.mp3")
    one_sentence(str(refused.value), "a.mp3: is damaged at byte ")


def test_too_long_and_too_big_are_refused_before_use(tmp_path: Path) -> None:
    long = encode(np.zeros(round((music.MAX_AUDIO_S + 1) * 2000)), 2000, "WAV", "PCM_U8")
    with pytest.raises(MusicError) as refused:
        check_audio(long, "long.wav")
    one_sentence(str(refused.value), "long.wav: lasts 601.0 s; music must last from 1 s to 10")
    big = tmp_path / "big.wav"
    big.write_bytes(wav() + bytes(music.MAX_AUDIO_BYTES))
    with pytest.raises(AudioTooLarge) as refused:
        check_audio(big, "big.wav")
    one_sentence(str(refused.value), "big.wav: is 20.1 MiB, over the limit of 20 MiB for music")


# --- beat grids -------------------------------------------------------------------------------


@pytest.mark.parametrize(("tempo", "first", "noise"), [
    (72.0, 0.31, 0.0), (96.0, 1.05, 0.02), (128.0, 0.0, 0.0), (150.0, 0.62, 0.02)])
def test_the_grid_of_a_click_track_is_found(tempo: float, first: float, noise: float) -> None:
    data = encode(clicks(tempo, first, 32, noise=noise), RATE, "WAV", "PCM_16")
    grid = find_beat_grid(data, 4)
    assert grid.tempo_bpm == pytest.approx(tempo, rel=0.01)
    assert grid.first_beat_s == pytest.approx(first, abs=0.02)
    assert grid.meter == 4


def test_the_grid_starts_on_the_accented_beat_after_a_pickup_else_on_the_first() -> None:
    data = encode(clicks(100.0, 0.4, 30, accent_at=2), RATE, "WAV", "PCM_16")
    grid = find_beat_grid(data, 4)
    assert grid.first_beat_s == pytest.approx(0.4 + 2 * 0.6, abs=0.02)
    assert find_beat_grid(data, 3).meter == 3
    even = encode(clicks(100.0, 0.4, 30, meter=1), RATE, "WAV", "PCM_16")
    assert find_beat_grid(even, 4).first_beat_s == pytest.approx(0.4, abs=0.02)


@pytest.mark.parametrize(("tempo", "first"), [(48.0, 0.0), (60.0, 0.45), (80.0, 1.2)])
def test_the_grid_of_a_rendered_accompaniment_is_found(tempo: float, first: float) -> None:
    grid = BeatGrid(tempo, first, 4)
    data = dombra.ogg_vorbis(dombra.render(grid, 16))
    found = find_beat_grid(data, 4, tempo_hint=tempo)
    assert found.tempo_bpm == pytest.approx(tempo, rel=0.01)
    assert found.first_beat_s == pytest.approx(first, abs=0.02)


def test_silence_has_no_grid() -> None:
    with pytest.raises(MusicError) as refused:
        find_beat_grid(encode(np.zeros(5 * RATE), RATE, "WAV", "PCM_16"), 4, name="quiet.wav")
    one_sentence(str(refused.value), "quiet.wav: has no steady beat the tracker could follow")


def test_jittered_taps_give_the_grid() -> None:
    rng = np.random.default_rng(7)
    period = 60.0 / 75.0
    taps = 0.8 + period * np.arange(12) + rng.normal(0.0, 0.015, 12)
    grid = grid_from_taps(taps, 3)
    assert grid.tempo_bpm == pytest.approx(75.0, rel=0.01)
    assert grid.first_beat_s == pytest.approx(0.8, abs=0.02)
    assert grid.meter == 3
    missed = np.delete(taps, 5)
    assert grid_from_taps(missed, 3).tempo_bpm == pytest.approx(75.0, rel=0.01)
    stray = taps.copy()
    stray[7] += 0.3 * period
    assert grid_from_taps(stray, 3).tempo_bpm == pytest.approx(75.0, rel=0.01)


@pytest.mark.parametrize(("taps", "says"), [
    ([0.5, 1.5, 2.5], "a grid needs at least 4 taps, one a beat, got 3"),
    ([0.5, 1.5, 1.6, 2.5, 3.5], "taps 2 and 3 are 0.10 s apart, less than half a beat"),
    ([0.5, 1.5, 3.5, 2.5], "taps 3 and 4 are -1.00 s apart"),
])
def test_taps_that_make_no_grid_are_refused(taps: list[float], says: str) -> None:
    with pytest.raises(MusicError) as refused:
        grid_from_taps(taps)
    one_sentence(str(refused.value), says)


# --- the accompaniment ------------------------------------------------------------------------


def test_the_accompaniment_is_the_same_bytes_every_time() -> None:
    grid = BeatGrid(72.0, 0.0, 4)
    first = dombra.accompaniment(grid, 3.2)
    assert dombra.accompaniment(grid, 3.2) == first
    assert dombra.accompaniment(BeatGrid(72.0, 0.0, 3), 3.2) != first
    info = check_audio(first, "swoop.music.ogg")
    assert (info.codec, info.sample_rate, info.channels) == ("VORBIS", dombra.SAMPLE_RATE, 1)
    assert info.duration_s == pytest.approx(4 * 60 / 72 + dombra.RING_OUT_S, abs=0.01)


def test_the_accompaniments_onsets_fall_on_its_beats() -> None:
    grid = BeatGrid(90.0, 0.25, 4)
    n_beats = 12
    samples, _ = sf.read(io.BytesIO(dombra.accompaniment(grid, 0.25 + n_beats * grid.period_s)))
    onsets = librosa.onset.onset_detect(y=samples.astype(np.float32), sr=dombra.SAMPLE_RATE,
                                        hop_length=128, units="time")
    beats = grid.beats(grid.first_beat_s + n_beats * grid.period_s)
    up_strokes = beats + dombra.UP_STROKE_AT * grid.period_s
    strokes = np.sort(np.concatenate([beats, up_strokes]))
    assert len(onsets) == len(strokes)
    assert np.max(np.abs(onsets - strokes)) < 0.02
    window = round(0.08 * dombra.SAMPLE_RATE)

    def loudness(at: float) -> float:
        start = round(at * dombra.SAMPLE_RATE)
        return float(np.sqrt(np.mean(samples[start:start + window] ** 2)))

    downbeats = [loudness(b) for i, b in enumerate(beats) if i % 4 == 0]
    others = [loudness(b) for i, b in enumerate(beats) if i % 4]
    assert min(downbeats) > max(others)


def test_the_shipped_steps_carry_the_accompaniment_the_script_renders() -> None:
    library = Library(default_poses_dir())
    authored_steps = [info for info in library.list() if info.source_kind == "authored"]
    assert authored_steps
    for info in authored_steps:
        shipped = library.music(info.name)
        assert shipped is not None, f"{info.name} has no music: run scripts/render_music.py"
        assert info.metadata.tempo_bpm is not None
        expected = BeatGrid(info.metadata.tempo_bpm, info.steps[0].start_s, music.DEFAULT_METER)
        assert shipped.grid == expected
        assert shipped.file == f"{info.name}.music.ogg"
        path = library.audio_path(shipped)
        assert path.stat().st_size < 64 * 1024
        ours, _ = sf.read(io.BytesIO(dombra.accompaniment(expected, info.duration_s)))
        theirs, _ = sf.read(path)
        assert ours.shape == theirs.shape, f"re-render {info.name}: scripts/render_music.py"
        assert float(np.max(np.abs(ours - theirs))) < 0.01, f"re-render {info.name}"


# --- the library ------------------------------------------------------------------------------


def test_music_is_kept_beside_its_step_and_goes_with_it(tmp_path: Path) -> None:
    library = small_library(tmp_path, "wing-beat", "swoop")
    grid = BeatGrid(60.0, 0.5, 4)
    stored = library.attach_music("wing-beat", mp3(), "song.ogg", grid=grid)
    assert stored.file == "wing-beat.music.mp3"
    assert library.music("wing-beat") == stored
    doc = json.loads(library.path_of("wing-beat").read_text())
    assert doc["music"] == {"file": "wing-beat.music.mp3", "tempo_bpm": 60.0,
                            "first_beat_s": 0.5, "meter": 4}
    assert [info.name for info in library.list()] == ["wing-beat", "swoop"]
    assert library.problems == []

    replaced = library.attach_music("wing-beat", ogg(), "other.ogg", grid=grid)
    assert replaced.file == "wing-beat.music.ogg"
    assert not (tmp_path / "wing-beat.music.mp3").exists()

    library.update_metadata("wing-beat", title="Heavy strokes")
    library.create(authored("wing-beat"), overwrite=True)
    assert library.music("wing-beat") == replaced

    corrected = library.set_beat_grid("wing-beat", BeatGrid(61.0, 0.25, 3))
    assert library.music("wing-beat") == corrected
    library.delete("wing-beat")
    assert not (tmp_path / "wing-beat.music.ogg").exists()


def test_without_music(tmp_path: Path) -> None:
    library = small_library(tmp_path, "swoop")
    assert library.music("swoop") is None
    with pytest.raises(NoMusic, match="'swoop' has no music"):
        library.set_beat_grid("swoop", BeatGrid(60.0, 0.0, 4))
    with pytest.raises(NoMusic):
        library.remove_music("swoop")
    library.attach_music("swoop", wav(), "a.wav", grid=BeatGrid(72.0, 0.0, 4))
    (tmp_path / "swoop.music.wav").unlink()
    assert library.music("swoop") is None
    library.remove_music("swoop")
    assert "music" not in json.loads(library.path_of("swoop").read_text())


def test_a_document_cannot_point_its_music_elsewhere(tmp_path: Path) -> None:
    library = small_library(tmp_path, "swoop")
    path = library.path_of("swoop")
    doc = json.loads(path.read_text())
    doc["music"] = {"file": "../../etc/passwd", "tempo_bpm": 60.0, "first_beat_s": 0.0,
                    "meter": 4}
    path.write_text(json.dumps(doc))
    assert library.list() == []
    assert "music.file must be one of swoop.music.wav" in str(library.problems[0])
    with pytest.raises(BrokenReference):
        library.music("swoop")


def test_a_document_sent_in_brings_no_music(tmp_path: Path) -> None:
    library = Library(tmp_path)
    seq: PoseSequence = music.with_music(
        authored("swoop"), music.Music("swoop.music.ogg", BeatGrid(60.0, 0.0, 4)))
    library.create(seq)
    assert "music" not in json.loads(library.path_of("swoop").read_text())


def test_an_upload_found_by_the_tracker_uses_the_steps_tempo(tmp_path: Path) -> None:
    library = small_library(tmp_path, "soaring-turn")
    tempo = library.info("soaring-turn").metadata.tempo_bpm
    assert tempo == 48.0
    track = dombra.ogg_vorbis(dombra.render(BeatGrid(tempo, 0.3, 4), 16))
    stored = library.attach_music("soaring-turn", track, "soar.ogg")
    assert stored.grid.tempo_bpm == pytest.approx(48.0, rel=0.01)
    assert stored.grid.first_beat_s == pytest.approx(0.3, abs=0.02)


# --- REST -------------------------------------------------------------------------------------


def upload(client: TestClient, name: str, data: bytes, filename: str = "song.ogg",
           **fields: str) -> object:
    return client.put(f"/api/references/{name}/music", headers=AUTH, data=fields,
                      files={"file": (filename, data, "application/octet-stream")})


def test_music_over_rest(client: TestClient, settings: Settings) -> None:
    shipped = client.get("/api/references/swoop").json()["music"]
    assert shipped | {"url": ""} == {"url": "", "tempo_bpm": 72.0, "first_beat_s": 0.0,
                                     "meter": 4}
    served = client.get(shipped["url"])
    assert served.headers["content-type"] == "audio/ogg"
    assert served.content == (settings.poses_dir / "swoop.music.ogg").read_bytes()

    response = upload(client, "swoop", mp3(4.0), "Song.MP3", tempo_bpm="72",
                      first_beat_s="0.25", meter="3")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tempo_bpm"] == 72.0 and body["first_beat_s"] == 0.25 and body["meter"] == 3
    assert body["url"].startswith("/api/references/swoop/music?v=")
    assert body["url"] != shipped["url"]
    assert (settings.poses_dir / "swoop.music.mp3").is_file()
    assert not (settings.poses_dir / "swoop.music.ogg").exists()

    detail = client.get("/api/references/swoop").json()
    assert detail["music"] == body
    served = client.get(body["url"])
    assert served.status_code == 200
    assert served.headers["content-type"] == "audio/mpeg"
    assert served.headers["cache-control"] == "no-cache"
    assert served.content == (settings.poses_dir / "swoop.music.mp3").read_bytes()
    again = client.get(body["url"], headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304 and not again.content

    taps = [0.31 + i * 0.8 for i in range(8)]
    patched = client.patch("/api/references/swoop/music", headers=AUTH, json={"taps": taps})
    assert patched.status_code == 200, patched.text
    assert patched.json()["tempo_bpm"] == pytest.approx(75.0, rel=1e-3)
    assert patched.json()["first_beat_s"] == pytest.approx(0.31, abs=1e-3)
    assert patched.json()["meter"] == 3
    typed = client.patch("/api/references/swoop/music", headers=AUTH,
                         json={"tempo_bpm": 70, "first_beat_s": 0, "meter": 4})
    assert typed.json() | {"url": ""} == {"url": "", "tempo_bpm": 70.0, "first_beat_s": 0.0,
                                          "meter": 4}
    assert client.get("/api/references/swoop").json()["music"]["tempo_bpm"] == 70.0

    assert client.delete("/api/references/swoop/music", headers=AUTH).status_code == 204
    assert client.get("/api/references/swoop").json()["music"] is None
    assert client.get(body["url"]).status_code == 404
    assert not (settings.poses_dir / "swoop.music.mp3").exists()
    gone = client.delete("/api/references/swoop/music", headers=AUTH)
    assert gone.status_code == 404
    assert gone.json() == {"detail": "Reference 'swoop' has no music."}


def test_an_upload_is_checked_and_its_grid_found(client: TestClient) -> None:
    track = encode(clicks(100.0, 0.5, 24), RATE, "WAV", "PCM_16")
    response = upload(client, "talons", track, "clicks.wav")
    assert response.status_code == 200, response.text
    assert response.json()["tempo_bpm"] == pytest.approx(100.0, rel=0.01)
    assert response.json()["first_beat_s"] == pytest.approx(0.5, abs=0.02)
    served = client.get(response.json()["url"])
    assert served.headers["content-type"] == "audio/wav"

    broken = upload(client, "talons", wav()[:-5000], "broken.wav")
    assert broken.status_code == 422
    one_sentence(broken.json()["detail"], "broken.wav: is cut short")
    assert client.get("/api/references/talons").json()["music"]["tempo_bpm"] == \
        pytest.approx(100.0, rel=0.01)
    half = upload(client, "talons", ogg(), tempo_bpm="80")
    assert half.status_code == 422
    one_sentence(half.json()["detail"], "Give tempo_bpm and first_beat_s together")
    big = upload(client, "talons", bytes(music.MAX_AUDIO_BYTES + 1), "big.wav")
    assert big.status_code == 413
    one_sentence(big.json()["detail"], "big.wav: is 20.0 MiB, over the limit of 20 MiB")


def test_music_writes_need_the_token(client: TestClient, settings: Settings) -> None:
    before = library_files(settings.poses_dir)
    no_token = client.put("/api/references/swoop/music",
                          files={"file": ("a.ogg", ogg(), "audio/ogg")})
    assert no_token.status_code == 401
    assert client.patch("/api/references/swoop/music", json={"meter": 3}).status_code == 401
    assert client.delete("/api/references/swoop/music").status_code == 401
    assert library_files(settings.poses_dir) == before


@pytest.mark.parametrize("body", [{"taps": [1, 2, 3, 4], "tempo_bpm": 60, "first_beat_s": 0},
                                  {"tempo_bpm": 60}, {}, {"taps": [1, 2]}])
def test_a_grid_by_hand_is_one_way_or_the_other(client: TestClient,
                                                body: dict[str, object]) -> None:
    upload(client, "swoop", ogg(), tempo_bpm="72", first_beat_s="0")
    response = client.patch("/api/references/swoop/music", headers=AUTH, json=body)
    assert response.status_code == 422


def test_no_music_no_grid(client: TestClient) -> None:
    assert client.delete("/api/references/swoop/music", headers=AUTH).status_code == 204
    assert client.get("/api/references/swoop").json()["music"] is None
    response = client.patch("/api/references/swoop/music", headers=AUTH, json={"meter": 3})
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Reference 'swoop' has no music; attach an audio file first."}
    assert client.put("/api/references/nope/music", headers=AUTH,
                      files={"file": ("a.ogg", ogg(), "audio/ogg")}).status_code == 404


# --- the command line -------------------------------------------------------------------------


def test_music_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    poses = tmp_path / "poses"
    small_library(poses, "wing-beat")
    song = tmp_path / "song.wav"
    song.write_bytes(encode(clicks(60.0, 0.4, 12), RATE, "WAV", "PCM_16"))
    lib = ["--poses", str(poses)]

    assert main(["library", "music", "wing-beat", *lib]) == 0
    assert capsys.readouterr().out == "wing-beat has no music\n"
    assert main(["library", "music", "wing-beat", str(song), *lib]) == 0
    out = capsys.readouterr().out
    assert out.startswith("wing-beat: wing-beat.music.wav, 60.0")
    assert out.endswith("4 beats a bar (found in the music)\n")

    assert main(["library", "music", "wing-beat", "--taps", "0.5,1.25,2.0,2.75,3.5",
                 "--meter", "2", *lib]) == 0
    assert capsys.readouterr().out == (
        "wing-beat: wing-beat.music.wav, 80.00 BPM, first beat at 0.500 s, 2 beats a bar\n")
    assert main(["library", "music", "wing-beat", "--tempo", "61", "--first-beat", "0.4",
                 *lib]) == 0
    capsys.readouterr()
    assert main(["library", "show", "wing-beat", *lib]) == 0
    assert capsys.readouterr().out.endswith(
        "  music: wing-beat.music.wav, 61.00 BPM, first beat at 0.400 s, 2 beats a bar\n")

    assert main(["library", "music", "wing-beat", "--tempo", "61", *lib]) == EXIT_BAD_INPUT
    assert "give --tempo and --first-beat together" in capsys.readouterr().err
    assert main(["library", "music", "wing-beat", "--taps", "1,x", *lib]) == EXIT_BAD_INPUT
    assert "--taps '1,x' must be seconds" in capsys.readouterr().err
    broken = tmp_path / "broken.ogg"
    broken.write_bytes(ogg()[:-900])
    assert main(["library", "music", "wing-beat", str(broken), *lib]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"{broken}: is cut short" in err

    assert main(["library", "music", "wing-beat", "--remove", *lib]) == 0
    assert capsys.readouterr().out == "removed the music of wing-beat\n"
    assert not (poses / "wing-beat.music.wav").exists()
    assert main(["library", "music", "wing-beat", "--remove", *lib]) == EXIT_BAD_INPUT
