"""wahost_send_checks: plugins check every message before it is sent, and refuse what is
wrong before any request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wahost import hookimpl
from wahost.outbound import Outbound, Text
from wahost.testing import BotHarness, FakeGraph, make_text


class NoShouting(ValueError):
    pass


class HouseRules:
    """Refuses texts in capitals; sees every send it is asked about."""

    __name__ = "house-rules"

    def __init__(self) -> None:
        self.seen: list[tuple[str, Outbound]] = []

    @hookimpl
    def wahost_send_checks(self) -> list[Any]:
        def check(to: str, message: Outbound) -> None:
            self.seen.append((to, message))
            if isinstance(message, Text) and message.body.isupper():
                raise NoShouting(f"text.body: no shouting at {to}")

        return [check]


class Replier:
    __name__ = "replier"

    def __init__(self) -> None:
        self.refused: list[BaseException] = []

    @hookimpl
    async def on_message(self, message: Any, ctx: Any) -> bool:
        try:
            await ctx.reply(message.text.body)
        except NoShouting as exc:
            self.refused.append(exc)
            await ctx.reply("(a reply was refused)")
        return True


async def test_a_check_sees_every_built_message_and_refuses_before_any_request(
    tmp_path: Path,
) -> None:
    rules, replier = HouseRules(), Replier()
    async with FakeGraph() as graph:
        async with BotHarness(tmp_path, plugins=[rules, replier], graph=graph) as bot:
            await bot.post(make_text("hello", wamid="wamid.check.1"))
            await bot.post(make_text("HELLO", wamid="wamid.check.2", sender="16505550001"))
            await bot.idle()
            # Outside a unit too, and a shorthand keyword is checked once built.
            with pytest.raises(NoShouting):
                await bot.host.send("16505550002", text="STOP")
        texts = [accepted.text for accepted in graph.sent]
    assert texts == ["hello", "(a reply was refused)"]
    assert [str(exc) for exc in replier.refused] == ["text.body: no shouting at 16505550001"]
    assert [message for _, message in rules.seen if isinstance(message, Text)][-1].body == "STOP"
    assert len([r for r in graph.requests if r.is_message]) == 2
