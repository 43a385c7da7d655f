"""A newcomer's papercuts in the console (issue 26, items 7 and 10), each as the newcomer met
it: the browser chat on the real simulator, the conversation history and the chat page on a
real host on loopback, the fake Graph API."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import wahost_console

from wahost import hookimpl
from wahost.testing import BotHarness, FakeGraph
from wahost.testing.payloads import make_text


class Replier:
    """Replies to every text."""

    @hookimpl
    async def on_message(self, message: Any, ctx: Any) -> bool:
        await ctx.reply(f"you said {message.text.body}")
        return True


# -- 7 and 10. the browser chat: reactions on the bubble pointed at, unhandled shown -----------

CHROMIUM = "/usr/bin/chromium"
CONSOLE_TOKEN = "console-token-0123456789"


class EchoUnlessZzz:
    """Echoes texts, except "zzz", which nothing handles."""

    __name__ = "echo_unless_zzz"

    @hookimpl
    async def on_message(self, message: Any, ctx: Any) -> bool | None:
        if message.text.body == "zzz":
            return None
        await ctx.reply(f"echo: {message.text.body}")
        return True


async def test_the_browser_chat_shows_reactions_on_hover_and_an_unhandled_message(
    tmp_path: Path,
) -> None:
    try:
        from playwright.async_api import async_playwright, expect
    except ImportError:
        pytest.skip("playwright is not installed (pip install 'wahost[test]')")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from wahost.simulator.session import Simulation
    from wahost.testing.harness import make_config

    config = make_config(tmp_path, {"console": {"enabled": True, "token": CONSOLE_TOKEN}})
    async with (
        Simulation(
            config, plugins=[wahost_console, EchoUnlessZzz()], load_entrypoints=False
        ) as sim,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            page = await browser.new_page(viewport={"width": 1200, "height": 800})
            page.set_default_timeout(15_000)
            await page.goto(sim.url + "/-/console/chat")
            await page.fill('input[name="token"]', CONSOLE_TOKEN)
            await page.click('button[type="submit"]')
            await page.wait_for_url(sim.url + "/-/console/chat")
            await page.fill("#chat-text", "hello")
            await page.press("#chat-text", "Enter")
            reply = page.locator(".bubble.from-bot").last
            await expect(reply).to_contain_text("echo: hello")
            await page.mouse.move(0, 0)
            await expect(reply.locator(".reactions")).to_be_hidden()
            await reply.hover()
            await expect(reply.locator(".reactions")).to_be_visible()

            await page.fill("#chat-text", "zzz")
            await page.press("#chat-text", "Enter")
            mine = page.locator(".bubble.from-user").filter(has_text="zzz")
            await expect(mine).to_contain_text("no plugin handled this message")
            await page.context.close()
        finally:
            await browser.close()


# -- 10. the console's conversation history: statuses on their message's row -----------------


async def test_the_history_shows_statuses_on_the_row_of_their_message(tmp_path: Path) -> None:
    from wahost.testing.harness import TEST_PHONE_NUMBER_ID
    from wahost.testing.payloads import USER, make_status
    from wahost.units import conversation_key

    config = {"console": {"enabled": True, "token": CONSOLE_TOKEN}}
    async with (
        FakeGraph() as graph,
        BotHarness(
            tmp_path, plugins=[wahost_console, Replier()], config=config, graph=graph
        ) as bot,
    ):
        assert (await bot.post(make_text("hello"))).status_code == 200
        await bot.idle()
        wamid = graph.sent[0].wamid
        for status in ("sent", "delivered", "read"):
            assert (await bot.post(make_status(wamid, status))).status_code == 200
            await bot.idle()
        assert bot.http is not None
        page = await bot.http.get(
            bot.url + "/-/console/conversation",
            params={"key": conversation_key(TEST_PHONE_NUMBER_ID, USER)},
            headers={"Authorization": f"Bearer {CONSOLE_TOKEN}"},
        )
    assert page.status_code == 200
    rows = re.findall(r'<li class="entry (\w+)"', page.text)
    assert rows == ["in", "out"]  # no row of its own for each status
    out_row = page.text[page.text.index('<li class="entry out"') :]
    out_row = out_row[: out_row.index("</li>")]
    assert re.findall(r'status-badge (\w+)"', out_row) == ["sent", "delivered", "read"]


async def test_the_chat_page_without_a_simulator_shows_the_command_as_code(tmp_path: Path) -> None:
    config = {"console": {"enabled": True, "token": CONSOLE_TOKEN}}
    async with BotHarness(tmp_path, plugins=[wahost_console], config=config, worker=False) as bot:
        assert bot.http is not None
        page = await bot.http.get(
            bot.url + "/-/console/chat", headers={"Authorization": f"Bearer {CONSOLE_TOKEN}"}
        )
    assert page.status_code == 200
    start = page.text.index('id="chat-unavailable"')
    notice = page.text[start : page.text.index("</p>", start)]
    assert "<code>wahost simulate --web</code>" in notice
    assert "`" not in notice  # Markdown's backticks are not HTML


# -- 1 and 7. start-up and GET / say where the console is ----------------------------------------


async def test_start_up_and_the_index_say_where_the_console_is(tmp_path: Path) -> None:
    from structlog.testing import capture_logs

    from wahost.startup_log import index_text, log_start

    config = {"console": {"enabled": True, "token": CONSOLE_TOKEN}}
    async with BotHarness(tmp_path, plugins=[wahost_console], config=config, worker=False) as bot:
        assert bot.http is not None
        index = (await bot.http.get(bot.url + "/")).text
        with capture_logs() as logs:
            log_start(bot.host, serving=True)
        port = bot.host.config.server.port
    [console] = [entry for entry in logs if entry["event"] == "console"]
    assert console["url"] == f"http://127.0.0.1:{port}/-/console"
    assert "console: /-/console" in index and index == index_text(bot.host)
    assert CONSOLE_TOKEN not in index and CONSOLE_TOKEN not in str(logs)
