"""A step's music: an audio file beside its ``.pose.json``, and the beat grid it is danced on.

The audio is ``NAME.music.EXT`` in the library folder (``wav``, ``ogg``, ``opus`` or ``mp3``,
named after what the file holds, never after what an upload was called). The grid is in the
step's document under ``music``::

    "music": {"file": "wing-beat.music.ogg", "tempo_bpm": 60.0, "first_beat_s": 0.0,
              "meter": 4}

The music's seconds are the reference's seconds: audio second ``t`` is played with the
reference's frame at ``t``, so one grid serves the page (count-in, bars) and the rhythm measure
alike.

- :func:`check_audio` accepts a file only when it is what its bytes say (WAV, Ogg/Vorbis,
  Ogg/Opus or MP3), whole (no cut-off chunk, page or frame, no page failing its checksum),
  decodes to the end and is within :data:`MAX_AUDIO_BYTES` and :data:`MAX_AUDIO_S`.
- :func:`find_beat_grid` tracks the beats with librosa's dynamic-programming beat tracker and
  fits one straight grid through them; :func:`grid_from_taps` fits one through an instructor's
  taps.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf

from app.beats import MAX_METER, BeatGrid
from app.errors import UserError
from app.sequence import PoseSequence

FloatArray = npt.NDArray[np.float64]

FIELD = "music"
"""The top-level field of a step's document that holds its music."""
INFIX = ".music."
MAX_AUDIO_BYTES = 20 * 2**20
MAX_AUDIO_S = 600.0
MIN_AUDIO_S = 1.0
DEFAULT_METER = 4
MIN_TAPS = 4
"""The fewest taps a grid is fitted through."""
MIN_BEATS = 3
"""The fewest tracked beats a grid is fitted through."""
TRACK_RATE = 22050
"""Sample rate the beat tracker works at."""
TRACK_HOP = 256
"""Samples between the tracker's onset frames (11.6 ms)."""
LEAD_SILENCE_S = 0.5
"""Silence the tracker hears before the music, so that a beat at 0 s has an onset."""
ENERGY_FRAME = 110
"""Samples in a frame of the short-time energy (5 ms)."""
ENERGY_HOP = 22
"""Samples between its frames (1 ms)."""
LOUDNESS_S = 0.06
"""How long after a beat its loudness is measured, for which count is the bar's first."""
DOWNBEAT_MARGIN_DB = 1.0
"""How much louder than the first beat found a later count must be to start the bar."""
ATTACK_SEARCH_S = (0.06, 0.03)
"""A tracked beat's attack is looked for from this long before it to this long after."""
ATTACK_RANGE_DB = 30.0
"""Energy this far under the loudest near a beat is silence to the attack search."""
OUTLIER_BEATS = 0.1
"""A tracked beat this far (in beats) from the fitted grid is not one of its beats."""
MIN_OUTLIER_S = 0.03
"""Nor is one this far, when the others lie much closer."""

MEDIA_TYPES = {"wav": "audio/wav", "ogg": "audio/ogg", "opus": "audio/ogg", "mp3": "audio/mpeg"}
"""What each kind of music file is served as."""
_CODECS = {
    "WAV": {"PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"},
    "OGG": {"VORBIS", "OPUS"},
    "MP3": {"MPEG_LAYER_III", "MPEG_LAYER_II", "MPEG_LAYER_I"},
}
_DECODE_BLOCK = 1 << 16


class MusicError(UserError):
    """Audio or a beat grid that cannot be used; the message says why in one sentence."""


class AudioTooLarge(MusicError):
    """The audio file is over :data:`MAX_AUDIO_BYTES`."""


@dataclass(frozen=True)
class AudioInfo:
    """What :func:`check_audio` found: ``extension`` is ``wav``, ``ogg``, ``opus`` or ``mp3``,
    ``codec`` libsndfile's name for the encoding (``PCM_16``, ``VORBIS``, ``OPUS``,
    ``MPEG_LAYER_III``...)."""

    extension: str
    codec: str
    duration_s: float
    sample_rate: int
    channels: int
    size_bytes: int

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.extension]


@dataclass(frozen=True)
class Music:
    """A step's music: its audio file's name (beside the step) and its beat grid."""

    file: str
    grid: BeatGrid

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "tempo_bpm": round(self.grid.tempo_bpm, 4),
                "first_beat_s": round(self.grid.first_beat_s, 4), "meter": self.grid.meter}


def file_name(step: str, extension: str) -> str:
    """The music file of ``step`` holding audio of that kind: ``wing-beat.music.ogg``."""
    return f"{step}{INFIX}{extension}"


def music_of(seq: PoseSequence) -> Music | None:
    """The music ``seq``'s document names, or None.

    Raises
    ------
    MusicError
        When the ``music`` object is malformed or names a file that is not this step's.
    """
    value = seq.extra.get(FIELD)
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"file", "tempo_bpm", "first_beat_s",
                                                      "meter"}:
        raise MusicError("music must be an object of file, tempo_bpm, first_beat_s and meter")
    allowed = [file_name(seq.name, ext) for ext in MEDIA_TYPES]
    if value["file"] not in allowed:
        raise MusicError(f"music.file must be one of {', '.join(allowed)}, got "
                         f"{value['file']!r}")
    numbers = (value["tempo_bpm"], value["first_beat_s"])
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in numbers):
        raise MusicError("music.tempo_bpm and music.first_beat_s must be numbers")
    meter = value["meter"]
    if isinstance(meter, bool) or not isinstance(meter, int):
        raise MusicError(f"music.meter must be a whole number of beats from 1 to {MAX_METER}")
    try:
        grid = BeatGrid(float(numbers[0]), float(numbers[1]), meter)
    except UserError as exc:
        raise MusicError(f"music: {exc}") from None
    return Music(value["file"], grid)


def with_music(seq: PoseSequence, music: Music | None) -> PoseSequence:
    """``seq`` with ``music`` in its document in place of its own (None: without music)."""
    extra = {key: value for key, value in seq.extra.items() if key != FIELD}
    if music is not None:
        extra[FIELD] = music.to_dict()
    return replace(seq, extra=extra)


# --- Checking an audio file -------------------------------------------------------------------


def check_audio(source: Path | bytes, name: str) -> AudioInfo:
    """Accept ``source`` as music, or refuse it in one sentence that starts with ``name``.

    Raises
    ------
    AudioTooLarge
        Over :data:`MAX_AUDIO_BYTES`.
    MusicError
        Empty, not WAV/Ogg (Vorbis or Opus)/MP3 by its content, cut short or damaged, not
        decodable to its end, or shorter than :data:`MIN_AUDIO_S` or longer than
        :data:`MAX_AUDIO_S`.
    """
    data = read_audio(source, name)
    if not data:
        raise MusicError(f"{name}: is empty (0 bytes)")
    container = _container(data)
    if container is None:
        raise MusicError(f"{name}: is not WAV, Ogg (Vorbis or Opus) or MP3 audio")
    problem = {"WAV": _wav_problem, "OGG": _ogg_problem, "MP3": _mp3_problem}[container](data)
    if problem:
        raise MusicError(f"{name}: {problem}")
    try:
        with sf.SoundFile(io.BytesIO(data)) as audio:
            codec, rate, channels = audio.subtype, audio.samplerate, audio.channels
            kind = audio.format
            frames = sum(len(block) for block in audio.blocks(_DECODE_BLOCK))
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise MusicError(f"{name}: cannot be decoded as {container} audio "
                         f"({_first_line(exc)})") from None
    if kind != container or codec not in _CODECS[container]:
        raise MusicError(f"{name}: holds {codec} in {kind}, which is not WAV, Ogg (Vorbis or "
                         f"Opus) or MP3 audio")
    duration = frames / rate
    if not MIN_AUDIO_S <= duration <= MAX_AUDIO_S:
        raise MusicError(f"{name}: lasts {duration:.1f} s; music must last from "
                         f"{MIN_AUDIO_S:g} s to {MAX_AUDIO_S / 60:g} minutes")
    extension = {"WAV": "wav", "MP3": "mp3"}.get(container) or (
        "opus" if codec == "OPUS" else "ogg")
    return AudioInfo(extension, codec, duration, rate, channels, len(data))


def read_audio(source: Path | bytes, name: str) -> bytes:
    """The bytes of a music file, refused when it cannot be read or is too large."""
    if isinstance(source, bytes):
        size = len(source)
    else:
        try:
            size = Path(source).stat().st_size
        except OSError as exc:
            raise MusicError(f"{name}: cannot be read ({exc.strerror})") from None
    check_size(size, name)
    if isinstance(source, bytes):
        return source
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise MusicError(f"{name}: cannot be read ({exc.strerror})") from None


def check_size(size: int, name: str) -> None:
    """Refuse a file of ``size`` bytes over :data:`MAX_AUDIO_BYTES`."""
    if size > MAX_AUDIO_BYTES:
        raise AudioTooLarge(f"{name}: is {size / 2**20:.1f} MiB, over the limit of "
                            f"{MAX_AUDIO_BYTES // 2**20} MiB for music")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else "no detail"


def _container(data: bytes) -> str | None:
    """``WAV``, ``OGG`` or ``MP3`` by the first bytes, else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "WAV"
    if data[:4] == b"OggS":
        return "OGG"
    if data[:3] == b"ID3" or _mp3_frame_length(data, 0) is not None:
        return "MP3"
    return None


def _wav_problem(data: bytes) -> str | None:
    """Why a RIFF/WAVE file is not whole, or None: every chunk up to ``data`` must be there
    and the ``data`` chunk must hold all the bytes it declares."""
    offset = 12
    seen_format = False
    while offset + 8 <= len(data):
        chunk, size = data[offset:offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        if chunk == b"data":
            if not seen_format:
                return "has no format chunk before its samples"
            missing = offset + 8 + size - len(data)
            return (f"is cut short: its samples end {missing} bytes early" if missing > 0
                    else None)
        seen_format = seen_format or chunk == b"fmt "
        offset += 8 + size + (size & 1)
    return "is cut short: it ends before its samples"


OGG_HEADER = struct.Struct("<4sBBqIIIB")
"""An Ogg page header: capture pattern, version, flags, granule position, serial number,
page number, checksum, number of segments."""
_OGG_EOS = 0x04


@dataclass(frozen=True)
class _OggPage:
    offset: int
    length: int
    flags: int
    checksum: int
    body: bytes


def _ogg_pages(data: bytes) -> Iterator[_OggPage | str]:
    """The pages of an Ogg stream in order; a string saying what is wrong ends it."""
    offset = 0
    while offset < len(data):
        if len(data) - offset < OGG_HEADER.size or data[offset:offset + 4] != b"OggS":
            yield f"is damaged or cut short at byte {offset} (no Ogg page there)"
            return
        _, _, flags, _, _, _, checksum, segments = OGG_HEADER.unpack_from(data, offset)
        table = offset + OGG_HEADER.size
        body_start = table + segments
        length = body_start - offset + sum(data[table:body_start])
        if body_start > len(data) or offset + length > len(data):
            yield f"is cut short: its last page ends {offset + length - len(data)} bytes early"
            return
        yield _OggPage(offset, length, flags, checksum, data[body_start:offset + length])
        offset += length


def ogg_crc(page: bytes) -> int:
    """The Ogg checksum of a page whose checksum field is zero (CRC-32, polynomial
    0x04C11DB7, not reflected, no final inversion)."""
    crc = 0
    for byte in page:
        crc = _OGG_TABLE[((crc >> 24) ^ byte) & 0xFF] ^ ((crc << 8) & 0xFFFFFFFF)
    return crc


def _ogg_table() -> tuple[int, ...]:
    table = []
    for index in range(256):
        value = index << 24
        for _ in range(8):
            value = ((value << 1) ^ 0x04C11DB7) if value & 0x80000000 else value << 1
        table.append(value & 0xFFFFFFFF)
    return tuple(table)


_OGG_TABLE = _ogg_table()


def _unchecked(data: bytes, page: _OggPage) -> bytes:
    """The page's bytes with its checksum field zeroed, as the checksum is computed."""
    raw = bytearray(data[page.offset:page.offset + page.length])
    raw[22:26] = b"\0\0\0\0"
    return bytes(raw)


def _ogg_problem(data: bytes) -> str | None:
    """Why an Ogg file is not whole Vorbis or Opus audio, or None."""
    last: _OggPage | None = None
    for page in _ogg_pages(data):
        if isinstance(page, str):
            return page
        if last is None and not page.body.startswith((b"\x01vorbis", b"OpusHead")):
            return "is Ogg but holds neither Vorbis nor Opus audio"
        if ogg_crc(_unchecked(data, page)) != page.checksum:
            return f"is damaged: the Ogg page at byte {page.offset} fails its checksum"
        last = page
    if last is None or not last.flags & _OGG_EOS:
        return "is cut short: its Ogg stream has no last page"
    return None


def ogg_with_serial(data: bytes, serial: int) -> bytes:
    """An Ogg stream of one logical stream with its serial number set to ``serial`` (and
    every page's checksum recomputed): encoders pick the number at random."""
    out = bytearray()
    for page in _ogg_pages(data):
        if isinstance(page, str):
            raise ValueError(f"the Ogg stream {page}")
        raw = bytearray(_unchecked(data, page))
        struct.pack_into("<I", raw, 14, serial)
        struct.pack_into("<I", raw, 22, ogg_crc(bytes(raw)))
        out += raw
    return bytes(out)


_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
_MP3_KBPS = {  # (MPEG-1?, layer): bit rates by index 1-14
    (True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_MP3_TAGS = (b"TAG", b"APETAGEX", b"LYRICSBEGIN")


def _mp3_frame_length(data: bytes, offset: int) -> int | None:
    """The length of the MPEG audio frame whose header is at ``offset``, or None when no
    valid header is there."""
    if offset + 4 > len(data):
        return None
    b0, b1, b2 = data[offset], data[offset + 1], data[offset + 2]
    version, layer_bits = (b1 >> 3) & 3, (b1 >> 1) & 3
    rate_index, bit_index = (b2 >> 2) & 3, b2 >> 4
    if (b0 != 0xFF or b1 & 0xE0 != 0xE0 or version == 1 or layer_bits == 0 or rate_index == 3
            or bit_index in (0, 15)):
        return None
    layer = 4 - layer_bits
    mpeg1 = version == 3
    bits = _MP3_KBPS[mpeg1, layer][bit_index - 1] * 1000
    rate = _MP3_RATES[version][rate_index]
    padding = (b2 >> 1) & 1
    if layer == 1:
        return (12 * bits // rate + padding) * 4
    return (144 if layer == 2 or mpeg1 else 72) * bits // rate + padding


def _mp3_problem(data: bytes) -> str | None:
    """Why an MP3 file is not whole, or None: after its ID3v2 tag, frame follows frame to
    the end or to a trailing tag, and the last frame is all there."""
    offset = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        offset = 10 + size + (10 if data[5] & 0x10 else 0)
    frames = 0
    while offset < len(data):
        length = _mp3_frame_length(data, offset)
        if length is None:
            if data[offset:offset + 11].startswith(_MP3_TAGS) or not data[offset:].strip(b"\0"):
                break
            return f"is damaged at byte {offset}: no MPEG audio frame there"
        if offset + length > len(data):
            return f"is cut short: its last MPEG frame ends {offset + length - len(data)} " \
                   f"bytes early"
        offset += length
        frames += 1
    return None if frames else "holds no MPEG audio frame"


# --- Beat grids -------------------------------------------------------------------------------


def decode_mono(source: Path | bytes, rate: int = TRACK_RATE) -> FloatArray:
    """The audio as one channel at ``rate`` samples a second (channels averaged)."""
    import librosa

    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    samples, native = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    mono = samples.mean(axis=1)
    if native != rate:
        mono = librosa.resample(mono, orig_sr=native, target_sr=rate)
    return np.asarray(mono, dtype=np.float64)


@dataclass(frozen=True)
class TrackedBeats:
    """What the beat tracker found in a piece of music.

    Attributes
    ----------
    tracker_tempo_bpm : float
        The tracker's own tempo estimate.
    times_s : (n,) float64
        Its beats: onset-strength frames, in seconds.
    attacks_s : (n,) float64
        Each beat moved to the attack nearest it (:func:`attack_times`).
    onset : (m,) float32
        The onset strength, one value per :data:`TRACK_HOP` samples from
        ``-LEAD_SILENCE_S``.
    energy_db : (k,) float64
        The short-time energy (:func:`energy_db`) from ``-LEAD_SILENCE_S``.
    """

    tracker_tempo_bpm: float
    times_s: FloatArray
    attacks_s: FloatArray
    onset: npt.NDArray[np.float32]
    energy_db: FloatArray

    def onset_at(self, times_s: npt.NDArray[np.floating[Any]]) -> FloatArray:
        """The onset strength's peak within two frames of each of ``times_s``."""
        frames = np.rint((np.asarray(times_s) + LEAD_SILENCE_S) * TRACK_RATE / TRACK_HOP)
        return np.asarray([float(np.max(self.onset[max(0, f - 2):max(1, f + 3)]))
                           for f in frames.astype(np.int64)], dtype=np.float64)

    def loudness_at(self, times_s: npt.NDArray[np.floating[Any]]) -> FloatArray:
        """The energy's peak (dB) in the :data:`LOUDNESS_S` after each of ``times_s``."""
        starts = np.rint((np.asarray(times_s) + LEAD_SILENCE_S) * TRACK_RATE / ENERGY_HOP)
        reach = round(LOUDNESS_S * TRACK_RATE / ENERGY_HOP)
        return np.asarray([float(np.max(self.energy_db[max(0, i):max(1, i + reach)]))
                           for i in starts.astype(np.int64)], dtype=np.float64)


def track_beats(samples: FloatArray, tempo_hint: float | None = None) -> TrackedBeats:
    """Beats of mono ``samples`` at :data:`TRACK_RATE` by librosa's beat tracker (Ellis's
    dynamic programming over the onset strength); ``tempo_hint`` (e.g. the step's tempo)
    guides it between a tempo and its double or half.

    The audio is tracked behind :data:`LEAD_SILENCE_S` of silence, so that a beat at 0 s has
    an onset to be found by; beats in that silence are dropped.
    """
    import librosa

    lead = round(LEAD_SILENCE_S * TRACK_RATE)
    padded = np.concatenate([np.zeros(lead), samples]).astype(np.float32)
    onset = librosa.onset.onset_strength(y=padded, sr=TRACK_RATE, hop_length=TRACK_HOP)
    tempo, frames = librosa.beat.beat_track(onset_envelope=onset, sr=TRACK_RATE,
                                            hop_length=TRACK_HOP,
                                            start_bpm=tempo_hint or 120.0, units="frames")
    times = np.asarray(librosa.frames_to_time(frames, sr=TRACK_RATE, hop_length=TRACK_HOP),
                       dtype=np.float64)
    energy = energy_db(padded)
    attacks = attack_times(energy, times) - LEAD_SILENCE_S
    inside = attacks >= -ATTACK_SEARCH_S[1]
    return TrackedBeats(float(np.atleast_1d(tempo)[0]), times[inside] - LEAD_SILENCE_S,
                        np.maximum(attacks[inside], 0.0), onset, energy)


def energy_db(samples: npt.NDArray[Any]) -> FloatArray:
    """The energy of :data:`ENERGY_FRAME` samples every :data:`ENERGY_HOP`, in dB; value
    ``i`` is of the frame starting at ``i`` hops."""
    square = np.asarray(samples, dtype=np.float64) ** 2
    frames = np.convolve(square, np.ones(ENERGY_FRAME), "valid")[::ENERGY_HOP]
    return np.asarray(10.0 * np.log10(frames + 1e-10))


def attack_times(energy: FloatArray, times: FloatArray) -> FloatArray:
    """Each of ``times`` moved to the sharpest rise of the :func:`energy_db` near it (from
    :data:`ATTACK_SEARCH_S` before to after): where the note starts, which the onset
    strength's frames (tens of milliseconds wide, centred) only approach."""
    before, after = ATTACK_SEARCH_S
    out = np.empty(len(times))
    hop_s = ENERGY_HOP / TRACK_RATE
    for i, t in enumerate(times):
        lo = max(0, int((t - before) / hop_s))
        hi = min(len(energy) - 1, int((t + after) / hop_s) + 1)
        near = energy[lo:hi + 1]
        # quieter than the loudest by more than ATTACK_RANGE_DB is silence (a codec's
        # pre-echo included)
        rise = np.diff(np.maximum(near, near.max() - ATTACK_RANGE_DB)) if hi > lo else None
        peak = lo + int(np.argmax(rise)) if rise is not None else round(t / hop_s)
        # the rise from frame ``peak`` to the next is the samples entering at its end
        out[i] = ((peak + 1) * ENERGY_HOP + ENERGY_FRAME) / TRACK_RATE
    return out


def find_beat_grid(source: Path | bytes, meter: int = DEFAULT_METER, *,
                   tempo_hint: float | None = None, name: str = "the music") -> BeatGrid:
    """The beat grid of a piece of music: its beats tracked (:func:`track_beats`) and one
    grid fitted through them (:func:`fit_grid`).

    Raises
    ------
    MusicError
        When fewer than :data:`MIN_BEATS` beats are found (silence, or no pulse).
    """
    beats = track_beats(decode_mono(source), tempo_hint)
    if len(beats.attacks_s) < MIN_BEATS:
        raise MusicError(f"{name}: has no steady beat the tracker could follow; tap along or "
                         f"type the tempo and first beat")
    return fit_grid(beats, meter)


def fit_grid(beats: TrackedBeats, meter: int) -> BeatGrid:
    """One straight grid through the tracked beats' attacks (:func:`fit_line`).

    Beats the tracker did not find before its first are taken back while the grid has a
    strong onset there (half the median of the beats'). The first beat is the earliest of the
    count in the bar whose beats are loudest (by :data:`DOWNBEAT_MARGIN_DB`, else the first
    beat found): a bar's first beat usually is, so a piece that starts on a pickup starts its
    grid on the next "one".
    """
    numbers, slope, intercept = fit_line(beats.attacks_s)
    floor = 0.5 * float(np.median(beats.onset_at(intercept + slope * numbers)))
    earlier = numbers[0] - 1
    while (intercept + slope * earlier >= -ATTACK_SEARCH_S[1]
           and beats.onset_at(np.asarray([intercept + slope * earlier]))[0] >= floor):
        numbers = np.concatenate([[earlier], numbers])
        earlier -= 1
    loudness = beats.loudness_at(intercept + slope * numbers)
    counts = (numbers - numbers[0]) % meter
    by_count = {count: float(np.mean(loudness[counts == count])) for count in set(counts.tolist())}
    downbeat = max(sorted(by_count), key=by_count.__getitem__)
    if by_count[downbeat] - by_count[0] < DOWNBEAT_MARGIN_DB:
        downbeat = 0
    return _grid(60.0 / slope, intercept + slope * (numbers[0] + downbeat), meter, slope)


def fit_line(times: FloatArray) -> tuple[npt.NDArray[np.int64], float, float]:
    """Beat numbers, period and time of beat 0 of the straight grid through ``times``.

    The times are numbered by their median interval (a gap of two intervals is a beat
    skipped), and times far from the line (first the median interval's, then the
    least-squares line through the others) dropped: further than four robust standard
    deviations of the others (but at least :data:`MIN_OUTLIER_S`), or than
    :data:`OUTLIER_BEATS` of a beat. Returns the kept times' numbers (the first
    of all the times is beat 0), the slope and the intercept.
    """
    period = float(np.median(np.diff(times)))
    steps = np.maximum(1, np.rint(np.diff(times) / period)).astype(np.int64)
    numbers = np.concatenate([[0], np.cumsum(steps)])
    slope, intercept = period, float(np.median(times - period * numbers))
    keep = np.ones(len(times), dtype=bool)
    for _ in range(3):
        residuals = np.abs(times - intercept - slope * numbers)
        spread = 1.4826 * float(np.median(residuals[keep]))
        near = residuals <= min(OUTLIER_BEATS * slope, max(MIN_OUTLIER_S, 4 * spread))
        if near.sum() >= 2:
            keep = near
        slope, intercept = np.polyfit(numbers[keep].astype(np.float64), times[keep], 1)
    return numbers[keep], float(slope), float(intercept)


def _grid(tempo_bpm: float, first_beat_s: float, meter: int, period_s: float) -> BeatGrid:
    """A grid whose first beat may lie a hair before 0 s (a fit through a beat at 0 s): that
    beat is at 0 s; one further before starts the grid a bar later."""
    while first_beat_s < -0.25 * period_s:
        first_beat_s += meter * period_s
    return BeatGrid(float(tempo_bpm), max(0.0, float(first_beat_s)), meter)


def grid_from_taps(times_s: list[float] | FloatArray, meter: int = DEFAULT_METER) -> BeatGrid:
    """The grid through an instructor's taps along the music, the first tap on count 1.

    A tap missed keeps the others on their beats, and a tap far off the beat is left out
    (:func:`fit_line`).

    Raises
    ------
    MusicError
        Fewer than :data:`MIN_TAPS` taps, or taps not in time order, or two taps on one beat.
    """
    times = np.asarray(times_s, dtype=np.float64)
    if times.ndim != 1 or len(times) < MIN_TAPS or not np.isfinite(times).all():
        raise MusicError(f"a grid needs at least {MIN_TAPS} taps, one a beat, got "
                         f"{times.size}")
    gaps = np.diff(times)
    close = gaps < 0.5 * float(np.median(gaps))
    if close.any():
        at = int(np.argmax(close))
        raise MusicError(f"taps {at + 1} and {at + 2} are {gaps[at]:.2f} s apart, less than "
                         f"half a beat; tap once a beat, in time order")
    _, slope, intercept = fit_line(times)
    return _grid(60.0 / slope, intercept, meter, slope)
