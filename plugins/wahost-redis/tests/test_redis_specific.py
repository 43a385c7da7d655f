"""What the contract suites do not cover: the hooks, the consumer group, Redis going away,
a refused write, key layout details, and a bot end to end on Redis."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pytest
import wahost_redis
from wahost_redis import RedisQueue, RedisStateStore, StoreUnavailable
from wahost_redis.testing import RedisServer

from wahost import hookimpl
from wahost.host import Wahost
from wahost.queue.base import QueueUnavailable
from wahost.testing.contracts import SHORT, lease_one, make_unit
from wahost.testing.fake_graph import FakeGraph
from wahost.testing.harness import BotHarness, make_config
from wahost.testing.payloads import make_text


def redis_config(url: str, **more: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"queue": {"backend": "redis", "url": url}, "state": {"backend": "redis"}, **more}


def holders(queue: RedisQueue, pending: dict[str, Any]) -> dict[str, int]:
    return {c["name"].decode(): c["pending"] for c in pending["consumers"]}


async def test_the_hooks_provide_paired_backends(redis_url: str, tmp_path: Path) -> None:
    settings = {"plugins": {"redis": {"prefix": "bot1:"}}}
    config = make_config(tmp_path, redis_config(redis_url, **settings))
    async with Wahost(config, plugins=[wahost_redis], load_entrypoints=False) as host:
        queue, store = host.queue, host.state
        assert isinstance(queue, RedisQueue) and isinstance(store, RedisStateStore)
        assert queue.prefix == store.prefix == "bot1:"
        assert queue.store is store and queue.shares_transaction_with(store)
        assert store.applied_ttl == config.queue.dedupe_ttl
        await queue.enqueue([make_unit("a1")])
        assert (await queue.stats()).ready == 1
    assert not queue.shares_transaction_with(RedisStateStore(redis_url, prefix="other:"))


async def test_the_consumer_group_shows_who_holds_what(redis_url: str) -> None:
    first = RedisQueue(redis_url, consumer="w:first")
    second = RedisQueue(redis_url, consumer="w:second")
    await first.open()
    await second.open()
    await first.enqueue([make_unit("a1", "p:a"), make_unit("b1", "p:b"), make_unit("c1", "p:c")])
    pending = await first.client.xpending(first.stream, "wahost")
    assert holders(first, pending) == {"~waiting": 3}

    stale = await lease_one(first, lease_seconds=SHORT)
    assert holders(first, await first.client.xpending(first.stream, "wahost")) == {
        "w:first": 1,
        "~waiting": 2,
    }
    await asyncio.sleep(SHORT + 0.1)  # "first" died: its lease expires
    fresh = await lease_one(second)
    assert fresh.unit == stale.unit and fresh.attempt == 2
    await second.dead(await lease_one(second), error="boom")
    assert holders(first, await first.client.xpending(first.stream, "wahost")) == {
        "w:second": 1,
        "~dead": 1,
        "~waiting": 1,
    }
    await second.ack(fresh)
    assert await first.client.xlen(first.stream) == 2  # acked entries are deleted
    await second.close()  # holds nothing: leaves the group
    names = await first.client.xinfo_consumers(first.stream, "wahost")
    assert "w:second" not in {c["name"].decode() for c in names}
    await first.close()


async def test_a_refused_enqueue_stores_nothing(redis_url: str) -> None:
    queue = RedisQueue(redis_url)
    await queue.open()
    await queue.client.config_set("maxmemory", "1")  # any write is now refused (OOM)
    try:
        with pytest.raises(QueueUnavailable, match="maxmemory"):
            await queue.enqueue([make_unit("a1", "p:a"), make_unit("b1", "p:b")])
    finally:
        await queue.client.config_set("maxmemory", "0")
    stats = await queue.stats()
    assert (stats.ready, stats.dedupe_keys) == (0, 0)
    assert await queue.enqueue([make_unit("a1", "p:a"), make_unit("b1", "p:b")]) == 2
    await queue.close()


async def test_a_first_lease_is_a_first_handling_and_a_replayed_one_is_not(
    redis_url: str,
) -> None:
    """The outbox skips its read only on a unit's first handling ever: the first lease says
    so, the lease of a replayed dead unit (its attempts back to 0) does not."""
    queue = RedisQueue(redis_url)
    await queue.open()
    try:
        await queue.enqueue([make_unit("a1", "p:a")])
        first = await lease_one(queue)
        assert first.attempt == 1 and first.first_handling
        await queue.dead(first, error="boom")
        assert await queue.replay("a1")
        again = await lease_one(queue)
        assert again.attempt == 1 and not again.first_handling
    finally:
        await queue.close()


async def test_redis_down_then_back(own_redis: RedisServer) -> None:
    queue, store = RedisQueue(own_redis.url), RedisStateStore(own_redis.url)
    await queue.open()
    await store.open()
    await queue.enqueue([make_unit("a1"), make_unit("a2")])
    await store.kv_set("ns", "k", b"v")

    own_redis.kill()
    started = time.monotonic()
    with pytest.raises(QueueUnavailable, match=r"127\.0\.0\.1"):
        await queue.enqueue([make_unit("a3")])
    with pytest.raises(QueueUnavailable):
        await queue.lease(1, lease_seconds=30)
    with pytest.raises(StoreUnavailable):
        await store.kv_get("ns", "k")
    assert time.monotonic() - started < 2  # refused at once: ingress answers 503 quickly

    own_redis.start()  # the same clients reconnect; scripts are loaded again
    lease = await lease_one(queue)
    assert lease.unit.key == "a1"
    await queue.ack(lease)
    assert await store.kv_get("ns", "k") == b"v"
    assert await queue.enqueue([make_unit("a2"), make_unit("a3")]) == 1
    await store.close()
    await queue.close()


async def test_ingress_answers_503_while_redis_is_down(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    seen: list[str] = []

    class Plugin:
        @hookimpl
        def on_message(self, message: Any) -> bool:
            seen.append(message.id)
            return True

    config = redis_config(own_redis.url)
    async with BotHarness(tmp_path, plugins=[wahost_redis, Plugin()], config=config) as bot:
        own_redis.kill()
        assert (await bot.post(make_text("hi", wamid="wamid.1"))).status_code == 503
        assert (await bot.http.get(bot.url + "/readyz")).status_code == 503  # type: ignore[union-attr]
        own_redis.start()
        assert (await bot.post(make_text("hi", wamid="wamid.1"))).status_code == 200
        assert (await bot.post(make_text("hi", wamid="wamid.1"))).status_code == 200  # dupe
        await bot.idle()
    assert seen == ["wamid.1"]


async def test_a_bot_replies_and_keeps_state_on_redis(redis_url: str, tmp_path: Path) -> None:
    class Echo:
        @hookimpl
        async def on_message(self, message: Any, ctx: Any) -> bool:
            count = ctx.state.get("count", 0) + 1
            ctx.state.update(count=count)
            await ctx.reply(f"{message.text.body} #{count}")
            return True

    async with (
        FakeGraph() as graph,
        BotHarness(
            tmp_path, plugins=[wahost_redis, Echo()], config=redis_config(redis_url), graph=graph
        ) as bot,
    ):
        for text in ("one", "two"):
            assert (await bot.post(make_text(text))).status_code == 200
        await graph.wait_for(2)
        await bot.idle()
        state = await bot.host.state.get(f"{bot.config.whatsapp.phone_number_id}:16505551234")
    assert [sent.text for sent in graph.sent] == ["one #1", "two #2"]
    assert state is not None and state.data == {"count": 2}


async def test_namespaces_with_colons_do_not_collide(redis_url: str) -> None:
    store = RedisStateStore(redis_url)
    await store.kv_set("a:b", "c", b"first")
    await store.kv_set("a", "b:c", b"second")
    assert await store.kv_get("a:b", "c") == b"first"
    assert await store.kv_scan("a") == [("b:c", b"second")]
    await store.close()


async def test_expired_keys_leave_the_scan_index(redis_url: str) -> None:
    store = RedisStateStore(redis_url)
    for n in range(5):
        await store.kv_set("ns", f"brief{n}", b"v", ttl=SHORT)
    await asyncio.sleep(SHORT + 0.1)
    await store.kv_set("ns", "kept", b"v")  # a write drops expired keys from the index
    assert await store.client.zrange("wahost:s:kvi:ns", 0, -1) == [b"kept"]
    assert await store.client.zcard("wahost:s:kvx:ns") == 0
    await store.close()


async def test_unsafe_server_settings_are_reported(redis_url: str) -> None:
    queue = RedisQueue(redis_url)
    assert await queue.unsafe_settings() == []  # the tests' server: AOF, always, noeviction
    await queue.client.config_set("appendfsync", "everysec")
    await queue.client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        problems = await queue.unsafe_settings()
    finally:
        await queue.client.config_set("appendfsync", "always")
        await queue.client.config_set("maxmemory-policy", "noeviction")
    assert [p.split(" ")[0] for p in problems] == ["appendfsync", "maxmemory-policy"]
    await queue.close()


async def test_a_burst_waits_for_a_free_connection(redis_url: str) -> None:
    store = RedisStateStore(redis_url, max_connections=4)
    await asyncio.gather(*(store.kv_set("ns", f"k{n}", b"v") for n in range(300)))
    assert len(await store.kv_scan("ns")) == 300
    await store.close()


async def test_a_hung_redis_times_out(own_redis: RedisServer) -> None:
    queue = RedisQueue(own_redis.url, socket_timeout=0.3)
    await queue.open()
    assert own_redis.process is not None
    own_redis.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        with pytest.raises(QueueUnavailable, match="Timeout"):
            await queue.enqueue([make_unit("a1")])
        assert time.monotonic() - started < 1.5  # not retried after a timeout
    finally:
        own_redis.process.send_signal(signal.SIGCONT)
    # The command had been sent: it may have run. Meta's retry is then a duplicate.
    assert await queue.enqueue([make_unit("a1")]) in (0, 1)
    assert (await queue.stats()).ready == 1
    await queue.close()


async def test_enqueue_recreates_a_deleted_stream(redis_url: str) -> None:
    queue = RedisQueue(redis_url)
    await queue.open()
    await queue.client.delete(queue.stream)  # e.g. an operator's mistake
    await queue.client.config_resetstat()
    assert await queue.enqueue([make_unit("a1")]) == 1
    assert (await lease_one(queue)).unit.key == "a1"
    info = await queue.client.info("errorstats")
    assert "errorstat_BUSYGROUP" not in info, info  # no error reply per enqueue
    await queue.close()


async def test_the_metrics_scrape_reads_the_counts_without_walking_the_keyspace(
    redis_url: str, tmp_path: Path
) -> None:
    config = redis_config(redis_url, metrics={"enabled": True})
    async with BotHarness(tmp_path, plugins=[wahost_redis], config=config, worker=False) as bot:
        queue = bot.host.queue
        assert isinstance(queue, RedisQueue)
        await queue.enqueue([make_unit("m1", "p:a"), make_unit("m2", "p:b")])
        before = (await queue.client.info("commandstats")).get("cmdstat_scan", {})
        assert bot.http is not None
        text = (await bot.http.get(bot.url + "/metrics")).text
        after = (await queue.client.info("commandstats")).get("cmdstat_scan", {})
        assert (await queue.stats()).dedupe_keys == 2  # the operator's command still counts
    assert 'wahost_queue_units{state="ready"} 2.0' in text
    assert after.get("calls", 0) == before.get("calls", 0)


def test_loading_the_plugin_does_not_import_the_redis_client() -> None:
    """Every installed plugin is loaded at start: a process on SQLite must not carry the Redis
    client (about 9 MiB of its idle memory); it is imported when a backend on Redis is chosen."""
    import subprocess
    import sys

    code = (
        "import sys, wahost_redis\n"
        "from wahost.plugins import build_plugin_manager\n"
        "build_plugin_manager(plugins=[wahost_redis], load_entrypoints=False)\n"
        "assert 'redis' not in sys.modules, 'imported at load'\n"
        "wahost_redis.RedisQueue\n"
        "assert 'redis' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
