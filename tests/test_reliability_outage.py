"""Reliability, issue 22 items 1 and 2: a Graph API outage pauses replies instead of killing
their units, and a send whose outcome is unknown is confirmed by Meta's status before it is sent
again. Long versions: ``python -m bench.reliability outage duplicates``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.graph_outage import Replier, run_duplicate_replies, run_graph_outage
from wahost import hookimpl
from wahost.errors import ServerError
from wahost.testing import BotHarness, FakeGraph, make_text
from wahost.testing.loopback import loopback_client


async def test_replies_wait_out_an_outage_and_go_out_once(tmp_path: Path) -> None:
    # The harness's fast worker backoff (0.01 s) spends 5 attempts in well under the outage:
    # without the pause every unit that replies during it would be dead.
    row = await run_graph_outage(
        tmp_path,
        users=10,
        outage=2.0,
        interval=0.5,
        config={
            "worker": {"backoff_base": 0.01, "backoff_cap": 0.05},
            "graph": {"breaker_reset": 0.5},
        },
    )
    print(row)
    assert row.ok, row.notes
    assert row.lost == 0 and row.duplicated == 0


async def test_no_reply_is_repeated_after_ambiguous_sends_and_replays(tmp_path: Path) -> None:
    row = await run_duplicate_replies(tmp_path, users=4, per_user=3)
    print(row)
    assert row.ok, row.notes
    assert row.duplicated == 0 and row.lost == 0


async def test_resend_policy_repeats_ambiguous_sends(tmp_path: Path) -> None:
    # The trade-off the docs describe: at least once, duplicates possible.
    row = await run_duplicate_replies(tmp_path, users=2, per_user=2, ambiguous="resend")
    print(row)
    assert row.lost == 0
    assert row.duplicated > 0


async def test_an_ambiguous_send_with_no_status_is_sent_again_after_the_wait(
    tmp_path: Path,
) -> None:
    config = {
        "graph": {"timeout": 0.3, "backoff_base": 0.01},
        "outbox": {"confirm_wait": 0.5},
    }
    async with FakeGraph() as graph:
        late = graph.delay_next(1, delay=0.6)  # accepted, answered too late; no status comes
        async with BotHarness(tmp_path, plugins=[Replier()], config=config, graph=graph) as bot:
            await bot.post(make_text("hello", wamid="wamid.nostatus.1"))
            await bot.idle()
        texts = [accepted.text for accepted in graph.sent]
    assert late.hits == 1
    assert texts == ["hello", "hello"]  # bounded wait, then at least once


async def test_never_policy_does_not_send_an_ambiguous_send_again(tmp_path: Path) -> None:
    config = {"graph": {"timeout": 0.3}, "outbox": {"ambiguous": "never"}}
    async with FakeGraph() as graph:
        graph.fail_next(1, drop=True)  # dropped before Meta accepted: lost, at most once
        async with BotHarness(tmp_path, plugins=[Replier()], config=config, graph=graph) as bot:
            await bot.post(make_text("hello", wamid="wamid.never.1"))
            await bot.idle()
        assert graph.sent == []
        assert len([r for r in graph.requests if r.is_message]) == 1


async def test_plugins_see_their_tracker_and_never_the_send_token(tmp_path: Path) -> None:
    seen: list[Any] = []

    class Tracking:
        __name__ = "tracking"

        @hookimpl
        async def on_message(self, message: Any, ctx: Any) -> bool:
            await ctx.reply("hi", tracker="order-7")
            return True

        @hookimpl
        async def on_status(self, status: Any) -> None:
            seen.append(status.biz_opaque_callback_data)

    async with FakeGraph() as graph, BotHarness(tmp_path, plugins=[Tracking()], graph=graph) as bot:
        graph.send_statuses(bot.webhook_url, statuses=("sent", "delivered"))
        await bot.post(make_text("hello", wamid="wamid.tracker.1"))
        await graph.wait_for(1)
        for _ in range(200):
            await bot.idle()
            if len(seen) == 2:
                break
            await asyncio.sleep(0.02)
        echoed = graph.sent[0]["biz_opaque_callback_data"]
        stats = await bot.host.queue.stats()
    assert echoed.startswith("wh1:") and echoed.endswith(";order-7")
    assert seen == ["order-7", "order-7"]
    # One receipt per send: the second status's receipt is a duplicate key.
    assert stats.done == 1 + 2 + 1


async def test_a_tracker_keeps_room_for_the_send_token(tmp_path: Path) -> None:
    class Long:
        __name__ = "long"

        @hookimpl
        async def on_message(self, ctx: Any) -> bool:
            await ctx.reply("hi", tracker="x" * 500)
            return True

    async with FakeGraph() as graph:
        config = {"worker": {"max_attempts": 1}}
        async with BotHarness(tmp_path, plugins=[Long()], config=config, graph=graph) as bot:
            await bot.post(make_text("hello", wamid="wamid.long.1"))
            await bot.idle()
            dead = await bot.host.queue.list_dead()
    assert graph.sent == []
    assert "at most 491 characters" in dead[0].error


async def test_readyz_stays_ready_while_the_graph_circuit_is_open(tmp_path: Path) -> None:
    config = {"graph": {"max_retries": 0, "breaker_failures": 2, "breaker_reset": 30.0}}
    async with FakeGraph() as graph:
        graph.fail_next(2, code=None, http_status=500)
        async with BotHarness(tmp_path, config=config, graph=graph) as bot:
            client = bot.host.client
            assert client is not None
            for _ in range(2):
                with pytest.raises(ServerError):
                    await client.send("16505551234", "hi")
            assert client.breaker.is_open
            async with loopback_client() as http:
                ready = await http.get(bot.url + "/readyz")
                graph_health = await http.get(bot.url + "/healthz/graph")
    assert ready.status_code == 200
    assert graph_health.status_code == 503
    assert "sending paused" in graph_health.text


async def test_graph_health_is_200_while_sending_works(tmp_path: Path) -> None:
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, graph=graph) as bot,
        loopback_client() as http,
    ):
        answer = await http.get(bot.url + "/healthz/graph")
    assert answer.status_code == 200
