"""``/command`` texts recognised end to end, and the push of ``apply_on_start``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
import wahost_profile
from structlog.testing import capture_logs
from wahost_profile import COMMAND, Command, command_of, parse_command, startup_task

from wahost import Context, Message, hookimpl
from wahost.testing import TEST_PHONE_NUMBER_ID, FakeGraph, make_text

PNID = TEST_PHONE_NUMBER_ID
MENU = {"command_name": "menu", "command_description": "Show the menu"}
BOOK = {"command_name": "Book", "command_description": "Book a table"}


class Spy:
    """A plugin after wahost-profile: records what it sees and handles every message."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Command | None, Any]] = []

    @hookimpl
    async def on_message(self, message: Message, ctx: Context) -> bool:
        body = getattr(getattr(message, "text", None), "body", "")
        self.seen.append((body, command_of(ctx), ctx.slots.get(COMMAND)))
        return True


class Early:
    """A ``tryfirst`` plugin registered after wahost-profile, so it runs before it."""

    def __init__(self) -> None:
        self.seen: list[Command | None] = []

    @hookimpl(tryfirst=True)
    def on_message(self, ctx: Context) -> None:
        self.seen.append(command_of(ctx))


# -- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/menu", Command("menu", "")),
        ("/menu margherita, large", Command("menu", "margherita, large")),
        ("  /MENU   two  words \n", Command("menu", "two  words")),
        ("/book 4 people\nat 8pm", Command("Book", "4 people\nat 8pm")),
        ("/menu\tvegan", Command("menu", "vegan")),
    ],
)
def test_configured_commands_are_recognised(text: str, expected: Command) -> None:
    assert parse_command(text, ["menu", "Book"]) == expected


@pytest.mark.parametrize(
    "text",
    ["menu", "/", "/ menu", "//menu", "see /menu", "/menus", "/unknown thing", "", "   "],
)
def test_other_texts_are_not_commands(text: str) -> None:
    assert parse_command(text, ["menu"]) is None


def test_any_name_when_no_names_are_given() -> None:
    assert parse_command("/weather Lisbon") == Command("weather", "Lisbon")
    command = parse_command("/weather Lisbon tomorrow")
    assert command is not None and command.args == ["Lisbon", "tomorrow"]
    assert parse_command("// comment") is None


# -- end to end -----------------------------------------------------------------------------


async def test_a_command_message_is_recognised_end_to_end(wahost_app: Callable[..., Any]) -> None:
    spy = Spy()
    config = {"plugins": {"profile": {"commands": [MENU, BOOK]}}}
    async with wahost_app(plugins=[wahost_profile, spy], config=config) as bot:
        for text in ("/Menu margherita, large", "hello", "/unknown x", "/book"):
            response = await bot.post(make_text(text))
            assert response.status_code == 200
            await bot.idle()
    assert spy.seen == [
        (
            "/Menu margherita, large",
            Command("menu", "margherita, large"),
            Command("menu", "margherita, large"),
        ),
        ("hello", None, None),
        ("/unknown x", None, None),
        ("/book", Command("Book", ""), Command("Book", "")),
    ]


async def test_any_command_accepts_every_name(wahost_app: Callable[..., Any]) -> None:
    spy = Spy()
    config = {"plugins": {"profile": {"any_command": True}}}
    async with wahost_app(plugins=[wahost_profile, spy], config=config) as bot:
        await bot.post(make_text("/weather Lisbon"))
        await bot.idle()
    assert spy.seen[0][1] == Command("weather", "Lisbon")


async def test_without_configured_commands_nothing_is_a_command(
    wahost_app: Callable[..., Any],
) -> None:
    spy = Spy()
    async with wahost_app(plugins=[wahost_profile, spy]) as bot:
        await bot.post(make_text("/menu"))
        await bot.idle()
    assert spy.seen == [("/menu", None, None)]


async def test_command_of_works_before_the_plugin_ran(wahost_app: Callable[..., Any]) -> None:
    early, spy = Early(), Spy()
    config = {"plugins": {"profile": {"commands": [MENU]}}}
    async with wahost_app(plugins=[wahost_profile, early, spy], config=config) as bot:
        await bot.post(make_text("/menu today"))
        await bot.idle()
    assert early.seen == [Command("menu", "today")]
    assert spy.seen[0][2] == Command("menu", "today")


# -- apply_on_start -------------------------------------------------------------------------


async def test_apply_on_start_pushes_in_the_background(
    wahost_app: Callable[..., Any], fake_graph: FakeGraph
) -> None:
    config = {
        "plugins": {"profile": {"apply_on_start": True, "prompts": ["Book a table"], "about": "Hi"}}
    }
    async with wahost_app(plugins=[wahost_profile], config=config, worker=False) as bot:
        task = startup_task(bot.host)
        assert task is not None
        changes = await task
        assert [change.field for change in changes or []] == ["prompts", "about"]
    assert fake_graph.conversational_automation[PNID] == {"prompts": ["Book a table"]}
    assert fake_graph.business_profiles[PNID]["about"] == "Hi"


async def test_a_failed_push_at_start_up_does_not_stop_the_host(
    wahost_app: Callable[..., Any], fake_graph: FakeGraph
) -> None:
    fake_graph.fail_when(lambda r: "/messages" not in r.path, code=100)
    spy = Spy()
    config = {"plugins": {"profile": {"apply_on_start": True, "commands": [MENU]}}}
    with capture_logs() as logs:
        async with wahost_app(plugins=[wahost_profile, spy], config=config) as bot:
            task = startup_task(bot.host)
            assert task is not None
            assert await task is None  # failed, logged
            await bot.post(make_text("/menu"))
            await bot.idle()
    [warning] = [entry for entry in logs if entry["event"].startswith("profile push")]
    assert warning["event"] == "profile push at start-up failed; the host keeps running"
    assert warning["log_level"] == "warning"
    assert warning["error"].startswith("InvalidParameterError")
    assert spy.seen == [("/menu", Command("menu", ""), Command("menu", ""))]
    assert PNID not in fake_graph.conversational_automation


async def test_shutdown_cancels_a_push_still_running(
    wahost_app: Callable[..., Any], fake_graph: FakeGraph
) -> None:
    fake_graph.delay_next(1, delay=30, path_contains=None)
    config = {"plugins": {"profile": {"apply_on_start": True, "prompts": ["Book a table"]}}}
    async with wahost_app(plugins=[wahost_profile], config=config, worker=False) as bot:
        task = startup_task(bot.host)
        assert task is not None
        await asyncio.sleep(0.05)
        assert not task.done()
        started = time.monotonic()
    assert time.monotonic() - started < 5
    assert task.cancelled()


async def test_no_push_without_apply_on_start_or_when_a_tool_opts_out(
    wahost_app: Callable[..., Any], fake_graph: FakeGraph
) -> None:
    config = {"plugins": {"profile": {"prompts": ["Book a table"]}}}
    async with wahost_app(plugins=[wahost_profile], config=config, worker=False) as bot:
        assert startup_task(bot.host) is None
    harness = wahost_app(
        plugins=[wahost_profile],
        config={"plugins": {"profile": {"apply_on_start": True, "prompts": ["x"]}}},
        worker=False,
    )
    harness.host.slots[wahost_profile.NO_APPLY_ON_START] = True
    async with harness as bot:
        assert startup_task(bot.host) is None
    assert fake_graph.requests == []


@pytest.mark.parametrize(
    ("settings", "called"),
    [({}, False), ({"commands": [MENU]}, True), ({"any_command": True}, True)],
)
async def test_without_commands_a_message_costs_the_plugin_no_call(
    wahost_app: Callable[..., Any], settings: dict[str, Any], called: bool
) -> None:
    """No command configured and ``any_command`` off (the default): no text is a command, and
    ``before_message`` is skipped at start-up."""
    config = {"plugins": {"profile": settings}}
    async with wahost_app(plugins=[wahost_profile], config=config, worker=False) as bot:
        functions = {impl.function for impl in bot.host.dispatch.implementations("before_message")}
        assert (wahost_profile.before_message in functions) is called
