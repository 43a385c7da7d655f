"""A config-only menu bot: TOML in, signed webhooks, the fake Graph API out; no Python."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import wahost_state_machine

from wahost.config import ConfigError
from wahost.host import StartupError
from wahost.testing import TEST_PHONE_NUMBER_ID, BotHarness
from wahost.testing.payloads import make_interactive_reply, make_message, make_text

USER = "16505551234"
KEY = f"{TEST_PHONE_NUMBER_ID}:{USER}"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "menu.toml"

# Menus are built on core filters, never through the deprecated API.
pytestmark = pytest.mark.filterwarnings("error:deprecated state machine API:DeprecationWarning")


def menu_settings() -> dict[str, Any]:
    """``[plugins.state_machine]`` of the shipped example configuration."""
    settings: dict[str, Any] = tomllib.loads(EXAMPLE.read_text())["plugins"]["state_machine"]
    return settings


async def say(bot: Any, *webhooks: dict[str, Any]) -> None:
    for webhook in webhooks:
        assert (await bot.post(webhook)).status_code == 200
        await bot.idle()


def shown(sent: Any) -> tuple[str, Any]:
    """What the user saw: ``("text", body)``, ``("buttons", [ids])`` or ``("list", [ids])``."""
    if sent.type == "text":
        return "text", sent.text
    interactive = sent.message.interactive
    if interactive.type == "button":
        return "buttons", [b.id for b in interactive.buttons]
    return "list", [row.id for row in interactive.rows]


async def test_the_example_menu_bot_end_to_end(wahost_app) -> None:
    config = {"plugins": {"state_machine": menu_settings()}}
    async with wahost_app(plugins=[wahost_state_machine], config=config) as bot:
        await say(bot, make_message("request_welcome", None))  # the welcome: the main menu
        await say(bot, make_interactive_reply("hours", "Opening hours"))
        await say(bot, make_text("BACK"))  # a button's title typed counts as the tap
        await say(bot, make_interactive_reply("topics", "Other topics"))
        await say(bot, make_interactive_reply("billing", "Billing", kind="list_reply"))
        await say(bot, make_text("gibberish"))  # the state's invalid_reply
        await say(bot, make_text("menu"))  # a text transition
        await say(bot, make_text("Agent please"))  # a regex transition (ignoring case)
        state = await bot.host.state.get(KEY)
    assert state.name == "human"
    assert [shown(m) for m in bot.graph.sent] == [
        ("buttons", ["hours", "topics"]),
        ("buttons", ["back"]),
        ("buttons", ["hours", "topics"]),
        ("list", ["billing", "delivery", "human"]),
        ("text", "Invoices are sent on the 1st of the month. Type menu to go back."),
        ("text", "Type menu to go back to the menu."),
        ("buttons", ["hours", "topics"]),
        ("text", "A person will answer you here soon."),
    ]
    first = bot.graph.sent[0]["interactive"]
    assert first["body"]["text"] == "Hello! How can we help?"
    assert first["footer"]["text"] == "Example Shop"
    assert {m.to for m in bot.graph.sent} == {USER}


def test_menus_are_built_on_core_filters_not_the_old_triggers() -> None:
    import msgspec
    from wahost_state_machine import Trigger
    from wahost_state_machine.config import MenuConfig, build_menu

    menu = msgspec.convert(menu_settings()["menus"]["shop"], MenuConfig)
    machine = build_menu("menu.toml", "shop", menu)
    transitions = [t for state in machine.states.values() for t in state.transitions]
    assert transitions and all(t.plan is not None for t in transitions)
    assert not any(isinstance(t.trigger, Trigger) for t in transitions)


async def test_a_first_message_gets_the_menu_and_unknown_input_the_invalid_reply(
    wahost_app,
) -> None:
    config = {"plugins": {"state_machine": menu_settings()}}
    async with wahost_app(plugins=[wahost_state_machine], config=config) as bot:
        await say(bot, make_text("hi"), make_text("hi"))
    assert [shown(m) for m in bot.graph.sent] == [
        ("buttons", ["hours", "topics"]),
        ("text", "Please tap one of the buttons."),
    ]


async def test_a_flow_completion_and_a_timeout_in_a_menu(wahost_app) -> None:
    import json

    settings = {
        "menus": {
            "survey": {
                "initial": "wait",
                "states": {
                    "wait": {
                        "text": "Fill in the survey, please.",
                        "transitions": [{"flow": "survey", "to": "thanks"}],
                    },
                    "thanks": {
                        "text": "Thanks!",
                        "timeout": 60,
                        "transitions": [{"type": ["image", "video"], "to": "thanks"}],
                    },
                },
            }
        }
    }
    done = {"flow_token": "survey:abc", "rating": "5"}
    nfm = {
        "type": "nfm_reply",
        "nfm_reply": {"name": "flow", "body": "Sent", "response_json": json.dumps(done)},
    }
    async with wahost_app(
        plugins=[wahost_state_machine], config={"plugins": {"state_machine": settings}}
    ) as bot:
        await say(bot, make_message("interactive", nfm))
        assert (await bot.host.state.get(KEY)).name == "thanks"

        def age(state: Any) -> Any:
            state.data["_sm"]["active_at"] -= 61
            return state

        await bot.host.state.update(KEY, age)
        await say(bot, make_text("hello again"))  # timed out: back to the initial state
        state = await bot.host.state.get(KEY)
    assert state.name == "wait"
    assert [shown(m) for m in bot.graph.sent] == [
        ("text", "Thanks!"),
        ("text", "Fill in the survey, please."),
    ]


def start(tmp_path: Path, settings: dict[str, Any]) -> BotHarness:
    return BotHarness(
        tmp_path,
        plugins=[wahost_state_machine],
        config={"plugins": {"state_machine": settings}},
    )


def one_state(**state: Any) -> dict[str, Any]:
    return {"menus": {"m": {"initial": "a", "states": {"a": state, "b": {"text": "B"}}}}}


@pytest.mark.parametrize(
    ("settings", "key", "reason"),
    [
        (
            {"menus": {"m": {"initial": "a", "states": {"a": {"buttons": [{"id": "x"}]}}}}},
            "plugins.state_machine.menus.m.states.a.buttons[0].title",
            "required key is missing",
        ),
        (
            one_state(text="t", buttons=[{"id": "x", "title": "A" * 21, "to": "b"}]),
            "plugins.state_machine.menus.m.states.a.buttons[0].title",
            "length <= 20",
        ),
        (
            one_state(text="t", colour="red"),
            "plugins.state_machine.menus.m.states.a.colour",
            "unknown key",
        ),
        ({"machine": 3}, "plugins.state_machine.machine", "expected str"),
    ],
)
def test_the_config_shape_is_checked_when_the_host_is_created(
    tmp_path: Path, settings: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as failure:
        start(tmp_path, settings)
    assert failure.value.key == key
    assert reason in failure.value.reason


@pytest.mark.parametrize(
    ("settings", "key", "reason"),
    [
        (
            {"menus": {"m": {"initial": "nope", "states": {"a": {}}}}},
            "plugins.state_machine.menus.m.initial",
            "no state named 'nope'",
        ),
        (
            one_state(text="t", buttons=[{"id": "x", "title": "X", "to": "c"}]),
            "plugins.state_machine.menus.m.states.a.buttons[0].to",
            "no state named 'c' in this menu (states: 'a', 'b')",
        ),
        (
            one_state(text="t", rows=[{"id": "x", "title": "X", "to": "c"}], list_button="Go"),
            "plugins.state_machine.menus.m.states.a.rows[0].to",
            "no state named 'c'",
        ),
        (
            one_state(transitions=[{"text": "x", "regex": "y", "to": "b"}]),
            "plugins.state_machine.menus.m.states.a.transitions[0]",
            "exactly one of id, text, regex, flow, type or any = true (got text, regex)",
        ),
        (
            one_state(transitions=[{"regex": "(", "to": "b"}]),
            "plugins.state_machine.menus.m.states.a.transitions[0].regex",
            "invalid regular expression",
        ),
        (
            one_state(transitions=[{"any": True, "to": "c"}]),
            "plugins.state_machine.menus.m.states.a.transitions[0].to",
            "no state named 'c'",
        ),
        (
            one_state(timeout_to="b"),
            "plugins.state_machine.menus.m.states.a.timeout_to",
            "needs a timeout",
        ),
        (
            one_state(buttons=[{"id": "x", "title": "X", "to": "b"}]),
            "plugins.state_machine.menus.m.states.a.text",
            "need a text",
        ),
        (
            one_state(text="t", rows=[{"id": "x", "title": "X", "to": "b"}]),
            "plugins.state_machine.menus.m.states.a",
            "list_button",
        ),
        (
            one_state(
                text="t",
                buttons=[
                    {"id": "x", "title": "X", "to": "b"},
                    {"id": "x", "title": "Y", "to": "b"},
                ],
            ),
            "plugins.state_machine.menus.m.states.a",
            "ReplyButtons.buttons[1].id",
        ),
        (
            {"machine": "no_such_module_anywhere:sm"},
            "plugins.state_machine.machine",
            "cannot import 'no_such_module_anywhere'",
        ),
        (
            {"machines": ["json:dumps"]},
            "plugins.state_machine.machines[0]",
            "expected a StateMachine",
        ),
        (
            {"machine": "json"},
            "plugins.state_machine.machine",
            'expected "module:attribute"',
        ),
    ],
)
async def test_mistakes_stop_the_host_at_start_up_naming_the_key(
    tmp_path: Path, settings: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(StartupError) as failure:
        async with start(tmp_path, settings):
            pass
    error = failure.value.__cause__
    assert isinstance(error, ConfigError)
    assert error.key == key
    assert reason in error.reason
    assert str(error).startswith("<test>: " + key)
