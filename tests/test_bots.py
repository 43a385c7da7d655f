"""Bots that run without packaging (issue 23): ``[bot] modules``, ``--bot`` on ``serve``,
``worker`` and ``simulate``, the bot tried before the installed plugins' catch-alls (the state
machine's welcome) everywhere, one-line errors for a module that cannot be used, and
``serve --reload``.

In-process tests use the harness (``wahost_app``); the commands run as real subprocesses
against the fake Graph API on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import wahost_state_machine
from click.testing import CliRunner

from wahost import Wahost
from wahost.bots import import_bot, locate_bot
from wahost.cli import cli_group
from wahost.config import ConfigError, parse_config
from wahost.plugins import PluginError
from wahost.reload import watch_targets
from wahost.testing import (
    TEST_APP_SECRET,
    TEST_PHONE_NUMBER_ID,
    TEST_TOKEN,
    FakeGraph,
    make_config,
    make_status,
    make_text,
    signed_webhook,
)
from wahost.testing.loopback import loopback_client

GREETER = """
from wahost import Router, filters as F

router = Router()

@router.message(F.text("hi", ignore_case=True))
async def greet(message, ctx):
    await ctx.reply("hello from the bot")
"""

WELCOME = "Welcome to the shop!"

#: The state machine's config-only menu: a new conversation's first message gets the welcome.
MENU = {"menus": {"main": {"initial": "start", "states": {"start": {"text": WELCOME}}}}}

MENU_TOML = f"""
[plugins.state_machine.menus.main]
initial = "start"

[plugins.state_machine.menus.main.states.start]
text = "{WELCOME}"
"""


@pytest.fixture(autouse=True)
def _clean_imports(tmp_path: Path) -> Iterator[None]:
    """The test's bot modules (files under tmp_path) and the folders put on sys.path for them
    do not outlive the test."""
    path = list(sys.path)
    yield
    sys.path[:] = path
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if file.startswith(str(tmp_path)):
            del sys.modules[name]


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


def bodies(graph: Any) -> list[str]:
    return [m.text for m in graph.sent if m.text is not None]


# -- loading: what a bot module registers ----------------------------------------------------


async def test_config_bot_modules_register_routers_and_hookimpls(
    wahost_app: Any, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "shop_bot.py",
        """
        from wahost import Router, hookimpl, filters as F

        STATUSES = []
        router = Router()
        admin = Router("shop_bot.admin")
        router.include(admin)           # runs through router only

        @router.message(F.text("hi"))
        async def greet(ctx):
            await ctx.reply("hello")

        @admin.message(F.command("stats"))
        async def stats(ctx):
            await ctx.reply("0 orders")

        @hookimpl
        async def on_status(status):
            STATUSES.append(status.status)
        """,
    )
    async with wahost_app(config={"bot": {"modules": ["shop_bot"]}}) as bot:
        bots = [(info.name, info.module, info.hooks) for info in bot.host.plugins if info.bot]
        await bot.post(make_text("hi"))
        await bot.post(make_text("/stats", sender="16505550002"))
        await bot.idle()
        await bot.post(make_status(bot.graph.sent[0].wamid, "delivered"))
        await bot.idle()
    assert bots == [
        ("shop_bot.router", "shop_bot", ["on_event", "on_message", "on_status"]),
        ("shop_bot", "shop_bot", ["on_status"]),
    ]
    assert sorted(bodies(bot.graph)) == ["0 orders", "hello"]
    assert sys.modules["shop_bot"].STATUSES == ["delivered"]


def test_module_names_and_paths_resolve_against_the_configs_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "config"
    write(home, "plain_bot.py", GREETER)
    write(home, "shop/__init__.py", "")
    write(home, "shop/bot.py", GREETER)
    write(home, "bots/helper_lib.py", "REPLY = 'from a sibling module'\n")
    write(home, "bots/file_bot.py", "import helper_lib\n" + GREETER)
    monkeypatch.chdir(tmp_path)  # the current directory does not matter for [bot] modules
    text = textwrap.dedent(f"""
        [whatsapp]
        phone_number_id = "{TEST_PHONE_NUMBER_ID}"
        token = "t"
        app_secret = "s"
        verify_token = "v"

        [bot]
        modules = ["plain_bot", "shop.bot", "bots/file_bot.py"]
    """)
    config = parse_config(text, source="wahost.toml", base_dir=home)
    host = Wahost(config, load_entrypoints=False)
    names = [info.name for info in host.plugins if info.bot]
    assert names == ["plain_bot.router", "shop.bot.router", "file_bot.router"]
    assert sys.modules["file_bot"].__file__ == str(home / "bots" / "file_bot.py")
    assert sys.modules["helper_lib"].REPLY == "from a sibling module"
    # Found without being run, for --reload.
    assert locate_bot("shop.bot", home).origin == home / "shop"


def test_a_module_of_the_same_name_from_another_folder_is_imported_afresh(
    tmp_path: Path,
) -> None:
    write(tmp_path / "one", "twin_bot.py", GREETER + "WHO = 1\n")
    write(tmp_path / "two", "twin_bot.py", GREETER + "WHO = 2\n")
    assert import_bot("twin_bot", tmp_path / "one").WHO == 1
    assert import_bot("twin_bot", tmp_path / "two").WHO == 2
    assert import_bot("twin_bot", tmp_path / "two") is sys.modules["twin_bot"]


# -- order: the bot before the installed plugins ----------------------------------------------


@pytest.mark.parametrize("how", ["config", "bots="])
async def test_the_bot_answers_hi_before_the_state_machines_welcome(
    wahost_app: Any, tmp_path: Path, how: str
) -> None:
    module = write(tmp_path, "greeter_bot.py", GREETER)
    config: dict[str, Any] = {"plugins": {"state_machine": MENU}}
    if how == "config":
        config["bot"] = {"modules": [module.name]}
        bots: list[Any] = []
    else:
        bots = [import_bot("greeter_bot", tmp_path)]
    async with wahost_app(plugins=[wahost_state_machine], config=config, bots=bots) as bot:
        order = [impl.plugin_name for impl in reversed(bot.host.pm.hook.on_message.get_hookimpls())]
        await bot.post(make_text("hi"))  # a new conversation: the welcome would take it
        await bot.idle()
        await bot.post(make_text("hello", sender="16505550002"))  # not the bot's: the welcome
        await bot.idle()
    assert order[0] == "greeter_bot.router"
    assert [(m.to, m.text) for m in bot.graph.sent] == [
        ("16505551234", "hello from the bot"),
        ("16505550002", WELCOME),
    ]


async def test_bots_are_tried_in_the_order_given(wahost_app: Any, tmp_path: Path) -> None:
    for name in ("first_bot", "second_bot"):
        write(
            tmp_path,
            f"{name}.py",
            f"""
            from wahost import Router

            router = Router()

            @router.message()
            async def anything(ctx):
                await ctx.reply("{name}")
            """,
        )
    config = {"bot": {"modules": ["second_bot"]}}
    first = import_bot("first_bot", tmp_path)
    async with wahost_app(config=config, bots=[first]) as bot:
        await bot.post(make_text("x"))
        await bot.idle()
    # [bot] modules first, then bots= (as --bot): second_bot is tried first.
    assert bodies(bot.graph) == ["second_bot"]


# -- errors: one line naming the file, the key and the fix -----------------------------------


def _config_file(tmp_path: Path, modules: list[str]) -> Path:
    listed = ", ".join(f'"{m}"' for m in modules)
    path = tmp_path / "wahost.toml"
    path.write_text(
        textwrap.dedent(f"""
            [whatsapp]
            phone_number_id = "{TEST_PHONE_NUMBER_ID}"
            token = "t"
            app_secret = "s"
            verify_token = "v"

            [queue]
            path = "{tmp_path / "w.db"}"

            [bot]
            modules = [{listed}]
        """)
    )
    return path


def _wahost(*args: str) -> Any:
    env = {**os.environ, "WAHOST_PLUGINS": "none"}
    return CliRunner().invoke(cli_group(), list(args), env=env)


REASONS = {
    "missing": (
        None,
        "no module 'broken_bot' (no {dir}/broken_bot.py, no {dir}/broken_bot/): write a module "
        "name importable from {dir} (e.g. mybot for {dir}/mybot.py) or the path of a .py file",
    ),
    "syntax-error": (
        "x = (\n",
        "importing broken_bot failed: SyntaxError: '(' was never closed "
        "({dir}/broken_bot.py, line 1)",
    ),
    "raises": (
        "x = 1 / 0\n",
        "importing broken_bot failed: ZeroDivisionError: division by zero "
        "({dir}/broken_bot.py, line 1)",
    ),
    "empty": (
        "x = 1\n",
        "broken_bot defines no Router and no @hookimpl function: is it the bot's module?",
    ),
}


@pytest.mark.parametrize("case", sorted(REASONS))
def test_a_bot_module_that_cannot_be_used_stops_the_start_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    source, reason = REASONS[case]
    if source is not None:
        write(tmp_path, "broken_bot.py", source)
    reason = reason.format(dir=tmp_path)
    config = _config_file(tmp_path, ["broken_bot"])
    result = _wahost("check", "--config", str(config))
    assert (result.exit_code, result.output) == (1, f"Error: {config}: bot.modules[0]: {reason}\n")
    # --bot names the option instead of the key; it is resolved against the current directory.
    monkeypatch.chdir(tmp_path)
    result = _wahost("serve", "--config", str(_config_file(tmp_path, [])), "--bot", "broken_bot")
    assert (result.exit_code, result.output) == (1, f"Error: --bot broken_bot: {reason}\n")


@pytest.mark.parametrize("command", ["worker", "simulate", "plugins"])
def test_dash_dash_bot_of_every_command_refuses_a_missing_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    config = _config_file(tmp_path, [])
    result = _wahost(command, "--config", str(config), "--bot", "gone_bot")
    assert result.exit_code == 1
    assert result.output.startswith("Error: --bot gone_bot: no module 'gone_bot'")
    assert result.output.count("\n") == 1


def test_a_misspelt_hook_in_a_bot_fails_the_start(tmp_path: Path) -> None:
    write(
        tmp_path, "typo_bot.py", "from wahost import hookimpl\n\n@hookimpl\ndef on_mesage(): ...\n"
    )
    config = make_config(tmp_path, {"bot": {"modules": ["typo_bot"]}})
    with pytest.raises(PluginError, match="plugin 'typo_bot': unknown hook 'on_mesage'"):
        Wahost(config, load_entrypoints=False)


def test_a_config_error_names_the_key(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"bot": {"modules": ["greeter_bot", "nowhere.py"]}})
    write(tmp_path, "greeter_bot.py", GREETER)
    with pytest.raises(ConfigError) as caught:
        Wahost(config, load_entrypoints=False)
    assert caught.value.key == "bot.modules[1]"
    assert caught.value.reason.startswith(f"no file {tmp_path / 'nowhere.py'}: write")


def test_plugins_lists_the_bot_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "greeter_bot.py", GREETER)
    write(tmp_path, "other_bot.py", GREETER)
    config = _config_file(tmp_path, ["greeter_bot"])
    monkeypatch.chdir(tmp_path)
    result = _wahost("plugins", "--config", str(config), "--bot", "other_bot.py")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == [
        "greeter_bot.router (bot): loaded",
        "    hooks: on_event, on_message, on_status",
        "other_bot.router (bot): loaded",
        "    hooks: on_event, on_message, on_status",
    ]


# -- the commands, as real processes ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Our processes' verify token: only they answer the handshake with it (another process on
#: the machine may take a port that looked free).
VERIFY_TOKEN = secrets.token_hex(8)


def _write_config(workdir: Path, graph: FakeGraph, port: int, extra: str = "") -> Path:
    path = workdir / "wahost.toml"
    path.write_text(
        textwrap.dedent(f"""
            [whatsapp]
            phone_number_id = "{TEST_PHONE_NUMBER_ID}"
            token = "{TEST_TOKEN}"
            app_secret = "{TEST_APP_SECRET}"
            verify_token = "{VERIFY_TOKEN}"
            graph_url = "{graph.url}"

            [server]
            port = {port}

            [queue]
            path = "{workdir / "wahost.db"}"
        """)
        + textwrap.dedent(extra)
    )
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "WAHOST_PLUGINS": "wahost-state-machine"}


class Process:
    """A ``wahost`` command in a subprocess of its own group, its output in a log file."""

    def __init__(self, workdir: Path, *args: str, name: str = "wahost") -> None:
        self.log = workdir / f"{name}.log"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wahost.cli", *args],
                cwd=workdir,
                env=_env(),
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


async def _listening(process: Process, port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    handshake = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"}
    async with loopback_client() as http:
        while time.monotonic() < deadline:
            if process.process.poll() is not None:
                break
            try:
                answer = await http.get(f"http://127.0.0.1:{port}/webhook", params=handshake)
                if answer.text == "42":
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"not listening on {port}:\n{process.output()}")


async def _post(port: int, text: str, sender: str = "16505551234") -> int:
    body, headers = signed_webhook(make_text(text, sender=sender))
    async with loopback_client() as http:
        response = await http.post(
            f"http://127.0.0.1:{port}/webhook", content=body, headers=headers
        )
    return response.status_code


async def test_serve_runs_config_bot_modules_before_the_state_machine(tmp_path: Path) -> None:
    write(tmp_path, "greeter_bot.py", GREETER)
    port = _free_port()
    async with FakeGraph() as graph:
        config = _write_config(
            tmp_path, graph, port, '[bot]\nmodules = ["greeter_bot"]\n' + MENU_TOML
        )
        serve = Process(tmp_path, "serve", "--config", str(config))
        try:
            await _listening(serve, port)
            assert await _post(port, "hi") == 200
            await graph.wait_for(1, timeout=15)
            assert await _post(port, "hello", sender="16505550002") == 200
            await graph.wait_for(2, timeout=15)
        finally:
            serve.stop()
    assert [(m.to, m.text) for m in graph.sent] == [
        ("16505551234", "hello from the bot"),
        ("16505550002", WELCOME),
    ]


async def test_worker_runs_a_bot_given_with_dash_dash_bot(tmp_path: Path) -> None:
    write(tmp_path, "bots/greeter_bot.py", GREETER)
    port = _free_port()
    async with FakeGraph() as graph:
        config = _write_config(tmp_path, graph, port, "[worker]\nenabled = false\n" + MENU_TOML)
        ingress = Process(tmp_path, "serve", "--config", str(config), name="ingress")
        worker = None
        try:
            await _listening(ingress, port)
            assert await _post(port, "hi") == 200  # stored; no worker here
            worker = Process(
                tmp_path, "worker", "--config", str(config), "--bot", "bots/greeter_bot.py"
            )
            await graph.wait_for(1, timeout=30)
        finally:
            ingress.stop()
            if worker is not None:
                worker.stop()
    assert bodies(graph) == ["hello from the bot"], worker.output() if worker else ""


BOT = ("--bot", "greeter_bot")


def test_simulate_runs_a_bot_given_with_dash_dash_bot(tmp_path: Path) -> None:
    write(tmp_path, "greeter_bot.py", GREETER)
    config = tmp_path / "wahost.toml"
    config.write_text(
        textwrap.dedent(f"""
            [whatsapp]
            phone_number_id = "{TEST_PHONE_NUMBER_ID}"
            token = "${{WHATSAPP_TOKEN}}"
            app_secret = "${{WHATSAPP_APP_SECRET}}"
            verify_token = "${{WHATSAPP_VERIFY_TOKEN}}"

            [queue]
            path = "wahost.db"
        """)
        + MENU_TOML
    )
    env = {k: v for k, v in _env().items() if not k.startswith("WHATSAPP_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "wahost.cli", "simulate", "--config", "wahost.toml", *BOT],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdin is not None and process.stdout is not None
    screen = ""

    def expect(text: str, timeout: float = 30.0) -> None:
        nonlocal screen
        deadline = time.monotonic() + timeout
        while text not in screen:
            remaining = deadline - time.monotonic()
            assert remaining > 0 and process.poll() is None, f"{text!r} not in:\n{screen}"
            ready, _, _ = select.select([process.stdout], [], [], min(remaining, 0.5))
            if ready:
                screen += os.read(process.stdout.fileno(), 65536).decode(errors="replace")

    try:
        expect("/help for more")
        process.stdin.write(b"hi\n")
        process.stdin.flush()
        expect("hello from the bot")
        process.stdin.write(b"/quit\n")
        process.stdin.flush()
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert WELCOME not in screen


# -- --reload -------------------------------------------------------------------------------

REPLYING = """
from wahost import Router

router = Router()

@router.message()
async def answer(ctx):
    await ctx.reply("{reply}")
"""


def test_reload_watches_the_configs_folder_and_the_bots(tmp_path: Path) -> None:
    home = tmp_path / "config"
    write(tmp_path / "code", "far_bot.py", GREETER)
    write(home, "near_bot.py", GREETER)
    config = write(home, "wahost.toml", '[bot]\nmodules = ["near_bot", "../code/far_bot.py"]\n')
    folders = watch_targets(config, ["nowhere_bot"])
    assert folders == [home, tmp_path / "code"]


async def test_serve_reload_restarts_on_a_change_to_the_bot(tmp_path: Path) -> None:
    bot = write(tmp_path, "reloading_bot.py", REPLYING.format(reply="version 1"))
    port = _free_port()
    async with FakeGraph() as graph:
        config = _write_config(tmp_path, graph, port, '[bot]\nmodules = ["reloading_bot"]\n')
        serve = Process(tmp_path, "serve", "--config", str(config), "--reload")
        try:
            await _listening(serve, port)
            assert await _post(port, "one") == 200
            await graph.wait_for(1, timeout=15)
            bot.write_text(textwrap.dedent(REPLYING.format(reply="version 2")))
            # Until the new process answers: webhooks posted while it restarts may be refused
            # or answered by the old one.
            deadline = time.monotonic() + 60
            while "version 2" not in bodies(graph):
                assert time.monotonic() < deadline, serve.output()
                with contextlib.suppress(httpx.TransportError):
                    await _post(port, "again")
                await asyncio.sleep(0.5)
        finally:
            serve.stop()
    assert bodies(graph)[0] == "version 1"
    assert "# changed: reloading_bot.py; restarting" in serve.output()
