"""Group chats (issue 25) through the real path: signed group webhooks → ingress → queue →
worker → router → ``ctx.reply`` → the fake Graph API, and the statuses it posts back."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from wahost import Context, Router
from wahost import filters as F
from wahost.outbound import Pin, ReplyButton, ReplyButtons, Text, message_body
from wahost.testing import TEST_TOKEN, BotHarness, FakeGraph
from wahost.testing.loopback import loopback_client
from wahost.testing.payloads import make_message, make_webhook

ALICE = "16505551234"
BOB = "16505550002"
CAROL = "16505550003"


def group_text(text: str, sender: str, group_id: str, wamid: str | None = None) -> dict[str, Any]:
    """A text ``sender`` wrote in the group ``group_id``, as Meta sends it (§12.2)."""
    return make_message("text", {"body": text}, sender=sender, wamid=wamid, group_id=group_id)


def private_text(text: str, sender: str) -> dict[str, Any]:
    return make_message("text", {"body": text}, sender=sender)


def counting_bot(seen: list[tuple[str | None, str, str, int]]) -> Router:
    """Counts the messages of each conversation in ``ctx.state`` and answers with the count."""
    router = Router()

    @router.message(F.text)
    async def count(message: Any, ctx: Context) -> None:
        n = int(ctx.state.get("n", 0)) + 1
        ctx.state.update(n=n)
        seen.append((ctx.group_id, ctx.sender, ctx.unit.conversation, n))
        await ctx.reply(f"{n}: {message.text.body} from {ctx.sender}", quote=True)

    return router


async def test_a_group_is_one_conversation_its_replies_go_to_the_group(
    tmp_path: Path,
) -> None:
    seen: list[tuple[str | None, str, str, int]] = []
    async with FakeGraph(token=TEST_TOKEN) as graph:
        group = graph.add_group([ALICE, BOB, CAROL], subject="Book club")
        async with BotHarness(tmp_path, plugins=[counting_bot(seen)], graph=graph) as bot:
            for sender in (ALICE, BOB, CAROL):
                webhook = make_webhook(group_text(f"hi from {sender}", sender, group))
                assert (await bot.post(webhook)).status_code == 200
                await bot.idle()
            # The same user, privately: a conversation of its own.
            assert (await bot.post(make_webhook(private_text("psst", ALICE)))).status_code == 200
            await bot.idle()
    pnid = bot.config.whatsapp.phone_number_id
    assert seen == [
        (group, ALICE, f"{pnid}:{group}", 1),
        (group, BOB, f"{pnid}:{group}", 2),
        (group, CAROL, f"{pnid}:{group}", 3),
        (None, ALICE, f"{pnid}:{ALICE}", 1),
    ]
    in_group = graph.messages_to(group)
    assert [m.text for m in in_group] == [
        f"1: hi from {ALICE} from {ALICE}",
        f"2: hi from {BOB} from {BOB}",
        f"3: hi from {CAROL} from {CAROL}",
    ]
    assert {m["recipient_type"] for m in in_group} == {"group"}
    assert all("context" in m for m in in_group)  # quoted in the group
    [private] = graph.messages_to(ALICE)
    assert private["recipient_type"] == "individual"
    assert private.text == f"1: psst from {ALICE}"


async def test_metas_and_pywas_group_payloads_reach_the_bot_as_the_groups(tmp_path: Path) -> None:
    router = Router()
    seen: list[tuple[str, str | None, str, str]] = []

    @router.message()
    async def message(ctx: Context) -> None:
        seen.append(("message", ctx.group_id, ctx.sender, ctx.unit.conversation))

    @router.status()
    async def status(ctx: Context) -> None:
        seen.append(("status", ctx.group_id, ctx.sender, ctx.unit.conversation))

    async with BotHarness(tmp_path, plugins=[router]) as bot:
        for name in (
            "meta_groups_messaging.json",
            "pywa_message_status_group.json",
            "composed_group_unsupported_message.json",
        ):
            assert (await bot.post_fixture(name)).status_code == 200
            await bot.idle()
    group = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD"
    assert seen == [
        (
            "message",
            "<GROUP_ID>",
            "<GROUP_PARTICIPANT_PHONE_NUMBER>",
            "<BUSINESS_PHONE_NUMBER_ID>:<GROUP_ID>",
        ),
        (
            "status",
            "fowefinoewcnw",
            "<GROUP_PARTICIPANT_USER_PHONE_NUMBER>",
            "<BUSINESS_PHONE_NUMBER_ID>:fowefinoewcnw",
        ),
        # A type groups do not support still arrives (as unsupported, 130501), in the group.
        ("message", group, ALICE, f"106540352242922:{group}"),
    ]


async def test_units_of_a_group_are_handled_one_at_a_time_in_order_across_participants(
    tmp_path: Path,
) -> None:
    router = Router()
    order: list[str] = []
    active = 0
    overlapped = False

    @router.message(F.text)
    async def slow(message: Any, ctx: Context) -> None:
        nonlocal active, overlapped
        active += 1
        overlapped = overlapped or active > 1
        # The first message is slow: a later participant's message must wait for it.
        await asyncio.sleep(0.3 if message.text.body == "m0" else 0.01)
        order.append(message.text.body)
        active -= 1

    async with FakeGraph(token=TEST_TOKEN) as graph:
        group = graph.add_group([ALICE, BOB, CAROL])
        config = {"worker": {"concurrency": 8}}
        async with BotHarness(tmp_path, plugins=[router], graph=graph, config=config) as bot:
            senders = [ALICE, BOB, CAROL, BOB, ALICE, CAROL]
            webhook = make_webhook(
                *(group_text(f"m{i}", sender, group) for i, sender in enumerate(senders))
            )
            assert (await bot.post(webhook)).status_code == 200
            await bot.idle()
    assert order == [f"m{i}" for i in range(6)]
    assert not overlapped


async def test_statuses_of_a_group_send_are_the_groups_and_keep_the_participant(
    tmp_path: Path,
) -> None:
    router = Router()
    statuses: list[tuple[str, str | None, str, str]] = []

    @router.message(F.group)
    async def answer(ctx: Context) -> None:
        await ctx.reply("noted")

    @router.status(F.group)
    async def status(status: Any, ctx: Context) -> None:
        statuses.append((status.status, ctx.group_id, ctx.sender, ctx.unit.conversation))

    async with FakeGraph(token=TEST_TOKEN) as graph:
        group = graph.add_group([ALICE, BOB])
        async with BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
            graph.send_statuses(bot.webhook_url, statuses=("sent", "delivered", "read"))
            assert (await bot.post(make_webhook(group_text("hi", ALICE, group)))).status_code == 200
            for _ in range(200):
                if len(statuses) >= 5:
                    break
                await asyncio.sleep(0.02)
            await bot.idle()
    lane = f"{bot.config.whatsapp.phone_number_id}:{group}"
    # sent once for the whole group, delivered and read per participant (§12.4).
    assert sorted(statuses) == sorted(
        [
            ("sent", group, "", lane),
            ("delivered", group, ALICE, lane),
            ("delivered", group, BOB, lane),
            ("read", group, ALICE, lane),
            ("read", group, BOB, lane),
        ]
    )


async def test_f_group_and_f_private_route_by_chat_and_mark_read_skips_groups(
    tmp_path: Path,
) -> None:
    router = Router()
    routed: list[tuple[str, str | None]] = []

    @router.message(F.group)
    async def in_group(ctx: Context, group_id: str) -> None:
        routed.append(("group", group_id))
        await ctx.mark_read()  # Meta has no read receipts for groups: nothing is sent
        await ctx.send(group_id, Text("to the group"), group=True)

    @router.message(F.private)
    async def one_to_one(ctx: Context) -> None:
        routed.append(("private", ctx.group_id))
        await ctx.mark_read()

    async with FakeGraph(token=TEST_TOKEN) as graph:
        group = graph.add_group([ALICE, BOB])
        async with BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
            webhook = make_webhook(group_text("hi", BOB, group, wamid="wamid.group-1"))
            assert (await bot.post(webhook)).status_code == 200
            await bot.idle()
            assert (await bot.post(make_webhook(private_text("hi", BOB)))).status_code == 200
            await bot.idle()
    assert routed == [("group", group), ("private", None)]
    [sent] = graph.sent
    assert (sent["to"], sent["recipient_type"]) == (group, "group")
    assert len(graph.marked_read) == 1
    assert "wamid.group-1" not in graph.marked_read


async def test_what_a_group_does_not_take_is_refused_before_any_request(
    tmp_path: Path,
) -> None:
    router = Router()
    errors: list[str] = []

    @router.message(F.group)
    async def buttons(ctx: Context) -> None:
        try:
            await ctx.reply(ReplyButtons("Pick one", [ReplyButton("a", "A")]))
        except ValueError as exc:
            errors.append(str(exc))

    async with FakeGraph(token=TEST_TOKEN) as graph:
        group = graph.add_group([ALICE, BOB])
        async with BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
            assert (await bot.post(make_webhook(group_text("hi", ALICE, group)))).status_code == 200
            await bot.idle()
    assert errors and "cannot be sent to a group" in errors[0]
    assert not [r for r in graph.requests if r.path.endswith("/messages")]


@pytest.mark.parametrize("kind", ["reaction", "location", "interactive", "contacts"])
def test_message_body_refuses_the_types_a_group_does_not_take(kind: str) -> None:
    from wahost.outbound import Contact, Contacts, Location, Name, Reaction

    messages = {
        "reaction": Reaction("wamid.x", "👍"),
        "location": Location(1.0, 2.0),
        "interactive": ReplyButtons("b", [ReplyButton("a", "A")]),
        "contacts": Contacts([Contact(name=Name(formatted_name="Ann"))]),
    }
    with pytest.raises(ValueError, match=f"a {kind} message cannot be sent to a group"):
        message_body("GROUP", messages[kind], recipient_type="group")
    assert message_body("GROUP", Text("hi"), recipient_type="group")["to"] == "GROUP"


async def test_a_bot_pins_a_participants_message_in_the_group(tmp_path: Path) -> None:
    router = Router()

    @router.message(F.group & F.text("pin this"))
    async def pin(message: Any, ctx: Context, group_id: str) -> None:
        await ctx.send(group_id, Pin(message.id, 3), group=True)
        await ctx.send(group_id, Pin.unpin(message.id), group=True)

    async with FakeGraph(token=TEST_TOKEN) as graph:
        group = graph.add_group([ALICE, BOB])
        async with BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
            webhook = make_webhook(group_text("pin this", BOB, group, wamid="wamid.pin-me"))
            assert (await bot.post(webhook)).status_code == 200
            await bot.idle()
    assert [(m["recipient_type"], m["type"], m["pin"]) for m in graph.messages_to(group)] == [
        ("group", "pin", {"type": "pin", "message_id": "wamid.pin-me", "expiration_days": 3}),
        ("group", "pin", {"type": "unpin", "message_id": "wamid.pin-me"}),
    ]


def test_a_pin_goes_to_a_group_only_and_lasts_1_to_30_days() -> None:
    with pytest.raises(ValueError, match="a pin message is sent to a group only"):
        message_body(ALICE, Pin("wamid.x"))
    with pytest.raises(ValueError, match=r"Pin\.expiration_days: 1 to 30 days \(got 31\)"):
        message_body("GROUP", Pin("wamid.x", 31), recipient_type="group")
    body = message_body("GROUP", Pin("wamid.x"), recipient_type="group")
    assert body["pin"] == {"type": "pin", "message_id": "wamid.x", "expiration_days": 7}


# -- the fake Graph API answers group sends as Meta does (§12.3, §12.7) ---------------------------


async def test_the_fake_graph_answers_group_sends_as_meta_does() -> None:
    async with FakeGraph(token=TEST_TOKEN) as graph:
        group = graph.add_group([ALICE, BOB])
        lonely = graph.add_group([])
        url = f"{graph.url}/v24.0/106540352242922/messages"
        headers = {"Authorization": f"Bearer {TEST_TOKEN}"}

        async def send(to: str, recipient_type: str, kind: str = "text") -> httpx.Response:
            objects: dict[str, Any] = {
                "text": {"body": "hi"},
                "reaction": {"message_id": "wamid.x", "emoji": "👍"},
            }
            body = {
                "messaging_product": "whatsapp",
                "recipient_type": recipient_type,
                "to": to,
                "type": kind,
                kind: objects[kind],
            }
            async with loopback_client() as client:
                return await client.post(url, json=body, headers=headers)

        ok = await send(group, "group")
        assert ok.status_code == 200
        assert ok.json()["contacts"] == [{"input": group, "wa_id": group}]
        assert graph.messages_to(group)[0].text == "hi"
        assert (await send("Y2FwaV9ncm91cDpub25l", "group")).json()["error"]["code"] == 131041
        assert (await send(lonely, "group")).json()["error"]["code"] == 131020
        assert (await send(group, "individual")).json()["error"]["code"] == 100
        assert (await send(ALICE, "group")).json()["error"]["code"] == 100
        assert (await send(group, "group", "reaction")).json()["error"]["code"] == 100
        assert len(graph.sent) == 1


async def test_a_dialogue_in_a_group_hears_any_participant(tmp_path: Path) -> None:
    router = Router()
    answers: list[tuple[str, str]] = []

    @router.message(F.text("poll"))
    async def poll(ctx: Context) -> None:
        answer = await ctx.ask("Which day?")
        answers.append((answer.sender, answer.text.body))
        await ctx.reply(f"{answer.text.body} it is")

    async with FakeGraph(token=TEST_TOKEN) as graph:
        group = graph.add_group([ALICE, BOB])
        async with BotHarness(tmp_path, plugins=[router], graph=graph) as bot:
            for text, sender in (("poll", ALICE), ("Friday", BOB)):
                webhook = make_webhook(group_text(text, sender, group))
                assert (await bot.post(webhook)).status_code == 200
                await bot.idle()
    assert answers == [(BOB, "Friday")]
    assert [m.text for m in graph.messages_to(group)] == ["Which day?", "Friday it is"]
    assert {m["recipient_type"] for m in graph.sent} == {"group"}
