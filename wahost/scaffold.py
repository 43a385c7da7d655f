"""Skeletons: ``wahost new NAME`` (a bot) and ``wahost plugin new NAME`` (a plugin).

``wahost new`` writes a bot folder that runs as it is, without packaging: the bot's module
(a ``Router``), a ``wahost.toml`` whose ``[bot] modules`` names it, a test of the module and of
the configuration, a ``pytest.ini`` and a README. ``wahost plugin new`` writes an installable
plugin distribution, ready for ``pip install -e`` and ``pytest``: a ``pyproject.toml`` with the
``wahost`` entry point, a package with one ``on_message`` implementation, a README and a test
that uses only :mod:`wahost.testing`. The templates are strings in this module, so the
commands need no package data.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from pathlib import Path
from string import Template

from wahost.errors import ScaffoldError as ScaffoldError

__all__ = ["ScaffoldError", "bot_files", "plugin_files", "scaffold", "scaffold_bot"]

#: A distribution name wahost accepts: lower-case words joined by ``-`` or ``_``.
NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")


PYPROJECT = Template("""\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "A wahost plugin"
readme = "README.md"
requires-python = ">=3.11"
dependencies = ["wahost"]

[project.optional-dependencies]
# wahost's pytest plugin (fixtures wahost_app, fake_graph, ...) is installed with wahost;
# its async fixtures need pytest-asyncio.
test = ["pytest>=8", "pytest-asyncio>=0.23"]

# This line is what makes it a plugin: `wahost serve` loads every module of this group.
[project.entry-points.wahost]
$dist = "$module"

[tool.setuptools]
packages = ["$module"]

[tool.pytest.ini_options]
testpaths = ["tests"]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
""")

MODULE = Template('''\
"""$dist: a wahost plugin.

Every function marked ``@hookimpl`` implements one of wahost's hooks; `wahost hooks` lists them
all, with when each is called and what it may return.
"""

from __future__ import annotations

from wahost import Context, Message, hookimpl
from wahost.models import TextMessage


@hookimpl
async def on_message(message: Message, ctx: Context) -> bool | None:
    """Answer "ping" with "pong"; leave every other message to the next plugin."""
    if not isinstance(message, TextMessage) or message.text.body.strip().lower() != "ping":
        return None  # not handled: the next plugin (then on_unhandled) gets it
    await ctx.reply(text="pong")
    return True  # handled: no other plugin sees this message
''')

TEST = Template('''\
"""Tests of $dist through a real wahost host and a fake Graph API (``wahost.testing``)."""

from __future__ import annotations

from importlib.metadata import entry_points

import $module
from wahost.testing import make_text


async def test_ping_is_answered_with_pong(wahost_app):
    async with wahost_app(plugins=[$module]) as bot:
        response = await bot.post(make_text("ping"))  # signed, as Meta sends it
        assert response.status_code == 200
        await bot.idle()  # until the worker has handled every stored update
    assert [sent.text for sent in bot.graph.sent] == ["pong"]


async def test_other_messages_are_left_to_other_plugins(wahost_app):
    async with wahost_app(plugins=[$module]) as bot:
        await bot.post(make_text("hello"))
        await bot.idle()
    assert bot.graph.sent == []


def test_the_plugin_is_registered_under_the_wahost_entry_point():
    names = {ep.name: ep.value for ep in entry_points(group="wahost")}
    assert names.get("$dist") == "$module"
''')

README = Template("""\
# $dist

A plugin for wahost, the WhatsApp Cloud API bot host: it answers "ping" with "pong".

## Install

    pip install -e .            # or: pip install $dist

`wahost plugins` lists it; `wahost serve` loads it (entry point `$dist` in the `wahost`
group of `pyproject.toml`).

## Develop

    pip install -e ".[test]"
    pytest

The tests run a real wahost host with this plugin, post signed webhooks to it and check what
it sent to a fake Graph API, with the fixtures of `wahost.testing` (`wahost_app`, `fake_graph`,
`make_text`, ...).

## Layout

- `$module/__init__.py` — the hook implementations (`@hookimpl`); `wahost hooks` documents
  every hook.
- `tests/test_$module.py` — the tests.
""")

GITIGNORE = """\
__pycache__/
*.egg-info/
.pytest_cache/
build/
dist/
"""


BOT_MODULE = Template('''\
"""$name: a WhatsApp bot on wahost.

`wahost simulate --config wahost.toml` chats with it without Meta; `wahost serve --config
wahost.toml --reload` runs it (wahost.toml's [bot] modules names this module).
"""

from wahost import CallbackData, Router, filters as F
from wahost.outbound import ReplyButton, ReplyButtons

router = Router()


class Drink(CallbackData, prefix="drink"):
    """What a button carries: typed, decoded when the user taps it."""

    name: str


@router.message(F.text("ping", ignore_case=True))
async def ping(ctx):
    await ctx.reply("pong")


@router.message(F.text("hi", "hello", ignore_case=True) | F.command("start"))
async def greet(ctx):
    buttons = [ReplyButton(Drink(name="tea"), "Tea"), ReplyButton(Drink(name="coffee"), "Coffee")]
    await ctx.reply(ReplyButtons("Tea or coffee?", buttons))


@router.message(Drink.filter())
async def drink(ctx, data: Drink):
    await ctx.reply(f"One {data.name} coming up!")


@router.message(F.text)  # the first matching handler handles: this one gets the other texts
async def echo(message, ctx):
    await ctx.reply(f"You said: {message.text.body}")
''')

BOT_CONFIG = Template("""\
# $name: wahost configuration (`wahost config-reference` lists every key).
#
# Secrets are never written here: "$${NAME}" is replaced by the environment variable NAME
# when wahost starts (token = { file = "secrets/token" } reads a file instead).

[whatsapp]
# WhatsApp Manager > API Setup: the ID of the phone number, not the number itself.
phone_number_id = "106540352242922"
token = "$${WHATSAPP_TOKEN}"
app_secret = "$${WHATSAPP_APP_SECRET}"
verify_token = "$${WHATSAPP_VERIFY_TOKEN}"

[server]
host = "127.0.0.1"
port = 8080

[queue]
path = "var/wahost.db"  # relative to the directory wahost runs in

[bot]
# The bot: modules importable from this file's folder, tried before any installed plugin.
modules = ["$module"]
""")

BOT_TEST = Template('''\
"""Tests of $name: a real wahost host, signed webhooks, a fake Graph API (wahost.testing)."""

from pathlib import Path

import $module
from wahost.bots import configured_bots
from wahost.config import load_config
from wahost.testing import make_interactive_reply, make_text

HERE = Path(__file__).resolve().parents[1]


async def test_ping_is_answered_with_pong(wahost_app):
    async with wahost_app(bots=[$module]) as bot:
        response = await bot.post(make_text("ping"))  # signed, as Meta sends it
        assert response.status_code == 200
        await bot.idle()  # until the worker has handled every stored update
    assert [sent.text for sent in bot.graph.sent] == ["pong"]


async def test_a_tap_on_a_button_is_decoded(wahost_app):
    tea = $module.Drink(name="tea").pack()  # the id the "Tea" button carries
    async with wahost_app(bots=[$module]) as bot:
        await bot.post(make_interactive_reply(tea, "Tea"))
        await bot.idle()
    assert [sent.text for sent in bot.graph.sent] == ["One tea coming up!"]


def test_the_configuration_runs_this_bot():
    env = {"WHATSAPP_TOKEN": "t", "WHATSAPP_APP_SECRET": "s", "WHATSAPP_VERIFY_TOKEN": "v"}
    config = load_config(HERE / "wahost.toml", env=env)
    assert configured_bots(config) == [$module]
''')

BOT_PYTEST_INI = """\
[pytest]
# The bot's module is imported from this folder; wahost's test fixtures are async.
pythonpath = .
testpaths = tests
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
"""

BOT_README = Template("""\
# $name

A WhatsApp bot on wahost: `$module.py` is the bot (a `Router` with its handlers),
`wahost.toml` its configuration, whose `[bot] modules` names the module.

## Try it, without Meta

    pip install wahost pytest pytest-asyncio
    pytest                                     # 3 passed
    wahost simulate --config wahost.toml       # chat with it in the terminal (--web: browser)

## Run it

    export WHATSAPP_TOKEN=... WHATSAPP_APP_SECRET=... WHATSAPP_VERIFY_TOKEN=...
    wahost serve --config wahost.toml --reload

`--reload` restarts the bot when a `.py` file here or `wahost.toml` changes: for development
only. Put your phone number ID in `wahost.toml`, expose port 8080 over HTTPS and give Meta's
webhook setup `https://<your host>/webhook` and your verify token.

## Layout

- `$module.py` — the bot: `@router.message(...)` handlers with filters; the first matching
  handler handles a message.
- `wahost.toml` — the configuration; the queue and state live in `var/wahost.db`.
- `tests/test_$module.py` — the tests (`wahost_app`, `make_text`, ... from `wahost.testing`).

To ship the bot as a plugin others `pip install`, package it: `wahost plugin new`.
""")

BOT_GITIGNORE = """\
__pycache__/
.pytest_cache/
var/
"""


def bot_files(name: str) -> dict[str, str]:
    """The files of the bot ``name``: relative path → text."""
    dist, module = _names(name, what="bot")
    values = {"name": dist, "module": module}
    return {
        f"{module}.py": BOT_MODULE.substitute(values),
        "wahost.toml": BOT_CONFIG.substitute(values),
        f"tests/test_{module}.py": BOT_TEST.substitute(values),
        "pytest.ini": BOT_PYTEST_INI,
        "README.md": BOT_README.substitute(values),
        ".gitignore": BOT_GITIGNORE,
    }


def scaffold_bot(name: str, directory: Path = Path(".")) -> Path:
    """Write the bot ``name`` into ``directory/<name>``; returns that path.

    Refuses (:class:`ScaffoldError`) an invalid name, a name whose module would hide a module
    of the standard library or an installed one (the bot's folder goes first on
    ``sys.path``), and a target that already exists.
    """
    dist, module = _names(name, what="bot")
    if module in sys.stdlib_module_names or importlib.util.find_spec(module) is not None:
        raise ScaffoldError(
            f"bot name {name!r}: its module {module}.py would hide the installed module "
            f"{module!r}; choose another name (e.g. {dist}-bot)"
        )
    return _write(Path(directory) / dist, bot_files(name))


def _names(name: str, *, what: str = "plugin") -> tuple[str, str]:
    """The distribution name and the module name of the plugin called ``name``."""
    dist = name.strip().lower().replace("_", "-")
    example = "wahost-greeter" if what == "plugin" else "hello-bot"
    if not NAME.fullmatch(dist):
        raise ScaffoldError(
            f"invalid {what} name {name!r}: use lower-case letters, digits and '-' (e.g. {example})"
        )
    module = dist.replace("-", "_")
    if keyword.iskeyword(module) or module == "wahost":
        raise ScaffoldError(f"invalid {what} name {name!r}: {module!r} cannot be its module")
    return dist, module


def plugin_files(name: str) -> dict[str, str]:
    """The files of the plugin ``name``: relative path → text."""
    dist, module = _names(name)
    values = {"dist": dist, "module": module}
    return {
        "pyproject.toml": PYPROJECT.substitute(values),
        f"{module}/__init__.py": MODULE.substitute(values),
        f"tests/test_{module}.py": TEST.substitute(values),
        "README.md": README.substitute(values),
        ".gitignore": GITIGNORE,
    }


def scaffold(name: str, directory: Path = Path(".")) -> Path:
    """Write the plugin ``name`` into ``directory/<name>``; returns that path.

    Refuses (:class:`ScaffoldError`) a name that is not a valid distribution name and a target
    that already exists, so nothing is ever overwritten.
    """
    dist, _ = _names(name)
    return _write(Path(directory) / dist, plugin_files(name))


def _write(target: Path, files: dict[str, str]) -> Path:
    if target.exists():
        raise ScaffoldError(f"{target} already exists; choose another name or --dir")
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
