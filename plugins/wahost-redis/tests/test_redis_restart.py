"""Redis killed (SIGKILL) and restarted under a real ``wahost serve`` while Meta-like clients
post: ingress answers 503 while it is down, the clients post again, and nothing answered 200
is lost — each message handled, in order, its state applied once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
from wahost_redis.recording import MetaClient
from wahost_redis.testing import RedisServer, free_port, write_config

from wahost.testing.loopback import loopback_client

USERS = [f"1650777{n:04d}" for n in range(12)]
PER_USER = 15


async def test_redis_restart_mid_load_loses_nothing(
    own_redis: RedisServer, recorded: Any, tmp_path: Path
) -> None:
    port = free_port()
    worker = {"concurrency": 8, "lease_seconds": 2.0, "poll_interval": 0.01}
    path = write_config(
        tmp_path / "wahost.toml", own_redis.url, port=port, sections={"worker": worker}
    )
    recorded.spawn("serve", path, delay=0.005)
    await recorded.wait(lambda: len(recorded.read("ready")) == 1, 30, "wahost serve")
    base = f"http://127.0.0.1:{port}"
    async with loopback_client() as http:
        for _ in range(200):
            try:
                if (await http.get(base + "/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.05)

    clients = [MetaClient(base + "/webhook", USERS[i::4], PER_USER) for i in range(4)]
    total = len(USERS) * PER_USER
    deadline = time.monotonic() + 60
    posting = asyncio.gather(*(client.run(deadline) for client in clients))

    def acked() -> int:
        return sum(len(client.acked) for client in clients)

    await recorded.wait(lambda: acked() >= total // 3, 30, "a third of the messages")
    own_redis.kill()
    await asyncio.sleep(1.0)
    down = sum(client.refused for client in clients)
    own_redis.start()
    await posting

    assert down > 0, "no 503 while Redis was down"
    assert acked() == total
    await recorded.wait(lambda: len(recorded.handled_keys()) == total, 60, "every message")
    await recorded.drained(own_redis.url)
    recorded.check_order(PER_USER)
    expected = list(range(PER_USER))
    assert await recorded.seen(own_redis.url, USERS) == {user: expected for user in USERS}
