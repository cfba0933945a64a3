"""A session's take: its frames live in a temporary file, so a long practice holds no memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from app.errors import UserError
from app.pose import FramePose
from app.sequence import N_LANDMARKS
from app.server.sessions import Take


def _pose(k: int) -> FramePose:
    rng = np.random.default_rng(k)
    return FramePose(rng.random((N_LANDMARKS, 3)), rng.random(N_LANDMARKS),
                     rng.random((N_LANDMARKS, 3)) - 0.5)


def test_a_take_gives_back_what_it_kept_with_the_reference_frames() -> None:
    take = Take()
    poses = [_pose(k) for k in range(5)]
    for k, pose in enumerate(poses):
        take.add(10.0 + k / 30, pose if k != 2 else None, (640, 480), reference_frame=k * 1.5)
    seq = take.sequence()
    assert take.kept and take.frames == 5
    assert np.allclose(seq.t, np.arange(5) / 30)
    assert seq.image_size == (640, 480)
    assert seq.extra["reference_frames"] == [0.0, 1.5, 3.0, 4.5, 6.0]
    assert np.allclose(seq.image_xyz[0], poses[0].image_xyz, atol=1e-6)
    assert np.allclose(seq.world_xyz[4], poses[4].world_xyz, atol=1e-6)
    assert np.isnan(seq.image_xyz[2]).all()
    take.close()


def test_a_restart_forgets_the_frames_before_it() -> None:
    take = Take()
    for k in range(4):
        take.add(k / 30, _pose(k), (640, 480))
    take.restart()
    take.add(1.0, _pose(9), (640, 480))
    seq = take.sequence()
    assert len(seq.t) == 1
    assert np.allclose(seq.image_xyz[0], _pose(9).image_xyz, atol=1e-6)
    take.close()


def test_a_long_take_holds_its_frames_on_disk_not_in_memory() -> None:
    take = Take()
    pose = _pose(0)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for k in range(3000):
        take.add(k / 30, pose, (640, 480), reference_frame=float(k))
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    # 3,000 frames are 2.8 MB of landmarks; only their times and reference frames stay.
    assert grown < 100_000
    assert take.frames == 3000
    take.close()


def test_a_take_the_disk_refuses_says_so_and_keeps_nothing_more() -> None:
    take = Take()
    take.add(0.0, _pose(0), (640, 480))
    take.close()
    take._rows = open("/dev/full", "w+b", buffering=0)  # noqa: SIM115 (closed by the take)
    take.add(1 / 30, _pose(1), (640, 480))
    assert take.frames == 1 and not take.kept
    with pytest.raises(UserError, match="could not keep the take on its disk"):
        take.sequence()
    take.close()
