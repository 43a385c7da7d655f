"""The console in a real headless browser (Playwright driving Debian's Chromium).

Skipped when Playwright or ``/usr/bin/chromium`` is missing, except on CI (``CI=true``), where
they must be installed and a missing one fails the test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import wahost_console

from wahost import Context, hookimpl
from wahost.models import InteractiveMessage, TextMessage
from wahost.outbound import ReplyButton, ReplyButtons
from wahost.simulator import SIMULATION
from wahost.testing import BotHarness
from wahost.testing.harness import make_config
from wahost.testing.payloads import make_text

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "console-token-0123456789"
CONSOLE = {"console": {"enabled": True, "token": TOKEN}}


def _missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install 'wahost[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {missing}")
        pytest.skip(missing)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


async def open_page(browser: Any, errors: list[str]) -> Any:
    context = await browser.new_context(viewport={"width": 1200, "height": 800})
    page = await context.new_page()
    page.set_default_timeout(15_000)
    # Assertions wait as long as actions: a reply goes through the worker and the simulated
    # Graph API, which a loaded machine (the whole suite on two cores) can hold past the
    # 5 s default.
    from playwright.async_api import expect

    expect.set_options(timeout=15_000)
    # A script or style refused by the Content-Security-Policy shows up as a console error.
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


async def log_in(page: Any, url: str) -> None:
    await page.goto(url)
    assert "/-/console/login" in page.url
    await page.fill('input[name="token"]', TOKEN)
    await page.click('button[type="submit"]')
    await page.wait_for_url(url)


class FailsUntilFixed:
    """Fails every message while ``broken``; the operator fixes it, then replays."""

    __name__ = "fails_until_fixed"

    def __init__(self) -> None:
        self.broken = True
        self.handled: list[str] = []

    @hookimpl
    async def on_message(self, message: Any) -> bool:
        if self.broken:
            raise RuntimeError("the database is down")
        self.handled.append(message.id)
        return True


async def test_log_in_and_replay_a_dead_unit(tmp_path: Path, browser: Any) -> None:
    from playwright.async_api import expect

    plugin = FailsUntilFixed()
    config = {**CONSOLE, "worker": {"max_attempts": 1}}
    async with BotHarness(tmp_path, plugins=[wahost_console, plugin], config=config) as bot:
        await bot.post(make_text("please work"))
        await bot.idle()
        (dead,) = await bot.host.queue.list_dead()
        errors: list[str] = []
        page = await open_page(browser, errors)
        await log_in(page, bot.url + "/-/console/dead")
        row = page.locator(f'tr[data-key="{dead.unit.key}"]')
        await expect(row).to_be_visible()
        await expect(row).to_contain_text("the database is down")

        # A wamid is one long unbroken string: the row must still fit the page, its Replay
        # button on screen without scrolling sideways.
        replay = row.get_by_role("button", name="Replay")
        box = await replay.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 1200, box

        plugin.broken = False
        await replay.click()
        await expect(page.locator("#no-dead")).to_be_visible()
        await expect(row).to_have_count(0)
        await bot.idle()
        assert len(plugin.handled) == 1
        assert await bot.host.queue.list_dead() == []

        # The overview and the other pages render without a script or style error.
        for path in ("", "/quarantine", "/conversations", "/plugins", "/chat"):
            await page.goto(bot.url + "/-/console" + path)
            await expect(page.locator("main h1")).to_be_visible()
        await page.goto(bot.url + "/-/console")
        await expect(page.locator('[data-stat="done"]')).to_have_text("1")
        # Logging out sends the browser back to the login form.
        await page.get_by_role("button", name="Log out").click()
        await page.wait_for_url("**/-/console/login")
        await page.goto(bot.url + "/-/console/dead")
        assert "/-/console/login" in page.url
        assert errors == []


class MenuBot:
    __name__ = "menu_bot"

    @hookimpl
    async def on_message(self, message: Any, ctx: Context) -> bool:
        await ctx.mark_read()
        if isinstance(message, TextMessage) and message.text.body == "menu":
            buttons = [ReplyButton(id="tea", title="Tea"), ReplyButton(id="coffee", title="Coffee")]
            await ctx.reply(ReplyButtons(body="Tea or coffee?", buttons=buttons))
        elif isinstance(message, InteractiveMessage) and message.reply_id is not None:
            await ctx.reply(f"you picked {message.reply_id}")
        elif isinstance(message, TextMessage):
            await ctx.reply(f"echo: {message.text.body}")
        return True


async def test_chat_in_the_browser(tmp_path: Path, browser: Any) -> None:
    from playwright.async_api import expect

    from wahost.simulator.session import Simulation

    config = make_config(tmp_path, CONSOLE)
    async with Simulation(
        config, plugins=[wahost_console, MenuBot()], load_entrypoints=False
    ) as sim:
        errors: list[str] = []
        page = await open_page(browser, errors)
        await log_in(page, sim.url + "/-/console/chat")
        await page.fill("#chat-text", "<b>hello</b>")
        await page.press("#chat-text", "Enter")
        bot_bubbles = page.locator(".bubble.from-bot")
        await expect(bot_bubbles.last).to_contain_text("echo: <b>hello</b>")
        await expect(page.locator(".bubble.from-user").last).to_contain_text("<b>hello</b>")

        await page.fill("#chat-text", "menu")
        await page.press("#chat-text", "Enter")
        menu = bot_bubbles.filter(has_text="Tea or coffee?")
        await expect(menu).to_have_count(1)
        await menu.get_by_role("button", name="Coffee").click()
        await expect(bot_bubbles.last).to_contain_text("you picked coffee")
        # The bot marked the user's messages read: the ticks follow (upserted by id).
        await expect(page.locator(".bubble.from-user").first).to_contain_text("read")
        assert errors == []
        # Close the page before the server: its long poll would hold the shutdown.
        await page.context.close()


class ScriptedSimulator:
    """A stand-in simulator with one of each kind of bubble; records the actions."""

    default_user = "16505551234"

    def __init__(self) -> None:
        self.actions: list[dict[str, Any]] = []
        #: Group chats staged (none here): the console lists them beside the users.
        self.groups: dict[str, Any] = {}
        base = {
            "from": "bot", "text": None, "header": None, "footer": None, "media": None,
            "choices": [], "choices_label": None, "form": None, "reaction": None,
            "status": None, "time": 1_700_000_000.0,
        }  # fmt: skip
        form = {
            "title": "Book a table",
            "submit": "Book",
            "note": "We keep it 15 minutes",
            "fields": [
                {"name": "name", "label": "Name", "type": "text", "required": True},
                {"name": "guests", "label": "Guests", "type": "number", "required": True},
                {
                    "name": "room",
                    "label": "Room",
                    "type": "select",
                    "required": True,
                    "options": [{"id": "in", "title": "Inside"}, {"id": "out", "title": "Terrace"}],
                },
                {"name": "news", "label": "Send me news", "type": "optin", "required": False},
            ],
        }
        self.items_list = [
            {**base, "seq": 1, "id": "u1", "from": "user", "kind": "text", "text": "hi",
             "status": "read"},
            {**base, "seq": 2, "id": "b1", "kind": "image",
             "media": {"type": "image", "name": "menu.jpg", "caption": "Today's menu"}},
            {**base, "seq": 3, "id": "b2", "kind": "interactive", "text": "Choose a dish",
             "header": "Menu", "footer": "Kitchen open till 10", "choices_label": "Dishes",
             "choices": [{"n": 1, "label": "Soup", "description": "hot"},
                         {"n": 2, "label": "Salad", "description": None}]},
            {**base, "seq": 4, "id": "b3", "kind": "template", "text": "Your order is ready"},
            {**base, "seq": 5, "id": "b4", "kind": "flow", "text": "Book?", "form": form},
            {**base, "seq": 6, "id": "r1", "from": "user", "kind": "reaction",
             "reaction": {"emoji": "🎉", "to": "b3"}},
        ]  # fmt: skip

    def users(self) -> list[str]:
        return [self.default_user]

    async def act(self, user: str, action: dict[str, Any]) -> dict[str, Any]:
        self.actions.append(action)
        return {}

    async def items(self, user: str, after: int = 0, timeout: float = 0.0) -> dict[str, Any]:
        found = [item for item in self.items_list if item["seq"] > after]
        if not found:
            await asyncio.sleep(min(timeout, 0.2))
        return {"items": found, "last": max(after, len(self.items_list))}


async def test_every_kind_of_bubble_and_action_in_the_browser(tmp_path: Path, browser: Any) -> None:
    from playwright.async_api import expect

    sim = ScriptedSimulator()
    async with BotHarness(tmp_path, plugins=[wahost_console], config=CONSOLE, worker=False) as bot:
        bot.host.slots[SIMULATION] = sim
        errors: list[str] = []
        page = await open_page(browser, errors)
        await log_in(page, bot.url + "/-/console/chat")
        thread = page.locator("#thread")
        await expect(thread.locator(".bubble")).to_have_count(6)
        await expect(thread.locator('[data-id="b1"]')).to_contain_text("menu.jpg")
        await expect(thread.locator('[data-id="b1"]')).to_contain_text("Today's menu")
        dishes = thread.locator('[data-id="b2"]')
        await expect(dishes).to_contain_text("Menu")
        await expect(dishes).to_contain_text("Kitchen open till 10")
        await dishes.get_by_role("button", name="Salad").click()
        await expect(thread.locator('[data-id="r1"]')).to_have_text("🎉")
        # The reaction row shows on the bubble under the pointer only.
        await thread.locator('[data-id="b3"]').hover()
        await thread.locator('[data-id="b3"]').get_by_title("React 👍").click()

        booking = thread.locator('[data-id="b4"]')
        await booking.get_by_label("Name").fill("Ada")
        await booking.get_by_label("Guests").fill("4")
        await booking.get_by_label("Room").select_option("out")
        await booking.get_by_label("Send me news").check()
        await booking.get_by_role("button", name="Book").click()
        for _ in range(50):
            if len(sim.actions) == 3:
                break
            await asyncio.sleep(0.05)
        assert sim.actions == [
            {"choice": ["b2", 2]},
            {"react": ["b3", "👍"]},
            {"form": ["b4", {"name": "Ada", "guests": 4, "room": "out", "news": True}]},
        ]
        await page.context.close()
        assert errors == []
