"""A dead worker's leases on Redis: released at once when its process is known dead on this
machine, and once its liveness record expires when it ran elsewhere; never a live one's."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import wahost_redis
from wahost_redis import RedisQueue

from wahost.host import Wahost
from wahost.queue.base import Lease, LeaseLost, QueueUnavailable
from wahost.queue.owner import Owner, this_machine
from wahost.testing.contracts import make_unit
from wahost.testing.harness import make_config

TTL = 0.5

needs_proc = pytest.mark.skipif(not this_machine(), reason="no /proc on this platform")


def elsewhere() -> Owner:
    """An owner on another machine: its process cannot be looked at from here."""
    return Owner("other-host", 4242, 1234, "another-boot-id.4026531836", "abcdef")


@pytest.fixture
async def queues(redis_url: str) -> AsyncIterator[Callable[..., RedisQueue]]:
    opened: list[RedisQueue] = []

    def make(**options: object) -> RedisQueue:
        queue = RedisQueue(redis_url, owner_ttl=TTL, **options)  # type: ignore[arg-type]
        opened.append(queue)
        return queue

    yield make
    for queue in opened:
        await queue.close()


async def crash(queue: RedisQueue) -> None:
    """The process of ``queue`` stops renewing its liveness record (it died, elsewhere)."""
    keep_alive = queue._keep_alive
    assert keep_alive is not None
    # Cancelled until it ends: redis-py may turn a cancellation inside a command into a
    # connection error, which the loop takes for an outage and goes on.
    while not keep_alive.done():
        keep_alive.cancel()
        await asyncio.wait({keep_alive}, timeout=0.05)


async def test_an_owner_elsewhere_is_released_once_its_record_expires(
    queues: Callable[..., RedisQueue],
) -> None:
    remote, local = queues(), queues()
    remote.owner = elsewhere()
    await remote.open()
    await local.open()
    await remote.enqueue([make_unit("a1", "p:a"), make_unit("a2", "p:a")])
    [stale] = await remote.lease(10, lease_seconds=60)
    # Alive (renewing), so never taken, however long the others look.
    await asyncio.sleep(3 * TTL)
    assert await local.release_dead_owners() == 0
    assert await local.lease(10, lease_seconds=60) == []

    await crash(remote)
    started = time.monotonic()
    while not (leases := await local.lease(10, lease_seconds=60)):
        assert time.monotonic() - started < TTL + 2, "the expired owner's lease was kept"
        await asyncio.sleep(0.05)
    assert time.monotonic() - started >= TTL * 0.5  # by expiry, not by a look at a process
    assert [(lease.unit.key, lease.attempt) for lease in leases] == [("a1", 2)]
    with pytest.raises(LeaseLost):
        await remote.ack(stale)


async def test_expiry_counts_only_after_reaching_redis_for_owner_ttl(
    queues: Callable[..., RedisQueue],
) -> None:
    """A process that just (re)connected — to a Redis back from an outage, say, where every
    record may have lapsed — waits one ``owner_ttl`` before it takes expired owners' leases:
    the live ones renew theirs by then."""
    remote = queues()
    remote.owner = elsewhere()
    await remote.open()
    await remote.enqueue([make_unit("a1")])
    await remote.lease(10, lease_seconds=60)
    await crash(remote)
    await asyncio.sleep(TTL + 0.2)  # its record has expired

    local = queues()
    await local.open()
    opened = time.monotonic()
    assert await local.release_dead_owners() == 0
    while not (leases := await local.lease(10, lease_seconds=60)):
        assert time.monotonic() - opened < TTL + 2, "the expired owner's lease was kept"
        await asyncio.sleep(0.05)
    assert time.monotonic() - opened >= TTL - 0.05
    assert [lease.unit.key for lease in leases] == ["a1"]


async def test_owner_ttl_comes_from_the_plugin_settings(redis_url: str, tmp_path: Path) -> None:
    settings = {
        "queue": {"backend": "redis", "url": redis_url},
        "plugins": {"redis": {"owner_ttl": 2.5}},
    }
    config = make_config(tmp_path, settings)
    async with Wahost(config, plugins=[wahost_redis], load_entrypoints=False) as host:
        assert isinstance(host.queue, RedisQueue)
        assert host.queue.owner_ttl == 2.5
        assert host.queue.consumer == str(host.queue.owner)
        alive = await host.queue.client.pttl(f"wahost:q:alive:{host.queue.owner}")
        assert 0 < alive <= 2500
    assert not await host.queue.client.exists(f"wahost:q:alive:{host.queue.owner}")


HOLDER = """
import asyncio, json, sys
from wahost_redis import RedisQueue

async def main():
    queue = RedisQueue(sys.argv[1])
    await queue.open()
    leases = await queue.lease(10, lease_seconds=60)
    print(json.dumps([[l.unit.key, l.id, l.attempt, l.token, l.expires_at] for l in leases]),
          flush=True)
    await asyncio.sleep(120)  # holds them until killed

asyncio.run(main())
"""


@needs_proc
async def test_a_restart_on_this_machine_takes_the_killed_workers_units_at_once(
    redis_url: str,
) -> None:
    queue = RedisQueue(redis_url)  # the default owner_ttl: the expiry plays no part
    await queue.open()
    await queue.enqueue([make_unit("a1", "p:a"), make_unit("a2", "p:a"), make_unit("b1", "p:b")])
    await queue.close()
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        redis_url,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        stale = [
            Lease(make_unit(key, f"p:{key[0]}"), id_, attempt, token, expires)
            for key, id_, attempt, token, expires in json.loads(line)
        ]
        assert [lease.unit.key for lease in stale] == ["a1", "b1"]
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()

    restarted = RedisQueue(redis_url)
    await restarted.open()
    try:
        fresh = await restarted.lease(10, lease_seconds=60)  # at once, not after 60 s
        assert [(lease.unit.key, lease.attempt) for lease in fresh] == [("a1", 2), ("b1", 2)]
        for lease in stale:
            with pytest.raises(LeaseLost):
                await restarted.ack(lease)
        pending = await restarted.client.xpending(restarted.stream, "wahost")
        # The dead worker's consumer holds nothing any more (a2 was never leased).
        assert {c["name"].decode() for c in pending["consumers"]} == {
            restarted.consumer,
            "~waiting",
        }
    finally:
        await restarted.close()


async def test_an_idle_poll_writes_nothing(redis_url: str) -> None:
    """Renewing the liveness record on every lease call would cost an AOF append (and, with
    ``appendfsync always``, an fsync) per poll of every idle worker; only a lease that hands
    out units renews it, besides the renewal every quarter of ``owner_ttl``."""
    queue = RedisQueue(redis_url, owner_ttl=60)  # no renewal during the test
    await queue.open()
    try:

        async def writes() -> int:
            info = await queue.client.info("persistence")
            return int(info["rdb_changes_since_last_save"])

        before = await writes()
        for _ in range(20):
            assert await queue.lease(10, lease_seconds=60) == []
        assert await writes() == before
        await queue.enqueue([make_unit("a1")])
        before = await writes()
        assert [lease.unit.key for lease in await queue.lease(10, lease_seconds=60)] == ["a1"]
        alive = await queue.client.pttl(f"wahost:q:alive:{queue.owner}")
        assert 59_000 < alive <= 60_000 and await writes() > before
    finally:
        await queue.close()


async def test_close_ends_even_when_a_cancelled_renewal_looks_like_an_outage(
    queues: Callable[..., RedisQueue],
) -> None:
    """redis-py may turn a cancellation that lands in a command into a connection error; the
    renewal loop suppresses those (an outage), so it must also stop once the queue is closed,
    or close() waits for it for ever."""
    queue = queues()
    await queue.open()
    renew = queue._renew

    async def renew_as_redis_py_may() -> None:
        try:
            await asyncio.sleep(TTL)  # a command in flight
            await renew()
        except asyncio.CancelledError:
            raise QueueUnavailable("connection closed by the cancellation") from None

    queue._renew = renew_as_redis_py_may  # type: ignore[method-assign]
    await asyncio.sleep(TTL / 4 + 0.05)  # the loop is in a renewal now
    closing = asyncio.create_task(queue.close())
    done, _ = await asyncio.wait({closing}, timeout=5)
    assert done, "close() still waits for the renewal loop"
