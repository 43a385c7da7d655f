"""Take the console's screenshots for docs/console.md (run by hand, not by the test suite).

    python docs/console/screenshots.py

Starts a demo bot under the simulator (a real host on loopback, a local Graph API), fills it
with a few conversations, a dead unit and a quarantined body, then saves 1200x800 PNGs of the
console into docs/console/ with Playwright driving Chromium (``/usr/bin/chromium`` unless
``CHROMIUM`` says otherwise).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import wahost_console
from playwright.async_api import async_playwright

from wahost import Context, hookimpl
from wahost.models import InteractiveMessage, TextMessage
from wahost.outbound import ReplyButton, ReplyButtons
from wahost.simulator.session import Simulation
from wahost.testing.harness import TEST_APP_SECRET, make_config, sign
from wahost.units import conversation_key

HERE = Path(__file__).resolve().parent
TOKEN = "demo-console-token-not-a-secret"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


class CoffeeBot:
    """A small ordering bot: a menu with buttons, a state, and a bug on "crash"."""

    __name__ = "coffee_bot"

    @hookimpl
    async def on_message(self, message: Any, ctx: Context) -> bool:
        await ctx.mark_read()
        if isinstance(message, TextMessage) and message.text.body == "crash":
            raise RuntimeError("KeyError: 'size' (coffee_bot.py, line 42)")
        if isinstance(message, InteractiveMessage) and message.reply_id is not None:
            ctx.state.set("ordering", {"drink": message.reply_id, "size": None})
            await ctx.reply(f"One {message.reply_id}. Small, medium or large?")
            return True
        buttons = [
            ReplyButton(id="espresso", title="Espresso"),
            ReplyButton(id="latte", title="Latte"),
            ReplyButton(id="tea", title="Tea"),
        ]
        await ctx.reply(
            ReplyButtons(body="Hi! What would you like?", footer="Coffee & Co", buttons=buttons)
        )
        return True


async def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="wahost-console-demo-"))
    config = make_config(
        tmp, {"console": {"enabled": True, "token": TOKEN}, "worker": {"max_attempts": 1}}
    )
    plugins = [wahost_console, CoffeeBot()]
    async with Simulation(config, plugins=plugins, load_entrypoints=False) as sim:
        assert sim.host is not None
        for user, text in (("4479460001", "hello"), ("33612345678", "menu"), (None, "hi")):
            await sim.send_text(user, text)
            (menu,) = await sim.wait_for_bot(user)
            await sim.pick(user, menu.id, 2)
            await sim.wait_for_bot(user, n=2)
        await sim.send_text("4479460001", "crash")
        body = b'{"object": "whatsapp_business_account", "entry": {"oops": true}}'
        async with httpx.AsyncClient() as http:
            await http.post(
                sim.webhook_url,
                content=body,
                headers={"x-hub-signature-256": sign(body, TEST_APP_SECRET)},
            )
        await asyncio.sleep(3)  # a few rate samples
        conversation = conversation_key(config.whatsapp.phone_number_id, sim.default_user)

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = await browser.new_page(viewport={"width": 1200, "height": 800})
            await page.goto(sim.url + "/-/console/login")
            await page.fill('input[name="token"]', TOKEN)
            await page.screenshot(path=HERE / "login.png")
            await page.click('button[type="submit"]')
            await page.wait_for_url(sim.url + "/-/console")
            shots = {
                "overview": "",
                "dead": "/dead",
                "conversation": f"/conversation?key={conversation}",
                "plugins": "/plugins",
            }
            for name, path in shots.items():
                await page.goto(sim.url + "/-/console" + path)
                await page.screenshot(path=HERE / f"{name}.png")
            await page.goto(sim.url + "/-/console/chat")
            await page.wait_for_selector(".bubble.from-bot")
            await page.screenshot(path=HERE / "chat.png")
            await browser.close()
    print("saved:", *sorted(p.name for p in HERE.glob("*.png")), file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())
