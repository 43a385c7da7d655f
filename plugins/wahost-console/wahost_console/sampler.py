"""The queue's rate: ``stats().done`` sampled every few seconds into a bounded window."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from wahost.queue.base import QueueBackend

log = structlog.get_logger("wahost.console")

#: Seconds the rate is averaged over.
WINDOW = 60.0


class RateSampler:
    """Samples a queue's count of finished units; :meth:`rate` is units per second."""

    def __init__(self, queue: QueueBackend, *, interval: float = 2.0, keep: float = 600.0) -> None:
        self.queue = queue
        self.interval = interval
        self.samples: deque[tuple[float, int]] = deque(maxlen=max(2, int(keep / interval) + 1))
        self._task: asyncio.Task[None] | None = None

    def add(self, at: float, done: int) -> None:
        self.samples.append((at, done))

    async def sample(self) -> None:
        stats = await self.queue.stats()
        self.add(time.monotonic(), stats.done)

    def rate(self, window: float = WINDOW) -> float | None:
        """Units finished per second over the last ``window`` seconds (``None``: too early)."""
        if len(self.samples) < 2:
            return None
        last_at, last = self.samples[-1]
        first_at, first = next(
            ((at, done) for at, done in self.samples if at >= last_at - window - 1e-9),
            self.samples[0],
        )
        if last_at <= first_at:
            return None
        # done may shrink when old units are pruned: never a negative rate.
        return max(0, last - first) / (last_at - first_at)

    def series(self) -> list[float]:
        """The rate between each two consecutive samples, oldest first (the sparkline)."""
        return [
            max(0, b - a) / (tb - ta)
            for (ta, a), (tb, b) in itertools.pairwise(self.samples)
            if tb > ta
        ]

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="wahost-console-sampler")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception as exc:  # a busy or closed store: try again at the next tick
                log.debug("queue sample failed", error=str(exc))
            await asyncio.sleep(self.interval)


def sparkline(values: list[float], *, width: int = 300, height: int = 48) -> str:
    """The ``points`` of an SVG polyline drawing ``values`` (empty when fewer than two)."""
    if len(values) < 2:
        return ""
    top = max(values) or 1.0
    step = width / (len(values) - 1)
    return " ".join(
        f"{index * step:.1f},{height - (value / top) * (height - 2) - 1:.1f}"
        for index, value in enumerate(values)
    )
