"""What the contract suites do not cover: the hooks, `wahost check` and the schema commands,
NOTIFY waking a worker, a lapsed owner on another machine, and the schema's upgrade."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import wahost_postgres
from click.testing import CliRunner
from wahost_postgres import PostgresDatabase, PostgresQueue, PostgresStateStore
from wahost_postgres.schema import SCHEMA_1, SCHEMA_VERSION

from wahost.cli import cli_group
from wahost.config import config_to_toml
from wahost.host import Wahost
from wahost.queue.base import LeaseLost, QueueUnavailable
from wahost.queue.owner import Owner
from wahost.state.base import ConversationState
from wahost.testing.contracts import LONG, lease_one, make_unit
from wahost.testing.harness import (
    TEST_APP_SECRET,
    TEST_PHONE_NUMBER_ID,
    TEST_TOKEN,
    TEST_VERIFY_TOKEN,
    make_config,
)


def pg_config(url: str, schema: str, **more: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "queue": {"backend": "postgres", "url": url},
        "state": {"backend": "postgres"},
        "plugins": {"postgres": {"schema": schema, **more.pop("postgres", {})}},
        **more,
    }


def config_file(tmp_path: Path, url: str, schema: str, **postgres: Any) -> Path:
    data: dict[str, Any] = {
        "whatsapp": {
            "phone_number_id": TEST_PHONE_NUMBER_ID,
            "token": TEST_TOKEN,
            "app_secret": TEST_APP_SECRET,
            "verify_token": TEST_VERIFY_TOKEN,
        },
        **pg_config(url, schema, postgres=postgres),
    }
    path = tmp_path / "wahost.toml"
    path.write_text(config_to_toml(data))
    return path


async def test_the_hooks_provide_paired_backends(
    pg_database: str, pg_schema: str, tmp_path: Path
) -> None:
    config = make_config(
        tmp_path, pg_config(pg_database, pg_schema, postgres={"max_connections": 3})
    )
    async with Wahost(config, plugins=[wahost_postgres], load_entrypoints=False) as host:
        queue, store = host.queue, host.state
        assert isinstance(queue, PostgresQueue) and isinstance(store, PostgresStateStore)
        assert queue.database is store.database  # one pool per process
        assert queue.database.schema == pg_schema and queue.database.max_connections == 3
        assert queue.shares_transaction_with(store)
        assert queue.wakeup is host.wakeup
        assert store.applied_ttl == config.queue.dedupe_ttl
        await queue.enqueue([make_unit("a1")])
        assert (await queue.stats()).ready == 1
    assert not queue.shares_transaction_with(PostgresStateStore(pg_database, schema="other"))


def test_check_refuses_a_bad_url_in_one_line(tmp_path: Path) -> None:
    path = config_file(tmp_path, "postgresql://db.internal:notaport/bots", "wahost")
    result = CliRunner().invoke(cli_group(), ["check", "--config", str(path)])
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert str(path) in line and "queue.url" in line and "postgresql://" in line
    assert "Traceback" not in result.output


def test_check_names_an_unreachable_server(tmp_path: Path) -> None:
    from wahost_postgres.testing import free_port

    path = config_file(tmp_path, f"postgresql://127.0.0.1:{free_port()}/bots", "wahost")
    result = CliRunner().invoke(cli_group(), ["check", "--config", str(path)])
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert "[queue]/[state] path or url" in line and "Traceback" not in result.output


def test_check_and_queue_commands_on_postgres(
    pg_database: str, pg_schema: str, tmp_path: Path
) -> None:
    path = config_file(tmp_path, pg_database, pg_schema)
    runner = CliRunner()
    result = runner.invoke(cli_group(), ["check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and pg_database not in result.output.split("[queue]")[0]

    async def park() -> None:
        queue = PostgresQueue(pg_database, schema=pg_schema, listen=False)
        await queue.open()
        await queue.enqueue([make_unit("a1"), make_unit("b1", "p:b")])
        await queue.dead(await lease_one(queue), error="boom")
        await queue.close()

    asyncio.run(park())
    result = runner.invoke(cli_group(), ["queue", "stats", "--config", str(path)])
    assert "ready: 1" in result.output and "dead: 1" in result.output, result.output
    result = runner.invoke(cli_group(), ["queue", "dead", "--config", str(path)])
    assert result.output.startswith("a1\tmessage\tattempts=1\tboom"), result.output
    result = runner.invoke(cli_group(), ["queue", "replay", "a1", "--config", str(path)])
    assert result.exit_code == 0 and "replayed a1" in result.output
    result = runner.invoke(cli_group(), ["queue", "stats", "--config", str(path)])
    assert "ready: 2" in result.output and "dead: 0" in result.output, result.output
    result = runner.invoke(cli_group(), ["postgres", "version", "--config", str(path)])
    assert f"version {SCHEMA_VERSION}" in result.output, result.output


async def test_an_enqueue_wakes_a_waiting_queue_and_only_a_waiting_one(
    pg_database: str, pg_schema: str
) -> None:
    worker = PostgresQueue(pg_database, schema=pg_schema)
    ingress = PostgresQueue(pg_database, schema=pg_schema, listen=False)
    await worker.open()
    await ingress.open()
    try:
        assert worker.wakes_workers and not ingress.wakes_workers
        # Not waiting: an enqueue sends no notification.
        before = worker.notifications
        assert await ingress.enqueue([make_unit("a0", "pn1:u0")]) == 1
        await asyncio.sleep(0.3)
        assert worker.notifications == before
        assert len(await worker.lease(10, lease_seconds=LONG)) == 1

        # Waiting: the enqueue of another connection wakes it within milliseconds.
        worker.wakeup.clear()
        waiting = asyncio.create_task(worker.wait_for_work(30))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        started = time.monotonic()
        assert await ingress.enqueue([make_unit("a1")]) == 1
        await asyncio.wait_for(waiting, 10)
        assert time.monotonic() - started < 0.5
        assert worker.notifications == before + 1

        assert [lease.unit.key for lease in await worker.lease(10, lease_seconds=LONG)] == ["a1"]

        worker.wakeup.clear()
        waiting = asyncio.create_task(worker.wait_for_work(30))
        await asyncio.sleep(0.2)
        assert await ingress.enqueue([make_unit("a1")]) == 0  # a duplicate wakes no one
        await asyncio.sleep(0.3)
        assert not waiting.done() and worker.notifications == before + 1
        waiting.cancel()
        # Ready work found as it starts waiting: it returns at once.
        assert await ingress.enqueue([make_unit("a2", "pn1:u2")]) == 1
        await asyncio.wait_for(worker.wait_for_work(30), 1)
        assert [lease.unit.key for lease in await worker.lease(10, lease_seconds=LONG)] == ["a2"]
        # Having leased, it waits no more: enqueues stop notifying it.
        before = worker.notifications
        assert await ingress.enqueue([make_unit("a3", "pn1:u3")]) == 1
        await asyncio.sleep(0.3)
        assert worker.notifications == before
    finally:
        await ingress.close()
        await worker.close()


async def test_a_waiting_queue_returns_when_a_retry_comes_due(
    pg_database: str, pg_schema: str
) -> None:
    worker = PostgresQueue(pg_database, schema=pg_schema)
    await worker.open()
    try:
        await worker.enqueue([make_unit("r1")])
        lease = await lease_one(worker)
        await worker.retry(lease, delay=0.5, error="boom")
        assert await worker.lease(10, lease_seconds=LONG) == []
        worker.wakeup.clear()
        started = time.monotonic()
        await asyncio.wait_for(worker.wait_for_work(30), 5)
        assert 0.4 < time.monotonic() - started < 1.5
        assert [lease.unit.key for lease in await worker.lease(10, lease_seconds=LONG)] == ["r1"]
    finally:
        await worker.close()


async def test_a_lapsed_owner_on_another_machine_is_released(
    pg_database: str, pg_schema: str
) -> None:
    queue = PostgresQueue(pg_database, schema=pg_schema, owner_ttl=0.5)
    await queue.open()
    try:
        await queue.enqueue([make_unit("a1")])
        me = queue.owner
        queue.owner = Owner("elsewhere", 4242, 1, "another-boot.1", "abc123")
        try:
            stale = await lease_one(queue)
        finally:
            queue.owner = me
        # Alive while its record lives (it cannot be looked at from here), then released.
        assert await queue.release_dead_owners() == 0
        deadline = time.monotonic() + 5
        while not (leases := await queue.lease(10, lease_seconds=LONG)):
            assert time.monotonic() < deadline, "the lapsed owner's lease was not released"
            await asyncio.sleep(0.05)
        assert [(lease.unit.key, lease.attempt) for lease in leases] == [("a1", 2)]
        assert stale.token != leases[0].token
    finally:
        await queue.close()


async def test_an_older_schema_is_upgraded_in_place(
    pg_database: str, pg_schema: str, tmp_path: Path
) -> None:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(SCHEMA_1.replace("{s}", pg_schema).encode())
        conn.execute(
            f"INSERT INTO {pg_schema}.units (key, kind, phone_number_id, user_id, conversation,"
            " body) VALUES ('a1', 'message', 'pn1', 'u1', 'pn1:u1', '\\x7b7d')".encode()
        )
        conn.execute(
            f"INSERT INTO {pg_schema}.lanes SELECT conversation, id, 0"
            f" FROM {pg_schema}.units".encode()
        )
        conn.execute(f"UPDATE {pg_schema}.meta SET value = 7 WHERE name = 'done'".encode())
    # A start that may not upgrade refuses, naming the command.
    refusing = PostgresQueue(pg_database, schema=pg_schema, upgrade=False)
    with pytest.raises(Exception, match="wahost postgres upgrade"):
        await refusing.open()

    path = config_file(tmp_path, pg_database, pg_schema)
    upgrade = ["postgres", "upgrade", "--config", str(path)]
    # In a thread: the command runs its own event loop.
    result = await asyncio.to_thread(CliRunner().invoke, cli_group(), upgrade)
    assert result.exit_code == 0, result.output
    assert f"upgraded from version 1 to {SCHEMA_VERSION}" in result.output
    result = await asyncio.to_thread(CliRunner().invoke, cli_group(), upgrade)
    assert "nothing to do" in result.output

    queue = PostgresQueue(pg_database, schema=pg_schema, upgrade=False)
    await queue.open()
    try:
        assert (await queue.stats()).done == 7
        lease = await lease_one(queue)
        assert lease.unit.key == "a1"
        await queue.ack(lease)
        assert (await queue.stats()).done == 8
    finally:
        await queue.close()


async def test_a_newer_schema_is_refused(pg_database: str, pg_schema: str, tmp_path: Path) -> None:
    database = PostgresDatabase(pg_database, schema=pg_schema)
    queue = PostgresQueue(database=database)
    await queue.open()
    await queue.close()
    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"UPDATE {pg_schema}.meta SET value = 99 WHERE name = 'schema'".encode())
    with pytest.raises(Exception, match="newer than this wahost-postgres"):
        await PostgresQueue(pg_database, schema=pg_schema).open()
    # `wahost check` (as `serve` would) stops with that line alone.
    path = config_file(tmp_path, pg_database, pg_schema)
    check = ["check", "--config", str(path)]
    result = await asyncio.to_thread(CliRunner().invoke, cli_group(), check)
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert "newer than this wahost-postgres" in line and "Traceback" not in result.output


async def test_an_unreachable_server_is_queue_unavailable() -> None:
    from wahost_postgres.testing import free_port

    queue = PostgresQueue(f"postgresql://127.0.0.1:{free_port()}/x", schema="s")
    with pytest.raises(QueueUnavailable, match=r"127\.0\.0\.1"):
        await queue.open()


async def test_webhooks_sharing_conversations_in_another_order_do_not_deadlock(
    pg_database: str, pg_schema: str
) -> None:
    """Lanes (and keys) are locked in one order by every enqueue, whatever the units' order."""
    first = PostgresQueue(pg_database, schema=pg_schema, listen=False)
    second = PostgresQueue(database=PostgresDatabase(pg_database, schema=pg_schema), listen=False)
    await first.open()
    await second.open()
    try:
        for n in range(30):
            forward = [make_unit(f"a{n}", "p:a"), make_unit(f"b{n}", "p:b")]
            backward = [make_unit(f"y{n}", "p:b"), make_unit(f"x{n}", "p:a")]
            assert await asyncio.gather(first.enqueue(forward), second.enqueue(backward)) == [2, 2]
        assert (await first.stats()).ready == 120
    finally:
        await second.close()
        await first.close()


async def test_a_closed_queue_hands_on_what_it_held_and_forgets_its_owner(
    pg_database: str, pg_schema: str
) -> None:
    leaving = PostgresQueue(pg_database, schema=pg_schema)
    staying = PostgresQueue(pg_database, schema=pg_schema)
    await leaving.open()
    await staying.open()
    try:
        await leaving.enqueue([make_unit("a1")])
        held = await lease_one(leaving)
        await leaving.close()
        lease = await lease_one(staying)
        assert (lease.unit.key, lease.attempt) == (held.unit.key, 2)
        with psycopg.connect(pg_database) as conn:
            names = conn.execute(f"SELECT name FROM {pg_schema}.owners".encode()).fetchall()
        assert names == [(str(staying.owner),)]
    finally:
        await leaving.close()
        await staying.close()


def test_loading_the_plugin_does_not_import_the_driver() -> None:
    """Every installed plugin is loaded at start: a process on SQLite must not carry psycopg
    and its pool (about 10 MiB of idle memory); they are imported when a backend on
    PostgreSQL is chosen."""
    import subprocess
    import sys

    code = (
        "import sys, wahost_postgres\n"
        "from wahost.plugins import build_plugin_manager\n"
        "build_plugin_manager(plugins=[wahost_postgres], load_entrypoints=False)\n"
        "assert 'psycopg' not in sys.modules, 'imported at load'\n"
        "wahost_postgres.PostgresQueue\n"
        "assert 'psycopg' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_webhooks_arriving_together_are_stored_together_each_with_its_count(
    pg_database: str, pg_schema: str
) -> None:
    queue = PostgresQueue(pg_database, schema=pg_schema, listen=False)
    await queue.open()
    try:
        calls: list[int] = []
        store = queue._store

        async def counted(units: Any) -> list[bool]:
            calls.append(len(units))
            return await store(units)

        queue._store = counted  # type: ignore[method-assign]
        webhooks = [[make_unit(f"k{n}", f"pn1:u{n % 3}")] for n in range(30)]
        webhooks.append([make_unit("k1", "pn1:u1"), make_unit("k30", "pn1:u0")])  # k1 again
        webhooks.append([make_unit("bad\x00key")])  # a value the server refuses
        futures = [queue.enqueue_soon(units) for units in webhooks]
        results = await asyncio.gather(*futures, return_exceptions=True)
        assert results[:30] == [1] * 30 and results[30] == 1
        assert isinstance(results[31], QueueUnavailable)
        # All in one statement, then one by one as that batch met the refused value.
        assert calls == [33] + [1] * 30 + [2, 1], calls
        leased = await queue.lease(100, lease_seconds=LONG)
        assert sorted(lease.unit.key for lease in leased) == ["k0", "k1", "k2"]
        assert (await queue.stats()).ready == 28
    finally:
        await queue.close()


async def test_a_units_first_lease_is_its_first_handling(pg_database: str, pg_schema: str) -> None:
    """Its sends then skip the outbox's read; a retry, a replay never claim it (the contract)."""
    queue = PostgresQueue(pg_database, schema=pg_schema, listen=False)
    await queue.open()
    try:
        await queue.enqueue([make_unit("f1")])
        lease = await lease_one(queue)
        assert lease.first_handling
        await queue.retry(lease, delay=0, error="boom")
        assert not (await lease_one(queue)).first_handling
    finally:
        await queue.close()


async def test_acks_without_changes_are_one_statement(pg_database: str, pg_schema: str) -> None:
    queue = PostgresQueue(pg_database, schema=pg_schema, listen=False)
    await queue.open()
    try:
        await queue.enqueue([make_unit(f"m{n}", f"pn1:u{n}") for n in range(3)])
        leases = await queue.lease(10, lease_seconds=LONG)
        stale = await lease_one_more(queue, leases)
        calls = 0
        run = queue.database.run

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            return await run(*args, **kwargs)

        queue.database.run = counted  # type: ignore[method-assign]
        outcomes = await queue.ack_many([(lease, None) for lease in [*leases, stale]])
        assert calls == 1
        assert outcomes[:3] == [None, None, None] and isinstance(outcomes[3], LeaseLost)
        assert (await queue.stats()).done == 3
    finally:
        await queue.close()


async def lease_one_more(queue: PostgresQueue, leases: list[Any]) -> Any:
    """A copy of the first lease with a token no longer held."""
    first = leases[0]
    return type(first)(first.unit, first.id, first.attempt, "stale", first.expires_at)


async def test_states_of_a_batch_are_read_in_one_statement(
    pg_database: str, pg_schema: str
) -> None:
    store = PostgresStateStore(pg_database, schema=pg_schema)
    await store.open()
    try:
        await store.set("pn1:a", ConversationState(name="one", data={"n": 1}))
        await store.set("pn1:c", ConversationState(name="three", data={"n": 3}))
        calls = 0
        run = store.database.run

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            return await run(*args, **kwargs)

        store.database.run = counted  # type: ignore[method-assign]
        found = await store.get_many(["pn1:c", "pn1:b", "pn1:a"])
        assert calls == 1
        assert [None if s is None else (s.name, s.data) for s in found] == [
            ("three", {"n": 3}),
            None,
            ("one", {"n": 1}),
        ]
    finally:
        await store.close()
