"""Blocking (reference/cloudapi.md §18.1): wahost.account.BlockingApi against the fake Graph
API over loopback HTTP and ``ctx.block_sender()`` through the real path (signed webhook →
worker → router → the fake) (the commands: test_account_cli.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from wahost import Context, Router
from wahost import filters as F
from wahost.account import BlockingApi
from wahost.graph import GraphClient
from wahost.testing import BotHarness, FakeGraph, make_config
from wahost.testing.payloads import make_message, make_webhook

PNID = "106540352242922"
ALICE = "16505551234"
BOB = "16505550002"
BSUID = "US.13491208655302741918"


@pytest.fixture
async def blocking(tmp_path: Path, fake_graph: FakeGraph) -> AsyncIterator[BlockingApi]:
    config = make_config(
        tmp_path, {"whatsapp": {"graph_url": fake_graph.url, "phone_number_id": PNID}}
    )
    client = GraphClient(config)
    yield BlockingApi(client)
    await client.aclose()


async def test_block_list_unblock(blocking: BlockingApi, fake_graph: FakeGraph) -> None:
    result = await blocking.block([f"+{ALICE}", BOB])
    assert [(u.input, u.wa_id) for u in result.done] == [(f"+{ALICE}", ALICE), (BOB, BOB)]
    assert result.failed == []
    assert fake_graph.requests[-1].json == {
        "messaging_product": "whatsapp",
        "block_users": [{"user": f"+{ALICE}"}, {"user": BOB}],
    }
    first = await blocking.blocked(limit=1)
    assert first.users == [ALICE] and first.after is not None
    second = await blocking.blocked(limit=1, after=first.after)
    assert second.users == [BOB] and second.after is None

    unblocked = await blocking.unblock([ALICE])
    assert [u.wa_id for u in unblocked.done] == [ALICE]
    assert fake_graph.requests[-1].method == "DELETE"
    assert fake_graph.blocked[PNID] == [BOB]


async def test_a_bsuid_goes_as_user_id(blocking: BlockingApi, fake_graph: FakeGraph) -> None:
    await blocking.block([BSUID])
    assert fake_graph.requests[-1].json["block_users"] == [{"user_id": BSUID}]


async def test_partial_failure_lists_who_failed_and_why(
    blocking: BlockingApi, fake_graph: FakeGraph
) -> None:
    fake_graph.blockable = {ALICE}  # Bob did not write in the last 24 hours
    result = await blocking.block([ALICE, BOB])
    assert [u.wa_id for u in result.done] == [ALICE]
    assert [(f.wa_id, f.codes) for f in result.failed] == [(BOB, [131047])]


@pytest.mark.parametrize(
    ("users", "message"),
    [
        ([], "users: at least 1"),
        ([str(n) for n in range(1001)], "users: at most 1000 per request"),
        ([ALICE, ALICE], f"users: listed twice: {ALICE}"),
        (ALICE, "users: must be a list"),
        ([""], r"users\[0\]: must not be empty"),
    ],
)
async def test_bad_input_fails_before_any_request(
    blocking: BlockingApi, fake_graph: FakeGraph, users: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await blocking.block(users)
    with pytest.raises(ValueError, match="limit: must be 1 to 1000"):
        await blocking.blocked(limit=0)
    assert fake_graph.requests == []


async def test_ctx_block_sender_blocks_the_participant_not_the_group(tmp_path: Path) -> None:
    router = Router()

    @router.message(F.text("spam"))
    async def abuse(ctx: Context) -> None:
        await ctx.block_sender()

    async with FakeGraph() as graph:
        group = graph.add_group([ALICE, BOB])
        async with BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
            pnid = bot.config.whatsapp.phone_number_id
            private = make_message("text", {"body": "spam"}, sender=ALICE)
            in_group = make_message("text", {"body": "spam"}, sender=BOB, group_id=group)
            for message in (private, in_group):
                assert (await bot.post(make_webhook(message))).status_code == 200
                await bot.idle()
    assert graph.blocked == {pnid: [ALICE, BOB]}
    assert group not in graph.blocked[pnid]


async def test_the_account_apis_are_on_the_hosts_client(tmp_path: Path) -> None:
    """Plugins reach the account plane through ``host.client`` (issue 30): one typed API
    each, made once, for the configured number and WABA."""
    config = {"whatsapp": {"phone_number_id": PNID, "waba_id": "102290129340398"}}
    async with FakeGraph() as graph, BotHarness(tmp_path, graph=graph, config=config) as bot:
        client = bot.host.client
        assert client is not None
        assert client.blocking is client.blocking  # made once
        result = await client.blocking.block([ALICE])
        assert [u.wa_id for u in result.done] == [ALICE]
        assert graph.blocked[PNID] == [ALICE]
        assert client.numbers.waba_id == "102290129340398"
        assert {
            type(api).__name__
            for api in (client.groups, client.qr_codes, client.calls, client.commerce)
        } == {"GroupsApi", "QrCodesApi", "CallsApi", "CommerceApi"}
        assert client.groups.phone_number_id == PNID
