"""psycopg 3 (with psycopg_pool) against asyncpg on the queue's hot statements.

    pip install asyncpg   # the other candidate; not a dependency of the plugin
    python plugins/wahost-postgres/bench/drivers.py [--url postgresql://127.0.0.1/test] [-n 400]

Both drivers run the same statements against a throwaway schema of the plugin's tables and
functions: enqueue (a webhook of 10 units, one call), lease (10 at a time) and ack with the
unit's state changes (the finish call, the applied marker and the conversation's row, in one
transaction), from 8 concurrent tasks over a pool of 8 connections. It prints units/s per
phase and the client's CPU per unit (the server's work is the same for both). The figures
and the choice are in the plugin's README.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import psycopg
from psycopg_pool import AsyncConnectionPool
from wahost_postgres.schema import FUNCTIONS, TABLES

TASKS = 8
BATCH = 10


def _units(start: int, count: int) -> list[list[Any]]:
    keys = [f"wamid.{start + i}" for i in range(count)]
    users = [f"1650555{(start + i) % 500:04d}" for i in range(count)]
    return [
        keys,
        ["message"] * count,
        ["106540352242922"] * count,
        users,
        [f"106540352242922:{u}" for u in users],
        [b'{"field":"messages","item":{"id":"%s"}}' % k.encode() for k in keys],
    ]


def _state(i: int) -> str:
    return json.dumps({"seen": list(range(i % 20))})


def _dollar(sql: str) -> str:
    """psycopg's ``%s`` placeholders as asyncpg's ``$n``."""
    parts = sql.split("%s")
    return "".join(p + (f"${n}" if n < len(parts) else "") for n, p in enumerate(parts, 1))


class Statements:
    def __init__(self, schema: str) -> None:
        s = schema
        self.enqueue = f"SELECT {s}.enqueue(%s, %s, %s, %s, %s, %s, 691200, '')"
        self.lease = f"SELECT id, key, conversation, attempts FROM {s}.lease(0, %s, 60, %s)"
        self.finish = f"SELECT {s}.finish(%s, %s, 'ack', 0, NULL)"
        self.applied = f"INSERT INTO {s}.applied VALUES (%s, {s}.epoch()) ON CONFLICT DO NOTHING"
        self.state = (
            f"INSERT INTO {s}.conversations VALUES (%s, 'menu', %s::jsonb, {s}.epoch())"
            " ON CONFLICT (conversation) DO UPDATE SET name = excluded.name,"
            " data = excluded.data, updated_at = excluded.updated_at"
        )


async def _phase(name: str, count: int, step: Callable[[int], Awaitable[int]]) -> None:
    cpu, wall = time.process_time(), time.perf_counter()
    done = 0

    async def run(task: int) -> int:
        units = 0
        for i in range(task, count, TASKS):
            units += await step(i)
        return units

    done = sum(await asyncio.gather(*(run(t) for t in range(TASKS))))
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    per_unit = cpu / max(done, 1) * 1e6
    print(f"  {name:<16} {done / wall:8.0f} units/s  client CPU {per_unit:6.1f} us/unit")


async def bench_psycopg(url: str, schema: str, calls: int, pipeline: bool = False) -> None:
    st = Statements(schema)
    async with AsyncConnectionPool(url, min_size=TASKS, max_size=TASKS, open=False) as pool:
        await pool.wait()

        async def enqueue(i: int) -> int:
            async with pool.connection() as conn:
                cur = await conn.execute(st.enqueue, _units(i * BATCH, BATCH))
                row = await cur.fetchone()
                assert row is not None
                return int(row[0])

        async def lease_ack(i: int) -> int:
            token = secrets.token_hex(8)
            async with pool.connection() as conn:
                cur = await conn.execute(st.lease, (BATCH, token))
                leases = await cur.fetchall()
                await conn.commit()
            for unit_id, key, conversation, _ in leases:
                async with pool.connection() as conn:
                    if pipeline:
                        # The three statements and the commit in one round trip.
                        async with conn.pipeline():
                            cur = await conn.execute(st.finish, (unit_id, token))
                            await conn.execute(st.applied, (key,))
                            await conn.execute(st.state, (conversation, _state(i)))
                    else:
                        cur = await conn.execute(st.finish, (unit_id, token))
                        await conn.execute(st.applied, (key,))
                        await conn.execute(st.state, (conversation, _state(i)))
                    assert (await cur.fetchone()) == (True,)
            return len(leases)

        await _phase("enqueue x10", calls, enqueue)
        await _phase("lease+ack+state", calls, lease_ack)


async def bench_asyncpg(url: str, schema: str, calls: int) -> None:
    st = Statements(schema)
    enqueue_sql, lease_sql = _dollar(st.enqueue), _dollar(st.lease)
    finish_sql, applied_sql, state_sql = _dollar(st.finish), _dollar(st.applied), _dollar(st.state)
    pool = await asyncpg.create_pool(url, min_size=TASKS, max_size=TASKS)
    try:

        async def enqueue(i: int) -> int:
            async with pool.acquire() as conn:
                return int(await conn.fetchval(enqueue_sql, *_units(i * BATCH, BATCH)))

        async def lease_ack(i: int) -> int:
            token = secrets.token_hex(8)
            async with pool.acquire() as conn:
                leases = await conn.fetch(lease_sql, BATCH, token)
            for unit_id, key, conversation, _ in leases:
                async with pool.acquire() as conn, conn.transaction():
                    assert await conn.fetchval(finish_sql, unit_id, token) is True
                    await conn.execute(applied_sql, key)
                    await conn.execute(state_sql, conversation, _state(i))
            return len(leases)

        await _phase("enqueue x10", calls, enqueue)
        await _phase("lease+ack+state", calls, lease_ack)
    finally:
        await pool.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url", default=os.environ.get("WAHOST_PG_URL", "postgresql://127.0.0.1/test")
    )
    parser.add_argument("-n", type=int, default=400, help="enqueue calls of 10 units per driver")
    args = parser.parse_args()

    async def psycopg_pipeline(url: str, schema: str, calls: int) -> None:
        await bench_psycopg(url, schema, calls, pipeline=True)

    benches = (
        ("psycopg", bench_psycopg),
        ("psycopg, ack in pipeline mode", psycopg_pipeline),
        ("asyncpg", bench_asyncpg),
    )
    for name, bench in benches:
        schema = f"bench_{secrets.token_hex(4)}"
        async with await psycopg.AsyncConnection.connect(args.url, autocommit=True) as conn:
            await conn.execute(TABLES.format(s=schema).encode())
            await conn.execute(FUNCTIONS.format(s=schema).encode())
        try:
            print(f"{name} ({TASKS} tasks, pool of {TASKS}, {args.n * BATCH} units):")
            await bench(args.url, schema, args.n)
        finally:
            async with await psycopg.AsyncConnection.connect(args.url, autocommit=True) as conn:
                await conn.execute(f"DROP SCHEMA {schema} CASCADE".encode())


if __name__ == "__main__":
    asyncio.run(main())
