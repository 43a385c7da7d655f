"""The state machine on the router: core filters (``&``, ``|``, ``~``) on state handlers that
take their arguments by name, router handlers with ``state=...``, ``sm.goto``, and the old API's
deprecation — end to end: signed webhooks in, the worker, the fake Graph API out."""

from __future__ import annotations

import importlib
import json
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import wahost_state_machine
from structlog.testing import capture_logs
from wahost_state_machine import (
    BOOKKEEPING,
    AnyMessage,
    FlowCompleted,
    MessageType,
    Regex,
    Reply,
    StateMachine,
    StateMachineError,
    Step,
    Text,
    When,
    current_step,
    timed_out,
)

from wahost import SKIP, Context, Router, hookimpl
from wahost import filters as F
from wahost.models import decode_message
from wahost.testing import TEST_PHONE_NUMBER_ID
from wahost.testing.payloads import make_interactive_reply, make_message, make_text

USER = "16505551234"
OTHER = "4470000"
KEY = f"{TEST_PHONE_NUMBER_ID}:{USER}"
HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples"


@pytest.fixture(autouse=True)
def _new_api_does_not_warn() -> Iterator[None]:
    """Nothing written with the new API may warn (tests of the old API catch theirs)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "deprecated state machine API", DeprecationWarning)
        yield


def texts(graph: Any) -> list[str | None]:
    return [m.text if m.type == "text" else m.message.interactive.body for m in graph.sent]


async def say(bot: Any, *webhooks: dict[str, Any]) -> None:
    for webhook in webhooks:
        assert (await bot.post(webhook)).status_code == 200
        await bot.idle()


async def state_of(bot: Any, key: str = KEY) -> Any:
    return await bot.host.state.get(key)


async def idle_for(bot: Any, seconds: float) -> None:
    """Make the conversation idle for ``seconds`` without sleeping."""

    def age(state: Any) -> Any:
        state.data[BOOKKEEPING]["active_at"] -= seconds
        return state

    await bot.host.state.update(KEY, age)


def image(sender: str = USER) -> dict[str, Any]:
    return make_message(
        "image", {"id": "1", "mime_type": "image/jpeg", "sha256": "x"}, sender=sender
    )


def reaction() -> dict[str, Any]:
    return make_message("reaction", {"message_id": "wamid.x", "emoji": "\U0001f44d"})


class Unhandled:
    """Records what no plugin handled."""

    __name__ = "unhandled-recorder"

    def __init__(self) -> None:
        self.types: list[str] = []

    @hookimpl
    async def on_unhandled(self, message: Any) -> Any:
        self.types.append(message.type)
        return True


def load(monkeypatch: pytest.MonkeyPatch, folder: Path, module: str) -> StateMachine:
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, module, raising=False)
    machine: StateMachine = importlib.import_module(module).sm
    return machine


# -- state handlers with core filters --------------------------------------------------------

BOOKING_TRANSCRIPT = [
    'Hi! Send "book" to book a table.',
    "What name is the booking under?",
    "Which day? (YYYY-MM-DD)",
    "Please write the day as YYYY-MM-DD, e.g. 2030-05-17.",
    "That day does not exist.",
    "Ana on Friday 17 May 2030.",
    "Shall I book it?",
    "Booked! See you, Ana.",
    'Hi! Send "book" to book a table.',
    "What name is the booking under?",
    "Which day? (YYYY-MM-DD)",
    "Let's start again.",
    "What name is the booking under?",
]


async def _walk_booking(bot: Any) -> Any:
    await say(bot, make_text("hello"))  # first message, nothing matches: the welcome
    await say(bot, make_text("Book "), make_text("Ana"), make_text("tomorrow"))
    await say(bot, make_text("2030-02-30"), make_text("2030-05-17"))
    await say(bot, make_interactive_reply("yes", "Yes"))
    state = await state_of(bot)
    await say(bot, make_text("/book"), make_text("Bo"))
    await idle_for(bot, 601)  # ask_date times out to the initial state
    await say(bot, make_text("book"))
    return state


@pytest.mark.parametrize("api", ["filters", "old"])
async def test_the_booking_example_in_filters_holds_the_same_conversation_as_before(
    wahost_app, monkeypatch: pytest.MonkeyPatch, api: str
) -> None:
    if api == "filters":
        machine = load(monkeypatch, EXAMPLES, "booking")
        assert not any(isinstance(t.trigger, wahost_state_machine.Trigger) for t in _all(machine))
    else:
        with pytest.warns(DeprecationWarning, match="deprecated state machine API"):
            machine = load(monkeypatch, HERE, "booking_old_api")
    async with wahost_app(plugins=[wahost_state_machine, machine]) as bot:
        state = await _walk_booking(bot)
        final = await state_of(bot)
    assert (state.name, state.data["name"], state.data["date"]) == ("start", "Ana", "2030-05-17")
    assert state.data["bookings"] == 1
    assert final.name == "ask_name"
    assert texts(bot.graph) == BOOKING_TRANSCRIPT


def _all(machine: StateMachine) -> list[Any]:
    return [t for state in machine.states.values() for t in state.transitions]


def composing() -> StateMachine:
    sm = StateMachine("m", initial="a", invalid_reply="?", welcome_on_first_message=False)
    sm.add_state("b", prompt="in b")

    @sm.state("a", F.text("go", ignore_case=True) | F.reply("go"))
    async def go() -> str:
        return "b"

    @sm.state("a", F.text & ~F.text(contains="!"))
    async def calm(ctx: Context) -> None:
        await ctx.reply("calm")

    @sm.state("a", F.image, F.from_users(OTHER))  # several filters: all of them
    async def their_image(ctx: Context) -> None:
        await ctx.reply("their image")

    @sm.state("b", ~F.text)
    async def back(ctx: Context) -> str:
        return "a"

    return sm


async def test_state_handlers_take_core_filters_composed_with_and_or_not(wahost_app) -> None:
    async with wahost_app(plugins=[wahost_state_machine, composing()]) as bot:
        await say(bot, make_text("GO"))  # `|`, left side
        await say(bot, make_text("go"))  # in b: a text is not `~F.text`, invalid
        await say(bot, image())  # in b: `~F.text` takes it, back to a
        await say(bot, make_interactive_reply("go", "Go"))  # `|`, right side
        await say(bot, image())
        await say(bot, make_text("hello"), make_text("hello!"))  # `&` with `~`
        await say(bot, image(), image(OTHER))  # two filters: both must match
        mine, theirs = await state_of(bot), await state_of(bot, f"{TEST_PHONE_NUMBER_ID}:{OTHER}")
    assert texts(bot.graph) == ["in b", "?", "in b", "calm", "?", "?", "their image"]
    assert (mine.name, theirs.name) == ("a", "a")


async def test_handlers_take_their_arguments_by_name_sync_or_async(wahost_app) -> None:
    seen: dict[str, Any] = {}
    sm = StateMachine("m", initial="a")
    sm.add_state("c")

    @sm.state("a", F.regex(r"order (\d+)"))
    def order(match: re.Match[str], state: Any, step: Step) -> str:  # a plain function
        state.update(order=int(match[1]))
        seen["step"] = (step.machine, step.state, step.previous, step.new, step.match)
        return "b"

    async def customer_of(message: Any) -> Any:
        return {"customer": f"customer {message.sender}"}

    @sm.state("b", F.reply("size"), F.new(customer_of, provides=["customer"]))
    async def size(message: Any, ctx: Context, reply_id: str, customer: str) -> str:
        seen["reply"] = (message.type, reply_id, customer)
        await ctx.reply(f"{customer}: {reply_id}")
        return "c"

    async with wahost_app(plugins=[wahost_state_machine, sm]) as bot:
        await say(bot, make_text("order 12"), make_interactive_reply("size:xl", "XL"))
        state = await state_of(bot)
    machine, name, previous, new, match = seen["step"]
    assert (machine, name, previous, new) == ("m", "a", None, True)
    assert isinstance(match, re.Match) and match[1] == "12"  # current_step(ctx).match too
    assert seen["reply"] == ("interactive", "size:xl", f"customer {USER}")
    assert (state.name, state.data["order"]) == ("c", 12)
    assert texts(bot.graph) == [f"customer {USER}: size:xl"]


async def test_a_handler_without_filters_takes_every_turn_but_passive_messages(
    wahost_app,
) -> None:
    unhandled = Unhandled()
    sm = StateMachine("m", initial="a")

    @sm.state("a")
    async def anything(message: Any, ctx: Context) -> None:
        await ctx.reply(f"got {message.type}")

    async with wahost_app(plugins=[wahost_state_machine, sm, unhandled]) as bot:
        await say(bot, make_text("x"), image(), reaction())
    assert texts(bot.graph) == ["got text", "got image"]
    assert unhandled.types == ["reaction"]


async def test_skip_passes_the_message_to_the_next_handler_and_undoes_its_changes(
    wahost_app,
) -> None:
    sm = StateMachine("m", initial="a")
    sm.add_state("b")

    @sm.state("a", F.text)
    async def first(ctx: Context) -> None:
        ctx.state.update(touched="first")
        ctx.skip()

    @sm.state("a", F.text)
    async def second(state: Any) -> Any:
        state.update(touched="second")
        return SKIP

    @sm.state("a", F.text)
    async def third(ctx: Context) -> str:
        await ctx.reply(f"third sees {ctx.state.get('touched')}")
        return "b"

    async with wahost_app(plugins=[wahost_state_machine, sm]) as bot:
        await say(bot, make_text("hi"))
        state = await state_of(bot)
    assert texts(bot.graph) == ["third sees None"]
    assert state.name == "b" and "touched" not in state.data


async def test_the_welcome_takes_its_arguments_by_name(wahost_app) -> None:
    sm = StateMachine("m", initial="start")

    @sm.welcome
    async def hello(ctx: Context, step: Step, message: Any) -> None:
        await ctx.reply(f"welcome ({message.type}, welcome={step.welcome})")

    @sm.state("start", F.text("hi"))
    async def hi(ctx: Context) -> None:
        await ctx.reply("hi!")

    async with wahost_app(plugins=[wahost_state_machine, sm]) as bot:
        await say(bot, make_message("request_welcome", None), make_text("hi"))
    assert texts(bot.graph) == ["welcome (request_welcome, welcome=True)", "hi!"]


def test_filters_that_cannot_apply_are_refused_when_the_handler_is_registered() -> None:
    sm = StateMachine("m", initial="a")

    async def handler(message: Any) -> None:
        return None

    with pytest.raises(TypeError, match="not a filter of messages"):
        sm.state("a", F.failed)
    with pytest.raises(TypeError, match="takes filters"):
        sm.state("a", "yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not both"):
        sm.state("a", F.text, on=Text())
    with pytest.raises(TypeError, match=r"without on=: @sm.state\('name', F.text\)"):
        sm.state("a", on=F.text)  # type: ignore[arg-type]

    async def misspelt(mesage: Any) -> None:
        return None

    with pytest.raises(TypeError, match=r"state 'a': handler .*misspelt.*'mesage'"):
        sm.state("a", F.text)(misspelt)
    sm.state("a", F.text)(handler)
    assert [t.trigger for t in sm.states["a"].transitions] == [F.text]


# -- router handlers with state=... ----------------------------------------------------------


def booking_on_a_router() -> tuple[StateMachine, Router]:
    """The machine keeps states, prompts and replies; the steps are router handlers."""
    sm = StateMachine("booking", initial="start", invalid_reply="Sorry?")
    sm.add_state("ask_name", prompt="Your name?")
    sm.add_state("ask_date", prompt="Which day?")

    @sm.state("start", F.text("book"))
    async def book() -> str:
        return "ask_name"

    router = Router("booking-steps")

    @router.message(F.text, ~F.command, state="ask_name")
    async def name(message: Any, ctx: Context) -> None:
        ctx.state.update(name=message.text.body)
        await sm.goto(ctx, "ask_date")

    @router.message(F.command("cancel"), state=["ask_name", "ask_date"])
    async def cancel(ctx: Context) -> None:
        await ctx.reply("Cancelled.")
        await sm.goto(ctx, "start")

    return sm, router


async def test_a_router_handler_with_state_runs_in_that_state_and_goto_moves_on(
    wahost_app,
) -> None:
    sm, router = booking_on_a_router()
    async with wahost_app(plugins=[wahost_state_machine, sm, router]) as bot:
        await say(bot, make_text("Ana"))  # a new conversation is in no state: not the router's
        assert (await state_of(bot)).name == "start"
        await say(bot, make_text("book"))  # the machine's handler
        await say(bot, make_text("Ana"))  # the router's handler, state="ask_name"
        state = await state_of(bot)
        assert (state.name, state.data["name"]) == ("ask_date", "Ana")
        assert state.data[BOOKKEEPING]["machine"] == "booking"
        await say(bot, make_text("/cancel"))  # state=[...]: either state
        await say(bot, make_text("/cancel"))  # in start: not the router's, invalid
        state = await state_of(bot)
    assert state.name == "start"
    assert texts(bot.graph) == ["Sorry?", "Your name?", "Which day?", "Cancelled.", "Sorry?"]


async def test_a_router_handler_sees_the_state_a_timeout_moved_the_conversation_to(
    wahost_app,
) -> None:
    sm = StateMachine("m", initial="start")
    sm.add_state("waiting", timeout=60, timeout_to="menu")
    sm.add_state("menu")

    @sm.state("start", F.text("wait"))
    async def wait() -> str:
        return "waiting"

    router = Router("steps")

    @router.message(F.text, state="waiting")
    async def still(ctx: Context) -> None:
        await ctx.reply("still waiting")

    @router.message(F.text, state="menu")
    async def menu(ctx: Context) -> None:
        step = current_step(ctx)
        assert step is not None
        await ctx.reply(f"menu, after {timed_out(ctx)} timed out (previous {step.previous})")

    async with wahost_app(plugins=[wahost_state_machine, sm, router]) as bot:
        await say(bot, make_text("wait"))
        await idle_for(bot, 40)
        await say(bot, make_text("hello"))  # the router's turn counts as activity...
        await idle_for(bot, 40)
        await say(bot, make_text("hello"))  # ...so 80 s after the machine's, not idle
        await idle_for(bot, 61)
        await say(bot, make_text("hello"))
        state = await state_of(bot)
    assert texts(bot.graph) == [
        "still waiting",
        "still waiting",
        "menu, after waiting timed out (previous waiting)",
    ]
    assert state.name == "menu"


async def test_goto_in_a_state_handler_stands_when_the_handler_returns_none(wahost_app) -> None:
    errors: list[str] = []
    sm = StateMachine("m", initial="a")
    sm.add_state("c", prompt="in c")

    @sm.state("a", F.text("go"))
    async def go(ctx: Context) -> None:
        try:
            await sm.goto(ctx, "nowhere")
        except StateMachineError as exc:
            errors.append(str(exc))
        await sm.goto(ctx, "c")

    other = StateMachine("other", initial="x", phone_number_ids=["209999999999999"])
    other.add_state("x")
    router = Router("wrong-machine")

    @router.message(F.text("other"))
    async def wrong_machine(ctx: Context) -> None:
        try:
            await other.goto(ctx, "x")
        except StateMachineError as exc:
            errors.append(str(exc))

    async with wahost_app(plugins=[wahost_state_machine, sm, other, router]) as bot:
        await say(bot, make_text("go"), make_text("other"))
        state = await state_of(bot)
    assert state.name == "c" and texts(bot.graph) == ["in c"]
    assert "goto('nowhere'): no such state (states: 'c', 'a')" in errors[0]
    assert f"machine 'other' does not serve phone number id {TEST_PHONE_NUMBER_ID}" in errors[1]
    assert "(machine 'm' does)" in errors[1]


# -- the old API: it still works, and says what to write instead ----------------------------


def test_the_old_api_warns_with_the_rewrite_at_the_line_that_uses_it() -> None:
    sm = StateMachine("m", initial="a")
    with pytest.warns(DeprecationWarning) as caught:

        @sm.state("a", on=[Text("book", ignore_case=True), Regex(r"/book")])
        async def start(ctx: Context, message: Any) -> str:
            return "a"

        line = sys._getframe().f_lineno - 4
    [warning] = caught
    assert str(warning.message) == (
        "deprecated state machine API: @sm.state('a', on=[Text('book', ignore_case=True), "
        "Regex('/book')]) calling start(ctx, message); write "
        "@sm.state('a', F.text('book', ignore_case=True) | F.regex('/book')) "
        "(from wahost import filters as F) over async def start(message, ctx): arguments by "
        "name, as in a router; instead of current_step(ctx).match use match or "
        "message.text.body"
    )
    assert (warning.filename, warning.lineno) == (__file__, line)
    [deprecation] = sm.deprecations
    assert deprecation.where == f"{__file__}:{line}"


def test_an_old_welcome_called_positionally_warns_and_an_old_trigger_as_a_filter_too() -> None:
    sm = StateMachine("m", initial="a")
    with pytest.warns(DeprecationWarning, match=r"hello\(message, ctx\): the welcome takes"):

        @sm.welcome
        async def hello(c: Context, m: Any) -> None:
            return None

    with pytest.warns(DeprecationWarning, match=r"the trigger Reply\('x'\) .* F.reply\('x'\)"):
        sm.state("a", Reply("x"))(lambda: None)
    assert sm.welcome_plan is None and len(sm.deprecations) == 2


async def test_start_up_logs_each_old_use_with_what_to_write_instead(wahost_app) -> None:
    sm = StateMachine("m", initial="a")
    with pytest.warns(DeprecationWarning):

        @sm.state("a", on=MessageType("image"))
        async def photo(c: Context, m: Any) -> None:
            await c.reply(f"a photo from {m.sender}")

        @sm.welcome
        async def hi(c: Context, m: Any) -> None:
            await c.reply("welcome")

    with capture_logs() as logs:
        async with wahost_app(plugins=[wahost_state_machine, sm]) as bot:
            await say(bot, make_message("request_welcome", None), image())
    found = [e for e in logs if e["event"] == "state machine uses a deprecated API"]
    assert [(e["plugin"], e["machine"], e["log_level"]) for e in found] == [
        ("wahost_state_machine", "m", "warning")
    ] * 2
    assert found[0]["used"] == "@sm.state('a', on=MessageType('image')) calling photo(ctx, message)"
    assert found[0]["instead"].startswith("@sm.state('a', F.image) (from wahost import filters")
    assert found[0]["where"].startswith(f"{__file__}:")
    assert found[1]["instead"] == "hi(message, ctx): the welcome takes its arguments by name"
    assert texts(bot.graph) == ["welcome", f"a photo from {USER}"]  # and the old API works


def _decoded(webhook: dict[str, Any]) -> Any:
    item = webhook["entry"][0]["changes"][0]["value"]["messages"][0]
    return decode_message(json.dumps(item).encode())


async def _check(check: Any, message: Any) -> bool:
    result = check.check(message, None)
    if check.is_async:
        result = await result
    return result is not None and result is not False


def _is_image(ctx: Any, message: Any) -> bool:
    return message.type == "image"


@pytest.mark.parametrize(
    "trigger",
    [
        Text(),
        Text("yes", "y"),
        Text("Yes", ignore_case=True),
        Text(" yes", strip=False),
        Regex(r"(\d+) pizzas?"),
        Regex(r"hi", re.IGNORECASE),
        Reply(),
        Reply("yes", "row-2"),
        MessageType("image", "reaction"),
        MessageType("interactive"),
        FlowCompleted(),
        FlowCompleted("survey"),
        AnyMessage(),
    ],
    ids=repr,
)
async def test_each_old_trigger_names_a_filter_that_takes_the_same_messages(
    trigger: Any,
) -> None:
    messages = [
        make_text("yes"),
        make_text(" yes"),
        make_text("YES"),
        make_text("y"),
        make_text("2 pizzas"),
        make_text("Hi"),
        image(),
        reaction(),
        make_interactive_reply("yes", "Yes"),
        make_interactive_reply("row-2", "Two", kind="list_reply"),
        make_message("button", {"payload": "yes", "text": "Yes"}),
        make_message(
            "interactive",
            {
                "type": "nfm_reply",
                "nfm_reply": {"name": "flow", "response_json": '{"flow_token": "survey:1"}'},
            },
        ),
        make_message("system", {"body": "changed number", "type": "user_changed_number"}),
    ]
    written = trigger.replacement()
    check = eval(written, {"F": F, "re": re}) if written else None
    for webhook in messages:
        message = _decoded(webhook)
        old = await _check(trigger, message)
        if check is None:  # no filter: every message but the passive ones
            new = message.type not in wahost_state_machine.PASSIVE_TYPES
        else:
            new = await _check(check, message)
        assert new == old, (written, message)


def test_a_predicate_is_rewritten_as_a_custom_filter() -> None:
    assert When(_is_image).replacement() == f"F.new({__name__}._is_image)"
