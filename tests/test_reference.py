"""The hook reference cannot drift: every hook documented, exercised, and the docs regenerated."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec
from click.testing import CliRunner

from wahost import Route, hookimpl, hookspecs
from wahost.cli import cli_group
from wahost.pacing import LocalPacer, Slot
from wahost.queue.memory import MemoryQueue
from wahost.reference import config_reference, hook_reference
from wahost.state.memory import MemoryStateStore
from wahost.testing import BotHarness, FakeGraph

DOCS = Path(__file__).resolve().parents[1] / "docs"

#: Hooks that the core declares but a first-party plugin dispatches.
DISPATCHED_BY_PLUGINS = {
    "on_flow_request": "wahost-flows",
    "on_invalid_state": "wahost-state-machine",
}


def test_every_hookspec_has_a_docstring_stating_when_and_its_mode() -> None:
    for name, mode in hookspecs.MODES.items():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert doc, f"{name} has no docstring"
        assert "**When:**" in doc, f"{name}: say when it fires"
        assert f"**Mode:** {mode}" in doc, f"{name}: say its mode ({mode})"


def test_every_hookspec_has_a_mode() -> None:
    specs = {
        name for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, "wahost_spec")
    }
    assert specs == set(hookspecs.MODES)


def test_docs_hooks_md_is_generated_from_the_hookspecs() -> None:
    assert (DOCS / "hooks.md").read_text() == hook_reference() + "\n", (
        "regenerate: wahost hooks > docs/hooks.md"
    )


def test_docs_configuration_md_is_generated_from_the_config_structs() -> None:
    assert (DOCS / "configuration.md").read_text() == config_reference() + "\n", (
        "regenerate: wahost config-reference > docs/configuration.md"
    )


class SpySettings(msgspec.Struct):
    greeting: str = "hello"


class Spy:
    """Implements every hook the core dispatches and records each call."""

    __name__ = "spy"

    def __init__(self) -> None:
        self.calls: list[str] = []

    @hookimpl
    def wahost_add_hookspecs(self, pluginmanager: Any) -> None:
        self.calls.append("wahost_add_hookspecs")

    @hookimpl
    def wahost_config_schema(self) -> dict[str, type[msgspec.Struct]]:
        self.calls.append("wahost_config_schema")
        return {"spy": SpySettings}

    @hookimpl
    def wahost_queue_backend(self, config: Any) -> Any:
        self.calls.append("wahost_queue_backend")
        return MemoryQueue() if config.backend == "spy" else None

    @hookimpl
    def wahost_state_store(self, config: Any) -> Any:
        self.calls.append("wahost_state_store")
        return MemoryStateStore() if config.backend == "spy" else None

    @hookimpl
    def wahost_rate_limiter(self, config: Any) -> Any:
        self.calls.append("wahost_rate_limiter")
        calls = self.calls

        class SpyPacer(LocalPacer):
            async def acquire(self, phone_number_id: str) -> Slot:
                calls.append("wahost_rate_limiter:acquire")
                return await super().acquire(phone_number_id)

        return SpyPacer(config.messages_per_second, config.recipient_interval)

    @hookimpl
    async def wahost_startup(self, host: Any) -> None:
        self.calls.append(f"wahost_startup:{host.plugin_config('spy').greeting}")

    @hookimpl
    async def wahost_shutdown(self) -> None:
        self.calls.append("wahost_shutdown")

    @hookimpl
    def register_routes(self) -> Iterable[Route]:
        self.calls.append("register_routes")

        async def hello() -> str:
            return "hello from spy"

        return [Route("/spy", hello)]

    @hookimpl
    def wahost_send_checks(self) -> list[Any]:
        self.calls.append("wahost_send_checks")

        def check(to: str, message: Any) -> None:
            self.calls.append("wahost_send_checks:check")

        return [check]

    @hookimpl
    async def before_message(self, message: Any) -> None:
        self.calls.append("before_message")

    @hookimpl
    async def on_message(self, message: Any, ctx: Any) -> Any:
        self.calls.append("on_message")
        if message.type == "location":
            raise RuntimeError("spy refuses locations")
        await ctx.reply(text="seen")
        return None  # not handled: on_unhandled follows

    @hookimpl
    async def on_message_sent(self, sent: Any) -> None:
        self.calls.append("on_message_sent")

    @hookimpl
    async def on_unhandled(self) -> bool:
        self.calls.append("on_unhandled")
        return True

    @hookimpl
    async def on_status(self) -> None:
        self.calls.append("on_status")

    @hookimpl
    async def on_event(self) -> None:
        self.calls.append("on_event")

    @hookimpl
    async def on_webhook_error(self) -> None:
        self.calls.append("on_webhook_error")

    @hookimpl
    async def on_plugin_error(self, plugin: str, hook: str) -> None:
        self.calls.append(f"on_plugin_error:{plugin}:{hook}")


async def test_every_hook_is_exercised(tmp_path: Path, install: Any) -> None:
    spy = Spy()
    config = {
        "queue": {"backend": "spy"},
        "state": {"backend": "spy"},
        "plugins": {"spy": {"greeting": "hi"}},
        "worker": {"max_attempts": 1},
    }
    async with (
        FakeGraph() as graph,
        BotHarness(tmp_path, plugins=[spy], config=config, graph=graph) as bot,
    ):
        assert bot.http is not None
        assert (await bot.http.get(bot.url + "/spy")).text == "hello from spy"
        for name in (
            "inbound_text.json",
            "status_sent.json",
            "flow_status_change.json",
            "webhook_value_errors.json",
            "inbound_location.json",
        ):
            assert (await bot.post_fixture(name)).status_code == 200
        await bot.idle()
    calls = set(spy.calls)
    assert "wahost_startup:hi" in calls
    assert "on_plugin_error:spy:on_message" in calls
    assert "wahost_send_checks:check" in calls  # the reply was checked
    assert "wahost_rate_limiter:acquire" in calls  # the reply was paced by the spy's pacer

    source = (
        "import click\nfrom wahost import hookimpl\n\n@hookimpl\n"
        "def register_commands(cli):\n"
        "    @cli.command('spy-hello')\n"
        "    def spy_hello():\n"
        "        click.echo('spy says hello')\n"
    )
    install("wahost-spycli", "1.0", {"wahost-spycli": "t_spycli"}, {"t_spycli": source})
    root = cli_group()
    result = CliRunner().invoke(root, ["spy-hello"])
    assert result.output == "spy says hello\n"

    exercised = {call.split(":")[0] for call in calls} | {"register_commands"}
    assert exercised | set(DISPATCHED_BY_PLUGINS) == set(hookspecs.MODES)
