"""The worker through the whole path: signed POST → queue → worker → hooks → ack."""

from __future__ import annotations

import asyncio
import collections
from pathlib import Path
from typing import Any

import pytest

from wahost import Context, hookimpl
from wahost.testing import TEST_PHONE_NUMBER_ID, BotHarness, make_text, make_webhook


def text_webhook(*messages: tuple[str, str, str]) -> dict[str, Any]:
    """A ``messages`` webhook with one text message per ``(user, wamid, body)``."""
    return make_webhook(
        *(make_text(body, sender=user, wamid=wamid, name=user) for user, wamid, body in messages)
    )


class Recorder:
    __name__ = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @hookimpl
    async def on_message(self, message: Any) -> bool:
        self.calls.append((message.sender, message.id))
        return True


async def test_a_batch_of_three_messages_from_two_users_gives_three_calls(
    tmp_path: Path,
) -> None:
    recorder = Recorder()
    async with BotHarness(tmp_path, plugins=[recorder]) as bot:
        body = text_webhook(
            ("111", "wamid.a1", "hi"), ("222", "wamid.b1", "yo"), ("111", "wamid.a2", "again")
        )
        assert (await bot.post(body)).status_code == 200
        await bot.idle()
    assert sorted(recorder.calls) == [("111", "wamid.a1"), ("111", "wamid.a2"), ("222", "wamid.b1")]
    assert [c for c in recorder.calls if c[0] == "111"] == [
        ("111", "wamid.a1"),
        ("111", "wamid.a2"),
    ]


async def test_the_fixture_batch_is_handled_whole(tmp_path: Path) -> None:
    seen: collections.Counter[str] = collections.Counter()

    class All:
        __name__ = "all"

        @hookimpl
        async def on_message(self, message: Any) -> bool:
            seen["message"] += 1
            return True

        @hookimpl
        async def on_status(self, status: Any) -> None:
            seen["status"] += 1

    async with BotHarness(tmp_path, plugins=[All()]) as bot:
        assert (await bot.post_fixture("batch_multi_entry.json")).status_code == 200
        await bot.idle()
    assert seen == {"message": 4, "status": 2}


async def test_the_same_webhook_posted_twice_is_handled_once(tmp_path: Path) -> None:
    recorder = Recorder()
    async with BotHarness(tmp_path, plugins=[recorder]) as bot:
        body = text_webhook(("111", "wamid.dup", "hello"))
        assert (await bot.post(body)).status_code == 200
        await bot.idle()
        assert (await bot.post(body)).status_code == 200  # Meta's retry: accepted, not stored
        await bot.idle()
    assert recorder.calls == [("111", "wamid.dup")]


async def test_one_user_in_order_one_at_a_time_while_others_proceed(tmp_path: Path) -> None:
    """20 messages from one user: handled one at a time and in arrival order; another user's
    messages are handled meanwhile, while the first user's handler is blocked."""
    gate = asyncio.Event()
    active: collections.Counter[str] = collections.Counter()
    most_active: collections.Counter[str] = collections.Counter()
    order: dict[str, list[str]] = collections.defaultdict(list)

    class Slow:
        __name__ = "slow"

        @hookimpl
        async def on_message(self, message: Any) -> bool:
            user = message.sender
            active[user] += 1
            most_active[user] = max(most_active[user], active[user])
            if user == "111":
                await gate.wait()
            await asyncio.sleep(0.002)
            order[user].append(message.text.body)
            active[user] -= 1
            return True

    async with BotHarness(tmp_path, plugins=[Slow()]) as bot:
        # Concurrent posts: several users at once, many messages of user 111.
        posts = [bot.post(text_webhook(("111", f"wamid.c{i}", f"c{i}"))) for i in range(20)]
        posts += [bot.post(text_webhook(("222", f"wamid.d{i}", f"d{i}"))) for i in range(10)]
        responses = await asyncio.gather(*posts)
        assert {r.status_code for r in responses} == {200}
        # User 111 is blocked at its first message; user 222 is handled meanwhile.
        for _ in range(500):
            if len(order["222"]) == 10:
                break
            await asyncio.sleep(0.01)
        assert len(order["222"]) == 10
        assert order["111"] == []
        # Sequential posts of user 111 queue behind; their arrival order is known.
        for i in range(20):
            assert (
                await bot.post(text_webhook(("111", f"wamid.s{i}", f"s{i}")))
            ).status_code == 200
        gate.set()
        await bot.idle()
    assert most_active["111"] == 1 and most_active["222"] == 1
    assert len(order["111"]) == 40
    assert order["111"][20:] == [f"s{i}" for i in range(20)]


async def test_a_handler_that_raises_twice_then_succeeds_is_retried(tmp_path: Path) -> None:
    attempts: list[int] = []

    class Flaky:
        __name__ = "flaky"

        @hookimpl
        async def on_message(self, ctx: Context) -> bool:
            attempts.append(ctx.attempt)
            if len(attempts) < 3:
                raise ConnectionError("graph down")
            return True

    async with BotHarness(tmp_path, plugins=[Flaky()]) as bot:
        await bot.post(text_webhook(("111", "wamid.flaky", "x")))
        await bot.idle()
        stats = await bot.host.queue.stats()
    assert attempts == [1, 2, 3]
    assert stats.dead == 0 and stats.ready == 0


async def test_a_retry_keeps_the_conversation_in_order(tmp_path: Path) -> None:
    handled: list[str] = []
    failed_once: set[str] = set()

    class FailFirst:
        __name__ = "failfirst"

        @hookimpl
        async def on_message(self, message: Any) -> bool:
            if message.id == "wamid.o1" and message.id not in failed_once:
                failed_once.add(message.id)
                raise RuntimeError("first attempt fails")
            handled.append(message.id)
            return True

    async with BotHarness(tmp_path, plugins=[FailFirst()]) as bot:
        await bot.post(text_webhook(("111", "wamid.o1", "1"), ("111", "wamid.o2", "2")))
        await bot.post(text_webhook(("111", "wamid.o3", "3")))
        await bot.idle()
    assert handled == ["wamid.o1", "wamid.o2", "wamid.o3"]


async def test_a_handler_that_always_raises_ends_dead_and_is_replayable(tmp_path: Path) -> None:
    fixed = False
    handled: list[str] = []

    class Broken:
        __name__ = "broken"

        @hookimpl
        async def on_message(self, message: Any) -> bool:
            if not fixed:
                raise ValueError("bug in the handler")
            handled.append(message.id)
            return True

    config = {"worker": {"max_attempts": 3}}
    async with BotHarness(tmp_path, plugins=[Broken()], config=config) as bot:
        await bot.post(text_webhook(("111", "wamid.dead", "x")))
        await bot.post(text_webhook(("111", "wamid.after", "y")))
        await bot.idle()
        dead = await bot.host.queue.list_dead()
        assert [d.unit.key for d in dead] == ["msg:wamid.dead", "msg:wamid.after"]
        assert dead[0].attempts == 3
        assert "ValueError: bug in the handler" in dead[0].error
        assert "broken" in dead[0].error  # the plugin's name
        fixed = True
        assert await bot.host.queue.replay("msg:wamid.dead")
        assert await bot.host.queue.replay_all() == 1
        bot.host.wakeup.set()
        await bot.idle()
        assert await bot.host.queue.list_dead() == []
    assert handled == ["wamid.dead", "wamid.after"]


async def test_state_changes_apply_once_and_not_when_the_unit_fails(tmp_path: Path) -> None:
    failures = {"wamid.n2": 2}

    class Counter:
        __name__ = "counter"

        @hookimpl
        async def on_message(self, message: Any, ctx: Context) -> bool:
            ctx.state.update(count=ctx.state.get("count", 0) + 1)
            ctx.state.set("counting", None)
            if failures.get(message.id, 0) > 0:
                failures[message.id] -= 1
                raise RuntimeError("fails after writing state")
            return True

    async with BotHarness(tmp_path, plugins=[Counter()]) as bot:
        for i in range(5):
            await bot.post(text_webhook(("111", f"wamid.n{i}", "x")))
        await bot.idle()
        state = await bot.host.state.get(f"{TEST_PHONE_NUMBER_ID}:111")
    assert state is not None
    assert state.data == {"count": 5}
    assert state.name == "counting"


async def test_statuses_events_errors_and_unhandled_reach_their_hooks(tmp_path: Path) -> None:
    seen: list[str] = []

    class Observer:
        __name__ = "observer"

        @hookimpl
        async def on_status(self, status: Any) -> None:
            seen.append(f"status:{status.status.value}")

        @hookimpl
        async def on_event(self, event: Any) -> None:
            seen.append(f"event:{event.field}")

        @hookimpl
        async def on_webhook_error(self, error: Any) -> None:
            seen.append(f"error:{error.code}")

        @hookimpl
        async def on_unhandled(self, message: Any) -> bool:
            seen.append(f"unhandled:{message.type}")
            return True

    async with BotHarness(tmp_path, plugins=[Observer()]) as bot:
        for name in (
            "status_read.json",
            "template_status_update.json",
            "webhook_value_errors.json",
            "inbound_location.json",
        ):
            assert (await bot.post_fixture(name)).status_code == 200
        await bot.idle()
    assert sorted(seen) == sorted(
        [
            "status:read",
            "event:message_template_status_update",
            "error:130429",
            "unhandled:location",
        ]
    )


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
async def test_both_builtin_backends_run_the_pipeline(tmp_path: Path, backend: str) -> None:
    recorder = Recorder()
    config = {"queue": {"backend": backend}, "state": {"backend": backend}}
    async with BotHarness(tmp_path, plugins=[recorder], config=config) as bot:
        await bot.post(text_webhook(("111", "wamid.m1", "x"), ("222", "wamid.m2", "y")))
        await bot.idle()
    assert sorted(recorder.calls) == [("111", "wamid.m1"), ("222", "wamid.m2")]


async def test_builtin_backends_on_one_store_commit_state_with_the_ack(tmp_path: Path) -> None:
    for backend in ("memory", "sqlite"):
        config = {"queue": {"backend": backend}, "state": {"backend": backend}}
        async with BotHarness(tmp_path / backend, plugins=[], config=config) as bot:
            assert bot.host.queue.shares_transaction_with(bot.host.state), backend


async def test_a_handler_slower_than_its_lease_keeps_it_and_runs_once(tmp_path: Path) -> None:
    """The heartbeat extends the lease of a unit handled for longer than the lease: the unit is
    not handed out again meanwhile (which would run the handler a second time) and its ack is
    accepted."""
    calls: collections.Counter[str] = collections.Counter()

    class Slow:
        __name__ = "slow"

        @hookimpl
        async def on_message(self, message: Any) -> bool:
            calls[message.id] += 1
            await asyncio.sleep(2.0)  # four lease lengths
            return True

    config = {"worker": {"lease_seconds": 0.5, "poll_interval": 0.05}}
    async with BotHarness(tmp_path, plugins=[Slow()], config=config) as bot:
        assert (await bot.post(text_webhook(("111", "wamid.slow", "hi")))).status_code == 200
        await bot.idle(timeout=10)
        stats = await bot.host.queue.stats()
    assert (stats.done, stats.ready, stats.leased, stats.waiting_retry) == (1, 0, 0, 0)
    assert calls == {"wamid.slow": 1}


async def test_an_idle_worker_waits_on_a_queue_that_wakes_its_workers(tmp_path: Path) -> None:
    """On such a queue an idle worker waits in ``wait_for_work`` instead of polling every
    ``poll_interval`` (0.02 s in the harness); on the others it polls."""
    recorder = Recorder()
    async with BotHarness(tmp_path, plugins=[recorder]) as bot:
        queue = bot.host.queue
        leases: list[int] = []
        waits: list[float] = []
        lease = queue.lease

        async def counted(limit: int, *, lease_seconds: float) -> Any:
            leases.append(limit)
            return await lease(limit, lease_seconds=lease_seconds)

        async def wait_for_work(timeout: float) -> None:
            waits.append(timeout)
            await asyncio.sleep(timeout)

        queue.lease = counted  # type: ignore[method-assign]
        await asyncio.sleep(0.3)
        assert len(leases) >= 5  # polling
        queue.wakes_workers = True
        queue.wait_for_work = wait_for_work  # type: ignore[method-assign]
        await asyncio.sleep(0.2)
        leases.clear()
        await asyncio.sleep(0.5)
        assert len(leases) <= 1 and waits and waits[-1] >= 5.0, (leases, waits)
        # The worker's own wake-up (here the ingress's) still starts it at once.
        assert (await bot.post(text_webhook(("111", "wamid.w1", "hi")))).status_code == 200
        await bot.idle()
    assert recorder.calls == [("111", "wamid.w1")]
