"""The dispatcher: pluggy's call order, awaited results, modes, isolation, timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from wahost import hookimpl
from wahost.dispatch import Dispatcher, HookFailed
from wahost.plugins import build_plugin_manager


def dispatcher(*plugins: object, timeout: float | None = None) -> Dispatcher:
    pm, _ = build_plugin_manager(plugins=plugins, load_entrypoints=False)
    return Dispatcher(pm, context={"host": "the-host"}, timeout=timeout)


class Named:
    """A plugin object whose name in the plugin manager is ``__name__``."""

    def __init__(self, name: str) -> None:
        self.__name__ = name


async def test_first_mode_decides_on_awaited_value() -> None:
    """With two async ``first`` implementations, the one called first returning None does not
    stop the walk: the second still decides (pluggy's firstresult would stop at a coroutine)."""
    calls: list[str] = []

    class Second(Named):
        @hookimpl
        async def on_message(self, message: Any) -> Any:
            calls.append("second")
            return f"handled {message}"

    class First(Named):
        @hookimpl
        async def on_message(self, message: Any) -> Any:
            calls.append("first")
            await asyncio.sleep(0)
            return None

    d = dispatcher(Second("second"), First("first"))  # registered last = called first
    result = await d.first("on_message", message="m1", ctx=None)
    assert calls == ["first", "second"]
    assert result.value == "handled m1"
    assert result.plugin == "second"


async def test_first_mode_stops_at_first_value_and_mixes_sync_and_async() -> None:
    calls: list[str] = []

    class Later(Named):
        @hookimpl
        def on_message(self) -> Any:
            calls.append("later")
            return "later"

    class Early(Named):
        @hookimpl
        def on_message(self) -> Any:  # sync implementation
            calls.append("early")
            return "early"

    d = dispatcher(Later("later"), Early("early"))
    assert (await d.first("on_message", message=None, ctx=None)).value == "early"
    assert calls == ["early"]


async def test_call_order_follows_tryfirst_and_trylast() -> None:
    calls: list[str] = []

    class A(Named):
        @hookimpl(trylast=True)
        async def on_status(self) -> None:
            calls.append("a-trylast")

    class B(Named):
        @hookimpl(tryfirst=True)
        async def on_status(self) -> None:
            calls.append("b-tryfirst")

    class C(Named):
        @hookimpl
        async def on_status(self) -> None:
            calls.append("c")

    d = dispatcher(B("b"), A("a"), C("c"))
    await d.broadcast("on_status", status=None, ctx=None)
    assert calls == ["b-tryfirst", "c", "a-trylast"]


async def test_broadcast_isolates_a_raising_plugin_and_reports_it() -> None:
    ran: list[str] = []
    reported: list[tuple[str, str, str]] = []

    class Good(Named):
        @hookimpl
        async def on_status(self, status: Any) -> None:
            ran.append(f"good:{status}")

    class Bad(Named):
        @hookimpl
        async def on_status(self) -> None:
            ran.append("bad")
            raise ValueError("boom")

    class Observer(Named):
        @hookimpl
        def on_plugin_error(self, plugin: str, hook: str, exc: BaseException) -> None:
            reported.append((plugin, hook, str(exc)))

    d = dispatcher(Good("good"), Bad("bad"), Observer("observer"))
    with pytest.raises(HookFailed) as failed:
        await d.broadcast("on_status", status="s1", ctx=None)
    assert ran == ["bad", "good:s1"]  # the good plugin still ran after the bad one raised
    assert reported == [("bad", "on_status", "boom")]
    assert failed.value.errors[0][0] == "bad"
    assert "bad: ValueError: boom" in str(failed.value)


async def test_first_mode_exception_stops_and_is_reported() -> None:
    ran: list[str] = []

    class Fallback(Named):
        @hookimpl
        async def on_message(self) -> Any:
            ran.append("fallback")
            return True

    class Broken(Named):
        @hookimpl
        async def on_message(self) -> Any:
            raise RuntimeError("broken handler")

    d = dispatcher(Fallback("fallback"), Broken("broken"))
    with pytest.raises(HookFailed, match="broken handler"):
        await d.first("on_message", message=None, ctx=None)
    assert ran == []  # a lower plugin must not answer a message another plugin failed on


async def test_an_error_in_on_plugin_error_is_only_logged() -> None:
    class Bad(Named):
        @hookimpl
        async def on_status(self) -> None:
            raise ValueError("first")

    class BadObserver(Named):
        @hookimpl
        async def on_plugin_error(self) -> None:
            raise RuntimeError("observer broke")

    d = dispatcher(Bad("bad"), BadObserver("observer"))
    with pytest.raises(HookFailed) as failed:
        await d.broadcast("on_status", status=None, ctx=None)
    assert [name for name, _ in failed.value.errors] == ["bad"]


async def test_timeout_counts_as_the_plugins_exception() -> None:
    class Slow(Named):
        @hookimpl
        async def on_status(self) -> None:
            await asyncio.sleep(5)

    d = dispatcher(Slow("slow"), timeout=0.05)
    with pytest.raises(HookFailed) as failed:
        await d.broadcast("on_status", status=None, ctx=None)
    assert isinstance(failed.value.errors[0][1], TimeoutError)


async def test_context_arguments_are_given_to_implementations_that_ask() -> None:
    class WantsHost(Named):
        @hookimpl
        def on_event(self, host: Any, event: Any) -> str:
            return f"{host}/{event}"

    d = dispatcher(WantsHost("p"))
    results = await d.broadcast("on_event", event="e", ctx=None)
    # Built-in plugins (wahost.marketing listens to events) answer None.
    assert [result for result in results if result is not None] == ["the-host/e"]


async def test_a_given_argument_wins_over_the_context_and_futures_are_awaited() -> None:
    """An implementation may return any awaitable, not only a coroutine; an argument given to
    the call is passed rather than the context's value of the same name."""

    class Mixed(Named):
        @hookimpl
        def on_event(self, host: Any, event: Any) -> asyncio.Future[str]:
            future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            future.set_result(f"{host}/{event}")
            return future

    d = dispatcher(Mixed("p"))
    results = await d.broadcast("on_event", event="e", ctx=None, host="given")
    assert [result for result in results if result is not None] == ["given/e"]
    assert (await d.first("on_event", event="f", ctx=None)).value == "the-host/f"


async def test_an_awaitable_of_any_class_is_awaited_and_a_plain_value_returned_as_is() -> None:
    """The dispatcher tells results it need not await by their type alone (None, a bool, a
    string...): an object of any other class that is awaitable is still awaited."""

    class Later:
        def __init__(self, value: object) -> None:
            self.value = value

        def __await__(self) -> Any:
            yield from asyncio.sleep(0).__await__()
            return self.value

    results: list[object] = [Later("awaited"), True, "text", {"a": 1}]

    class Returns(Named):
        @hookimpl
        def on_event(self, event: Any) -> object:
            return results.pop(0)

    d = dispatcher(Returns("p"))
    assert (await d.first("on_event", event="e", ctx=None)).value == "awaited"
    assert (await d.first("on_event", event="e", ctx=None)).value is True
    for expected in ("text", {"a": 1}):
        results_seen = await d.broadcast("on_event", event="e", ctx=None)
        assert [result for result in results_seen if result is not None] == [expected]


def test_collect_refuses_async_implementations() -> None:
    class AsyncSchema(Named):
        @hookimpl
        async def wahost_config_schema(self) -> Any:
            return {}

    d = dispatcher(AsyncSchema("p"))
    with pytest.raises(TypeError, match="'p': wahost_config_schema must not be async"):
        d.collect("wahost_config_schema")


def test_collect_gathers_non_none_results() -> None:
    class One(Named):
        @hookimpl
        def wahost_config_schema(self) -> Any:
            return {"one": dict}

    class Nothing(Named):
        @hookimpl
        def wahost_config_schema(self) -> Any:
            return None

    d = dispatcher(One("one"), Nothing("nothing"))
    assert d.collect("wahost_config_schema") == [{"one": dict}]


async def test_implementations_are_listed_once_and_again_after_a_registration() -> None:
    calls: list[str] = []

    class A(Named):
        @hookimpl
        async def on_status(self) -> None:
            calls.append("a")

    class B(Named):
        @hookimpl
        async def on_status(self) -> None:
            calls.append("b")

    d = dispatcher(A("a"))
    first = d.implementations("on_status")
    assert d.implementations("on_status") is first  # kept between units
    d.pm.register(B("b"), name="b")
    await d.broadcast("on_status", status=None, ctx=None)
    assert calls == ["b", "a"]  # the registration is seen at the next call
    d.pm.unregister(name="b")
    calls.clear()
    await d.broadcast("on_status", status=None, ctx=None)
    assert calls == ["a"]


async def test_a_skipped_implementation_is_left_out_of_every_later_call() -> None:
    """``skip`` (a plugin with nothing configured, at its start-up) takes the named functions
    out of broadcast, first and the listing, even after the hook was called once (its
    implementations kept); the other plugins' implementations of the same hooks still run."""
    calls: list[str] = []

    class Idle(Named):
        @hookimpl
        async def on_status(self) -> None:
            calls.append("idle status")

        @hookimpl
        def on_message(self) -> Any:
            calls.append("idle message")
            return "idle"

    class Busy(Named):
        @hookimpl
        async def on_status(self) -> None:
            calls.append("busy status")

        @hookimpl(trylast=True)
        def on_message(self) -> Any:
            calls.append("busy message")
            return "busy"

    idle = Idle("idle")
    d = dispatcher(idle, Busy("busy"))
    await d.broadcast("on_status", status=None, ctx=None)
    assert (await d.first("on_message", message=None, ctx=None)).plugin == "idle"
    assert calls == ["busy status", "idle status", "idle message"]
    calls.clear()

    d.skip(idle.on_status, idle.on_message)
    await d.broadcast("on_status", status=None, ctx=None)
    result = await d.first("on_message", message=None, ctx=None)
    assert calls == ["busy status", "busy message"]
    assert (result.value, result.plugin) == ("busy", "busy")
    listed = [impl.plugin_name for impl in d.implementations("on_status")]
    assert "busy" in listed and "idle" not in listed


async def test_a_skip_is_per_dispatcher() -> None:
    """Two hosts of one process each decide for themselves: a skip in one dispatcher leaves the
    same plugin's implementation in another's calls."""
    calls: list[str] = []

    class Plugin(Named):
        @hookimpl
        async def on_status(self) -> None:
            calls.append("called")

    plugin = Plugin("plugin")
    skipping, other = dispatcher(plugin), dispatcher(plugin)
    skipping.skip(plugin.on_status)
    await skipping.broadcast("on_status", status=None, ctx=None)
    await other.broadcast("on_status", status=None, ctx=None)
    assert calls == ["called"]
