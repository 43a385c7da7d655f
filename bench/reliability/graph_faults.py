"""Graph API faults: about 30 % of sends fail — 130429, 131056, HTTP 500, timeouts (an answer
slower than the client's timeout; the fake accepted the message: ambiguous) and dropped
connections (half after accepting: ambiguous). Every reply must still be delivered, in order
per conversation, and none twice: Meta's ``sent`` statuses come back to the webhook, and the
outbox sends an ambiguous send again only when no status confirmed it. With the
fake enforcing Meta's limits (80 messages/s, a pair interval) and the client configured to
stay under them, the fake's own 130429 / 131056 counters stay at zero.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

from bench.reliability import Row
from wahost import hookimpl
from wahost.testing import BotHarness, FakeGraph, make_text


class Replier:
    """Replies to each message with its own text, through ``ctx.reply``."""

    __name__ = "replier"

    @hookimpl
    async def on_message(self, message: Any, ctx: Any) -> bool:
        await ctx.reply(message.text.body)
        return True


_KINDS = ("130429", "131056", "500", "timeout", "drop", "drop-accepted")


async def run_graph_faults(
    tmp: Path,
    *,
    users: int = 20,
    per_user: int = 8,
    failure_rate: float = 0.3,
    pair_interval: float = 0.2,
    seed: int = 5,
    kinds: tuple[str, ...] = _KINDS,
) -> Row:
    rng = random.Random(seed)
    row = Row(
        "graph faults",
        f"{users} users x {per_user} replies, {failure_rate:.0%} of sends fail ({'/'.join(kinds)})",
    )
    client_timeout = 0.4
    config = {
        "graph": {
            "timeout": client_timeout,
            "max_retries": 6,
            "backoff_base": 0.01,
            "backoff_cap": 0.1,
            "messages_per_second": 80.0,
            "recipient_interval": pair_interval * 1.1,
            "breaker_failures": 50,
            "breaker_reset": 0.2,
        },
        "worker": {"concurrency": 32, "max_attempts": 50},
        # Meta's statuses come back within milliseconds here; an ambiguous send the fake did
        # not accept (a drop) waits this long before it is sent again.
        "outbox": {"confirm_wait": 1.0},
    }
    decided: dict[int, str] = {}
    counts = dict.fromkeys(_KINDS, 0)

    def kind_of(recorded: Any) -> str:
        key = id(recorded)
        if key not in decided:
            kind = "ok"
            if recorded.is_message and rng.random() < failure_rate:
                kind = rng.choice(kinds)
                counts[kind] += 1
            decided[key] = kind
        return decided[key]

    expected = {f"1650777{n:04d}": [str(seq) for seq in range(per_user)] for n in range(users)}
    async with FakeGraph(messages_per_second=80, pair_interval=pair_interval) as graph:
        graph.fail_when(lambda r: kind_of(r) == "130429", code=130429)
        graph.fail_when(lambda r: kind_of(r) == "131056", code=131056)
        graph.fail_when(lambda r: kind_of(r) == "500", code=None, http_status=500)
        slow = graph.fail_when(lambda r: kind_of(r) == "timeout", delay=client_timeout + 0.3)
        slow.passthrough = True  # accepted, then answered too late: ambiguous
        graph.fail_when(lambda r: kind_of(r) == "drop", drop=True)
        graph.fail_when(lambda r: kind_of(r) == "drop-accepted", drop=True, accept=True)
        async with BotHarness(tmp, plugins=[Replier()], config=config, graph=graph) as bot:
            # Meta's statuses tell the outbox which ambiguous sends went out ([outbox]
            # ambiguous = confirm): those are not sent again.
            graph.send_statuses(bot.webhook_url)
            for seq in range(per_user):
                for user in expected:
                    payload = make_text(str(seq), sender=user, wamid=f"wamid.gf.{user}.{seq}")
                    response = await bot.post(payload)
                    if response.status_code >= 500:
                        row.errors_5xx += 1
            await bot.idle(timeout=300)
            assert bot.host.client is not None
            ambiguous = int(bot.host.client.stats["ambiguous"])
        await asyncio.sleep(client_timeout + 0.4)  # let late-answered requests finish
        delivered: dict[str, list[str]] = {}
        for accepted in graph.sent:
            delivered.setdefault(accepted.wa_id, []).append(accepted["text"]["body"])
        throttled, pair_limited = graph.throttled, graph.pair_limited
    for user, wanted in expected.items():
        got = delivered.get(user, [])
        firsts = list(dict.fromkeys(got))
        row.lost += len(set(wanted) - set(got))
        row.duplicated += len(got) - len(set(got))
        if firsts != wanted:
            row.fail(f"{user}: order {firsts} != {wanted}")
            break
    if row.duplicated:
        row.fail(f"{row.duplicated} replies repeated ({ambiguous} ambiguous sends)")
    if throttled or pair_limited:
        row.fail(f"fake's limits hit: 130429 x{throttled}, 131056 x{pair_limited}")
    if row.lost or row.errors_5xx:
        row.ok = False
    injected = ", ".join(f"{k} x{v}" for k, v in counts.items())
    row.notes.append(f"injected {injected}; ambiguous sends {ambiguous}")
    return row
