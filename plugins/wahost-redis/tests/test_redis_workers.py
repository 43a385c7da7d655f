"""Real ``wahost worker`` processes sharing one Redis: order per conversation, and reclaim.

50 users x 20 messages arrive as Meta batches them (one webhook carries a message of 10
users). The recording plugin logs each handling (start, end, process) and appends the message's
number to the conversation's ``ctx.state`` — committed with the ack, so that list shows what
was handled exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

from wahost_redis import RedisQueue
from wahost_redis.testing import write_config

from wahost.testing.payloads import make_text, make_webhook
from wahost.units import Unit, split

USERS = [f"1650555{n:04d}" for n in range(50)]
PER_USER = 20


def webhooks() -> list[list[Unit]]:
    """The units of each webhook, in the order Meta posts them."""
    batches = []
    for seq in range(PER_USER):
        for first in range(0, len(USERS), 10):
            texts = [
                make_text(str(seq), sender=user, wamid=f"wamid.{user}.{seq}")
                for user in USERS[first : first + 10]
            ]
            batches.append(split(json.dumps(make_webhook(*texts)).encode()))
    return batches


async def enqueue_all(url: str) -> None:
    queue = RedisQueue(url)
    await queue.open()
    try:
        for units in webhooks():
            assert await queue.enqueue(units) == len(units)
    finally:
        await queue.close()


def config(tmp_path: Path, url: str, **worker: Any) -> Path:
    settings = {"concurrency": 8, "poll_interval": 0.01, "backoff_base": 0.01, **worker}
    return write_config(tmp_path / "wahost.toml", url, sections={"worker": settings})


async def test_two_workers_keep_each_conversation_in_order(
    redis_url: str, recorded: Any, tmp_path: Path
) -> None:
    path = config(tmp_path, redis_url)
    for _ in range(2):
        recorded.spawn("worker", path, delay=0.003)
    await recorded.wait(lambda: len(recorded.read("ready")) == 2, 30, "two workers")
    await enqueue_all(redis_url)
    total = len(USERS) * PER_USER
    await recorded.wait(lambda: len(recorded.handled_keys()) == total, 60, "every unit")

    handled = recorded.read()
    assert len(handled) == total  # nobody died: each unit once
    assert len({record["pid"] for record in handled}) == 2, "both workers took a share"
    await recorded.drained(redis_url)
    recorded.check_order(PER_USER)
    expected = list(range(PER_USER))
    assert await recorded.seen(redis_url, USERS) == {user: expected for user in USERS}


async def test_a_killed_workers_units_are_reclaimed_and_handled_once(
    redis_url: str, recorded: Any, tmp_path: Path
) -> None:
    path = config(tmp_path, redis_url, lease_seconds=1.0)
    victim, survivor = (recorded.spawn("worker", path, delay=0.02) for _ in range(2))
    await recorded.wait(lambda: len(recorded.read("ready")) == 2, 30, "two workers")
    consumers = {r["pid"]: r["consumer"] for r in recorded.read("ready")}
    await enqueue_all(redis_url)
    total = len(USERS) * PER_USER

    def victim_busy() -> bool:
        return sum(r["pid"] == victim.pid for r in recorded.read()) >= 100

    await recorded.wait(victim_busy, 30, "the victim to handle units")
    queue = RedisQueue(redis_url)

    async def held() -> dict[str, int]:
        pending = await queue.client.xpending(queue.stream, "wahost")
        return {c["name"].decode(): c["pending"] for c in pending["consumers"]}

    # SIGKILL mid-load, at a moment the victim holds units: frozen (SIGSTOP) while its
    # holdings are read, and let go again when it is between two leases.
    deadline = time.monotonic() + 30
    while True:
        os.kill(victim.pid, signal.SIGSTOP)
        holding = await held()
        if holding.get(consumers[victim.pid], 0) > 0 or time.monotonic() > deadline:
            break
        os.kill(victim.pid, signal.SIGCONT)
        await asyncio.sleep(0.005)
    victim.kill()
    victim.wait()
    assert holding.get(consumers[victim.pid], 0) > 0, f"the victim held no unit: {holding}"

    await recorded.wait(lambda: len(recorded.handled_keys()) == total, 60, "every unit")
    await recorded.drained(redis_url)
    assert survivor.poll() is None
    # The dead consumer's entries moved to the survivor and were acked: nothing pending.
    assert (await held()).get(consumers[victim.pid], 0) == 0
    await queue.close()

    handled = recorded.read()
    reclaimed = [r for r in handled if r["pid"] == survivor.pid and r["attempt"] > 1]
    assert reclaimed, "the survivor handled none of the victim's units again"
    repeats = len(handled) - total
    assert 0 <= repeats <= 8, repeats  # only units in flight at the kill (concurrency 8)
    recorded.check_order(PER_USER)
    expected = list(range(PER_USER))
    assert await recorded.seen(redis_url, USERS) == {user: expected for user in USERS}
