"""Ordering: many conversations post concurrently, each its messages one after the other;
the worker must handle at most one unit per conversation at a time, in arrival order.

Arrival order of a conversation is the order in which the server answered 200 to its
messages: each conversation's client posts sequentially (the next after the previous got its
200) while all conversations interleave, in a shuffled start order.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import Any

import httpx

from bench.reliability import Row
from wahost import hookimpl
from wahost.testing import BotHarness, make_text, sign


class OrderRecorder:
    """Records each handled message per conversation and any overlap inside one."""

    __name__ = "order-recorder"

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.handled: dict[str, list[int]] = {}
        self.in_flight: set[str] = set()
        self.overlaps = 0
        self.max_parallel = 0

    @hookimpl
    async def on_message(self, message: Any) -> bool:
        user = message.sender
        if user in self.in_flight:
            self.overlaps += 1
        self.in_flight.add(user)
        self.max_parallel = max(self.max_parallel, len(self.in_flight))
        try:
            # Yield so that other units of the conversation would run now if leases allowed.
            await asyncio.sleep(self.rng.choice((0, 0, 0.001, 0.003)))
            self.handled.setdefault(user, []).append(int(message.text.body))
        finally:
            self.in_flight.discard(user)
        return True


async def run_ordering(
    tmp: Path, *, conversations: int = 200, per_conversation: int = 10, seed: int = 3
) -> Row:
    rng = random.Random(seed)
    users = [f"1650{n:07d}" for n in range(conversations)]
    rng.shuffle(users)
    recorder = OrderRecorder(seed)
    row = Row(
        "ordering",
        f"{conversations} conversations x {per_conversation} msgs, concurrent, shuffled",
    )
    arrival: dict[str, list[int]] = {user: [] for user in users}
    statuses: dict[int, int] = {}
    config = {"worker": {"concurrency": 64}}
    async with BotHarness(tmp, plugins=[recorder], config=config) as bot:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:

            async def conversation(user: str) -> None:
                await asyncio.sleep(rng.random() * 0.2)
                for seq in range(per_conversation):
                    payload = make_text(str(seq), sender=user, wamid=f"wamid.order.{user}.{seq}")
                    body = json.dumps(payload).encode()
                    headers = {"content-type": "application/json"}
                    headers["x-hub-signature-256"] = sign(body)
                    while True:
                        response = await http.post(bot.webhook_url, content=body, headers=headers)
                        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                        if response.status_code == 200:
                            arrival[user].append(seq)
                            break
                        await asyncio.sleep(0.05)

            await asyncio.gather(*(conversation(user) for user in users))
        await bot.idle(timeout=120)
    row.errors_5xx = sum(n for status, n in statuses.items() if status >= 500)
    for user in users:
        handled = recorder.handled.get(user, [])
        row.lost += len(set(arrival[user]) - set(handled))
        row.duplicated += len(handled) - len(set(handled))
        if handled != arrival[user]:
            row.fail(f"{user}: handled {handled[:12]} arrived {arrival[user][:12]}")
            break
    if recorder.overlaps:
        row.fail(f"{recorder.overlaps} overlapping units in one conversation")
    if row.lost or row.duplicated or row.errors_5xx:
        row.ok = False
    row.notes.append(f"max {recorder.max_parallel} conversations in parallel")
    return row
