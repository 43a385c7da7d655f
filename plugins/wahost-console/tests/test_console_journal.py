"""The console's journal and its pages: real host, real loopback HTTP, real SQLite file."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
import wahost_console
from wahost_console.journal import NAMESPACE, Journal, preview
from wahost_console.web import console_of

from wahost import hookimpl
from wahost.testing import BotHarness, FakeGraph
from wahost.testing.harness import TEST_PHONE_NUMBER_ID
from wahost.testing.payloads import USER, make_message, make_status, make_text
from wahost.units import conversation_key

TOKEN = "console-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
CONSOLE = {"console": {"enabled": True, "token": TOKEN}}
CONVERSATION = conversation_key(TEST_PHONE_NUMBER_ID, USER)


class FlakyReplier:
    """Replies to every text; the first attempt of each fails *after* replying."""

    __name__ = "flaky_replier"

    def __init__(self) -> None:
        self.attempts = 0

    @hookimpl
    async def on_message(self, message: Any, ctx: Any) -> bool:
        self.attempts += 1
        await ctx.reply(text=f"you said {message.text.body}")
        if ctx.attempt == 1:
            raise RuntimeError("boom after the reply")
        return True


class AlwaysFails:
    __name__ = "always_fails"

    @hookimpl
    async def on_message(self, message: Any, ctx: Any) -> None:
        raise RuntimeError("this plugin always fails <b>")


def kinds(entries: list[Any]) -> list[tuple[str, str]]:
    return [(entry.kind, entry.type) for entry in entries]


async def test_message_send_and_statuses_are_journaled_in_order_exactly_once(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    replier = FlakyReplier()
    async with BotHarness(
        tmp_path, plugins=[wahost_console, replier], config=CONSOLE, graph=fake_graph
    ) as bot:
        assert (await bot.post(make_text("hello <there>"))).status_code == 200
        await bot.idle()
        assert replier.attempts == 2  # retried once; the reply was sent once (the outbox)
        assert len(fake_graph.sent) == 1
        wamid = fake_graph.sent[0].wamid
        for status in ("sent", "delivered", "read"):
            assert (await bot.post(make_status(wamid, status))).status_code == 200
            await bot.idle()
        # A redelivered status is deduplicated by the queue: still one entry.
        await bot.post(make_status(wamid, "read"))
        await bot.idle()

        journal = Journal(bot.host)
        history = await journal.history(CONVERSATION)
        assert kinds(history) == [
            ("in", "text"),
            ("out", "text"),
            ("status", "sent"),
            ("status", "delivered"),
            ("status", "read"),
        ]
        assert history[0].text == "hello <there>"
        assert history[1].wamid == wamid
        assert history[1].text == fake_graph.sent[0].text  # what the bot said
        record, lifecycle = await journal.lifecycle(wamid)
        assert record is not None and record.conversation == CONVERSATION
        assert [entry.type for entry in lifecycle] == ["sent", "delivered", "read"]
        recent = await journal.recent()
        assert [item.conversation for item in recent] == [CONVERSATION]

        # The pages show it, escaped.
        http = bot.http
        assert http is not None
        page = await http.get(bot.url + "/-/console/conversation", params={"key": CONVERSATION})
        assert page.status_code == 303  # no credentials: to the login page
        page = await http.get(
            bot.url + "/-/console/conversation", params={"key": CONVERSATION}, headers=BEARER
        )
        assert page.status_code == 200
        assert "hello &lt;there&gt;" in page.text and "hello <there>" not in page.text
        assert page.text.index("hello &lt;there&gt;") < page.text.index(wamid)
        lookup = await http.get(
            bot.url + "/-/console/conversation", params={"user": USER}, headers=BEARER
        )
        assert "hello &lt;there&gt;" in lookup.text
        message = await http.get(
            bot.url + "/-/console/message", params={"wamid": wamid}, headers=BEARER
        )
        assert re.findall(r'status-badge (\w+)"', message.text) == ["sent", "delivered", "read"]
        listing = await http.get(bot.url + "/-/console/conversations", headers=BEARER)
        assert USER in listing.text


async def test_failed_status_error_and_state_are_shown(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    class Stateful:
        __name__ = "stateful"

        @hookimpl
        async def on_message(self, message: Any, ctx: Any) -> bool:
            ctx.state.set("asking_name", {"step": 2, "note": "<script>x</script>"})
            return True

    async with BotHarness(
        tmp_path, plugins=[wahost_console, Stateful()], config=CONSOLE, graph=fake_graph
    ) as bot:
        await bot.post(make_text("hi"))
        await bot.post(make_status("wamid.out-1", "failed", errors=131049))
        await bot.idle()
        http = bot.http
        assert http is not None
        page = await http.get(
            bot.url + "/-/console/conversation", params={"key": CONVERSATION}, headers=BEARER
        )
        assert "asking_name" in page.text
        assert "&lt;script&gt;x&lt;/script&gt;" in page.text and "<script>x" not in page.text
        assert "131049" in page.text
        message = await http.get(
            bot.url + "/-/console/message", params={"wamid": "wamid.out-1"}, headers=BEARER
        )
        assert "failed" in message.text and "131049" in message.text


async def test_journal_never_claims_a_message_and_history_can_be_off(tmp_path: Path) -> None:
    seen: list[str] = []

    class Handler:
        __name__ = "handler"

        @hookimpl(trylast=True)
        async def on_message(self, message: Any) -> bool:
            seen.append(message.id)
            return True

    config = {"console": {"enabled": True, "token": TOKEN, "history": False}}
    async with BotHarness(tmp_path, plugins=[wahost_console, Handler()], config=config) as bot:
        await bot.post(make_text("one"))
        await bot.idle()
        assert len(seen) == 1
        rows = await bot.host.state.kv_scan(NAMESPACE, "")
        assert rows == []
        assert console_of(bot.host).journal is None


async def test_dead_unit_listed_then_replayed_and_gone(tmp_path: Path) -> None:
    config = {**CONSOLE, "worker": {"max_attempts": 1}}
    async with BotHarness(tmp_path, plugins=[wahost_console, AlwaysFails()], config=config) as bot:
        await bot.post(make_text("doomed"))
        await bot.idle()
        http = bot.http
        assert http is not None
        dead = await bot.host.queue.list_dead()
        assert len(dead) == 1
        key = dead[0].unit.key
        page = await http.get(bot.url + "/-/console/dead", headers=BEARER)
        assert key in page.text
        assert "this plugin always fails &lt;b&gt;" in page.text
        response = await http.post(
            bot.url + "/-/console/dead/replay", data={"key": key}, headers=BEARER
        )
        assert response.status_code == 303
        # Replayed, it fails again (max_attempts = 1) and dies again: wait for that.
        await bot.idle()
        assert len(await bot.host.queue.list_dead()) == 1
        stats = await bot.host.queue.stats()
        assert stats.dead == 1

    # Now with a plugin that recovers: replay-all empties the list.
    healed: list[str] = []

    class Healed:
        __name__ = "healed"

        @hookimpl
        async def on_message(self, message: Any) -> bool:
            healed.append(message.id)
            return True

    async with BotHarness(tmp_path, plugins=[wahost_console, Healed()], config=config) as bot:
        http = bot.http
        assert http is not None
        assert len(await bot.host.queue.list_dead()) == 1
        response = await http.post(bot.url + "/-/console/dead/replay-all", headers=BEARER)
        assert response.status_code == 303
        await bot.idle()
        assert await bot.host.queue.list_dead() == []
        assert len(healed) == 1
        page = await http.get(bot.url + "/-/console/dead", headers=BEARER)
        assert "No dead units." in page.text


async def test_quarantine_preview_is_escaped(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, plugins=[wahost_console], config=CONSOLE) as bot:
        body = b'{"object": "whatsapp_business_account", "entry": "<img src=x onerror=alert(1)>"}'
        assert (await bot.post(body)).status_code == 200
        http = bot.http
        assert http is not None
        page = await http.get(bot.url + "/-/console/quarantine", headers=BEARER)
        assert "&lt;img src=x onerror=alert(1)&gt;" in page.text
        assert "<img src=x" not in page.text
        assert f"{len(body)} bytes" in page.text


async def test_overview_counts_and_rate(tmp_path: Path) -> None:
    config = {**CONSOLE, "console": {**CONSOLE["console"], "sample_interval": 0.05}}
    async with BotHarness(tmp_path, plugins=[wahost_console], config=config) as bot:
        for n in range(3):
            await bot.post(make_text(f"m{n}"))
        await bot.idle()
        sampler = console_of(bot.host).sampler
        assert sampler is not None
        for _ in range(100):
            if sampler.samples and sampler.samples[-1][1] == 3:
                break
            await asyncio.sleep(0.05)
        http = bot.http
        assert http is not None
        data = (await http.get(bot.url + "/-/console/api/overview", headers=BEARER)).json()
        assert data["stats"]["done"] == 3
        assert data["rate"] is not None and data["rate"] >= 0
        page = await http.get(bot.url + "/-/console", headers=BEARER)
        assert page.status_code == 200 and "<svg" in page.text
    assert sampler._task is None  # stopped at shutdown


async def test_plugins_page_lists_hooks_and_failures(tmp_path: Path) -> None:
    async with BotHarness(tmp_path, plugins=[wahost_console, AlwaysFails()], config=CONSOLE) as bot:
        bot.host.plugins.append(
            type(bot.host.plugins[0])(name="wahost-broken", loaded=False, error="ImportError: x")
        )
        http = bot.http
        assert http is not None
        page = await http.get(bot.url + "/-/console/plugins", headers=BEARER)
        assert "always_fails" in page.text and "on_message" in page.text
        assert "wahost_console" in page.text and "wahost.defaults.backends" in page.text
        assert "wahost-broken" in page.text and "ImportError: x" in page.text


def test_preview_of_messages() -> None:
    from wahost.models import decode_unit
    from wahost.units import split

    def decoded(payload: dict[str, Any]) -> Any:
        units = split(msgspec.json.encode(payload))
        return decode_unit(units[0])

    assert preview(decoded(make_text("x" * 500))).endswith("…")
    assert len(preview(decoded(make_text("x" * 500)))) == 200
    location = make_message("location", {"latitude": 1.5, "longitude": 2.5, "name": "Home"})
    assert preview(decoded(location)) == "Home"
    reaction = make_message("reaction", {"message_id": "wamid.x", "emoji": "👍"})
    assert preview(decoded(reaction)) == "👍"


async def test_send_outside_a_unit_is_journaled(tmp_path: Path, fake_graph: FakeGraph) -> None:
    async with BotHarness(
        tmp_path, plugins=[wahost_console], config=CONSOLE, graph=fake_graph
    ) as bot:
        sent = await bot.host.send(USER, text="a reminder")
        history = await Journal(bot.host).history(CONVERSATION)
        assert [(entry.kind, entry.wamid) for entry in history] == [("out", sent.id)]


async def test_webhook_errors_are_journaled_and_shown(tmp_path: Path) -> None:
    from wahost.testing.harness import load_fixture

    name = "webhook_value_errors.json"
    async with BotHarness(tmp_path, plugins=[wahost_console], config=CONSOLE) as bot:
        assert (await bot.post(load_fixture(name))).status_code == 200
        await bot.idle()
        others = await Journal(bot.host).others()
        assert [entry.kind for entry in others] == ["error"]
        http = bot.http
        assert http is not None
        page = await http.get(bot.url + "/-/console", headers=BEARER)
        assert others[0].type in page.text


JOURNAL_HOOKS = ("before_message", "on_status", "on_message_sent", "on_webhook_error")


def _called(bot: BotHarness, hook: str) -> set[Any]:
    return {impl.function for impl in bot.host.dispatch.implementations(hook)}


@pytest.mark.parametrize(
    ("console", "journaled"),
    [
        ({}, False),  # the default: the console off
        ({**CONSOLE["console"], "history": False}, False),
        (CONSOLE["console"], True),
    ],
)
async def test_the_journal_hooks_run_only_where_there_is_a_journal(
    tmp_path: Path, console: dict[str, Any], journaled: bool
) -> None:
    """Without a journal (the console off, or its history), the journal's hooks are skipped at
    start-up: no unit and no send calls them."""
    async with BotHarness(tmp_path, plugins=[wahost_console], config={"console": console}) as bot:
        for hook in JOURNAL_HOOKS:
            function = getattr(wahost_console.plugin, hook)
            assert (function in _called(bot, hook)) is journaled, hook
