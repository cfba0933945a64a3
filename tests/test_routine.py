"""Routines: their files, the reference they build, scoring them, the CLI and the API."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app import sequence
from app.cli import main
from app.landmarks import Landmark
from app.library import BrokenRoutine, Library, NotFound
from app.reference import Reference
from app.routine import (
    DEFAULT_TRANSITION_S,
    Routine,
    RoutineDocument,
    build_reference,
    dumps,
    load,
    score_routine,
)
from app.schema import SKELETON
from app.sequence import PoseSequence
from tests.library_fixtures import with_noise
from tests.scoring_fixtures import REPO, noisy, time_warp
from tests.server_fixtures import client, copy_library, settings, state
from tests.test_server_jobs import submit, wait_for

__all__ = ["client", "settings", "state"]  # pytest fixtures this module uses

GOOD_PART = 80.0
BAD_PART = 50.0


def write_routine(library: Library, name: str, steps: list[dict[str, Any]],
                  **fields: Any) -> Path:
    """A routine file in ``library`` (a valid document unless ``fields`` break it)."""
    doc = {"format": "dance-tutor.routine", "version": 1, "title": name.title(),
           "steps": steps, **fields}
    library.routines_dir.mkdir(exist_ok=True)
    path = library.routine_path(name)
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def library(tmp_path: Path) -> Library:
    """A private copy of the project's steps and routines."""
    return Library(copy_library(tmp_path / "poses"))


@pytest.fixture(scope="module")
def burkit_bi(tmp_path_factory: pytest.TempPathFactory) -> tuple[Routine, Reference, Library]:
    library = Library(copy_library(tmp_path_factory.mktemp("routine") / "poses"))
    routine, reference = library.routine_reference("burkit-bi")
    return routine, reference, library


def spliced(seq: PoseSequence, part: str, other: PoseSequence) -> PoseSequence:
    """``seq`` with the frames of the step named ``part`` replaced by ``other``'s movement,
    stretched over them."""
    step = next(s for s in seq.steps if s.name == part)
    start, stop = seq.step_frames(step)
    rows = np.linspace(0, len(other) - 1, stop - start).round().astype(int)
    image, world = seq.image_xyz.copy(), seq.world_xyz.copy()
    image[start:stop], world[start:stop] = other.image_xyz[rows], other.world_xyz[rows]
    return replace(seq, image_xyz=image, world_xyz=world)


def test_burkit_bi_is_every_step_in_story_order(library: Library) -> None:
    routine = library.routine("burkit-bi")
    assert routine.title == "Burkit bi"
    assert "eagle" in routine.description
    assert routine.steps == tuple(info.name for info in library.list())
    assert [r.name for r in library.routines()] == ["burkit-bi"]
    assert library.problems == []


def test_a_missing_step_is_refused_naming_the_file_the_step_and_the_closest(
        library: Library) -> None:
    write_routine(library, "typo", [{"step": "perched"}, {"step": "wing-bat"}])
    with pytest.raises(BrokenRoutine) as caught:
        library.routine("typo")
    assert str(caught.value) == ("typo.routine.json: steps[1].step 'wing-bat' is not a step of "
                                 "the library (did you mean 'wing-beat' or 'wing-spread'?)")
    write_routine(library, "far-off", [{"step": "quadrille"}])
    with pytest.raises(BrokenRoutine, match=r"'quadrille' is not a step of the library \(the "
                                            r"library has perched, unhooding, scanning, "):
        library.routine("far-off")


@pytest.mark.parametrize(("fields", "reason"), [
    ({"steps": [{"step": "swoop", "repeat": 0}]}, "steps[0].repeat must be at least 1, got 0"),
    ({"steps": []}, "steps must list at least 1 item, got 0"),
    ({"transition_s": "0.5"}, "transition_s must be a number, got '0.5'"),
    ({"tempo": 60}, "tempo is not a known field"),
    ({"title": ""}, "title must be at least 1 character long, got ''"),
    ({"steps": [{"step": "x" * 65}]},
     f"steps[0].step must be at most 64 characters long, got '{'x' * 36}..."),
    ({"version": 2}, "version must be 1, got 2"),
])
def test_format_errors_name_the_file_and_the_field(library: Library, fields: dict[str, Any],
                                                   reason: str) -> None:
    write_routine(library, "broken", **{"steps": [{"step": "swoop"}], **fields})
    with pytest.raises(BrokenRoutine) as caught:
        library.routine("broken")
    assert str(caught.value) == f"broken.routine.json: {reason}"


def test_broken_routines_are_skipped_and_reported(library: Library) -> None:
    (library.routines_dir / "garbled.routine.json").write_text("{not json")
    write_routine(library, "missing-step", [{"step": "moonwalk"}])
    assert [r.name for r in library.routines()] == ["burkit-bi"]
    reasons = {p.path.name: p.reason for p in library.problems}
    assert set(reasons) == {"garbled.routine.json", "missing-step.routine.json"}
    assert reasons["garbled.routine.json"].startswith("is not valid JSON")
    assert str(library.validate()[0]).startswith("garbled.routine.json: is not valid JSON")
    assert next(info.name for info in library.list()) == "perched"


def test_repeats_and_blends_make_named_parts(library: Library) -> None:
    write_routine(library, "beats", [{"step": "wing-beat", "repeat": 2}, {"step": "swoop"},
                                     {"step": "wing-beat"}])
    routine, reference = library.routine_reference("beats")
    names = [part.name for part in routine.parts]
    assert names == ["wing-beat", "wing-beat 2", "swoop", "wing-beat 3"]
    seq = reference.sequence
    assert [step.name for step in seq.steps] == names
    beat, swoop = library.get("wing-beat"), library.get("swoop")
    blend = round(DEFAULT_TRANSITION_S * seq.fps)
    assert len(seq) == 3 * len(beat) + len(swoop) + 3 * blend
    first, second = (seq.step_frames(step) for step in seq.steps[:2])
    assert second[0] - first[1] == blend
    np.testing.assert_allclose(seq.image_xyz[slice(*second)], beat.image_xyz)
    assert reference.tolerance is not None
    tolerance = reference.tolerance_matrix()
    assert np.allclose(tolerance[slice(*first)], SKELETON.default_tolerance)
    assert np.all(tolerance[first[1]:second[0]] > SKELETON.default_tolerance)
    middle = seq.image_xyz[first[1] + blend // 2]
    assert np.all(np.isfinite(middle))


def test_a_step_with_several_takes_keeps_its_tolerance(library: Library) -> None:
    library.add_take("swoop", with_noise(library.get("swoop"), 0.01, seed=3))
    write_routine(library, "dive", [{"step": "perched"}, {"step": "swoop"}],
                  transition_s=0)
    _, reference = library.routine_reference("dive")
    own = library.reference("swoop")
    assert own.tolerance is not None and reference.tolerance is not None
    start, stop = reference.sequence.step_frames(reference.sequence.steps[1])
    np.testing.assert_allclose(reference.tolerance[start:stop], own.tolerance)
    np.testing.assert_allclose(reference.sequence.image_xyz[start:stop],
                               own.sequence.image_xyz)
    assert start == len(library.get("perched"))


def test_steps_at_other_frame_rates_join_the_routine_at_its_own(library: Library) -> None:
    swoop = library.reference("swoop").sequence
    slow = replace(swoop, t=swoop.t * 2, fps=swoop.fps / 2)
    routine = Routine("mixed", "Mixed", "", 0.0, library.routine("burkit-bi").entries[6:8])
    assert routine.steps == ("swoop", "talons")
    reference = build_reference(routine, {"swoop": Reference(slow),
                                          "talons": library.reference("talons")})
    assert reference.sequence.fps == slow.fps
    first, second = reference.sequence.steps
    assert first.end_s - first.start_s == pytest.approx(slow.duration_s, abs=1 / slow.fps)
    talons = library.get("talons")
    assert second.end_s - second.start_s == pytest.approx(talons.duration_s,
                                                          abs=1 / slow.fps)


def test_a_step_missing_frames_is_put_back_on_the_clock(library: Library) -> None:
    swoop = library.get("swoop")
    keep = np.ones(len(swoop), dtype=bool)
    keep[10:13] = False
    gappy = replace(swoop, t=swoop.t[keep], image_xyz=swoop.image_xyz[keep],
                    visibility=swoop.visibility[keep], world_xyz=swoop.world_xyz[keep],
                    present=swoop.present[keep])
    routine = Routine("gap", "Gap", "", 0.0, library.routine("burkit-bi").entries[6:7])
    seq = build_reference(routine, {"swoop": Reference(gappy)}).sequence
    assert len(seq) == len(swoop)
    np.testing.assert_allclose(np.diff(seq.t), 1 / swoop.fps)
    between = (swoop.image_xyz[9] + swoop.image_xyz[13]) / 2
    np.testing.assert_allclose(seq.image_xyz[11], between, atol=1e-4)
    np.testing.assert_allclose(seq.image_xyz[20], swoop.image_xyz[20], atol=1e-4)


def test_the_routine_danced_well_scores_high_on_every_part(
        burkit_bi: tuple[Routine, Reference, Library]) -> None:
    routine, reference, _ = burkit_bi
    rng = np.random.default_rng(7)
    attempt = noisy(time_warp(reference.sequence, rng), rng)
    report = score_routine(routine, reference, attempt)
    assert [part.step for part in report.parts] == list(routine.steps)
    assert all(part.score >= GOOD_PART for part in report.parts), report.parts
    assert report.score >= GOOD_PART


def test_one_part_danced_as_another_step_scores_low_on_that_part_only(
        burkit_bi: tuple[Routine, Reference, Library]) -> None:
    routine, reference, library = burkit_bi
    wrong = spliced(reference.sequence, "wing-spread", library.get("talons"))
    rng = np.random.default_rng(8)
    report = score_routine(routine, reference, noisy(time_warp(wrong, rng), rng))
    parts = {part.name: part for part in report.parts}
    assert parts["wing-spread"].score < BAD_PART
    assert parts["wing-spread"].corrections
    others = [part for name, part in parts.items() if name != "wing-spread"]
    assert all(part.score >= GOOD_PART for part in others), others
    assert report.score < 80.0, "one step danced wrong keeps the whole from Great"
    doc = report.to_dict()
    assert [part["name"] for part in doc["parts"]] == [part.name for part in routine.parts]
    assert doc["parts"][3]["corrections"] == list(parts["wing-spread"].corrections)


def test_the_cli_scores_a_routine_by_name(burkit_bi: tuple[Routine, Reference, Library],
                                          tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    routine, reference, library = burkit_bi
    rng = np.random.default_rng(9)
    attempt = tmp_path / "attempt.pose.json"
    sequence.save(noisy(reference.sequence, rng), attempt)
    poses = ["--poses", str(library.root)]
    assert main(["score", "burkit-bi", str(attempt), "--json", *poses]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["reference"] == "burkit-bi"
    assert [part["step"] for part in doc["parts"]] == list(routine.steps)
    assert all(set(part) == {"name", "step", "score", "rating", "corrections"}
               for part in doc["parts"])
    assert main(["score", "burkit-bi", str(attempt), *poses]) == 0
    assert "routine:" in capsys.readouterr().out
    step = tmp_path / "step.pose.json"
    sequence.save(library.get("swoop"), step)
    assert main(["score", "swoop", str(step), "--json", *poses]) == 0
    assert json.loads(capsys.readouterr().out)["parts"] == []


def test_the_library_command_lists_routines_and_validates_them(
        library: Library, capsys: pytest.CaptureFixture[str]) -> None:
    write_routine(library, "wings", [{"step": "wing-spread"}, {"step": "wing-beat", "repeat": 2}])
    write_routine(library, "typo", [{"step": "wing-bat"}])
    poses = ["--poses", str(library.root)]
    assert main(["library", "routines", *poses]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == "burkit-bi  Burkit bi (10 parts, 0.5 s blends)"
    assert lines[1].startswith("  perched, unhooding, scanning, ")
    assert lines[2:] == ["wings  Wings (3 parts, 0.5 s blends)", "  wing-spread, wing-beat x2"]
    assert captured.err.startswith("skipped typo.routine.json: steps[0].step 'wing-bat' is ")
    assert main(["library", "validate", *poses]) == 1
    assert "10 steps and 2 routines valid, 1 broken in " in capsys.readouterr().out


def test_an_unknown_name_lists_steps_and_routines(library: Library) -> None:
    with pytest.raises(NotFound) as caught:
        library.scorable("hopak")
    message = str(caught.value)
    assert message.startswith("no step or routine named 'hopak' in ")
    assert message.endswith("(steps: perched, unhooding, scanning, wing-spread, wing-beat, "
                            "soaring-turn, swoop, talons, talon-step, landing; routines: "
                            "burkit-bi)")


def test_the_api_lists_burkit_bi_with_its_steps_in_story_order(client: TestClient) -> None:
    response = client.get("/api/routines")
    assert response.status_code == 200
    steps = [reference["name"] for reference in client.get("/api/references").json()]
    assert response.json() == [{
        "name": "burkit-bi", "title": "Burkit bi",
        "description": load(REPO / "poses" / "routines" / "burkit-bi.routine.json").description,
        "steps": steps,
        "repeats": [1] * len(steps), "transition_s": DEFAULT_TRANSITION_S,
    }]
    schema = client.get("/openapi.json").json()
    assert "RoutinePublic" in schema["components"]["schemas"]
    assert "parts" in schema["components"]["schemas"]["Report"]["properties"]


def test_a_job_scores_a_routine_by_name_with_its_parts(
        client: TestClient, burkit_bi: tuple[Routine, Reference, Library]) -> None:
    routine, reference, _ = burkit_bi
    data = reference.sequence.to_json().encode()
    job = submit(client, "whole-dance.pose.json", data, "burkit-bi", mirror="false")
    final = wait_for(client, job["id"])[-1]
    assert final["status"] == "done", final["error"]
    assert final["result"]["reference"] == "burkit-bi"
    assert [part["step"] for part in final["result"]["parts"]] == list(routine.steps)
    assert all(part["score"] >= GOOD_PART for part in final["result"]["parts"])


def test_the_library_command_makes_and_changes_a_routine(
        library: Library, capsys: pytest.CaptureFixture[str]) -> None:
    poses = ["--poses", str(library.root)]
    assert main(["library", "routine", "wings", "wing-spread,wing-beat:2", "--title", "Wings",
                 "--transition", "0.3", *poses]) == 0
    assert "created" in capsys.readouterr().out
    routine = library.routine("wings")
    assert [part.name for part in routine.parts] == ["wing-spread", "wing-beat", "wing-beat 2"]
    assert (routine.title, routine.transition_s) == ("Wings", 0.3)
    assert main(["library", "routine", "wings", "wing-beat,landing", *poses]) == 0
    changed = library.routine("wings")
    assert changed.steps == ("wing-beat", "landing")
    assert (changed.title, changed.transition_s) == ("Wings", 0.3), "kept unless given"
    before = library.routine_path("wings").read_bytes()
    assert main(["library", "routine", "wings", "wing-bat", *poses]) == 2
    assert "'wing-bat' is not a step of the library (did you mean" in capsys.readouterr().err
    assert main(["library", "routine", "wings", "wing-beat:0", *poses]) == 2
    assert main(["library", "routine", "wings", "wing-beat", "--transition", "99", *poses]) == 2
    assert "transition_s must be at most" in capsys.readouterr().err
    assert library.routine_path("wings").read_bytes() == before, "a refused change writes nothing"


def test_a_routine_written_reads_back_the_same(library: Library) -> None:
    shipped = library.routine("burkit-bi")
    library.save_routine(replace(shipped, name="copy"))
    copy = load(library.routine_path("copy"))
    assert replace(copy, name="burkit-bi") == shipped
    shipped_doc = RoutineDocument.model_validate_json(
        library.routine_path("burkit-bi").read_bytes())
    assert RoutineDocument.model_validate_json(dumps(copy)) == shipped_doc, \
        "the shipped file, field for field"


def test_the_library_command_repairs_and_refuses_what_it_should(
        library: Library, capsys: pytest.CaptureFixture[str]) -> None:
    poses = ["--poses", str(library.root)]
    assert main(["library", "routine", "wings", "wing-spread,landing", "--title", "Wings",
                 *poses]) == 0
    library.delete("landing")
    assert main(["library", "routine", "wings", "wing-spread,wing-beat", *poses]) == 0, \
        "a routine naming a deleted step can be mended"
    assert library.routine("wings").title == "Wings"
    capsys.readouterr()
    for steps, words in (("wing-beat:\u00b2", "how many times in a row"),
                         ("wing-beat:51", "repeat must be at most 50")):
        assert main(["library", "routine", "wings", steps, *poses]) == 2
        assert words in capsys.readouterr().err
    assert main(["library", "routine", "wings", "wing-beat", "--title", "   ", *poses]) == 2
    assert "title must be at least 1 character" in capsys.readouterr().err
    assert main(["library", "routine", "swoop", "wing-beat", *poses]) == 2
    assert "'swoop' is already a step of the library" in capsys.readouterr().err


def test_a_step_filmed_in_portrait_keeps_its_place_in_a_landscape_routine(
        library: Library) -> None:
    """Image x is rescaled about the picture's centre: the dancer stays where they stood."""
    talons = library.get("talons")
    width, height = talons.image_size
    portrait = replace(talons, image_size=(height, width),
                       image_xyz=talons.image_xyz * np.array([height / width, 1.0, 1.0])
                       + np.array([0.5 * (1.0 - height / width), 0.0, 0.0]))
    routine = Routine("mixed", "Mixed", "", 0.0, library.routine("burkit-bi").entries[6:8])
    reference = build_reference(routine, {"swoop": library.reference("swoop"),
                                          "talons": Reference(portrait)})
    start, stop = reference.sequence.step_frames(reference.sequence.steps[1])
    hips = [int(Landmark.LEFT_HIP), int(Landmark.RIGHT_HIP)]
    placed = reference.sequence.image_xyz[start:stop, hips, 0].mean()
    assert placed == pytest.approx(talons.image_xyz[:, hips, 0].mean(), abs=0.01)
