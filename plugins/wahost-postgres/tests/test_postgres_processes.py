"""Real ``wahost serve`` and ``wahost worker`` processes on one PostgreSQL, over real HTTP.

Messages are posted as Meta posts them: each user's in order, each until answered 200. The
recording plugin logs each handling (start, end, process) and appends the message's number to
the conversation's ``ctx.state`` — committed with the ack, so that list shows what was applied
exactly once. The workers poll only every 60 s: what wakes them is the ingress's NOTIFY.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

from wahost_postgres.testing import (
    Cluster,
    Recorded,
    free_port,
    post_in_order,
    seen,
    wait_for_port,
    write_config,
)

USERS = [f"1650555{n:04d}" for n in range(12)]
PER_USER = 5


async def committed(
    url: str, schema: str, want: dict[str, list[int]], seconds: float = 10.0
) -> bool:
    """Whether each user's ``seen`` state becomes ``want``: the recorder writes a unit's
    "handled" line in its handler, before the ack that commits the state, so the last acks may
    still be under way when every line is there."""
    deadline = time.monotonic() + seconds
    while True:
        found = await seen(url, schema, list(want))
        if found == want:
            return True
        if time.monotonic() > deadline:
            print("seen:", found)
            return False
        await asyncio.sleep(0.05)


def config(tmp_path: Path, url: str, schema: str, port: int, **worker: Any) -> Path:
    settings = {
        "concurrency": 8,
        # Only NOTIFY can wake an idle worker within a test's time.
        "poll_interval": 60.0,
        "backoff_base": 0.05,
        "enabled": False,  # `serve` is ingress only; the workers are processes of their own
        **worker,
    }
    return write_config(
        tmp_path / "wahost.toml", url, schema, port=port, sections={"worker": settings}
    )


async def start(recorded: Recorded, path: Path, port: int, workers: int, delay: float) -> None:
    recorded.spawn("serve", path)
    for _ in range(workers):
        recorded.spawn("worker", path, delay=delay)
    await recorded.wait(lambda: len(recorded.read("ready")) == workers + 1, 60, "the processes")
    await wait_for_port(port)


async def test_serve_and_two_workers_keep_each_conversation_in_order(
    pg_database: str, pg_schema: str, recorded: Recorded, tmp_path: Path
) -> None:
    port = free_port()
    path = config(tmp_path, pg_database, pg_schema, port)
    await start(recorded, path, port, workers=2, delay=0.01)
    url = f"http://127.0.0.1:{port}/webhook"
    acked, _ = await post_in_order(url, USERS, PER_USER, deadline=time.monotonic() + 60)
    total = len(USERS) * PER_USER
    assert len(acked) == total
    await recorded.wait(lambda: len(recorded.handled_keys()) == total, 60, "every unit")

    handled = recorded.read()
    assert len(handled) == total  # nobody died: each unit once
    workers = {r["pid"] for r in recorded.read("ready")} - {recorded.processes[0].pid}
    assert {r["pid"] for r in handled} == workers, "both workers took a share"
    recorded.check_order(PER_USER)
    expected = list(range(PER_USER))
    assert await committed(pg_database, pg_schema, {user: expected for user in USERS})


async def test_a_killed_workers_leases_are_handed_on_before_they_expire(
    pg_database: str, pg_schema: str, recorded: Recorded, tmp_path: Path
) -> None:
    """The leases last 10 minutes: only the dead owner's release can hand them on. The victim
    sleeps a minute on each unit, so it still holds the units it started when it is killed."""
    port = free_port()
    path = config(tmp_path, pg_database, pg_schema, port, lease_seconds=600.0, concurrency=16)
    recorded.spawn("serve", path)
    victim = recorded.spawn("worker", path, delay=60.0)
    await recorded.wait(lambda: len(recorded.read("ready")) == 2, 60, "the processes")
    await wait_for_port(port)
    url = f"http://127.0.0.1:{port}/webhook"
    acked, _ = await post_in_order(url, USERS, 1, deadline=time.monotonic() + 60)
    assert len(acked) == len(USERS)
    await recorded.wait(lambda: len(recorded.read("started")) == len(USERS), 30, "the victim")
    survivor = recorded.spawn("worker", path, delay=0.01)
    await recorded.wait(lambda: len(recorded.read("ready")) == 3, 60, "the survivor")
    os.kill(victim.pid, signal.SIGKILL)  # it holds every unit, none handled
    victim.wait()
    await recorded.wait(lambda: len(recorded.handled_keys()) == len(USERS), 60, "every unit")

    handled = recorded.read()
    assert survivor.poll() is None
    assert [(r["pid"], r["attempt"]) for r in handled] == [(survivor.pid, 2)] * len(USERS)
    recorded.check_order(1)
    assert await committed(pg_database, pg_schema, {user: [0] for user in USERS})
    logs = "".join(p.read_text() for p in recorded.directory.glob("*.log"))
    assert "leases of a dead worker released" in logs  # by whichever process looked first


async def test_an_outage_is_answered_503_and_everything_resumes(
    cluster: Cluster, recorded: Recorded, tmp_path: Path
) -> None:
    port = free_port()
    path = config(tmp_path, cluster.url, "bot", port)
    await start(recorded, path, port, workers=1, delay=0.0)
    url = f"http://127.0.0.1:{port}/webhook"
    users = USERS[:3]
    acked, _ = await post_in_order(url, users, 1, deadline=time.monotonic() + 30)
    await recorded.wait(lambda: len(recorded.handled_keys()) == 3, 30, "the first units")

    cluster.stop()
    acked_during, refused = await post_in_order(url, users[:1], 1, deadline=time.monotonic() + 3)
    assert not acked_during and refused > 0, "the ingress did not answer 503 while down"
    time.sleep(1.5)  # the worker's polls and the listener meet the outage meanwhile
    cluster.start()

    # Meta retries: every message is answered 200 once the server is back, then handled.
    acked, _ = await post_in_order(url, users, 2, deadline=time.monotonic() + 60)
    assert len(acked) == 6
    await recorded.wait(lambda: len(recorded.handled_keys()) == 6, 60, "the units after it")
    recorded.check_order(2)
    assert await committed(cluster.url, "bot", {user: [0, 1] for user in users})

    logs = "".join(p.read_text() for p in recorded.directory.glob("*.log"))
    assert "Traceback" not in logs, logs[-3000:]
    # One line per process when it starts failing (the worker's and the ingress's).
    assert 1 <= logs.count("postgres unavailable") <= 3, logs[-3000:]
    assert "postgres available again" in logs
    assert "psycopg.pool" not in logs  # its warning per connection attempt is silenced
