"""An idle worker on PostgreSQL waits for the queue's wake-up instead of polling: (almost) no
lease while idle, yet a unit enqueued by another process is handled within milliseconds,
and a retry is leased when it comes due."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import wahost_postgres
from wahost_postgres import PostgresQueue

from wahost import hookimpl
from wahost.host import Wahost
from wahost.queue.base import Lease
from wahost.testing.harness import make_config
from wahost.testing.payloads import make_text, signed_webhook
from wahost.units import split
from wahost.worker import Worker

BACKOFF = 0.4

ENQUEUER = """
import asyncio, sys, time
from wahost_postgres import PostgresQueue
from wahost.testing.payloads import make_text, signed_webhook
from wahost.units import split

async def main():
    queue = PostgresQueue(sys.argv[1], schema=sys.argv[2], listen=False)
    await queue.open()
    body, _ = signed_webhook(make_text("hello", wamid="wamid.idle.1"))
    assert await queue.enqueue(split(body)) == 1
    print(time.monotonic())
    await queue.close()

asyncio.run(main())
"""


class Recorder:
    """Records when each message is handled; fails the first attempt of a text "fail"."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, float]] = []
        self.event = asyncio.Event()

    @hookimpl
    async def on_message(self, message: Any, ctx: Any) -> bool:
        text = message.text.body
        self.handled.append((text, time.monotonic()))
        self.event.set()
        if text == "fail" and sum(1 for t, _ in self.handled if t == "fail") == 1:
            raise RuntimeError("first attempt fails")
        return True

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.handled) < count:
            self.event.clear()
            await asyncio.wait_for(self.event.wait(), max(deadline - time.monotonic(), 0.01))


async def test_an_idle_worker_waits_for_the_wake_up_not_the_poll(
    pg_database: str, pg_schema: str, tmp_path: Path
) -> None:
    config = make_config(
        tmp_path,
        {
            "queue": {"backend": "postgres", "url": pg_database},
            "state": {"backend": "postgres"},
            "plugins": {"postgres": {"schema": pg_schema}},
            "worker": {
                "poll_interval": 0.05,
                "backoff_base": BACKOFF,
                "backoff_cap": BACKOFF,
                "max_attempts": 3,
            },
        },
    )
    recorder = Recorder()
    ingress = PostgresQueue(pg_database, schema=pg_schema, listen=False)
    async with Wahost(config, plugins=[wahost_postgres, recorder], load_entrypoints=False) as host:
        queue = host.queue
        assert queue.wakes_workers
        leases: list[float] = []
        lease = queue.lease

        async def counted(limit: int, *, lease_seconds: float) -> list[Lease]:
            leases.append(time.monotonic())
            return await lease(limit, lease_seconds=lease_seconds)

        queue.lease = counted  # type: ignore[method-assign]
        worker = Worker(host)
        running = asyncio.create_task(worker.run())
        await ingress.open()
        try:
            await asyncio.sleep(0.3)  # idle for a moment: waiting for the wake-up
            leases.clear()
            await asyncio.sleep(2.0)
            assert len(leases) <= 1, leases  # polling every 0.05 s would be 40

            async def enqueue(text: str, wamid: str) -> float:
                body, _ = signed_webhook(make_text(text, wamid=wamid))
                at = time.monotonic()
                assert await ingress.enqueue(split(body)) == 1
                return at

            # Enqueued by another process (as `wahost serve` would): it prints the monotonic
            # clock (the machine's, shared by its processes) once its enqueue committed.
            child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                ENQUEUER,
                pg_database,
                pg_schema,
                stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            )
            out, _ = await asyncio.wait_for(child.communicate(), 60)
            assert child.returncode == 0, out
            at = float(out.decode().split()[-1])
            await recorder.wait_for(1)
            assert recorder.handled[0][0] == "hello"
            assert recorder.handled[0][1] - at < 0.5  # milliseconds on an idle machine

            await asyncio.sleep(0.5)  # idle again
            await enqueue("fail", "wamid.idle.2")
            await recorder.wait_for(3)
            (_, first), (_, second) = recorder.handled[1:3]
            # Leased when its backoff (at most BACKOFF) ran out: not at the next safety poll.
            assert second - first < BACKOFF + 0.5, recorder.handled
        finally:
            await worker.stop(grace=5)
            await running
            await ingress.close()
