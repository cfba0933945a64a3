"""The pose-sequence container and its `.pose.json` format."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app import sequence
from app.errors import UserError
from app.sequence import N_LANDMARKS, PoseSequence, SequenceFormatError, Source, Step


def make_sequence(n: int = 5, missing: tuple[int, ...] = (2,), world: bool = True) -> PoseSequence:
    rng = np.random.default_rng(0)
    t = np.arange(n) / 30.0
    img = [None if i in missing else rng.uniform(0, 1, (N_LANDMARKS, 3)) for i in range(n)]
    vis = [None if i in missing else rng.uniform(0, 1, N_LANDMARKS) for i in range(n)]
    wld = [None if (i in missing or not world) else rng.normal(0, 0.3, (N_LANDMARKS, 3))
           for i in range(n)]
    return PoseSequence.from_frames(
        t, img, vis, wld, fps=30.0, image_size=(1280, 720), name="wing-beat",
        title="Wing beat", source=Source("video", "clip.mp4"),
        steps=(Step("up", 0.0, 0.05), Step("down", 0.05, 0.15)),
    )


def test_round_trip_keeps_arrays_steps_and_missing_frames(tmp_path: Path) -> None:
    seq = make_sequence()
    path = tmp_path / "wing-beat.pose.json"
    sequence.save(seq, path)
    back = sequence.load(path)
    assert back.name == "wing-beat" and back.title == "Wing beat"
    assert back.image_size == (1280, 720) and back.fps == 30.0
    assert back.steps == seq.steps
    assert back.present.tolist() == [True, True, False, True, True]
    np.testing.assert_allclose(back.image_xyz[back.present], seq.image_xyz[seq.present],
                               atol=1e-5)
    np.testing.assert_allclose(back.world_xyz[back.present], seq.world_xyz[seq.present],
                               atol=1e-5)
    assert np.isnan(back.image_xyz[2]).all() and (back.visibility[2] == 0).all()


def test_unknown_fields_survive_a_round_trip() -> None:
    doc = make_sequence().to_dict()
    doc["difficulty"] = 3
    doc["x-note"] = {"by": "teacher"}
    back = sequence.loads(json.dumps(doc))
    assert back.extra == {"difficulty": 3, "x-note": {"by": "teacher"}}
    assert back.to_dict()["x-note"] == {"by": "teacher"}


def test_steps_world_and_takes_are_optional() -> None:
    doc = make_sequence(world=False).to_dict()
    del doc["steps"]
    back = sequence.loads(json.dumps(doc))
    assert back.steps == () and back.takes == ()
    assert not back.has_world.any()


def test_takes_round_trip() -> None:
    seq = make_sequence()
    with_take = PoseSequence(**{**seq.__dict__, "takes": (make_sequence(7, missing=()),)})
    back = sequence.loads(with_take.to_json())
    assert len(back.takes) == 1 and len(back.takes[0]) == 7
    assert back.takes[0].name == "wing-beat"


def _doc() -> dict[str, Any]:
    return make_sequence().to_dict()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="other"), "format must be"),
        (lambda d: d.update(version=2), "version must be 1"),
        (lambda d: d.update(fps=-1), "fps must be more than 0, got -1"),
        (lambda d: d.update(fps="30"), "fps must be a number, got '30'"),
        (lambda d: d["frames"][1].update(t=0.0), "frames[1].t is 0.0, not after"),
        (lambda d: d["frames"][0].update(landmarks=[[0, 0, 0, 1]] * 32),
         "frames[0].landmarks must list 33 points, got 32"),
        (lambda d: d["frames"][0].update(world=[[0, 0]] * 33),
         "frames[0].world[0][2] is missing"),
        (lambda d: d["frames"][0].pop("t"), "frames[0].t is missing"),
        (lambda d: d["frames"][0].update(world=[["1", "2", "3"]] * 33),
         "frames[0].world[0][0] must be a number, got '1'"),
        (lambda d: d["frames"][0].update(world=[[True, False, True]] * 33),
         "frames[0].world[0][0] must be a number, got true"),
        (lambda d: d["frames"][0].update(world=[[1, 2, None]] * 33),
         "frames[0].world[0][2] must be a number, got null"),
        (lambda d: d["frames"][4]["landmarks"][12].append(0.5),
         "frames[4].landmarks[12] must list 4 numbers, got 5"),
        (lambda d: d.update(image={"width": 1280.5, "height": 720}),
         "image.width must be a whole number, got 1280.5"),
        (lambda d: d.update(takes=[{"fps": 30, "frames": [{"t": 0, "landmarks": 3}]}]),
         "takes[0].frames[0].landmarks must be a list, got 3"),
        (lambda d: d.update(source={"kind": "dream"}),
         "source.kind must be one of 'video', 'webcam' or 'authored', got 'dream'"),
        (lambda d: d.update(steps=[{"name": "a", "start_s": 1, "end_s": 0.5}]),
         "steps[0] step 'a' ends at 0.5 s"),
        (lambda d: d.update(frames={}), "frames must be a list, got an object"),
        (lambda d: d.update(version=2, frames={}), "version must be 1, got 2"),
    ],
)
@pytest.mark.parametrize("decoded", [False, True], ids=["text", "decoded"])
def test_each_violation_names_the_field(mutate: Any, message: str, decoded: bool) -> None:
    doc = _doc()
    mutate(doc)
    with pytest.raises(SequenceFormatError, match=r"^step\.pose\.json: ") as info:
        if decoded:
            sequence.from_dict(doc, origin="step.pose.json")
        else:
            sequence.loads(json.dumps(doc), origin="step.pose.json")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("where", ["x-note", "frame"])
def test_nan_is_refused_in_unknown_fields_too(where: str) -> None:
    doc = _doc()
    note = {"by": "teacher", "weight": 12345.5}
    if where == "frame":
        doc["frames"][3]["x-note"] = note
    else:
        doc["x-note"] = note
    text = json.dumps(doc).replace("12345.5", "NaN")
    with pytest.raises(SequenceFormatError) as info:
        sequence.loads(text, origin="step.pose.json")
    path = "frames[3].x-note" if where == "frame" else "x-note"
    assert str(info.value) == (f"step.pose.json: {path} contains NaN, which is not a number "
                               f"JSON allows")


def test_the_schema_prints_as_json_schema() -> None:
    schema = sequence.PoseDocument.model_json_schema()
    assert set(schema["required"]) == {"format", "version", "fps", "frames"}
    assert schema["properties"]["format"]["const"] == sequence.FORMAT
    landmarks = schema["$defs"]["FramePart"]["properties"]["landmarks"]["anyOf"][0]
    assert landmarks["minItems"] == landmarks["maxItems"] == N_LANDMARKS
    assert json.loads(json.dumps(schema)) == schema


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"\xff\xfe{", "is not UTF-8"),
        (b'{"format": ', "is not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"fps": NaN}', "NaN"),
    ],
)
def test_broken_files_get_one_clear_sentence(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "broken.pose.json"
    path.write_bytes(data)
    with pytest.raises(SequenceFormatError, match=str(path).replace(".", r"\.")) as info:
        sequence.load(path)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_infinity_in_landmarks_is_refused() -> None:
    doc = make_sequence().to_dict()
    doc["frames"][0]["landmarks"][0][0] = 12345.5
    text = json.dumps(doc).replace("12345.5", "Infinity")
    with pytest.raises(SequenceFormatError, match="Infinity"):
        sequence.loads(text)


def test_oversized_file_is_refused_before_reading(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "huge.pose.json"
    sequence.save(make_sequence(), path)
    monkeypatch.setattr(sequence, "MAX_FILE_BYTES", 100)
    with pytest.raises(SequenceFormatError, match="over the limit"):
        sequence.load(path)


def test_too_many_frames_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sequence, "MAX_FRAMES", 4)
    with pytest.raises(SequenceFormatError, match="frames has 5 frames, over the limit of 4"):
        sequence.loads(make_sequence().to_json())


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SequenceFormatError, match=r"nothing\.pose\.json: cannot be read"):
        sequence.load(tmp_path / "nothing.pose.json")


def test_container_checks_shapes_and_time() -> None:
    seq = make_sequence()
    with pytest.raises(ValueError, match=r"image_xyz has shape \(5, 32, 3\), expected"):
        PoseSequence(**{**seq.__dict__, "image_xyz": seq.image_xyz[:, :32]})
    with pytest.raises(ValueError, match="strictly increasing"):
        PoseSequence(**{**seq.__dict__, "t": seq.t[::-1].copy()})


def test_trim_and_slice_restart_time_and_clip_steps() -> None:
    seq = make_sequence(10, missing=())
    part = seq.trim_seconds(2 / 30, 6 / 30)
    assert len(part) == 4
    assert part.t[0] == 0.0
    assert [s.name for s in part.steps] == ["down"]
    with pytest.raises(UserError, match="no frames between"):
        seq.trim_seconds(5.0, 6.0)


def test_step_frames_are_the_frames_from_start_up_to_before_end() -> None:
    seq = make_sequence(10, missing=())
    assert seq.step_frames(Step("up", 0.0, 0.05)) == (0, 2)
    assert seq.step_frames(Step("down", 0.05, 0.15)) == (2, 5)
    assert seq.step_frames(Step("on the boundaries", 3 / 30, 7 / 30)) == (3, 7)
    assert seq.step_frames(Step("between two frames", 0.101, 0.102)) == (4, 4)
    assert seq.step_frames(Step("after the end", 5.0, 6.0)) == (10, 10)
    assert PoseSequence.empty().step_frames(Step("any", 0.0, 1.0)) == (0, 0)


def test_step_frames_count_from_the_first_frame_and_absorb_float_error() -> None:
    seq = make_sequence(10, missing=())
    late = replace(seq, t=seq.t + 0.7)
    for step in (Step("a", 1 / 30, 4 / 30), Step("b", 0.1, 0.2), Step("c", 0.0, 9 / 30)):
        assert late.step_frames(step) == seq.step_frames(step)
        start, stop = seq.step_frames(step)
        assert len(seq.trim_seconds(step.start_s, step.end_s)) == stop - start


def test_empty_sequence() -> None:
    empty = PoseSequence.empty()
    assert len(empty) == 0 and empty.duration_s == 0.0
    assert sequence.loads(empty.to_json()).present.shape == (0,)


def test_save_is_atomic_and_leaves_no_temporaries(tmp_path: Path) -> None:
    path = tmp_path / "a.pose.json"
    sequence.save(make_sequence(), path)
    sequence.save(make_sequence(3, missing=()), path)
    assert len(sequence.load(path)) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["a.pose.json"]
