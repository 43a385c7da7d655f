"""The ``before_message`` hook: middleware that runs before any ``on_message``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from wahost import Context, Router, hookimpl
from wahost import filters as F
from wahost.testing import BotHarness
from wahost.testing.payloads import make_text


class Middleware:
    def __init__(self, name: str, calls: list[str], *, fail_first: bool = False) -> None:
        self.__name__ = name
        self.calls = calls
        self.fail_first = fail_first

    @hookimpl
    async def before_message(self, message: Any, ctx: Context) -> Any:
        self.calls.append(f"{self.__name__}:{ctx.attempt}")
        if self.fail_first and ctx.attempt == 1:
            raise RuntimeError("middleware failed")
        return True  # ignored: a before_message implementation cannot handle the message


def recording_router(calls: list[str]) -> Router:
    router = Router("handler")

    @router.message(F.text)
    def handled(ctx: Context) -> None:
        calls.append(f"handler:{ctx.attempt}")

    return router


async def test_every_before_message_runs_before_the_handler(tmp_path: Path) -> None:
    calls: list[str] = []
    plugins = [Middleware("one", calls), recording_router(calls), Middleware("two", calls)]
    async with BotHarness(tmp_path, plugins=plugins) as bot:
        await bot.post(make_text("hi"))
        await bot.idle()
    assert sorted(calls[:2]) == ["one:1", "two:1"]
    assert calls[2:] == ["handler:1"]


async def test_a_failing_before_message_keeps_the_message_from_the_handlers_and_retries(
    tmp_path: Path,
) -> None:
    calls: list[str] = []
    plugins = [
        Middleware("ok", calls),
        Middleware("flaky", calls, fail_first=True),
        recording_router(calls),
    ]
    async with BotHarness(tmp_path, plugins=plugins) as bot:
        await bot.post(make_text("hi"))
        await bot.idle()
    # Broadcast: the other middleware ran on the failed attempt too; the handler did not.
    assert sorted(calls[:2]) == ["flaky:1", "ok:1"]
    assert sorted(calls[2:4]) == ["flaky:2", "ok:2"]
    assert calls[4:] == ["handler:2"]
