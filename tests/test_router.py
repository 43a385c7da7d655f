"""Routers (wahost.router): first match, skip, include, before, arguments by name, and a bot end
to end through the real path (signed webhook → worker → router → the fake Graph API)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from wahost import SKIP, CallbackData, Context, Router, Wahost, hookimpl
from wahost import filters as F
from wahost.models import decode_unit
from wahost.outbound import ReplyButton, ReplyButtons
from wahost.testing import BotHarness, FakeGraph, make_config
from wahost.testing.harness import FIXTURES
from wahost.testing.payloads import make_interactive_reply, make_status, make_text
from wahost.units import split


@pytest.fixture
def host(tmp_path: Path) -> Wahost:
    return Wahost(make_config(tmp_path), load_entrypoints=False)


def update_of(host: Wahost, payload: Mapping[str, Any] | str) -> tuple[Any, Context]:
    if isinstance(payload, str):
        body = json.dumps(json.loads((FIXTURES / payload).read_text())).encode()
    else:
        body = json.dumps(payload).encode()
    [unit] = split(body)
    update = decode_unit(unit)
    ctx = Context(host, unit)
    ctx.update = update
    return update, ctx


# -- which handler handles ---------------------------------------------------------------------


async def test_the_first_matching_handler_handles_in_registration_order(host: Wahost) -> None:
    router = Router()
    calls: list[str] = []

    @router.message(F.image)
    async def image(message: Any) -> None:
        calls.append("image")

    @router.message(F.text)
    async def first_text(message: Any) -> None:
        calls.append("first_text")

    @router.message(F.text("hi"))
    async def second_text(message: Any) -> None:
        calls.append("second_text")

    message, ctx = update_of(host, make_text("hi"))
    assert await router.on_message(message, ctx) is True  # handled, although it returned None
    assert calls == ["first_text"]


async def test_a_router_that_matches_nothing_leaves_the_message_to_the_next_plugin(
    host: Wahost,
) -> None:
    router = Router()

    @router.message(F.image)
    async def image() -> None:
        raise AssertionError("not an image")

    message, ctx = update_of(host, make_text("hi"))
    assert await router.on_message(message, ctx) is None


async def test_skip_passes_the_update_to_the_next_handler(host: Wahost) -> None:
    router = Router()
    calls: list[str] = []

    @router.message(F.text)
    async def skipping(ctx: Context) -> None:
        calls.append("skipping")
        ctx.skip()
        calls.append("never")

    @router.message(F.text)
    def returning_skip() -> object:
        calls.append("returning_skip")
        return SKIP

    @router.message()
    def catch_all() -> None:
        calls.append("catch_all")

    message, ctx = update_of(host, make_text("hi"))
    assert await router.handle(message, ctx) is True
    assert calls == ["skipping", "returning_skip", "catch_all"]


async def test_when_every_handler_skips_the_router_has_not_handled_it(host: Wahost) -> None:
    router = Router()

    @router.message()
    def skip(ctx: Context) -> None:
        ctx.skip()

    message, ctx = update_of(host, make_text("hi"))
    assert await router.on_message(message, ctx) is None


async def test_skip_in_a_filter_is_no_match(host: Wahost) -> None:
    router = Router()
    calls: list[str] = []

    @router.message(F.new(lambda ctx: ctx.skip()))
    def never() -> None:
        calls.append("never")

    @router.message()
    def after() -> None:
        calls.append("after")

    message, ctx = update_of(host, make_text("hi"))
    assert await router.handle(message, ctx)
    assert calls == ["after"]


async def test_statuses_and_events_go_to_the_first_matching_handler(host: Wahost) -> None:
    router = Router()
    calls: list[str] = []

    @router.status(F.read)
    async def read(status: Any) -> None:
        calls.append(f"read:{status.id}")

    @router.status()
    async def any_status(status: Any) -> None:
        calls.append(f"any:{status.status_raw}")

    @router.event(F.event("flows"))
    async def flows(event: Any) -> None:
        calls.append(f"event:{event.field}")

    for payload in (make_status("wamid.1", "read"), make_status("wamid.2", "delivered")):
        status, ctx = update_of(host, payload)
        await router.on_status(status, ctx)
    event, ctx = update_of(host, "flow_status_change.json")
    await router.on_event(event, ctx)
    assert calls == ["read:wamid.1", "any:delivered", "event:flows"]


# -- include and before ------------------------------------------------------------------------


async def test_included_routers_come_after_the_routers_own_handlers_in_order(
    host: Wahost,
) -> None:
    root, first, second = Router("root"), Router("first"), Router("second")
    calls: list[str] = []

    @first.message(F.text)
    def in_first(ctx: Context) -> None:
        calls.append("first")
        ctx.skip()

    @second.message(F.text)
    def in_second() -> None:
        calls.append("second")

    @root.message(F.text("root"))
    def in_root() -> None:
        calls.append("root")

    root.include(first, second)
    assert root.routers == [first, second]
    message, ctx = update_of(host, make_text("hi"))
    assert await root.on_message(message, ctx) is True
    assert calls == ["first", "second"]
    calls.clear()
    message, ctx = update_of(host, make_text("root"))
    assert await root.on_message(message, ctx) is True
    assert calls == ["root"]
    # An included router runs through its parent only, even when registered as a plugin too.
    assert await second.on_message(message, ctx) is None


def test_include_refuses_cycles_and_a_second_parent() -> None:
    a, b, c = Router("a"), Router("b"), Router("c")
    a.include(b)
    b.include(c)
    with pytest.raises(ValueError, match="above it"):
        c.include(a)
    with pytest.raises(ValueError, match="above it"):
        a.include(a)
    with pytest.raises(ValueError, match="already included"):
        Router("d").include(c)
    with pytest.raises(TypeError):
        a.include(object())  # type: ignore[arg-type]


async def test_before_runs_first_and_can_skip_the_router_and_its_included_ones(
    host: Wahost,
) -> None:
    staff, admin = Router("staff"), Router("admin")
    staff.include(admin)
    calls: list[str] = []

    @staff.before
    async def only_staff(message: Any, ctx: Context, state: Any) -> None:
        calls.append(f"before:{message.text.body}")
        if message.text.body != "staff":
            ctx.skip()

    @admin.before
    def admin_says(message: Any) -> object:
        calls.append("admin before")
        return None

    @staff.message(F.text("nothing"))
    def nothing() -> None:
        calls.append("nothing")

    @admin.message()
    def handled() -> None:
        calls.append("admin handler")

    message, ctx = update_of(host, make_text("guest"))
    assert await staff.on_message(message, ctx) is None
    message, ctx = update_of(host, make_text("staff"))
    assert await staff.on_message(message, ctx) is True
    assert calls == ["before:guest", "before:staff", "admin before", "admin handler"]


async def test_before_returning_skip_and_before_of_statuses(host: Wahost) -> None:
    router = Router()
    calls: list[str] = []

    @router.before(kind=["status"])
    def only_read(status: Any) -> object:
        calls.append(f"before:{status.status_raw}")
        return SKIP if status.status_raw != "read" else None

    @router.status()
    def seen(status: Any) -> None:
        calls.append(f"handled:{status.status_raw}")

    @router.message()
    def message_handler() -> None:
        calls.append("message")

    for kind in ("delivered", "read"):
        status, ctx = update_of(host, make_status("wamid.s", kind))
        await router.on_status(status, ctx)
    message, ctx = update_of(host, make_text("hi"))
    await router.on_message(message, ctx)  # the status-only before does not run for messages
    assert calls == ["before:delivered", "before:read", "handled:read", "message"]
    with pytest.raises(ValueError, match="not message/status/event"):
        router.before(kind="call")  # type: ignore[arg-type]


# -- arguments by name -------------------------------------------------------------------------


class Pick(CallbackData, prefix="pick"):
    item: str
    qty: int = 1


async def test_arguments_are_injected_by_name(host: Wahost) -> None:
    router = Router()
    got: dict[str, Any] = {}

    @router.message(F.regex(r"order (\d+)"))
    def order(match: Any, ctx: Context, host: Wahost, state: Any, update: Any) -> None:
        got.update(match=match.group(1), ctx=ctx, host=host, state=state, update=update)

    @router.message(F.command("start"))
    async def start(command: F.Command, message: Any) -> None:
        got.update(command=command, message=message)

    @router.message(Pick.filter())
    async def picked(data: Pick) -> None:
        got.update(data=data)

    message, ctx = update_of(host, make_text("order 7"))
    await router.handle(message, ctx)
    assert got == {"match": "7", "ctx": ctx, "host": host, "state": ctx.state, "update": message}
    got.clear()
    message, ctx = update_of(host, make_text("/start now"))
    await router.handle(message, ctx)
    assert got == {"command": F.Command("start", "now"), "message": message}
    got.clear()
    message, ctx = update_of(host, make_interactive_reply(Pick(item="tea", qty=2).pack(), "Tea"))
    await router.handle(message, ctx)
    assert got == {"data": Pick(item="tea", qty=2)}


async def test_a_value_only_one_side_of_or_gives_is_none_or_the_default(host: Wahost) -> None:
    router = Router()
    got: list[Any] = []

    @router.message(F.regex(r"\d+") | F.command("n"))
    def number(match: Any, command: Any = "no command") -> None:
        got.append((match and match.group(), command))

    for body in ("42", "/n"):
        message, ctx = update_of(host, make_text(body))
        await router.handle(message, ctx)
    assert got == [("42", "no command"), (None, F.Command("n", ""))]


async def test_kwargs_receive_every_available_value(host: Wahost) -> None:
    router = Router()
    got: dict[str, Any] = {}

    @router.message(F.regex(r"(\w+)"))
    def anything(**values: Any) -> None:
        got.update(values)

    message, ctx = update_of(host, make_text("hi"))
    await router.handle(message, ctx)
    assert set(got) == {"message", "update", "ctx", "host", "state", "match"}
    assert got["message"] is message and got["match"].group() == "hi"


async def test_the_signature_is_read_once_when_the_handler_is_registered(host: Wahost) -> None:
    router = Router()
    got: list[Any] = []

    @router.message()
    def handler(message: Any, ctx: Context) -> None:
        got.append((message, ctx))

    # Were the signature read per update, the handler would now be called with no argument.
    handler.__signature__ = inspect.Signature([])  # type: ignore[attr-defined]
    message, ctx = update_of(host, make_text("hi"))
    await router.handle(message, ctx)
    assert got == [(message, ctx)]


def test_a_parameter_that_can_never_be_given_fails_when_registered() -> None:
    router = Router()
    with pytest.raises(TypeError, match=r"'mtach'.*match"):

        @router.message(F.regex("x"))
        def typo(mtach: Any) -> None: ...

    with pytest.raises(TypeError, match="'status'"):

        @router.message()
        def wrong_kind(status: Any) -> None: ...

    with pytest.raises(TypeError, match="by name"):

        @router.message()
        def positional(message: Any, /) -> None: ...

    @router.message()
    def with_default(message: Any, extra: int = 3) -> None: ...


def test_filters_of_another_kind_are_refused_when_registered() -> None:
    router = Router()
    with pytest.raises(TypeError, match="status updates, not of message"):
        router.message(F.failed)
    with pytest.raises(TypeError, match="message updates, not of status"):
        router.status(F.text)
    with pytest.raises(TypeError, match=r"F\.new"):
        router.message(lambda message: True)  # type: ignore[arg-type]


async def test_state_keyword_is_the_state_filter(host: Wahost) -> None:
    router = Router()
    calls: list[str] = []

    @router.message(F.text, state="ask_name")
    def name(message: Any, state: Any) -> None:
        calls.append(f"name:{message.text.body}")
        state.set("ask_age")

    @router.message(F.text, state=[None, "start"])
    def fresh() -> None:
        calls.append("fresh")

    message, ctx = update_of(host, make_text("Ada"))
    await router.handle(message, ctx)
    ctx.state.set("ask_name")
    await router.handle(message, ctx)
    assert calls == ["fresh", "name:Ada"]
    assert ctx.state.name == "ask_age"


async def test_an_exception_names_the_handler_and_propagates(host: Wahost) -> None:
    router = Router("named")

    @router.message()
    def broken() -> None:
        raise RuntimeError("boom")

    message, ctx = update_of(host, make_text("hi"))
    with pytest.raises(RuntimeError, match="boom") as raised:
        await router.on_message(message, ctx)
    [note] = raised.value.__notes__
    assert note.startswith("in message handler ")
    assert note.endswith(".<locals>.broken of <Router named>")


def test_a_router_is_named_after_its_module_and_registered_like_a_plugin(tmp_path: Path) -> None:
    router = Router()
    assert router.__name__.endswith("test_router.router")
    host = Wahost(make_config(tmp_path), plugins=[router, Router("other")], load_entrypoints=False)
    info = host.plugin(router.__name__)
    assert info is not None and info.hooks == ["on_event", "on_message", "on_status"]
    assert host.plugin("other") is not None


# -- end to end ----------------------------------------------------------------------------------


def the_bot() -> tuple[Router, list[str]]:
    """The bot of issue 23's example: greeting buttons with typed payloads."""
    router = Router("shop")
    events: list[str] = []

    @router.message(F.text("hi", ignore_case=True) | F.command("start"))
    async def greet(message: Any, ctx: Context) -> None:
        buttons = [ReplyButton(Pick(item="tea"), "Tea"), ReplyButton(Pick("cake", 2), "Cake")]
        await ctx.reply(ReplyButtons("What would you like?", buttons))

    @router.message(Pick.filter())
    async def picked(message: Any, ctx: Context, data: Pick) -> None:
        await ctx.reply(f"{data.qty} x {data.item}")

    @router.message(F.regex(r"order (\d+)"))
    def order(match: Any, ctx: Context) -> None:
        events.append(f"order {match.group(1)}")  # a sync handler

    @router.status(F.read)
    async def read(status: Any) -> None:
        events.append(f"read {status.id}")

    return router, events


class Unhandled:
    __name__ = "unhandled_spy"

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    async def on_unhandled(self, message: Any) -> bool:
        self.seen.append(message.type)
        return True


async def test_a_router_bot_end_to_end(tmp_path: Path, fake_graph: FakeGraph) -> None:
    router, events = the_bot()
    unhandled = Unhandled()
    async with BotHarness(tmp_path, plugins=[unhandled, router], graph=fake_graph) as bot:
        assert (await bot.post(make_text("Hi"))).status_code == 200
        await bot.idle()
        [buttons] = fake_graph.sent
        ids = [button.id for button in buttons.message.interactive.buttons]
        assert ids == ['pick:["tea",1]', 'pick:["cake",2]']
        await bot.post(make_interactive_reply(ids[1], "Cake"))
        await bot.post(make_text("order 12"))
        await bot.post(make_interactive_reply("pick:[1,2,3]", "Forged"))  # does not decode
        await bot.post(make_status(buttons["wamid"], "read"))
        await bot.idle()
    assert [m.text for m in fake_graph.sent[1:]] == ["2 x cake"]
    assert events == ["order 12", f"read {buttons['wamid']}"]
    assert unhandled.seen == ["interactive"]  # the forged payload reached on_unhandled


async def test_a_raising_handler_fails_the_unit_which_is_retried(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    router = Router("flaky")
    attempts: list[int] = []

    @router.message(F.text)
    async def flaky(ctx: Context) -> None:
        attempts.append(ctx.attempt)
        await ctx.reply("once")
        if ctx.attempt == 1:
            raise RuntimeError("fails after the reply")

    async with BotHarness(tmp_path, plugins=[router], graph=fake_graph) as bot:
        await bot.post(make_text("hi"))
        await bot.idle()
    assert attempts == [1, 2]
    assert [m.text for m in fake_graph.sent] == ["once"]


BOT_MODULE = """
from wahost import Router, filters as F

router = Router()

@router.message(F.text("ping"))
async def ping(ctx):
    await ctx.reply("pong")
"""


async def test_an_entry_point_may_name_a_router(
    tmp_path: Path, fake_graph: FakeGraph, install: Any
) -> None:
    install(
        "wahost-pingbot", "1.0", {"wahost-pingbot": "t_pingbot:router"}, {"t_pingbot": BOT_MODULE}
    )
    config = {"plugins": {"enabled": ["wahost-pingbot"]}}
    async with BotHarness(tmp_path, config=config, load_entrypoints=True, graph=fake_graph) as bot:
        info = bot.host.plugin("wahost-pingbot")
        assert info is not None and info.loaded and "on_message" in info.hooks
        await bot.post(make_text("ping"))
        await bot.idle()
    assert [m.text for m in fake_graph.sent] == ["pong"]


async def test_a_value_level_webhook_error_is_not_an_event(host: Wahost) -> None:
    router = Router()

    @router.event()
    def any_event(event: Any) -> None:
        raise AssertionError("a webhook error reached an event handler")

    error, ctx = update_of(host, "webhook_value_errors.json")
    assert await router.handle(error, ctx) is False
