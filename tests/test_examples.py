"""The examples in ``examples/`` work: each is loaded as a plugin into a real host (the
``wahost_app`` fixture: :class:`wahost.testing.BotHarness` with :class:`FakeGraph`) and
driven with signed webhooks."""

from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import wahost_state_machine

from wahost import hookimpl
from wahost.plugins import PluginError
from wahost.testing import make_interactive_reply, make_message, make_text

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
USER_KEY = "106540352242922:16505551234"  # the test phone number id and make_text's user
WELCOME = 'Welcome to Trattoria Esempio! Send "book" to book a table.'


@pytest.fixture
def example() -> Iterator[Callable[[str, str], ModuleType]]:
    """``example("restaurant_booking", "booking_bot")`` imports that example module freshly."""
    added: list[str] = []
    imported: list[str] = []

    def load(directory: str, module: str) -> ModuleType:
        path = str(EXAMPLES / directory)
        if path not in sys.path:
            sys.path.insert(0, path)
            added.append(path)
        for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            del sys.modules[name]
        imported.append(module)
        return importlib.import_module(module)

    yield load
    for path in added:
        sys.path.remove(path)
    for module in imported:
        for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
            del sys.modules[name]


def texts(sent: list[Any]) -> list[str]:
    return [m.text for m in sent if m.text is not None]


# -- echo bot ---------------------------------------------------------------------------------


async def test_echo_bot_echoes_and_counts(wahost_app: Any, example: Any) -> None:
    echo_bot = example(".", "echo_bot")
    async with wahost_app(bots=[echo_bot]) as bot:
        for body in ("hello", "again"):
            assert (await bot.post(make_text(body))).status_code == 200
            await bot.idle()
        await bot.post(make_message("location", {"latitude": 1.5, "longitude": 2.5}))
        await bot.idle()
        state = await bot.host.state.get(USER_KEY)
    assert texts(bot.graph.sent) == ["hello (message 1)", "again (message 2)"]
    assert state.data["seen"] == 2


# -- coffee bot: the wahost half of docs/coming-from-pywa.md ---------------------------------


async def test_coffee_bot_takes_an_order(wahost_app: Any, example: Any) -> None:
    coffee_bot = example(".", "coffee_bot")
    async with wahost_app(bots=[coffee_bot]) as bot:

        async def say(payload: dict[str, Any]) -> Any:
            assert (await bot.post(payload)).status_code == 200
            await bot.idle()
            return bot.graph.sent[-1]

        menu = await say(make_text("Hi"))
        buttons = menu.message.interactive.buttons
        assert [b.id for b in buttons] == ['drink:["tea"]', 'drink:["coffee"]']
        tap = make_interactive_reply(buttons[1].id, "Coffee")
        assert (await say(tap)).text == "How many cups of coffee?"
        assert (await say(make_text("lots"))).text == 'Say "hi" to see the menu.'
        assert (await say(make_text("2"))).text == "2 x coffee: on its way!"
        assert (await say(make_text("3"))).text == 'Say "hi" to see the menu.'
        forged = make_interactive_reply('drink:[""', "Tea")  # does not decode: not a Drink
        assert (await say(forged)).text == 'Say "hi" to see the menu.'


def test_coming_from_pywa_shows_the_coffee_bot() -> None:
    page = (EXAMPLES.parent / "docs" / "coming-from-pywa.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", page, re.DOTALL)
    wahost = [block for block in blocks if "from wahost import" in block]
    source = (EXAMPLES / "coffee_bot.py").read_text(encoding="utf-8")
    code = source.split('"""\n\n', 1)[1]  # without the module docstring
    assert wahost and wahost[0].strip() == code.strip(), "coming-from-pywa.md: show coffee_bot.py"


# -- restaurant booking: state machine + Flow ------------------------------------------------


def flow_completed(token: str, **fields: Any) -> dict[str, Any]:
    """The webhook Meta sends when the user completes a Flow (``nfm_reply``)."""
    response = json.dumps({"flow_token": token, **fields})
    reply = {"name": "flow", "body": "Sent", "response_json": response}
    return make_message("interactive", {"type": "nfm_reply", "nfm_reply": reply})


def flow_token_of(sent: Any) -> str:
    interactive = sent.message.interactive
    assert interactive is not None and interactive.type == "flow"
    return str(interactive.action["parameters"]["flow_token"])


async def test_booking_walks_its_states_and_completes_through_the_flow(
    wahost_app: Any, example: Any
) -> None:
    booking = example("restaurant_booking", "booking_bot")
    async with wahost_app(plugins=[wahost_state_machine, booking.sm]) as bot:

        async def say(payload: dict[str, Any]) -> str | None:
            assert (await bot.post(payload)).status_code == 200
            await bot.idle()
            state = await bot.host.state.get(USER_KEY)
            return None if state is None else state.name

        assert await say(make_text("hi")) == "start"  # first message: the welcome
        assert await say(make_text("Book")) == "in_flow"
        form = bot.graph.sent[-1]
        token = flow_token_of(form)
        assert token.startswith("booking:")
        params = form.message.interactive.action["parameters"]
        assert params["flow_name"] == booking.FLOW_NAME
        assert params["flow_action_payload"]["screen"] == "BOOKING"

        assert await say(make_text("what?")) == "in_flow"  # not the form: asked again
        # A Flow answer that is not acceptable: told why, the form again.
        bad = flow_completed(token, date="2030-05-17", time="19:00", party_size="40", name="Ana")
        assert await say(bad) == "in_flow"
        token = flow_token_of(bot.graph.sent[-1])

        done = flow_completed(token, date="2030-05-17", time="19:00", party_size="4", name="Ana")
        assert await say(done) == "confirm"
        summary = bot.graph.sent[-1].message.interactive
        assert summary.type == "button"
        assert summary.body == "A table for 4 on Friday 17 May at 19:00, Ana."

        assert await say(make_interactive_reply("confirm", "Confirm")) == "start"
        state = await bot.host.state.get(USER_KEY)
    assert state.data["booking"] == {
        "date": "2030-05-17",
        "time": "19:00",
        "party": 4,
        "name": "Ana",
    }
    assert state.data["bookings"] == 1
    assert texts(bot.graph.sent) == [
        WELCOME,
        'Please fill in the booking form above, or send "cancel".',
        "We take bookings for 1 to 12 people.",
        f"Booked! Your reference is {state.data['reference']}. See you soon.",
        WELCOME,  # back in "start": entering a state sends its prompt
    ]


async def test_booking_can_be_changed_and_cancelled(wahost_app: Any, example: Any) -> None:
    booking = example("restaurant_booking", "booking_bot")
    async with wahost_app(plugins=[wahost_state_machine, booking.sm]) as bot:
        for payload in (make_text("book"),):
            await bot.post(payload)
            await bot.idle()
        token = flow_token_of(bot.graph.sent[-1])
        await bot.post(
            flow_completed(token, date="2030-05-17", time="12:30", party_size="2", name="Bo")
        )
        await bot.idle()
        await bot.post(make_interactive_reply("change", "Change"))
        await bot.idle()
        assert (await bot.host.state.get(USER_KEY)).name == "in_flow"
        flow_token_of(bot.graph.sent[-1])  # the form again
        await bot.post(make_text("cancel"))
        await bot.idle()
        state = await bot.host.state.get(USER_KEY)
    assert state.name == "start"
    assert texts(bot.graph.sent)[-2:] == ["No booking made.", WELCOME]
    assert "reference" not in state.data


def test_the_booking_flow_json_completes_with_the_fields_the_bot_reads() -> None:
    flow = json.loads((EXAMPLES / "restaurant_booking" / "flow.json").read_text())
    (screen,) = flow["screens"]
    assert screen["id"] == "BOOKING" and screen["terminal"]
    form = screen["layout"]["children"][0]["children"]
    footer = next(child for child in form if child["type"] == "Footer")
    payload = footer["on-click-action"]["payload"]
    assert set(payload) == {"date", "time", "party_size", "name"}


# -- a third-party plugin with a hook of its own ---------------------------------------------


class Recorder:
    """Implements wahost-loyalty's hook (optionally) and records its calls."""

    __name__ = "recorder"

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    @hookimpl(optionalhook=True)
    def on_points_awarded(self, user: str, points: int, total: int) -> None:
        self.calls.append((user, points, total))


async def test_loyalty_calls_its_own_hook_and_badges_answer(wahost_app: Any, example: Any) -> None:
    loyalty = example("wahost-loyalty", "wahost_loyalty")
    badges = example(".", "loyalty_badges")
    echo_bot = example(".", "echo_bot")
    recorder = Recorder()
    # The echo bot's router as a plugin, registered first so tried last: loyalty answers
    # "points" before it.
    async with wahost_app(plugins=[echo_bot.router, badges, recorder, loyalty]) as bot:
        for body in ("one", "two", "three", "points"):
            await bot.post(make_text(body))
            await bot.idle()
    assert recorder.calls == [("16505551234", 1, 1), ("16505551234", 1, 2), ("16505551234", 1, 3)]
    assert texts(bot.graph.sent) == [
        "one (message 1)",
        "two (message 2)",
        "You earned the bronze badge (3 points)!",
        "three (message 3)",
        "You have 3 points.",  # answered by wahost-loyalty itself: the echo bot never sees it
    ]


async def test_an_optionalhook_implementation_loads_without_the_hooks_plugin(
    wahost_app: Any, example: Any
) -> None:
    badges = example(".", "loyalty_badges")
    echo_bot = example(".", "echo_bot")
    async with wahost_app(plugins=[echo_bot.router, badges, Recorder()]) as bot:
        for body in ("one", "two", "three"):
            await bot.post(make_text(body))
            await bot.idle()
    assert texts(bot.graph.sent) == ["one (message 1)", "two (message 2)", "three (message 3)"]


async def test_without_optionalhook_an_unknown_hook_stops_start_up(wahost_app: Any) -> None:
    class Careless:
        __name__ = "careless"

        @hookimpl
        def on_points_awarded(self, total: int) -> None:
            """Implements a hook nobody declared, without optionalhook."""

    with pytest.raises(PluginError, match="on_points_awarded"):
        wahost_app(plugins=[Careless()])


# -- sign-up dialogue: ctx.ask, docs/dialogues.md ----------------------------------------------


async def test_signup_dialogue_asks_retries_and_stores_the_profile(
    wahost_app: Any, example: Any
) -> None:
    signup = example(".", "signup_dialogue")
    async with wahost_app(bots=[signup]) as bot:

        async def say(payload: dict[str, Any]) -> None:
            assert (await bot.post(payload)).status_code == 200
            await bot.idle()

        for line in ("/signup", "Ann", "old", "42"):
            await say(make_text(line))
        [plans] = [m for m in bot.graph.sent if m["type"] == "interactive"]
        assert plans.message.interactive.body == "Which plan would you like?"
        await say(make_interactive_reply("other:[1]", "Other"))  # not a Plan: retry
        await say(make_interactive_reply(signup.Plan(name="plus").pack(), "Plus"))
        await say(make_text("hello"))
        state = await bot.host.state.get(USER_KEY)
    assert texts(bot.graph.sent) == [
        "Welcome! What's your name?",
        "Hi Ann! How old are you?",
        "Please send your age as a number, like 42.",
        "Please pick a plan with the buttons.",
        "Welcome aboard, Ann: the Plus plan is yours.",
        "Send /signup to sign up.",
    ]
    assert state.data["profile"] == {"name": "Ann", "age": 42, "plan": "plus"}


async def test_signup_dialogue_can_be_cancelled(wahost_app: Any, example: Any) -> None:
    signup = example(".", "signup_dialogue")
    async with wahost_app(bots=[signup]) as bot:
        for line in ("/signup", "Ann", "/cancel", "42"):
            assert (await bot.post(make_text(line))).status_code == 200
            await bot.idle()
    assert texts(bot.graph.sent) == [
        "Welcome! What's your name?",
        "Hi Ann! How old are you?",
        "Sign-up cancelled. Send /signup to start again.",
        "Send /signup to sign up.",
    ]
