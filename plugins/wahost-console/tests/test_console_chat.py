"""The console's chat API: against a stand-in simulator, without one, and against the real
:class:`wahost.simulator.Simulation` (real host, loopback HTTP, local Graph API)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path
from typing import Any

import httpx
import wahost_console
from wahost_console.chat import UNAVAILABLE

from wahost import Context, Router, hookimpl
from wahost import filters as F
from wahost.models import InteractiveMessage, TextMessage
from wahost.outbound import ReplyButton, ReplyButtons
from wahost.simulator import SIMULATION
from wahost.simulator.session import Simulation
from wahost.testing import BotHarness
from wahost.testing.harness import make_config
from wahost.testing.loopback import loopback_client

TOKEN = "console-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
CONSOLE = {"console": {"enabled": True, "token": TOKEN}}


class StandInSimulator:
    """Exactly the interface the console consumes: users, groups, items (long poll), act."""

    def __init__(self) -> None:
        self.default_user = "16505551234"
        self.groups: dict[str, Any] = {}
        self.actions: list[tuple[str, dict[str, Any]]] = []
        self._items: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    def users(self) -> list[str]:
        return [self.default_user, "4479460000"]

    def _add(self, **values: Any) -> None:
        item = {
            "seq": len(self._items) + 1,
            "id": values.pop("id"),
            "from": values.pop("sender"),
            "kind": "text",
            "text": None,
            "header": None,
            "footer": None,
            "media": None,
            "choices": [],
            "choices_label": None,
            "form": None,
            "reaction": None,
            "status": None,
            "time": time.time(),
        }
        item.update(values)
        self._items.append(item)
        self._changed.set()

    async def act(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        if "text" not in action and "choice" not in action:
            raise ValueError("unknown action <x>")
        self.actions.append((user, action))
        n = len(self.actions)
        self._add(id=f"u{n}", sender="user", text=str(action), status="sent")
        self._add(
            id=f"b{n}",
            sender="bot",
            kind="interactive",
            text="Pick <one>",
            choices=[{"n": 1, "label": "Yes", "description": None}],
        )
        return {"ok": True}

    async def items(self, user: str, after: int = 0, timeout: float = 0.0) -> dict[str, Any]:
        found = [item for item in self._items if item["seq"] > after]
        if not found and timeout > 0:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
            found = [item for item in self._items if item["seq"] > after]
        return {"items": found, "last": self._items[-1]["seq"] if self._items else after}


async def test_chat_api_drives_the_attached_simulator(tmp_path: Path) -> None:
    sim = StandInSimulator()
    async with BotHarness(tmp_path, plugins=[wahost_console], config=CONSOLE, worker=False) as bot:
        bot.host.slots[SIMULATION] = sim
        async with loopback_client(base_url=bot.url, headers=BEARER) as http:
            page = await http.get("/-/console/chat")
            assert page.status_code == 200 and 'id="chat"' in page.text
            assert (await http.get("/-/console/static/chat.js")).status_code == 200
            users = (await http.get("/-/console/api/chat/users")).json()
            assert users == {"default_user": sim.default_user, "users": sim.users(), "groups": []}
            empty = await http.get("/-/console/api/chat/items", params={"timeout": "0.1"})
            assert empty.json() == {"items": [], "last": 0}

            waiting = asyncio.create_task(
                http.get("/-/console/api/chat/items", params={"after": "0", "timeout": "5"})
            )
            await asyncio.sleep(0.1)
            assert not waiting.done()  # a long poll
            sent = await http.post("/-/console/api/chat/act", json={"action": {"text": "hi"}})
            assert sent.status_code == 200 and sent.json() == {"ok": True}
            items = (await waiting).json()
            assert [item["id"] for item in items["items"]] == ["u1", "b1"]
            assert sim.actions == [(sim.default_user, {"text": "hi"})]

            choice = {"user": "4479460000", "action": {"choice": ["b1", 1]}}
            assert (await http.post("/-/console/api/chat/act", json=choice)).status_code == 200
            assert sim.actions[-1] == ("4479460000", {"choice": ["b1", 1]})
            bad = await http.post("/-/console/api/chat/act", json={"action": {"dance": 1}})
            assert bad.status_code == 400 and bad.json() == {"error": "unknown action <x>"}
            malformed = await http.post("/-/console/api/chat/act", content=b"not json")
            assert malformed.status_code == 400


async def test_chat_act_with_a_session_needs_the_csrf_token(tmp_path: Path) -> None:
    sim = StandInSimulator()
    async with BotHarness(tmp_path, plugins=[wahost_console], config=CONSOLE, worker=False) as bot:
        bot.host.slots[SIMULATION] = sim
        async with loopback_client(base_url=bot.url) as http:
            await http.post("/-/console/login", data={"token": TOKEN})
            page = await http.get("/-/console/chat")
            token = page.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
            action = {"action": {"text": "hi"}}
            refused = await http.post("/-/console/api/chat/act", json=action)
            assert refused.status_code == 403 and sim.actions == []
            headers = {"X-CSRF-Token": token}
            ok = await http.post("/-/console/api/chat/act", json=action, headers=headers)
            assert ok.status_code == 200 and len(sim.actions) == 1


async def test_without_a_simulator_the_chat_explains_where_it_is(tmp_path: Path) -> None:
    async with (
        BotHarness(tmp_path, plugins=[wahost_console], config=CONSOLE, worker=False) as bot,
        loopback_client(base_url=bot.url, headers=BEARER) as http,
    ):
        page = await http.get("/-/console/chat")
        assert page.status_code == 200
        assert "wahost simulate --web" in page.text and 'id="chat"' not in page.text
        for response in (
            await http.get("/-/console/api/chat/users"),
            await http.get("/-/console/api/chat/items"),
            await http.post("/-/console/api/chat/act", json={"action": {"text": "x"}}),
        ):
            assert response.status_code == 404
            assert response.json() == {"error": UNAVAILABLE}


class MenuBot:
    """Answers "menu" with two reply buttons, a tap with what was tapped, else an echo."""

    __name__ = "menu_bot"

    @hookimpl
    async def on_message(self, message: Any, ctx: Context) -> bool:
        if isinstance(message, TextMessage) and message.text.body == "menu":
            buttons = [ReplyButton(id="tea", title="Tea"), ReplyButton(id="coffee", title="Coffee")]
            await ctx.reply(ReplyButtons(body="Tea or coffee?", buttons=buttons))
        elif isinstance(message, InteractiveMessage) and message.reply_id is not None:
            await ctx.reply(f"you picked {message.reply_id}")
        elif isinstance(message, TextMessage):
            await ctx.reply(f"echo: {message.text.body}")
        return True


async def _wait_for(
    http: httpx.AsyncClient, predicate: Any, after: int = 0
) -> tuple[dict[str, Any], int]:
    deadline = time.monotonic() + 15
    seen: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        response = await http.get(
            "/-/console/api/chat/items", params={"after": str(after), "timeout": "2"}
        )
        data = response.json()
        for item in data["items"]:
            seen[item["id"]] = item  # upsert by id: a status change comes again
        after = data["last"]
        for item in seen.values():
            if predicate(item):
                return item, after
    raise AssertionError(f"not seen; items: {list(seen.values())}")


async def test_chat_api_against_the_real_simulator(tmp_path: Path) -> None:
    config = make_config(tmp_path, CONSOLE)
    async with (
        Simulation(config, plugins=[wahost_console, MenuBot()], load_entrypoints=False) as sim,
        loopback_client(base_url=sim.url, headers=BEARER, timeout=30) as http,
    ):
        sent = await http.post("/-/console/api/chat/act", json={"action": {"text": "menu"}})
        assert sent.status_code == 200, sent.text
        menu, last = await _wait_for(http, lambda item: item["from"] == "bot")
        assert menu["text"] == "Tea or coffee?"
        assert [choice["label"] for choice in menu["choices"]] == ["Tea", "Coffee"]
        tap = {"action": {"choice": [menu["id"], 2]}}
        assert (await http.post("/-/console/api/chat/act", json=tap)).status_code == 200
        answer, _ = await _wait_for(
            http, lambda item: item["text"] == "you picked coffee", after=last
        )
        assert answer["from"] == "bot"
        # The journal saw the same conversation.
        listing = await http.get("/-/console/conversations")
        assert sim.default_user in listing.text


ALICE = "16505551234"
BOB = "16505550002"


def group_bot() -> Router:
    """Counts each conversation's messages; answers in the chat it was asked in."""
    router = Router()

    @router.message(F.text)
    async def count(message: Any, ctx: Context) -> None:
        n = int(ctx.state.get("n", 0)) + 1
        ctx.state.update(n=n)
        where = "group" if ctx.is_group else "private"
        await ctx.reply(f"{where} #{n}: {message.text.body} (+{ctx.sender})")

    return router


async def test_the_console_chat_stages_a_group(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"console": {"enabled": True, "token": TOKEN}})
    headers = BEARER
    async with (
        Simulation(
            config, plugins=[wahost_console], bots=[group_bot()], load_entrypoints=False
        ) as sim,
        loopback_client(base_url=sim.url, headers=headers, timeout=30) as http,
    ):
        made = await http.post(
            "/-/console/api/chat/groups", json={"subject": "Club", "participants": [ALICE, BOB]}
        )
        assert made.status_code == 200, made.text
        group = made.json()
        assert (group["subject"], group["participants"]) == ("Club", [ALICE, BOB])
        listed = (await http.get("/-/console/api/chat/users")).json()
        assert listed["groups"] == [group]
        act = {"user": BOB, "group": group["id"], "action": {"text": "hey"}}
        assert (await http.post("/-/console/api/chat/act", json=act)).status_code == 200
        await sim.wait_for_bot(group["id"], 1)
        items = (
            await http.get("/-/console/api/chat/items", params={"user": group["id"], "after": 0})
        ).json()["items"]
        assert [(i["from"], i["author"], i["text"]) for i in items] == [
            ("user", BOB, "hey"),
            ("bot", None, f"group #1: hey (+{BOB})"),
        ]
        refused = await http.post(
            "/-/console/api/chat/act",
            json={"user": BOB, "group": group["id"], "action": {"react": ["x", "👍"]}},
        )
        assert refused.status_code == 400
        too_many = {"subject": "Big", "participants": [f"1650555{n:04d}" for n in range(9)]}
        assert (await http.post("/-/console/api/chat/groups", json=too_many)).status_code == 400
