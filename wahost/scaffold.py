"""``wahost plugin new NAME``: the skeleton of an installable plugin distribution.

The generated directory is ready for ``pip install -e`` and ``pytest``: a ``pyproject.toml``
with the ``wahost`` entry point, a package with one ``on_message`` implementation, a README and
a test that uses only :mod:`wahost.testing`. The templates are strings in this module, so the
command needs no package data.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template

__all__ = ["ScaffoldError", "plugin_files", "scaffold"]

#: A distribution name wahost accepts: lower-case words joined by ``-`` or ``_``.
NAME = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")


class ScaffoldError(ValueError):
    """The name or the target directory cannot be used."""


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
    assert [sent["text"]["body"] for sent in bot.graph.sent] == ["pong"]


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


def _names(name: str) -> tuple[str, str]:
    """The distribution name and the module name of the plugin called ``name``."""
    dist = name.strip().lower().replace("_", "-")
    if not NAME.fullmatch(dist):
        raise ScaffoldError(
            f"invalid plugin name {name!r}: use lower-case letters, digits and '-' "
            "(e.g. wahost-greeter)"
        )
    module = dist.replace("-", "_")
    if keyword.iskeyword(module) or module == "wahost":
        raise ScaffoldError(f"invalid plugin name {name!r}: {module!r} cannot be its module")
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
    target = Path(directory) / dist
    if target.exists():
        raise ScaffoldError(f"{target} already exists; choose another name or --dir")
    files = plugin_files(name)
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
