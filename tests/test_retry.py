"""The one capped backoff and retry loop (wahost.retry) that the worker's ack, the worker's
record of a failure, the outbox's record of a send and the Graph client's retries share."""

from __future__ import annotations

import itertools
import random

import pytest

from wahost.retry import backoff_delay, capped_delay, capped_delays, retry_transient


class Refused(Exception):
    """A transient error in these tests."""


def test_capped_delay_doubles_from_base_up_to_cap() -> None:
    assert [capped_delay(n, 0.5, 3.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_capped_delays_double_then_stay_at_cap() -> None:
    assert list(itertools.islice(capped_delays(0.05, 0.3), 6)) == [0.05, 0.1, 0.2, 0.3, 0.3, 0.3]


def test_capped_delays_never_start_above_cap() -> None:
    assert next(capped_delays(2.0, 1.0)) == 1.0


def test_backoff_delay_is_full_jitter_below_the_capped_delay() -> None:
    random.seed(7)
    draws = [backoff_delay(4, 1.0, 5.0) for _ in range(500)]
    assert all(0 <= draw <= 5.0 for draw in draws)
    assert min(draws) < 1.0 < 4.0 < max(draws)  # spread over the whole range, not fixed
    assert all(0 <= backoff_delay(2, 1.0, 5.0) <= 2.0 for _ in range(200))


async def _retried(
    failing: int, *, first_error: Refused | None = None
) -> tuple[int, list[int], list[float], list[tuple[str, int, float]]]:
    """``retry_transient`` (base 0.1 s, cap 0.5 s, never giving up) of an attempt whose first
    ``failing`` calls raise "no <try>", tries counted from the caller's ``first_error`` if
    given: what it returned, the attempt's calls, the delays slept and the retries seen."""
    calls: list[int] = []
    slept: list[float] = []
    retried: list[tuple[str, int, float]] = []
    made = 1 if first_error is not None else 0

    async def attempt() -> None:
        calls.append(len(calls))
        if len(calls) <= failing:
            raise Refused(f"no {len(calls) + made}")

    async def sleep(delay: float) -> None:
        slept.append(delay)

    tries = await retry_transient(
        attempt,
        errors=(Refused,),
        base=0.1,
        cap=0.5,
        give_up=lambda _exc, _tries, _delay: False,
        on_retry=lambda exc, n, delay: retried.append((str(exc), n, delay)),
        sleep=sleep,
        first_error=first_error,
    )
    return tries, calls, slept, retried


async def test_retry_transient_retries_with_capped_delays_until_the_attempt_succeeds() -> None:
    tries, _, slept, retried = await _retried(4)
    assert tries == 5
    assert slept == [0.1, 0.2, 0.4, 0.5]
    assert retried == [("no 1", 1, 0.1), ("no 2", 2, 0.2), ("no 3", 3, 0.4), ("no 4", 4, 0.5)]


async def test_retry_transient_reraises_the_error_when_the_caller_gives_up() -> None:
    slept: list[float] = []
    asked: list[tuple[int, float]] = []

    async def attempt() -> None:
        raise Refused("down")

    async def sleep(delay: float) -> None:
        slept.append(delay)

    def give_up(_exc: BaseException, tries: int, delay: float) -> bool:
        asked.append((tries, delay))
        return tries == 3

    with pytest.raises(Refused, match="down"):
        await retry_transient(
            attempt,
            errors=(Refused,),
            base=1.0,
            cap=10.0,
            give_up=give_up,
            on_retry=lambda *_: None,
            sleep=sleep,
        )
    assert asked == [(1, 1.0), (2, 2.0), (3, 4.0)]
    assert slept == [1.0, 2.0]  # no wait after giving up


async def test_retry_transient_lets_other_errors_through_at_once() -> None:
    calls = 0

    async def attempt() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("not transient")

    with pytest.raises(KeyError):
        await retry_transient(
            attempt,
            errors=(Refused,),
            base=0.0,
            cap=0.0,
            give_up=lambda *_: False,
            on_retry=lambda *_: None,
        )
    assert calls == 1


async def test_retry_transient_returns_one_try_when_the_first_succeeds() -> None:
    async def attempt() -> None:
        return None

    def never(*_: object) -> bool:
        raise AssertionError("no retry expected")

    assert (
        await retry_transient(
            attempt, errors=(Refused,), base=1.0, cap=1.0, give_up=never, on_retry=never
        )
        == 1
    )


async def test_retry_transient_goes_on_from_a_first_try_the_caller_made() -> None:
    """``first_error``: the caller's own first try failed (the worker's ack, tried without the
    loop): the loop counts it as try 1, waits, and tries again from the second."""
    tries, calls, slept, retried = await _retried(1, first_error=Refused("no 1"))
    assert tries == 3
    assert len(calls) == 2  # the first try was the caller's
    assert slept == [0.1, 0.2]
    assert retried == [("no 1", 1, 0.1), ("no 2", 2, 0.2)]


async def test_retry_transient_gives_up_on_the_callers_first_error_without_a_try() -> None:
    async def attempt() -> None:
        raise AssertionError("no try expected")

    first = Refused("first")
    with pytest.raises(Refused) as raised:
        await retry_transient(
            attempt,
            errors=(Refused,),
            base=1.0,
            cap=1.0,
            give_up=lambda *_: True,
            on_retry=lambda *_: None,
            first_error=first,
        )
    assert raised.value is first
