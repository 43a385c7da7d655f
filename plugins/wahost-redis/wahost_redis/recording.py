"""Real ``wahost`` processes on Redis with a recording plugin, for crash tests and runs
(:mod:`wahost.testing.processes`, on Redis).

The plugin (``redis_recorder``) appends a line per handled message to a file of its process —
a side effect, so it shows at-least-once handling, repeats included — and appends the
message's number to the conversation's ``ctx.state["seen"]``, committed with the ack, which
shows what was applied exactly once. Messages carry their number as text (``"0"``, ``"1"``...).
:class:`Recorded` starts processes with it and checks order, exclusivity and state.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from wahost.testing import processes
from wahost.testing.processes import RECORDER as RECORDER
from wahost.testing.processes import MetaClient as MetaClient


class Recorded(processes.Recorded):
    """:class:`wahost.testing.processes.Recorded` on Redis, with what reads its store."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory, backend="wahost-redis", recorder="redis_recorder")

    async def drained(self, url: str, seconds: float = 30) -> None:
        """Wait until the queue holds no unfinished unit (every ack committed)."""
        from wahost_redis import RedisQueue

        queue = RedisQueue(url)
        try:
            deadline = time.monotonic() + seconds
            while True:
                stats = await queue.stats()
                if stats.ready + stats.leased + stats.waiting_retry == 0:
                    return
                assert time.monotonic() < deadline, f"queue not drained: {stats}"
                await asyncio.sleep(0.05)
        finally:
            await queue.close()

    async def seen(self, url: str, users: list[str]) -> dict[str, list[int] | None]:
        """The ``seen`` list of each user's ctx.state, read through the store."""
        from wahost.testing.harness import TEST_PHONE_NUMBER_ID
        from wahost_redis import RedisStateStore

        store = RedisStateStore(url)
        try:
            seen: dict[str, list[int] | None] = {}
            for user in users:
                state = await store.get(f"{TEST_PHONE_NUMBER_ID}:{user}")
                seen[user] = None if state is None else state.data.get("seen")
            return seen
        finally:
            await store.close()
