"""Capped exponential backoff, and the loop that retries a write a store refused for a moment.

One formula serves every wait that grows: the ``attempt``-th wait is ``base * 2**(attempt-1)``,
never more than ``cap`` (:func:`capped_delay`); a retry that many processes may make at once
draws its wait uniformly below that (full jitter, :func:`backoff_delay`) so that they spread out.

:func:`retry_transient` is the loop of the worker's ack, the worker's record of a failure and
the outbox's record of a send: try, and on one of the transient errors wait the next capped
delay and try again, until the caller's ``give_up`` says the time is up.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator

__all__ = ["backoff_delay", "capped_delay", "capped_delays", "retry_transient"]


def capped_delay(attempt: int, base: float, cap: float) -> float:
    """The ``attempt``-th wait (from 1): ``min(cap, base * 2**(attempt-1))``."""
    return min(cap, base * 2.0 ** (attempt - 1))


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Full-jitter exponential backoff: uniform in ``[0, capped_delay(attempt, base, cap)]``."""
    return random.uniform(0, capped_delay(attempt, base, cap))


def capped_delays(base: float, cap: float) -> Iterator[float]:
    """``base``, ``2 * base``, ``4 * base``, ... up to ``cap``, then ``cap`` for ever."""
    delay = min(base, cap)
    while True:
        yield delay
        delay = min(cap, delay * 2)


async def retry_transient(
    attempt: Callable[[], Awaitable[object]],
    *,
    errors: tuple[type[BaseException], ...],
    base: float,
    cap: float,
    give_up: Callable[[BaseException, int, float], bool],
    on_retry: Callable[[BaseException, int, float], None],
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    first_error: BaseException | None = None,
) -> int:
    """Await ``attempt()`` until it returns, waiting :func:`capped_delays` between tries.

    When it raises one of ``errors``, ``give_up(error, tries, delay)`` decides whether to re-raise
    the error rather than wait ``delay`` seconds; otherwise ``on_retry(error, tries, delay)``
    is called (to log it) and ``sleep(delay)`` awaited. Any other exception propagates at
    once. Returns how many tries it took. ``first_error``: the first try was already made,
    by the caller, and raised this (one of ``errors``); the loop goes on from there.
    """
    # The delays of capped_delays, counted here rather than drawn from it.
    tries, delay = 1, min(base, cap)
    error = first_error
    while True:
        if error is None:
            try:
                await attempt()
            except errors as exc:
                error = exc
            else:
                return tries
        if give_up(error, tries, delay):
            raise error
        on_retry(error, tries, delay)
        await sleep(delay)
        tries, delay, error = tries + 1, min(cap, delay * 2), None
