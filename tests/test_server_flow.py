"""Flow control of live sessions: newest frame wins, order, rate limit, counts, shedding."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.server.flow import (
    FrameBudget,
    FrameGate,
    LoopLag,
    Mailbox,
    Pacer,
    TokenBucket,
    Verdict,
)


def test_mailbox_newest_item_wins_and_reports_the_displaced_one() -> None:
    async def scenario() -> list[object]:
        box: Mailbox[int] = Mailbox()
        displaced = [box.put(1), box.put(2), box.put(3)]
        taken = await box.take()
        return [*displaced, taken]

    assert asyncio.run(scenario()) == [None, 1, 2, 3]


def test_mailbox_take_waits_for_a_put() -> None:
    async def scenario() -> int | None:
        box: Mailbox[int] = Mailbox()
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, box.put, 7)
        return await box.take()

    assert asyncio.run(scenario()) == 7


def test_mailbox_close_hands_out_the_last_item_then_none() -> None:
    async def scenario() -> list[int | None]:
        box: Mailbox[int] = Mailbox()
        box.put(5)
        box.close()
        return [await box.take(), await box.take()]

    assert asyncio.run(scenario()) == [5, None]


def test_mailbox_refuses_items_after_close() -> None:
    box: Mailbox[int] = Mailbox()
    box.close()
    with pytest.raises(RuntimeError):
        box.put(1)


def test_mailbox_close_wakes_a_waiting_consumer() -> None:
    async def scenario() -> int | None:
        box: Mailbox[int] = Mailbox()
        asyncio.get_running_loop().call_later(0.01, box.close)
        return await box.take()

    assert asyncio.run(scenario()) is None


def test_token_bucket_allows_the_rate_on_average() -> None:
    bucket = TokenBucket(rate=10.0, burst=2.0)
    # 100 attempts over 1 s at 100 Hz: the burst plus about ten more get through.
    allowed = sum(bucket.allow(i / 100) for i in range(100))
    assert 10 <= allowed <= 12


def test_token_bucket_allows_a_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=1.0, burst=3.0)
    assert [bucket.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.allow(1.0)


def test_frame_gate_drops_duplicates_and_out_of_order_frames() -> None:
    gate = FrameGate(max_rate=1000)
    verdicts = [gate.admit(seq, now=i * 0.01) for i, seq in enumerate([0, 1, 1, 0, 5, 3, 6])]
    assert verdicts == [
        Verdict.ADMIT, Verdict.ADMIT, Verdict.OUT_OF_ORDER, Verdict.OUT_OF_ORDER, Verdict.ADMIT,
        Verdict.OUT_OF_ORDER, Verdict.ADMIT,
    ]
    assert (gate.counts.received, gate.counts.dropped) == (7, 3)


def test_frame_gate_rate_limits_a_flood() -> None:
    gate = FrameGate(max_rate=30)
    verdicts = [gate.admit(seq, now=seq * 0.001) for seq in range(1000)]  # 1000 fps for 1 s
    admitted = verdicts.count(Verdict.ADMIT)
    assert 30 <= admitted <= 30 + 15 + 1
    assert verdicts.count(Verdict.RATE_LIMITED) == 1000 - admitted
    assert gate.counts.dropped == 1000 - admitted


def test_frame_gate_counts_every_kind_of_loss() -> None:
    gate = FrameGate(max_rate=30)
    gate.admit(0, now=0.0)
    gate.superseded()
    gate.malformed()
    gate.admit(1, now=0.1)
    gate.failed()
    gate.processed()
    counts = gate.counts
    assert (counts.received, counts.processed, counts.dropped, counts.rejected) == (3, 1, 1, 2)


def test_mailbox_newer_returns_an_item_put_in_time() -> None:
    async def scenario() -> list[int | None]:
        box: Mailbox[int] = Mailbox()
        asyncio.get_running_loop().call_later(0.01, box.put, 2)
        fresh = await box.newer(timeout=1.0)
        late = await box.newer(timeout=0.01)
        return [fresh, late]

    assert asyncio.run(scenario()) == [2, None]


def test_pacer_never_holds_before_it_knows_the_rate() -> None:
    pacer = Pacer(max_hold_s=0.012)
    assert pacer.hold(0.0) == 0.0
    pacer.arrived(0.0)
    assert pacer.hold(0.03) == 0.0


def test_pacer_holds_only_when_the_next_frame_is_due_soon() -> None:
    pacer = Pacer(max_hold_s=0.012)
    for i in range(10):  # a camera at 30 fps
        pacer.arrived(i / 30)
    last = 9 / 30
    assert pacer.hold(last + 0.005) == 0.0, "next frame 28 ms away: process the waiting one"
    assert pacer.hold(last + 0.025) == pytest.approx(1 / 30 - 0.025 + Pacer.SLACK_S, abs=1e-6)
    assert pacer.hold(last + 0.040) == 0.0, "overdue: do not wait for it"


def test_pacer_does_not_hold_a_client_that_sends_when_answered() -> None:
    pacer = Pacer(max_hold_s=0.012)
    for i in range(10):  # one frame per 50 ms answer
        pacer.arrived(i * 0.05)
    assert pacer.hold(9 * 0.05 + 0.001) == 0.0


def test_loop_lag_rises_at_once_and_falls_slowly() -> None:
    lag = LoopLag()
    lag.note(0.3)
    assert lag.lag_s == 0.3
    assert lag.shed_interval() == LoopLag.MAX_INTERVAL_S
    lag.note(0.0)
    assert lag.lag_s == pytest.approx(0.3 * (1 - LoopLag.DECAY))
    assert lag.shed_interval() == pytest.approx(2 * lag.lag_s)


def test_loop_lag_sheds_nothing_while_the_loop_keeps_up() -> None:
    lag = LoopLag()
    lag.note(LoopLag.BUSY_S / 2)
    assert lag.shed_interval() == 0.0
    lag.note(LoopLag.BUSY_S)
    assert lag.shed_interval() == LoopLag.MIN_INTERVAL_S
    lag.note(0.05)
    assert lag.shed_interval() == pytest.approx(0.1)


def test_loop_lag_measures_a_blocked_loop_and_recovers() -> None:
    async def scenario() -> tuple[float, float]:
        lag = LoopLag()
        lag.start()
        lag.start()
        await asyncio.sleep(0.1)
        time.sleep(0.2)
        await asyncio.sleep(0.01)
        blocked = lag.lag_s
        await asyncio.sleep(1.2)
        return blocked, lag.lag_s

    blocked, later = asyncio.run(scenario())
    assert blocked >= 0.1
    assert later < LoopLag.BUSY_S


def _burn_cpu(seconds: float) -> None:
    until = time.thread_time() + seconds
    while time.thread_time() < until:
        pass


def test_the_pace_spreads_the_loops_measured_time_over_the_sessions() -> None:
    """About 1 ms of the loop's CPU per frame: 200 sessions are asked for a frame every
    200 x 1 / 0.7 ms; ten are asked for nothing (every camera frame fits)."""
    pace = FrameBudget()
    assert pace.interval_s(200) == 0.0, "nothing measured yet"
    started = time.monotonic()
    while time.monotonic() - started < FrameBudget.WINDOW_S:
        pace.frame()
        _burn_cpu(0.001)
    interval = pace.interval_s(200)
    assert 0.8e-3 <= pace.cost_s <= 1.5e-3
    assert interval == pytest.approx(200 * pace.cost_s / FrameBudget.BUSY_SHARE)
    assert pace.interval_s(10) == 0.0
    assert pace.interval_s(2000) == FrameBudget.MAX_INTERVAL_S


def test_a_few_frames_beside_other_work_do_not_pass_for_a_costly_frame() -> None:
    """A session opening costs the loop a lot next to its first few frames; that is not what a
    frame costs, so one learner is never asked to slow down."""
    budget = FrameBudget()
    started = time.monotonic()
    _burn_cpu(0.2)
    while time.monotonic() - started < FrameBudget.WINDOW_S:
        budget.frame()
        time.sleep(0.2)
    assert budget.interval_s(1) == 0.0
    assert budget.cost_s == 0.0
