"""Flow control for a live session: newest frame wins, frames in order, a rate cap.

A camera sends frames at its own pace; the pose model takes what it takes. Between them sits
a one-frame :class:`Mailbox`: a frame that arrives while another waits replaces it, so the
learner always gets feedback on the most recent pose and nothing queues up. :class:`FrameGate`
decides which arriving frames are admitted at all (in sequence order, under the rate limit)
and keeps the counts the client is told about.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from app.server.protocol import FrameCounts

T = TypeVar("T")


class Mailbox(Generic[T]):
    """Holds at most one item, the newest; :meth:`put` returns the one it displaced."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._ready = asyncio.Event()
        self._closed = False

    def put(self, item: T) -> T | None:
        """Leave ``item`` for the consumer; returns the older item it replaced, if any."""
        if self._closed:
            raise RuntimeError("the mailbox is closed")
        displaced, self._item = self._item, item
        self._ready.set()
        return displaced

    def close(self) -> None:
        """No more items; :meth:`take` returns what is left, then ``None``."""
        self._closed = True
        self._ready.set()

    @property
    def closed(self) -> bool:
        return self._closed

    async def take(self) -> T | None:
        """The waiting item (waits for one); ``None`` once closed and empty."""
        while self._item is None:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        item, self._item = self._item, None
        return item

    async def newer(self, timeout: float) -> T | None:
        """An item put within ``timeout`` seconds (or already waiting), else ``None``."""
        if self._item is None and not self._closed:
            self._ready.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        item, self._item = self._item, None
        return item


class Pacer:
    """Says when to hold a waiting frame for a moment because a fresher one is due.

    A camera sends at a steady rate; the pose model takes longer than one frame interval, so
    the frame waiting when the model becomes free is, on average, half an interval old. When
    the next frame is due within ``max_hold_s``, holding for it gives feedback on a newer
    pose for a short idle: latency falls by up to an interval, throughput by a few per cent.
    The interval is learnt from arrivals (an exponential average). The caller asks only about
    frames that waited while the model was busy: a client that sends when answered finds
    the model idle and is never held.

    Parameters
    ----------
    max_hold_s : float
        Longest hold.
    """

    SLACK_S = 0.002
    SMOOTHING = 0.2
    MAX_INTERVAL_S = 1.0

    def __init__(self, max_hold_s: float = 0.012) -> None:
        self.max_hold_s = max_hold_s
        self._last: float | None = None
        self._interval: float | None = None

    def arrived(self, now: float) -> None:
        """A frame arrived at ``now`` (seconds, monotonic)."""
        if self._last is not None and 0 < now - self._last <= self.MAX_INTERVAL_S:
            gap = now - self._last
            self._interval = gap if self._interval is None else (
                self._interval + self.SMOOTHING * (gap - self._interval))
        self._last = now

    def hold(self, now: float) -> float:
        """Seconds to wait for the next frame before processing the waiting one (0: don't)."""
        if self._last is None or self._interval is None:
            return 0.0
        due = self._last + self._interval - now
        return due + self.SLACK_S if 0 < due <= self.max_hold_s else 0.0


@dataclass
class TokenBucket:
    """At most ``rate`` events per second on average, with bursts up to ``burst``."""

    rate: float
    burst: float
    _tokens: float = -1.0
    _last: float = 0.0

    def allow(self, now: float) -> bool:
        """Spend one token if there is one; ``now`` in seconds of a monotonic clock."""
        if self._tokens < 0:
            self._tokens, self._last = self.burst, now
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Verdict(StrEnum):
    """Why a frame was or was not admitted."""

    ADMIT = "admit"
    OUT_OF_ORDER = "out_of_order"
    RATE_LIMITED = "rate_limited"


class FrameGate:
    """Admits frames in increasing sequence order and under the rate limit; counts the rest.

    Parameters
    ----------
    max_rate : float
        Frames per second allowed on average; a burst of half a second is tolerated.
    """

    def __init__(self, max_rate: float) -> None:
        self.counts = FrameCounts()
        self._bucket = TokenBucket(rate=max_rate, burst=max(2.0, max_rate / 2))
        self._last_seq = -1

    def admit(self, seq: int, now: float) -> Verdict:
        """Count the frame ``seq`` arriving at ``now`` (seconds) and return a :class:`Verdict`."""
        self.counts.received += 1
        if seq <= self._last_seq:
            self.counts.dropped += 1
            return Verdict.OUT_OF_ORDER
        if not self._bucket.allow(now):
            self.counts.dropped += 1
            return Verdict.RATE_LIMITED
        self._last_seq = seq
        return Verdict.ADMIT

    def superseded(self) -> None:
        """An admitted frame was replaced by a newer one before it was processed."""
        self.counts.dropped += 1

    def shed(self) -> None:
        """An admitted frame was skipped because the server was behind."""
        self.counts.dropped += 1

    def malformed(self) -> None:
        """A message could not be read as a frame at all."""
        self.counts.received += 1
        self.counts.rejected += 1

    def failed(self) -> None:
        """An admitted frame turned out unreadable (e.g. not a JPEG)."""
        self.counts.rejected += 1

    def processed(self) -> None:
        self.counts.processed += 1


class LoopLag:
    """How late the event loop runs: a heartbeat's lateness, quick to rise, slow to fall.

    Every session is answered from one event loop. When more work arrives than it can do,
    everything waits its turn and every learner's feedback comes late; this measure slows
    landmark sessions down (:meth:`shed_interval`, the longest pace asked) until the loop
    catches up.
    """

    PERIOD_S = 0.05
    BUSY_S = 0.02
    """Lateness from which the loop counts as busy, unless told otherwise."""
    DECAY = 0.2
    MIN_INTERVAL_S = 1 / 15
    MAX_INTERVAL_S = 0.5

    def __init__(self, busy_s: float = BUSY_S) -> None:
        self.busy_s = busy_s
        self.lag_s = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the heartbeat on the running loop, unless it runs already."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._beat())

    def note(self, late_s: float) -> None:
        """One heartbeat came ``late_s`` seconds after it was due."""
        self.lag_s = max(late_s, self.lag_s + self.DECAY * (late_s - self.lag_s))

    def shed_interval(self) -> float:
        """0 while the loop keeps up; else the seconds a landmark session waits between
        answered frames: twice the lag, between :attr:`MIN_INTERVAL_S` and
        :attr:`MAX_INTERVAL_S`."""
        if self.lag_s < self.busy_s:
            return 0.0
        return min(self.MAX_INTERVAL_S, max(self.MIN_INTERVAL_S, 2 * self.lag_s))

    async def _beat(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.PERIOD_S
            await asyncio.sleep(self.PERIOD_S)
            self.note(loop.time() - due)


class FrameBudget:
    """How far apart each landmarks session should send its frames, so one server answers a
    whole class promptly.

    Every landmarks frame costs the event loop's thread some CPU time: receiving it, scoring
    it, answering it. :meth:`interval_s` measures that cost (the loop thread's CPU time per
    frame over the last :attr:`WINDOW_S`) and spreads the loop's time over the sessions open:
    with ``n`` of them, frames ``n x cost / BUSY_SHARE`` apart keep the loop busy at most
    :attr:`BUSY_SHARE` of the time, so no frame waits behind a queue of others. A class of
    twenty gets every camera frame scored; 200 learners on one process share it. The tutor says
    the interval in every update (``timing.pace_ms``); the page still finds and draws the
    pose on every camera frame and sends only as often as asked.

    Only the loop's own thread is timed (``time.thread_time``): the pose model of image
    sessions runs in other threads and on other cores.
    """

    BUSY_SHARE = 0.7
    WINDOW_S = 1.0
    MIN_FRAMES = 30
    """Frames a window needs before its cost counts: over a few frames, the loop's other work
    (a session opening, a page served) would pass for the frames' cost."""
    MAX_INTERVAL_S = 0.5
    """The longest interval asked: two frames a second still follow a step."""
    CAMERA_INTERVAL_S = 1 / 30
    """Intervals shorter than a camera's frames are not asked for (0: send every frame)."""

    def __init__(self) -> None:
        self.cost_s = 0.0
        self._frames = 0
        self._since = time.monotonic()
        self._cpu = time.thread_time()

    def frame(self) -> None:
        """A landmarks frame arrived (call from the event loop's thread)."""
        self._frames += 1

    def interval_s(self, sessions: int) -> float:
        """The seconds each of ``sessions`` landmarks sessions should leave between frames, 0
        while every camera frame can be answered (call from the event loop's thread)."""
        now = time.monotonic()
        if now - self._since >= self.WINDOW_S:
            cpu = time.thread_time()
            if self._frames >= self.MIN_FRAMES:
                cost = (cpu - self._cpu) / self._frames
                self.cost_s = cost if self.cost_s == 0.0 else 0.5 * (self.cost_s + cost)
            self._frames = 0
            self._since = now
            self._cpu = cpu
        interval = sessions * self.cost_s / self.BUSY_SHARE
        return 0.0 if interval < self.CAMERA_INTERVAL_S else min(self.MAX_INTERVAL_S, interval)
