"""The simulator's engine: a real host, a real loopback server, the local Graph API, and a
simulated user whose messages go through the signed webhook path."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from wahost import Context, hookimpl
from wahost.models import ImageMessage, InteractiveMessage, LocationMessage, TextMessage
from wahost.outbound import ListMessage, ReplyButton, ReplyButtons, Row, Section
from wahost.simulator.session import Simulation
from wahost.testing.harness import make_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class MenuBot:
    """Answers "menu" with buttons, "list" with a list, a tap or location with what it got;
    marks every message read; records statuses of what it sent."""

    def __init__(self) -> None:
        self.replies: list[Any] = []
        self.statuses: list[tuple[str, str]] = []
        self.messages: list[Any] = []

    @hookimpl
    async def on_message(self, message: Any, ctx: Context) -> bool:
        self.messages.append(message)
        await ctx.mark_read()
        if isinstance(message, TextMessage) and message.text.body == "menu":
            buttons = [ReplyButton(id="yes", title="Yes"), ReplyButton(id="no", title="No")]
            await ctx.reply(ReplyButtons(body="Pick one", buttons=buttons))
        elif isinstance(message, TextMessage) and message.text.body == "list":
            rows = [
                Row(id="r1", title="First", description="the first"),
                Row(id="r2", title="Second"),
            ]
            await ctx.reply(
                ListMessage(
                    body="Choose", button="Options", sections=[Section(title="All", rows=rows)]
                )
            )
        elif isinstance(message, InteractiveMessage) and message.interactive is not None:
            self.replies.append(message)
            answer = message.interactive.button_reply or message.interactive.list_reply
            assert answer is not None
            await ctx.reply(f"you picked {answer.id}")
        elif isinstance(message, LocationMessage):
            await ctx.reply(f"you are at {message.location.latitude}")
        elif isinstance(message, ImageMessage):
            await ctx.reply(f"got image {message.image.id}")
        elif isinstance(message, TextMessage):
            await ctx.reply(f"echo: {message.text.body}")
        return True

    @hookimpl
    async def on_status(self, status: Any, ctx: Context) -> None:
        self.statuses.append((status.id, status.status))


@pytest.fixture
def bot() -> MenuBot:
    return MenuBot()


async def _thread_texts(sim: Simulation) -> list[str]:
    return [item.outgoing.text or "" for item in sim.thread() if item.outgoing is not None]


async def test_a_text_goes_through_the_webhook_and_the_reply_comes_back(
    tmp_path: Path, bot: MenuBot
) -> None:
    config = make_config(tmp_path)
    async with Simulation(config, plugins=[bot], load_entrypoints=False) as sim:
        user_item = await sim.send_text(None, "hello")
        assert user_item.status in ("sent", "read")  # the bot stored it: 200
        [reply] = await sim.wait_for_bot()
        assert reply.outgoing is not None and reply.outgoing.text == "echo: hello"
        # Stored through the queue, exactly as under `wahost serve`.
        stats = await sim.host.queue.stats()  # type: ignore[union-attr]
        assert stats.done + stats.ready + stats.leased >= 1
        # The bot marked the user's message read: blue ticks.
        await _until(lambda: user_item.status == "read")
        # The bot's message: sent and delivered at once, read when the user has seen it.
        await _until(lambda: (reply.id, "delivered") in bot.statuses)
        assert (reply.id, "read") not in bot.statuses
        seen = await sim.items(sim.default_user, 0)
        assert [i["from"] for i in seen["items"]][:1] == ["user"]
        await _until(lambda: (reply.id, "read") in bot.statuses)
        assert [s for w, s in bot.statuses if w == reply.id] == ["sent", "delivered", "read"]


async def test_a_wrong_app_secret_is_refused_and_shown_failed(tmp_path: Path, bot: MenuBot) -> None:
    config = make_config(tmp_path)
    async with Simulation(config, plugins=[bot], load_entrypoints=False) as sim:
        sim._secret = "not-the-app-secret"
        item = await sim.send_text(None, "hello")
        assert item.status == "failed"
        assert bot.messages == []


async def test_picking_a_reply_button_sends_the_button_reply(tmp_path: Path, bot: MenuBot) -> None:
    async with Simulation(make_config(tmp_path), plugins=[bot], load_entrypoints=False) as sim:
        await sim.send_text(None, "menu")
        [menu] = await sim.wait_for_bot()
        assert menu.outgoing is not None
        assert [c.label for c in menu.outgoing.choices] == ["Yes", "No"]
        result = await sim.act(sim.default_user, {"choice": [menu.id, 2]})
        assert result["ok"] is True
        await sim.wait_for_bot(n=2)
        [tap] = bot.replies
        assert tap.interactive.button_reply.id == "no"
        assert tap.context is not None and tap.context.id == menu.id
        assert (await _thread_texts(sim))[-1] == "you picked no"


async def test_picking_a_list_row_sends_the_list_reply(tmp_path: Path, bot: MenuBot) -> None:
    async with Simulation(make_config(tmp_path), plugins=[bot], load_entrypoints=False) as sim:
        await sim.send_text(None, "list")
        [menu] = await sim.wait_for_bot()
        await sim.pick(None, menu.id, 1)
        await sim.wait_for_bot(n=2)
        assert bot.replies[0].interactive.list_reply.id == "r1"
        assert (await _thread_texts(sim))[-1] == "you picked r1"


async def test_bad_actions_say_why(tmp_path: Path, bot: MenuBot) -> None:
    async with Simulation(make_config(tmp_path), plugins=[bot], load_entrypoints=False) as sim:
        await sim.send_text(None, "menu")
        [menu] = await sim.wait_for_bot()
        with pytest.raises(ValueError, match="2 choice"):
            await sim.act(sim.default_user, {"choice": [menu.id, 5]})
        with pytest.raises(ValueError, match="unknown action"):
            await sim.act(sim.default_user, {"dance": True})
        with pytest.raises(ValueError, match="no message"):
            await sim.act(sim.default_user, {"choice": ["wamid.nope", 1]})
        with pytest.raises(ValueError, match="empty"):
            await sim.act(sim.default_user, {"text": "  "})
        with pytest.raises(ValueError, match="phone number"):
            await sim.act("not-a-number", {"text": "hi"})


async def test_location_and_media_reach_the_bot_as_meta_sends_them(
    tmp_path: Path, bot: MenuBot
) -> None:
    picture = tmp_path / "cat.jpg"
    picture.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    async with Simulation(make_config(tmp_path), plugins=[bot], load_entrypoints=False) as sim:
        await sim.act("15550001111", {"location": [52.5, 13.4, "Berlin"]})
        await sim.wait_for_bot("15550001111")
        item = await sim.send_media("15550001111", picture, caption="my cat")
        replies = await sim.wait_for_bot("15550001111", n=2)
        image = bot.messages[-1]
        assert isinstance(image, ImageMessage)
        assert image.image.mime_type == "image/jpeg"
        assert image.image.caption == "my cat"
        # The bot can download what the user sent from the local Graph API.
        assert sim.graph.media[image.image.id].data == picture.read_bytes()
        assert replies[-1].outgoing is not None
        assert replies[-1].outgoing.text == f"got image {image.image.id}"
        assert item.to_json()["media"] == {"type": "image", "name": "cat.jpg", "caption": "my cat"}
        assert sim.users() == [sim.default_user, "15550001111"]


async def test_a_flow_opens_as_a_form_and_completes_the_booking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES / "restaurant_booking"))
    sys.modules.pop("booking_bot", None)
    import wahost_state_machine.plugin as state_machine

    flow = json.loads((EXAMPLES / "restaurant_booking" / "flow.json").read_text())
    config = make_config(tmp_path, {"plugins": {"state_machine": {"machine": "booking_bot:sm"}}})
    async with Simulation(
        config, plugins=[state_machine], load_entrypoints=False, flows={"table_booking": flow}
    ) as sim:
        await sim.send_text(None, "book")
        [form_message] = await sim.wait_for_bot()
        outgoing = form_message.outgoing
        assert outgoing is not None and outgoing.kind == "flow"
        assert [f.name for f in outgoing.form.fields] == ["date", "time", "party_size", "name"]
        with pytest.raises(ValueError, match="time"):
            await sim.submit_form(
                None, form_message.id, {"date": "2026-12-24", "party_size": "4", "name": "Ada"}
            )
        await sim.act(
            sim.default_user,
            {
                "form": [
                    form_message.id,
                    {"date": "2026-12-24", "time": "19:00", "party_size": "4", "name": "Ada"},
                ]
            },
        )
        replies = await sim.wait_for_bot(n=2)
        confirm = replies[1].outgoing
        assert confirm is not None
        assert "Ada" in (confirm.text or "") and "19:00" in (confirm.text or "")
        assert form_message.to_json()["form"] is None  # sent: closed
        await sim.pick(None, replies[1].id, 1)  # Confirm
        booked = await sim.wait_for_bot(n=3)
        assert (booked[2].outgoing.text or "").startswith("Booked!")  # type: ignore[union-attr]


async def _until(predicate: Any, timeout: float = 10.0) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


async def test_stopping_ends_the_viewers_long_polls(tmp_path: Path, bot: MenuBot) -> None:
    import asyncio

    sim = Simulation(make_config(tmp_path), plugins=[bot], load_entrypoints=False)
    await sim.start()
    poll = asyncio.create_task(sim.items(sim.default_user, 0, timeout=60))
    await asyncio.sleep(0.1)
    assert not poll.done()  # waiting for something to happen
    await sim.stop()
    result = await asyncio.wait_for(poll, 5)  # not the 60 s of the poll
    assert result == {"items": [], "last": 0}
