"""Defining and registering machines: mistakes are caught early, with names."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import wahost_state_machine
from wahost_state_machine import (
    AnyMessage,
    MachineDefinitionError,
    Registry,
    StateMachine,
    Text,
    registry_of,
)

from wahost import Context, hookimpl
from wahost.host import StartupError
from wahost.plugins import build_plugin_manager
from wahost.testing import BotHarness
from wahost.testing.payloads import make_text

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


async def noop(ctx: Context, message: Any) -> None:
    return None


def old_api() -> Any:
    """The deprecated API (``on=`` triggers) still works, and warns."""
    return pytest.warns(DeprecationWarning, match="deprecated state machine API")


def machine(name: str = "m", **options: Any) -> StateMachine:
    sm = StateMachine(name, initial="a", **options)
    with old_api():
        sm.state("a", on=AnyMessage())(noop)
    return sm


def test_a_state_option_set_twice_to_different_values_is_an_error() -> None:
    sm = StateMachine("m", initial="a")
    sm.add_state("a", timeout=10)
    sm.add_state("a", timeout=10)  # the same value again is fine
    with old_api():
        sm.state("a", on=Text())(noop)  # handlers do not touch options they do not give
    with old_api(), pytest.raises(MachineDefinitionError, match=r"timeout is already 10"):
        sm.state("a", on=Text("x"), timeout=20)(noop)


@pytest.mark.parametrize(
    ("define", "message"),
    [
        (lambda: StateMachine("", initial="a"), "name must be a non-empty string"),
        (lambda: StateMachine("m", initial=""), "initial must be a non-empty string"),
        (lambda: StateMachine("m", initial="a", phone_number_ids="123"), "a list of ids"),
        (lambda: StateMachine("m", initial="a").add_state("a", timeout=0), "must be > 0"),
        (lambda: StateMachine("m", initial="a").add_state("a", timeout="1"), "seconds"),
    ],
)
def test_bad_definitions_fail_where_they_are_written(define: Any, message: str) -> None:
    with pytest.raises(MachineDefinitionError, match=message):
        define()


def test_check_names_every_missing_state() -> None:
    sm = StateMachine("m", initial="start")
    sm.add_state("a", timeout=5, timeout_to="gone")
    sm.add_state("b", timeout_to="a")
    with pytest.raises(MachineDefinitionError) as failure:
        sm.check()
    text = str(failure.value)
    assert "initial state 'start' is not defined" in text
    assert "state 'a': timeout_to 'gone' is not defined" in text
    assert "state 'b': timeout_to without timeout" in text
    assert "(states defined: 'a', 'b')" in text


def test_one_welcome_per_machine() -> None:
    sm = StateMachine("m", initial="a")
    sm.welcome(noop)
    with pytest.raises(MachineDefinitionError, match="already has a welcome"):
        sm.welcome(noop)


def test_routing_by_phone_number_id() -> None:
    default, special = machine("default"), machine("special", phone_number_ids=["2"])
    registry = Registry([default, special, special])  # the same machine twice counts once
    assert registry.for_number("1") is default
    assert registry.for_number("2") is special
    registry = Registry([default, special], numbers={"1": "special", "3": "default"})
    assert registry.for_number("1") is special
    assert registry.for_number("2") is None  # the mapping replaces the machine's own ids
    assert registry.for_number("3") is default
    assert Registry([special]).for_number("1") is None


@pytest.mark.parametrize(
    ("machines", "numbers", "message"),
    [
        ([machine("a"), machine("a")], {}, "two machines are named 'a'"),
        ([machine("a"), machine("b")], {}, "'a' and 'b' both serve every phone number"),
        (
            [machine("a", phone_number_ids=["1"]), machine("b", phone_number_ids=["1"])],
            {},
            "'a' and 'b' both serve phone number id 1",
        ),
        ([machine("a")], {"1": "zz"}, "1 -> 'zz', but no machine has that name"),
        ([StateMachine("a", initial="x")], {}, "initial state 'x' is not defined"),
    ],
)
def test_conflicting_machines_are_refused(
    machines: list[StateMachine], numbers: dict[str, str], message: str
) -> None:
    with pytest.raises(MachineDefinitionError, match=message):
        Registry(machines, numbers)


async def test_a_python_machine_by_import_path_in_the_config(
    wahost_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delitem(sys.modules, "booking", raising=False)
    config = {"plugins": {"state_machine": {"machines": ["booking:sm"]}}}
    async with wahost_app(plugins=[wahost_state_machine], config=config) as bot:
        assert list(registry_of(bot.host).machines) == ["booking"]
        await bot.post(make_text("book"))
        await bot.idle()
    assert [m.text for m in bot.graph.sent] == ["What name is the booking under?"]


class MachinesPlugin:
    """A bot plugin that provides its machines through the hook."""

    __name__ = "machines-plugin"

    def __init__(self, *machines: StateMachine) -> None:
        self.machines = machines

    @hookimpl
    def wahost_state_machines(self, host: Any) -> Any:
        return list(self.machines)


async def test_a_plugin_provides_machines_through_the_hook(tmp_path: Path) -> None:
    one, two = machine("one"), machine("two", phone_number_ids=["2"])
    plugins = [wahost_state_machine, MachinesPlugin(one, two)]
    async with BotHarness(tmp_path, plugins=plugins) as bot:
        registry = registry_of(bot.host)
    assert registry.machines == {"one": one, "two": two}


async def test_a_broken_python_machine_stops_the_host_at_start_up(tmp_path: Path) -> None:
    broken = StateMachine("broken", initial="nowhere")
    with pytest.raises(StartupError, match="machine 'broken': initial state 'nowhere'"):
        async with BotHarness(tmp_path, plugins=[wahost_state_machine, broken]):
            pass


def test_a_machine_hook_without_the_plugin_is_an_unknown_hook() -> None:
    from wahost.plugins import PluginError

    with pytest.raises(PluginError, match="wahost_state_machines"):
        build_plugin_manager(plugins=[machine()], load_entrypoints=False)


def test_the_plugin_is_found_through_its_entry_point() -> None:
    _, infos = build_plugin_manager(env="wahost-state-machine")
    [info] = [i for i in infos if i.name == "wahost-state-machine"]
    assert info.loaded and info.distribution == "wahost-state-machine"
    assert {"on_message", "on_invalid_state", "register_commands"} <= set(info.hooks)


async def test_without_machines_messages_go_on_to_other_plugins(tmp_path: Path) -> None:
    seen: list[str] = []

    class Fallback:
        __name__ = "fallback"

        @hookimpl
        def on_unhandled(self, message: Any) -> bool:
            seen.append(message.text.body)
            return True

    async with BotHarness(tmp_path, plugins=[wahost_state_machine, Fallback()]) as bot:
        await bot.post(make_text("hi"))
        await bot.idle()
    assert seen == ["hi"]


def _called(bot: BotHarness, hook: str) -> set[Any]:
    """The functions the host's dispatcher calls for ``hook``."""
    return {impl.function for impl in bot.host.dispatch.implementations(hook)}


async def test_without_a_machine_a_message_costs_the_plugin_no_call(tmp_path: Path) -> None:
    """With no machine to serve any number, the plugin's message hooks are skipped at start-up
    (``Dispatcher.skip``): a unit does not call them; with a machine, they run."""
    hooks = {
        "before_message": wahost_state_machine.plugin.before_message,
        "on_message": wahost_state_machine.plugin.on_message,
    }
    (tmp_path / "none").mkdir()
    async with BotHarness(tmp_path / "none", plugins=[wahost_state_machine]) as bot:
        assert all(function not in _called(bot, hook) for hook, function in hooks.items())
    (tmp_path / "one").mkdir()
    plugins = [wahost_state_machine, MachinesPlugin(machine("one"))]
    async with BotHarness(tmp_path / "one", plugins=plugins) as bot:
        assert all(function in _called(bot, hook) for hook, function in hooks.items())
