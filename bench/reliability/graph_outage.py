"""Graph API outage and ambiguous sends: replies wait for Meta, and are not repeated.

* **outage**: users keep writing while every send to ``/messages`` answers an HTML 500 for
  ``outage`` seconds, with the default worker settings. Every reply must go out once, after
  the outage, by itself: no unit dead, no replay.
* **duplicates**: sends whose outcome is unknown — the fake accepted the message but the
  answer came after the client's timeout, or the connection dropped after accepting — with
  Meta's ``sent`` statuses coming back to the webhook as Meta sends them. Then units that died
  after such a send are replayed. With ``[outbox] ambiguous = "confirm"`` no reply may be
  repeated; ``resend`` is run beside it for comparison.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench.reliability import Row
from wahost import hookimpl
from wahost.testing import BotHarness, FakeGraph, make_text


class Replier:
    """Replies to each message with its own text; with ``fail_first``, raises once after the
    reply of each message (so that the unit dies with ``max_attempts = 1``)."""

    __name__ = "replier"

    def __init__(self, *, fail_first: bool = False) -> None:
        self.fail_first = fail_first
        self.failed: set[str] = set()

    @hookimpl
    async def on_message(self, message: Any, ctx: Any) -> bool:
        await ctx.reply(message.text.body)
        if self.fail_first and message.id not in self.failed:
            self.failed.add(message.id)
            raise RuntimeError("the plugin failed after its reply")
        return True


def _delivered(graph: FakeGraph) -> dict[str, list[str]]:
    delivered: dict[str, list[str]] = {}
    for accepted in graph.sent:
        delivered.setdefault(accepted.wa_id, []).append(accepted["text"]["body"])
    return delivered


def _count(row: Row, expected: dict[str, list[str]], delivered: dict[str, list[str]]) -> None:
    for user, wanted in expected.items():
        got = delivered.get(user, [])
        row.lost += len(set(wanted) - set(got))
        row.duplicated += len(got) - len(set(got))
        firsts = list(dict.fromkeys(got))
        if firsts != [text for text in wanted if text in got]:
            row.fail(f"{user}: order {firsts} != {wanted}")


async def run_graph_outage(
    tmp: Path,
    *,
    users: int = 10,
    outage: float = 60.0,
    interval: float = 2.0,
    config: dict[str, dict[str, Any]] | None = None,
) -> Row:
    """``users`` write one message every ``interval`` seconds, from ``interval`` before the
    outage to its end; every send fails with an HTML 500 during the outage."""
    row = Row(
        "Graph API outage (HTML 500 on /messages)",
        f"{users} users writing every {interval:g}s through a {outage:g}s outage",
    )
    settings: dict[str, dict[str, Any]] = {
        # The defaults as users run them (the harness's own worker settings are faster).
        "worker": {"backoff_base": 1.0, "backoff_cap": 300.0},
    }
    for section, values in (config or {}).items():
        settings.setdefault(section, {}).update(values)
    expected: dict[str, list[str]] = {f"1650888{n:04d}": [] for n in range(users)}
    down = {"until": 0.0}
    async with FakeGraph() as graph:
        graph.fail_when(
            lambda r: r.is_message and time.monotonic() < down["until"], code=None, http_status=500
        )
        async with BotHarness(tmp, plugins=[Replier()], config=settings, graph=graph) as bot:
            rounds = int(outage / interval) + 1
            for seq in range(rounds + 1):
                if seq == 1:
                    down["until"] = time.monotonic() + outage
                    outage_began = time.monotonic()
                for user, texts in expected.items():
                    text = f"{seq}"
                    texts.append(text)
                    response = await bot.post(
                        make_text(text, sender=user, wamid=f"wamid.out.{user}.{seq}")
                    )
                    if response.status_code >= 500:
                        row.errors_5xx += 1
                await asyncio.sleep(interval)
            total = users * (rounds + 1)
            try:
                await graph.wait_for(total, timeout=outage + 60)
            except TimeoutError:
                row.fail(f"{len(graph.sent)} of {total} replies out")
            recovered = time.monotonic() - down["until"]
            await bot.idle(timeout=60)
            dead = await bot.host.queue.list_dead()
            failures = sum(1 for r in graph.requests if r.is_message and r.status == 500)
            elapsed = time.monotonic() - outage_began
        _count(row, expected, _delivered(graph))
    if dead:
        row.fail(f"{len(dead)} units dead")
    row.notes.append(
        f"{failures} sends answered 500; all {total} replies out {recovered:.1f}s after the "
        f"outage ended, {len(dead)} dead, no replay; {elapsed:.0f}s"
    )
    if row.lost or row.duplicated or row.errors_5xx:
        row.ok = False
    return row


async def run_duplicate_replies(
    tmp: Path, *, users: int = 5, per_user: int = 4, ambiguous: str = "confirm"
) -> Row:
    """Every first send of a message is ambiguous (half answered after the client's timeout,
    half dropped after accepting); Meta's ``sent`` statuses come back. Then each unit dies
    after its reply once (``max_attempts = 1``) and every dead unit is replayed."""
    row = Row(
        f"ambiguous sends and replays, [outbox] ambiguous = {ambiguous}",
        f"{users} users x {per_user} replies, every first send ambiguous (late answer or "
        "dropped after accepting), each unit dead once and replayed",
    )
    client_timeout = 0.3
    settings: dict[str, dict[str, Any]] = {
        # Every first send failing would rightly open the circuit (the outage scenario's
        # subject); here it must stay closed so that only the outbox is measured.
        "graph": {
            "timeout": client_timeout,
            "backoff_base": 0.01,
            "backoff_cap": 0.05,
            "breaker_failures": 10_000,
        },
        "worker": {"max_attempts": 1},
        "outbox": {"ambiguous": ambiguous, "confirm_wait": 5.0},
    }
    first_try: set[str] = set()

    def first(recorded: Any, kind: int) -> bool:
        if not recorded.is_message:
            return False
        text = (recorded.json or {}).get("text", {}).get("body", "")
        to = (recorded.json or {}).get("to", "")
        key = f"{to}:{text}"
        if key in first_try or hash(key) % 2 != kind:
            return False
        first_try.add(key)
        return True

    expected = {f"1650999{n:04d}": [str(seq) for seq in range(per_user)] for n in range(users)}
    replier = Replier(fail_first=True)
    async with FakeGraph() as graph:
        late = graph.fail_when(lambda r: first(r, 0), delay=client_timeout + 0.4)
        late.passthrough = True  # accepted, answered too late
        graph.fail_when(lambda r: first(r, 1), drop=True, accept=True)
        async with BotHarness(tmp, plugins=[replier], config=settings, graph=graph) as bot:
            graph.send_statuses(bot.webhook_url)
            for seq in range(per_user):
                for user in expected:
                    await bot.post(
                        make_text(str(seq), sender=user, wamid=f"wamid.dup.{user}.{seq}")
                    )
            await bot.idle(timeout=120)
            dead = await bot.host.queue.list_dead()
            replayed = await bot.host.queue.replay_all()
            bot.host.wakeup.set()
            await bot.idle(timeout=120)
            still_dead = await bot.host.queue.list_dead()
            assert bot.host.client is not None
            ambiguous_sends = bot.host.client.stats["ambiguous"]
        await asyncio.sleep(client_timeout + 0.5)  # late answers finish
        _count(row, expected, _delivered(graph))
    if len(dead) != users * per_user or replayed != len(dead) or still_dead:
        row.fail(f"{len(dead)} dead, {replayed} replayed, {len(still_dead)} dead after")
    row.notes.append(
        f"{ambiguous_sends} ambiguous sends, {len(dead)} units dead and replayed, "
        f"{row.duplicated} replies repeated"
    )
    if row.lost or (ambiguous == "confirm" and row.duplicated):
        row.ok = False
    return row
