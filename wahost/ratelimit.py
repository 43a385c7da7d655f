"""Pacing outbound requests so that a bot that bursts does not hit Meta's limits.

* :class:`RollingLimiter` — at most ``rate`` sends in any rolling window per phone number
  (Meta's throughput: 80 messages/s by default; over it, 130429 — reference/cloudapi.md §7).
* :class:`RecipientSpacing` — a minimum interval between two sends to the same user (Meta's
  pair rate limit, about one message every 6 s; over it, 131056), and a per-user pause after a
  131056 that does not hold up other users.
* :class:`CircuitBreaker` — stop hammering Meta after repeated server errors.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time


class RollingLimiter:
    """At most ``rate`` requests *arriving* in any window of ``period`` seconds, plus pauses.

    Meta counts requests when they arrive, and they arrive some unknown time after they leave.
    So a request holds its slot from the moment it is granted until ``period`` seconds after
    its answer came back (:meth:`release`). Every request arriving within one window then holds
    its slot at that window's end at once, so there are never more than ``rate`` of them,
    whatever the latency. The cost: sustained throughput is ``rate / (period + latency)``.
    """

    def __init__(self, rate: float, period: float = 1.0) -> None:
        self.rate = max(1, int(rate))
        self.period = period
        self._expiries: collections.deque[float] = collections.deque()
        self._in_flight = 0
        self._paused_until = 0.0
        self._released: asyncio.Event | None = None

    def pause(self, seconds: float) -> None:
        """Hold every request for ``seconds`` (after a 130429)."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire(self) -> float:
        """Wait for a slot; pair with :meth:`release` once the answer arrived (or failed).
        Returns the seconds waited (0.0 when a slot was free)."""
        began = 0.0
        while True:
            now = time.monotonic()
            began = began or now
            if self._paused_until > now:
                await asyncio.sleep(self._paused_until - now)
                continue
            expiries = self._expiries
            while expiries and expiries[0] <= now:
                expiries.popleft()
            if self._in_flight + len(expiries) < self.rate:
                self._in_flight += 1
                return now - began
            if expiries:
                await asyncio.sleep(expiries[0] - now)
            else:  # every slot is a request in flight: wait for one to come back
                if self._released is None:
                    self._released = asyncio.Event()
                self._released.clear()
                await self._released.wait()

    def cancel(self) -> None:
        """The granted slot was not used (nothing was sent): free it at once."""
        self._in_flight -= 1
        if self._released is not None:
            self._released.set()

    def release(self) -> None:
        """The granted request is answered: its slot frees ``period`` seconds from now."""
        self._in_flight -= 1
        self._expiries.append(time.monotonic() + self.period)
        if self._released is not None:
            self._released.set()


class RecipientSpacing:
    """A minimum interval between sends to one recipient, and per-recipient pauses.

    Like :class:`RollingLimiter`, it bounds *arrivals*: the next send to a user may leave
    ``interval`` seconds after the previous one was *answered* (which is after it arrived),
    and not while it is still in flight. With ``interval = 0`` only pauses apply.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next: dict[str, float] = {}
        self._busy: dict[str, asyncio.Event] = {}

    def pause(self, recipient: str, seconds: float) -> None:
        """Hold sends to ``recipient`` for ``seconds`` (after a 131056)."""
        until = time.monotonic() + seconds
        self._next[recipient] = max(self._next.get(recipient, 0.0), until)

    async def wait(self, recipient: str) -> float:
        """Wait until a send to ``recipient`` is allowed (does not claim it: see
        :meth:`claim`, called when the request actually leaves). Returns the seconds waited
        (0.0 when it was allowed at once)."""
        began = time.monotonic()
        waited = False
        while True:
            busy = self._busy.get(recipient)
            if busy is not None:
                waited = True
                await busy.wait()
                continue
            now = time.monotonic()
            delay = self._next.get(recipient, 0.0) - now
            if delay <= 0:
                return now - began if waited else 0.0
            waited = True
            await asyncio.sleep(delay)

    def ready(self, recipient: str) -> bool:
        """Whether a send to ``recipient`` may leave now."""
        return recipient not in self._busy and self._next.get(recipient, 0.0) <= time.monotonic()

    def claim(self, recipient: str) -> None:
        """A send to ``recipient`` leaves now; pair with :meth:`release` when it is answered."""
        if self.interval > 0:
            self._busy[recipient] = asyncio.Event()

    def release(self, recipient: str) -> None:
        """The send to ``recipient`` was answered (or failed): the next may leave ``interval``
        seconds from now (or after a pause set meanwhile, whichever is later)."""
        busy = self._busy.pop(recipient, None)
        if busy is None:
            return
        until = time.monotonic() + self.interval
        self._next[recipient] = max(self._next.get(recipient, 0.0), until)
        busy.set()
        if len(self._next) > 10_000:
            self._forget(time.monotonic())

    def _forget(self, now: float) -> None:
        for recipient in [r for r, at in self._next.items() if at <= now]:
            del self._next[recipient]


class CircuitBreaker:
    """Opens after ``failures`` consecutive server errors; after ``reset`` seconds lets one
    request through (half-open): its success closes the circuit, its failure reopens it.

    :meth:`wait_ready` lets a sender wait for the circuit instead of failing: sends made while
    handling a unit wait there, so an outage pauses them instead of using up their unit's
    attempts.
    """

    def __init__(self, failures: int, reset: float) -> None:
        self.failures = failures
        self.reset = reset
        self._count = 0
        self._opened_at: float | None = None
        self._trial = False
        #: Set whenever the circuit closes or a trial fails (waiters then look again).
        self._settled: asyncio.Event | None = None

    @property
    def is_open(self) -> bool:
        """True while sends are refused (``/healthz/graph`` reports it)."""
        if self._opened_at is None:
            return False
        return time.monotonic() - self._opened_at < self.reset or self._trial

    @property
    def tripped(self) -> bool:
        """True from the moment the circuit opens until a request succeeds again (open or
        half-open, whether or not its reset time has passed)."""
        return self._opened_at is not None

    @property
    def trial_under_way(self) -> bool:
        """Whether a request is trying the Graph API while the circuit is half-open."""
        return self._trial

    @property
    def retry_in(self) -> float:
        """Seconds until a request may try the Graph API again (0 when it may now)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.reset - time.monotonic())

    def allow(self) -> bool:
        """Whether a request may go out now."""
        if self._opened_at is None:
            return True
        if time.monotonic() - self._opened_at < self.reset or self._trial:
            return False
        self._trial = True  # half-open: this one request decides
        return True

    async def wait_ready(self) -> None:
        """Return once a request may go out: the circuit is closed, or half-open with no trial
        under way (the caller's request may be the trial). While a trial is under way, wait for
        its outcome rather than the next reset."""
        while self._opened_at is not None:
            remaining = self._opened_at + self.reset - time.monotonic()
            if self._trial or remaining > 0:
                settled = self._settled
                if settled is None:
                    settled = self._settled = asyncio.Event()
                timeout = None if self._trial else remaining
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(settled.wait(), timeout)
                continue
            return

    def success(self) -> None:
        was_open = self._opened_at is not None
        self._count = 0
        self._opened_at = None
        self._trial = False
        if was_open:
            self._wake()

    def failure(self) -> None:
        self._count += 1
        if self._trial or self._count >= self.failures:
            trial = self._trial
            self._opened_at = time.monotonic()
            self._trial = False
            if trial:
                self._wake()

    def abandon(self) -> None:
        """A request that :meth:`allow` let through was not made or not finished (cancelled):
        if it was the trial, let the next request be it."""
        if self._trial:
            self._trial = False
            self._wake()

    def _wake(self) -> None:
        if self._settled is not None:
            self._settled.set()
            self._settled = None
