"""Slow handlers reach the send cap with the defaults: ``[worker] concurrency`` unset follows
``[graph] messages_per_second``, so a bot whose handlers wait on an upstream keeps more than 64
of them in flight, each conversation still one at a time and in order.
(``python -m bench.slow_handlers`` measures the rate; this checks the behaviour.)"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from wahost import Context, Router
from wahost.models.messages import TextMessage
from wahost.testing import BotHarness, FakeGraph
from wahost.testing.payloads import make_text, make_webhook
from wahost.worker import MAX_CONCURRENCY, MIN_CONCURRENCY, Worker, default_concurrency

USERS = [f"1650558{n:04d}" for n in range(150)]


class Upstream:
    """A slow upstream that every handler awaits until the test lets them all go."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.handled: list[tuple[str, str]] = []
        self.go = asyncio.Event()

    def router(self) -> Router:
        router = Router(name="slow")

        @router.message()
        async def slow(message: TextMessage, ctx: Context) -> None:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            try:
                await self.go.wait()
            finally:
                self.in_flight -= 1
            text = message.text.body
            self.handled.append((message.sender, text))
            await ctx.reply(f"answer to {text}")

        return router


async def wait_until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_the_default_keeps_more_than_64_slow_handlers_in_flight(tmp_path: Path) -> None:
    upstream = Upstream()
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, bots=[upstream.router()], graph=graph) as bot,
    ):
        for seq in range(2):  # each user writes twice: the second waits for the first
            for first in range(0, len(USERS), 50):
                texts = [
                    make_text(f"{seq}", sender=user, wamid=f"wamid.slow.{user}.{seq}")
                    for user in USERS[first : first + 50]
                ]
                assert (await bot.post(make_webhook(*texts))).status_code == 200
        # Every user's first message is in a handler at once, none of their second ones.
        await wait_until(
            lambda: upstream.in_flight == len(USERS), 20, f"{len(USERS)} handlers in flight"
        )
        assert upstream.peak == len(USERS) > MIN_CONCURRENCY
        upstream.go.set()
        await wait_until(lambda: len(graph.sent) == 2 * len(USERS), 30, "every reply")
        await bot.idle()
    for user in USERS:
        assert [text for sender, text in upstream.handled if sender == user] == ["0", "1"]
        replies = [sent.text for sent in graph.messages_to(user)]
        assert replies == ["answer to 0", "answer to 1"]


async def test_the_concurrency_follows_the_cap_unless_set(tmp_path: Path) -> None:
    assert default_concurrency(80) == 160
    assert default_concurrency(1000) == 2000
    assert default_concurrency(20) == MIN_CONCURRENCY
    assert default_concurrency(100_000) == MAX_CONCURRENCY  # a lifted cap leases no backlog whole
    upgraded = BotHarness(tmp_path, config={"graph": {"messages_per_second": 1000}})
    assert upgraded.worker is not None and upgraded.worker.concurrency == 2000
    fixed = BotHarness(tmp_path, config={"worker": {"concurrency": 8}})
    assert fixed.worker is not None and fixed.worker.concurrency == 8
    assert Worker(fixed.host).concurrency == 8
