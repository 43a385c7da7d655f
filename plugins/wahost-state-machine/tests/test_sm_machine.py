"""A Python machine end to end: signed webhooks in, the fake Graph API out, state in SQLite.

These machines are written with the deprecated API (``on=`` triggers, handlers
``(ctx, message)``); test_sm_router.py covers the same machinery with filters."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wahost_state_machine
from wahost_state_machine import (
    BOOKKEEPING,
    AnyMessage,
    MessageType,
    Reply,
    StateMachine,
    Text,
    UnknownStateError,
    current_step,
)

from wahost import Context, hookimpl
from wahost.testing import TEST_PHONE_NUMBER_ID
from wahost.testing.payloads import make_interactive_reply, make_message, make_text

USER = "16505551234"
KEY = f"{TEST_PHONE_NUMBER_ID}:{USER}"
HERE = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _old_api_warns() -> Iterator[None]:
    """Every test here defines machines with the deprecated API (``on=`` triggers, handlers
    ``(ctx, message)``): it still works, and warns with the rewrite."""
    with pytest.warns(DeprecationWarning, match="deprecated state machine API: @sm.state"):
        yield


def texts(graph: Any) -> list[str | None]:
    return [m.text if m.type == "text" else m.message.interactive.body for m in graph.sent]


async def state_of(bot: Any, key: str = KEY) -> Any:
    return await bot.host.state.get(key)


async def say(bot: Any, *webhooks: dict[str, Any]) -> None:
    for webhook in webhooks:
        assert (await bot.post(webhook)).status_code == 200
        await bot.idle()


def booking(monkeypatch: pytest.MonkeyPatch) -> StateMachine:
    """The machine of ``examples/booking.py`` in the deprecated API, freshly imported."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.delitem(sys.modules, "booking_old_api", raising=False)
    module = importlib.import_module("booking_old_api")
    machine: StateMachine = module.sm
    return machine


async def test_the_booking_example_asks_the_name_then_the_date_then_confirms(
    wahost_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with wahost_app(plugins=[wahost_state_machine, booking(monkeypatch)]) as bot:
        await say(bot, make_text("hello"))  # first message, no trigger: the welcome
        assert (await state_of(bot)).name == "start"
        await say(bot, make_text("Book "))
        assert (await state_of(bot)).name == "ask_name"
        await say(bot, make_text("Ana"))
        await say(bot, make_text("tomorrow"))  # not a date: the state's own invalid reply
        await say(bot, make_text("2030-02-30"))  # handler returns None: stays
        await say(bot, make_text("2030-05-17"))
        state = await state_of(bot)
        assert state.name == "confirm"
        assert state.data["name"] == "Ana" and state.data["date"] == "2030-05-17"
        await say(bot, make_interactive_reply("yes", "Yes"))
        state = await state_of(bot)
    assert state.name == "start"
    assert state.data["bookings"] == 1
    assert texts(bot.graph) == [
        'Hi! Send "book" to book a table.',
        "What name is the booking under?",
        "Which day? (YYYY-MM-DD)",
        "Please write the day as YYYY-MM-DD, e.g. 2030-05-17.",
        "That day does not exist.",
        "Ana on Friday 17 May 2030.",
        "Shall I book it?",
        "Booked! See you, Ana.",
        'Hi! Send "book" to book a table.',
    ]
    assert all(m.to == USER for m in bot.graph.sent)


async def test_the_state_lives_in_the_store_keyed_by_number_and_user(wahost_app) -> None:
    sm = StateMachine("m", initial="a")
    sm.add_state("b")

    @sm.state("a", on=Text("go"))
    async def go(ctx: Context, message: Any) -> str:
        ctx.state.data["seen"] = message.text.body
        return "b"

    async with wahost_app(plugins=[wahost_state_machine, sm]) as bot:
        await say(bot, make_text("go"), make_text("go", sender="4470000"))
        mine = await state_of(bot)
        theirs = await state_of(bot, f"{TEST_PHONE_NUMBER_ID}:4470000")
    assert (mine.name, theirs.name) == ("b", "b")
    assert mine.data[BOOKKEEPING]["machine"] == "m"
    entered, active = mine.data[BOOKKEEPING]["entered_at"], mine.data[BOOKKEEPING]["active_at"]
    assert entered == active > 0
    assert mine.data["seen"] == "go"


async def test_the_first_matching_trigger_wins_in_declaration_order(wahost_app) -> None:
    sm = StateMachine("m", initial="a")
    sm.add_state("exact")
    sm.add_state("text")
    sm.add_state("anything")
    sm.state("a", on=Text("hi"))(_to("exact"))
    sm.state("a", on=Text())(_to("text"))
    sm.state("a", on=Text("never reached"))(_to("exact"))
    sm.state("a", on=AnyMessage())(_to("anything"))
    async with wahost_app(plugins=[wahost_state_machine, sm]) as bot:
        results = []
        for webhook in (make_text("hi"), make_text("other"), _image()):
            await bot.host.state.clear(KEY)
            await say(bot, webhook)
            results.append((await state_of(bot)).name)
    assert results == ["exact", "text", "anything"]


def _to(target: str) -> Any:
    async def handler(ctx: Context, message: Any) -> str:
        return target

    return handler


def _image() -> dict[str, Any]:
    return make_message("image", {"id": "123", "mime_type": "image/jpeg", "sha256": "x"})


class InvalidRecorder:
    __name__ = "invalid-recorder"

    def __init__(self, take: bool) -> None:
        self.take = take
        self.calls: list[tuple[str, str, str | None]] = []
        self.unhandled: list[str] = []

    @hookimpl
    async def on_invalid_state(self, message: Any, state: str, ctx: Context) -> Any:
        step = current_step(ctx)
        self.calls.append((message.text.body, state, step.machine if step else None))
        if self.take:
            await ctx.reply(text=f"custom: nothing for {message.text.body!r} in {state}")
            return True
        return None

    @hookimpl
    async def on_unhandled(self, message: Any) -> Any:
        self.unhandled.append(message.id)
        return True


def _strict_machine(**options: Any) -> StateMachine:
    sm = StateMachine("m", initial="a", **options)
    sm.state("a", on=Text("ok"))(_to("a"))
    return sm


async def test_no_trigger_calls_on_invalid_state_and_the_default_replies(wahost_app) -> None:
    recorder = InvalidRecorder(take=False)
    sm = _strict_machine(invalid_reply="Please say ok.", welcome_on_first_message=False)
    async with wahost_app(plugins=[wahost_state_machine, sm, recorder]) as bot:
        await say(bot, make_text("what?"))
        state = await state_of(bot)
    assert recorder.calls == [("what?", "a", "m")]
    assert texts(bot.graph) == ["Please say ok."]
    assert recorder.unhandled == []
    assert state.name == "a"  # the conversation started in the initial state


async def test_a_custom_on_invalid_state_takes_over_from_the_default(wahost_app) -> None:
    recorder = InvalidRecorder(take=True)
    sm = _strict_machine(invalid_reply="Please say ok.")
    async with wahost_app(plugins=[wahost_state_machine, sm, recorder]) as bot:
        await say(bot, make_text("ok"), make_text("what?"))
    assert texts(bot.graph) == ["custom: nothing for 'what?' in a"]
    assert recorder.unhandled == []


async def test_without_an_invalid_reply_the_message_falls_through_to_on_unhandled(
    wahost_app,
) -> None:
    recorder = InvalidRecorder(take=False)
    async with wahost_app(plugins=[wahost_state_machine, _strict_machine(), recorder]) as bot:
        await say(bot, make_text("ok"), make_text("what?"))
    assert len(recorder.calls) == 1 and len(recorder.unhandled) == 1
    assert bot.graph.sent == []


async def test_the_plugin_wide_invalid_reply_is_the_last_default(wahost_app) -> None:
    config = {"plugins": {"state_machine": {"invalid_reply": "Hmm?"}}}
    async with wahost_app(plugins=[wahost_state_machine, _strict_machine()], config=config) as bot:
        await say(bot, make_text("ok"), make_text("what?"))
    assert texts(bot.graph) == ["Hmm?"]


class ErrorRecorder:
    __name__ = "error-recorder"

    def __init__(self) -> None:
        self.errors: list[tuple[str, str, BaseException, str | None]] = []

    @hookimpl
    def on_plugin_error(self, plugin: str, hook: str, exc: BaseException, unit: Any) -> None:
        self.errors.append((plugin, hook, exc, unit.key if unit else None))


async def test_a_bad_return_state_is_reported_and_the_conversation_stays(wahost_app) -> None:
    sm = StateMachine("m", initial="a")
    sm.add_state("b")

    @sm.state("a", on=Text("go"))
    async def go(ctx: Context, message: Any) -> str:
        ctx.state.update(count=ctx.state.get("count", 0) + 1)
        return "b"

    @sm.state("b", on=Text("typo"))
    async def typo(ctx: Context, message: Any) -> str:
        ctx.state.update(half="applied")
        await ctx.reply("working on it")
        return "nowhere"

    @sm.state("b", on=Text("weird"))
    async def weird(ctx: Context, message: Any) -> Any:
        return 42

    errors = ErrorRecorder()
    async with wahost_app(plugins=[wahost_state_machine, sm, errors]) as bot:
        await say(bot, make_text("go"))
        before = await state_of(bot)
        await say(bot, make_text("typo", wamid="wamid.typo"), make_text("weird"))
        after = await state_of(bot)
        stats = await bot.host.queue.stats()
    assert after.name == "b" and after.data == before.data  # nothing half-applied
    assert "half" not in after.data
    assert stats.dead == 0  # reported, not retried into the dead-letter list
    [(plugin, hook, exc, unit), (_, _, exc2, _)] = errors.errors
    assert (plugin, hook, unit) == ("wahost_state_machine", "on_message", "msg:wamid.typo")
    assert isinstance(exc, UnknownStateError)
    assert "'nowhere'" in str(exc) and "state 'b'" in str(exc) and "typo" in str(exc)
    assert "42" in str(exc2)
    assert texts(bot.graph) == ["working on it"]


async def test_a_handler_that_raises_is_retried_and_commits_once(wahost_app) -> None:
    attempts: list[int] = []
    sm = StateMachine("m", initial="a")
    sm.add_state("b", prompt="in b")

    @sm.state("a", on=Text("go"))
    async def go(ctx: Context, message: Any) -> str:
        attempts.append(ctx.attempt)
        ctx.state.update(count=ctx.state.get("count", 0) + 1)
        if ctx.attempt == 1:
            raise RuntimeError("a transient failure")
        return "b"

    async with wahost_app(plugins=[wahost_state_machine, sm]) as bot:
        await say(bot, make_text("go"))
        state = await state_of(bot)
    assert attempts == [1, 2]
    assert (state.name, state.data["count"]) == ("b", 1)
    assert texts(bot.graph) == ["in b"]


async def test_timeout_returns_to_the_configured_state_and_the_handler_knows(
    wahost_app,
) -> None:
    seen: list[tuple[str | None, str]] = []
    sm = StateMachine("m", initial="start")
    sm.add_state("menu", prompt="Back at the menu.")
    sm.add_state("waiting", timeout=60, timeout_to="menu")

    @sm.state("start", on=Text("wait"))
    async def wait(ctx: Context, message: Any) -> str:
        return "waiting"

    @sm.state("waiting", on=Text())
    async def waited(ctx: Context, message: Any) -> str:
        return "start"

    @sm.state("menu", on=Text("resume"))
    async def resume(ctx: Context, message: Any) -> str:
        step = current_step(ctx)
        assert step is not None
        seen.append((step.timed_out, step.state))
        return "waiting"

    async def idle_for(bot: Any, seconds: float) -> None:
        def age(state: Any) -> Any:
            state.data[BOOKKEEPING]["active_at"] -= seconds
            return state

        await bot.host.state.update(KEY, age)

    async with wahost_app(plugins=[wahost_state_machine, sm]) as bot:
        await say(bot, make_text("wait"))
        await idle_for(bot, 30)  # within the timeout: the state's own trigger
        await say(bot, make_text("still here"))
        assert (await state_of(bot)).name == "start"
        await say(bot, make_text("wait"))
        await idle_for(bot, 61)
        await say(bot, make_text("resume"))  # matched in the timeout state
        assert seen == [("waiting", "menu")]
        assert (await state_of(bot)).name == "waiting"
        await idle_for(bot, 61)
        await say(bot, make_text("hello?"))  # no trigger there: put back on track
        state = await state_of(bot)
    assert state.name == "menu"
    assert texts(bot.graph) == ["Back at the menu."]


async def test_request_welcome_and_a_first_message_trigger_the_welcome(wahost_app) -> None:
    sm = StateMachine("m", initial="start")
    sm.add_state("named")

    @sm.welcome
    async def welcome(ctx: Context, message: Any) -> None:
        step = current_step(ctx)
        assert step is not None and step.welcome
        await ctx.reply(f"Welcome ({message.type})! Your name?")

    @sm.state("start", on=Text())
    async def named(ctx: Context, message: Any) -> str:
        ctx.state.update(name=message.text.body)
        return "named"

    @sm.state("named", on=MessageType("image"))
    async def photo(ctx: Context, message: Any) -> None:
        await ctx.reply("nice photo")

    async with wahost_app(plugins=[wahost_state_machine, sm]) as bot:
        await say(bot, make_message("request_welcome", None))
        assert (await state_of(bot)).name == "start"
        await say(bot, make_text("Ana"))
        other = "4470000"
        await say(bot, _image_from(other))  # first message, no trigger: the welcome
        await say(bot, make_text("Bo", sender=other))
    assert texts(bot.graph) == [
        "Welcome (request_welcome)! Your name?",
        "Welcome (image)! Your name?",
    ]


def _image_from(sender: str) -> dict[str, Any]:
    return make_message(
        "image", {"id": "1", "mime_type": "image/jpeg", "sha256": "x"}, sender=sender
    )


async def test_a_reaction_is_not_a_turn_of_the_conversation(wahost_app) -> None:
    recorder = InvalidRecorder(take=False)
    sm = _strict_machine(invalid_reply="Please say ok.")
    async with wahost_app(plugins=[wahost_state_machine, sm, recorder]) as bot:
        await say(bot, make_text("ok"))
        before = await state_of(bot)
        reaction = {"message_id": "wamid.x", "emoji": "\U0001f44d"}
        await say(bot, make_message("reaction", reaction))
        after = await state_of(bot)
    assert recorder.calls == [] and len(recorder.unhandled) == 1
    assert after == before
    assert bot.graph.sent == []


async def test_request_welcome_without_a_welcome_goes_on_to_other_plugins(wahost_app) -> None:
    recorder = InvalidRecorder(take=False)
    sm = _strict_machine(invalid_reply="Please say ok.")
    async with wahost_app(plugins=[wahost_state_machine, sm, recorder]) as bot:
        await say(bot, make_message("request_welcome", None))
        state = await state_of(bot)
    assert recorder.calls == [] and len(recorder.unhandled) == 1
    assert state is None and bot.graph.sent == []


async def test_machines_per_phone_number_id(wahost_app) -> None:
    other_number = "209999999999999"
    one = StateMachine("one", initial="a", phone_number_ids=[TEST_PHONE_NUMBER_ID])
    two = StateMachine("two", initial="a", phone_number_ids=[other_number])
    for machine in (one, two):

        @machine.state("a", on=AnyMessage())
        async def answer(ctx: Context, message: Any, name: str = machine.name) -> None:
            await ctx.reply(f"machine {name}")

    async with wahost_app(plugins=[wahost_state_machine, one, two]) as bot:
        await say(bot, make_text("hi"), make_text("hi", phone_number_id=other_number))
        await say(bot, make_text("hi", phone_number_id="309999"))  # served by no machine
        mine = await state_of(bot)
        theirs = await state_of(bot, f"{other_number}:{USER}")
    assert [(m.phone_number_id, m.text) for m in bot.graph.sent] == [
        (TEST_PHONE_NUMBER_ID, "machine one"),
        (other_number, "machine two"),
    ]
    assert (mine.data[BOOKKEEPING]["machine"], theirs.data[BOOKKEEPING]["machine"]) == (
        "one",
        "two",
    )


async def test_a_stored_state_the_machine_no_longer_has_starts_over(wahost_app) -> None:
    sm = StateMachine("m", initial="a")
    sm.add_state("b")
    sm.state("a", on=Reply("x"))(_to("b"))
    from wahost.state.base import ConversationState

    async with wahost_app(plugins=[wahost_state_machine, sm]) as bot:
        stale = {"keep": 1, BOOKKEEPING: {"machine": "m", "active_at": 0, "entered_at": 0}}
        await bot.host.state.set(KEY, ConversationState(name="removed", data=stale))
        await say(bot, make_interactive_reply("x", "X"))
        state = await state_of(bot)
    assert state.name == "b" and state.data["keep"] == 1
