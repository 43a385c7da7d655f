"""The documentation cannot drift from the code.

* Every hook is exercised by a test: the core-dispatched ones by ``tests/test_reference.py``'s
  spy; those a first-party plugin dispatches by that plugin's own tests (an ``@hookimpl`` of
  that name in a test file). Hooks that plugins declare themselves (``hookspecs.py`` of each
  plugin and example) are documented (When, Mode) and implemented in their tests.
* Every ``[plugins.<name>]`` key shown in a plugin README's TOML blocks exists in that plugin's
  ``wahost_config_schema`` struct (the blocks are validated with wahost's own config loader), and
  every key of the struct is named in the README.
* Core configuration: ``tests/test_config.py`` checks ``config/wahost.example-full.toml``
  against the structs both ways and ``tests/test_reference.py`` that ``docs/configuration.md``
  is generated from them.
* Every relative link in ``docs/``, ``examples/`` and the README resolves.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import textwrap
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import msgspec
import pytest

from wahost import hookspecs
from wahost.config import parse_config
from wahost.config.loader import validate_plugin_settings

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "plugins"


def _dispatched_by_plugins() -> dict[str, str]:
    """``DISPATCHED_BY_PLUGINS`` of tests/test_reference.py, read without importing it."""
    tree = ast.parse((ROOT / "tests" / "test_reference.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(getattr(t, "id", None) == "DISPATCHED_BY_PLUGINS" for t in targets):
                assert node.value is not None
                value = ast.literal_eval(node.value)
                assert isinstance(value, dict)
                return value
    raise AssertionError("tests/test_reference.py: DISPATCHED_BY_PLUGINS not found")


def _is_hookimpl(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name == "hookimpl" or name.endswith("_hookimpl")


def _implementations_in_tests(paths: list[Path], hook: str) -> list[str]:
    """``file:line`` of each ``@hookimpl`` named ``hook`` in a file that has tests."""
    found = []
    for path in paths:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        if not any(f.name.startswith("test_") for f in functions):
            continue
        for function in functions:
            if function.name == hook and any(map(_is_hookimpl, function.decorator_list)):
                found.append(f"{path.relative_to(ROOT)}:{function.lineno}")
    return found


@pytest.mark.parametrize("hook", sorted(_dispatched_by_plugins()))
def test_hooks_dispatched_by_plugins_are_exercised_by_their_tests(hook: str) -> None:
    dist = _dispatched_by_plugins()[hook]
    assert hook in hookspecs.MODES, f"{hook} is not a core hookspec"
    tests = sorted((PLUGINS / dist / "tests").glob("test_*.py"))
    assert tests, f"{dist} has no tests"
    found = _implementations_in_tests(tests, hook)
    assert found, (
        f"no test of {dist} implements {hook} (an @hookimpl named {hook} in a test file): "
        "the hook would no longer be exercised by any test"
    )


def test_every_core_hook_is_either_spied_on_or_dispatched_by_a_plugin() -> None:
    # tests/test_reference.py's spy covers the rest and fails if one is missing; here: the
    # two lists do not overlap and name only real hooks.
    source = (ROOT / "tests" / "test_reference.py").read_text()
    spied = {hook for hook in hookspecs.MODES if re.search(rf"def {hook}\(", source)}
    by_plugins = set(_dispatched_by_plugins())
    assert not spied & by_plugins
    assert spied | by_plugins == set(hookspecs.MODES)


def _declared_hookspecs(path: Path) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        f
        for f in tree.body
        if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(getattr(d, "id", "") == "hookspec" for d in f.decorator_list)
    ]


#: Modules where plugins declare hooks of their own, and the tests that must exercise them.
PLUGIN_HOOKSPECS = [
    (path, sorted((path.parents[1] / "tests").glob("test_*.py")))
    for path in sorted(PLUGINS.glob("*/*/hookspecs.py"))
] + [
    (path, [ROOT / "tests" / "test_examples.py"])
    for path in sorted((ROOT / "examples").rglob("hookspecs.py"))
]


@pytest.mark.parametrize(
    ("hookspecs_module", "tests"),
    PLUGIN_HOOKSPECS,
    ids=[str(p.relative_to(ROOT)) for p, _ in PLUGIN_HOOKSPECS],
)
def test_hooks_declared_by_plugins_are_documented_and_exercised(
    hookspecs_module: Path, tests: list[Path]
) -> None:
    specs = _declared_hookspecs(hookspecs_module)
    assert specs, f"{hookspecs_module}: no @hookspec"
    for spec in specs:
        doc = ast.get_docstring(spec) or ""
        assert "**When:**" in doc, f"{hookspecs_module}: {spec.name}: say when it fires"
        assert "**Mode:**" in doc, f"{hookspecs_module}: {spec.name}: say its mode"
        assert _implementations_in_tests(tests, spec.name), (
            f"{spec.name} ({hookspecs_module.relative_to(ROOT)}) is not implemented by any test"
        )


# -- plugin READMEs: configuration keys -------------------------------------------------------

FENCE = re.compile(r"^( *)```toml\n(.*?)^\1```", re.MULTILINE | re.DOTALL)
MINIMAL = """\
[whatsapp]
phone_number_id = "106540352242922"
token = "t"
app_secret = "s"
verify_token = "v"
"""


def _readme_plugins() -> list[str]:
    return sorted(p.parent.name for p in PLUGINS.glob("*/README.md"))


def _schemas(dist: str) -> dict[str, type[msgspec.Struct]]:
    (target,) = [ep.value for ep in entry_points(group="wahost", name=dist)] or [None]
    if target is None:
        pytest.skip(f"{dist} is not installed")
    module = importlib.import_module(target.split(":")[0])
    declare = getattr(module, "wahost_config_schema", None)
    return dict(declare() or {}) if declare is not None else {}


def _toml_blocks(readme: Path) -> list[dict[str, Any]]:
    blocks = []
    for match in FENCE.finditer(readme.read_text(encoding="utf-8")):
        text = textwrap.dedent(match.group(2))
        blocks.append(tomllib.loads(text))
    return blocks


def _tables(data: dict[str, Any]) -> dict[str, Any]:
    plugins = data.get("plugins", {})
    return {k: v for k, v in plugins.items() if isinstance(v, dict)}


def _as_toml(tables: dict[str, Any]) -> str:
    from wahost.config import config_to_toml

    return config_to_toml({"plugins": tables})


@pytest.mark.parametrize("dist", _readme_plugins())
def test_plugin_readme_config_blocks_validate_against_the_plugins_schema(
    dist: str, tmp_path: Path
) -> None:
    readme = PLUGINS / dist / "README.md"
    blocks = [b for b in _toml_blocks(readme) if _tables(b)]
    schemas = _schemas(dist)
    if not blocks:
        assert "[plugins." not in readme.read_text() or not schemas, (
            f"{readme}: a [plugins.*] table outside a ```toml block"
        )
        return
    for block in blocks:
        text = MINIMAL + _as_toml(_tables(block))
        env = {name: "x" for name in re.findall(r"\$\{(\w+)\}", text)}
        config = parse_config(text, source=f"{readme.name} block", base_dir=tmp_path, env=env)
        # unknown="error": the table is one the plugin declares; every key is in its struct.
        validate_plugin_settings(config, schemas)


@pytest.mark.parametrize("dist", _readme_plugins())
def test_every_key_of_a_plugins_schema_is_named_in_its_readme(dist: str) -> None:
    readme = (PLUGINS / dist / "README.md").read_text(encoding="utf-8")
    for table, struct in _schemas(dist).items():
        assert f"[plugins.{table}" in readme or f"plugins.{table}" in readme, (
            f"{dist}/README.md does not document [plugins.{table}]"
        )
        for field in msgspec.structs.fields(struct):
            named = re.search(rf"`{field.encode_name}[`.\[]|^{field.encode_name} =", readme, re.M)
            assert named, f"{dist}/README.md does not document plugins.{table}.{field.encode_name}"


# -- links ------------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


def _documents() -> list[Path]:
    docs = sorted((ROOT / "docs").rglob("*.md")) + sorted((ROOT / "examples").rglob("*.md"))
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", *docs]


@pytest.mark.parametrize("document", _documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(document: Path) -> None:
    text = re.sub(r"```.*?```", "", document.read_text(encoding="utf-8"), flags=re.DOTALL)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        assert (document.parent / path).exists(), f"{document.relative_to(ROOT)}: {target}"


def test_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Documentation", 1)[1]
    for page in sorted((ROOT / "docs").rglob("*.md")):
        relative = page.relative_to(ROOT).as_posix()
        assert f"({relative}" in section, f"README's Documentation section: link {relative}"


# -- the README's bot runs as shown -----------------------------------------------------------


async def test_the_readmes_bot_in_20_lines_runs(wahost_app: Any) -> None:
    from types import ModuleType

    from wahost.testing import make_interactive_reply, make_text

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## A bot in 20 lines", 1)[1]
    source = re.findall(r"```python\n(.*?)```", section, re.DOTALL)[0]
    assert len(source.strip().splitlines()) <= 30
    module = ModuleType("mybot")
    exec(source, module.__dict__)
    async with wahost_app(bots=[module]) as bot:
        for payload in (
            make_text("Hi"),
            make_interactive_reply('pick:["cake"]', "Cake"),
            make_text("hello"),
        ):
            assert (await bot.post(payload)).status_code == 200
            await bot.idle()
    menu, picked, echoed = bot.graph.sent
    assert menu.message.interactive is not None
    buttons = menu.message.interactive.buttons
    assert [b.id for b in buttons] == ['pick:["tea"]', 'pick:["cake"]']
    assert picked.text == "One cake, coming up!"
    assert echoed.text == "hello (message 1)"


# -- getting started: the commands shown work ------------------------------------------------

GETTING_STARTED = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")


def _scaffold_module(name: str) -> Any:
    """The module ``wahost new <name>`` writes, run as the bot's module."""
    from types import ModuleType

    from wahost.scaffold import bot_files

    module_name = name.replace("-", "_")
    module = ModuleType(module_name)
    exec(bot_files(name)[f"{module_name}.py"], module.__dict__)
    return module


def test_getting_started_shows_the_scaffolds_code() -> None:
    from wahost.scaffold import bot_files

    files = bot_files("hello-bot")
    blocks = re.findall(r"```python\n(.*?)```", GETTING_STARTED, re.DOTALL)
    module, test = blocks[0], blocks[1]
    for block, generated in (
        (module, files["hello_bot.py"]),
        (test, files["tests/test_hello_bot.py"]),
    ):
        for line in block.splitlines():
            assert line.strip() in generated, f"getting-started.md: {line!r} not in the scaffold"
    assert 'modules = ["hello_bot"]' in files["wahost.toml"]


async def test_getting_started_curl_body_is_stored_and_answered(wahost_app: Any) -> None:
    match = re.search(r"^BODY='(.*)'$", GETTING_STARTED, re.MULTILINE)
    assert match is not None
    body = match.group(1).encode()
    async with wahost_app(bots=[_scaffold_module("hello-bot")]) as bot:
        assert (await bot.post(body, secret=None)).status_code == 401
        assert (await bot.post(body, secret="wrong")).status_code == 403
        assert (await bot.post(body)).status_code == 200
        await bot.idle()
        assert (await bot.post(body)).status_code == 200  # the same wamid again: dropped
        await bot.idle()
    assert [(m.to, m.text) for m in bot.graph.sent] == [("16505551234", "pong")]


def test_getting_started_signature_command_matches_wahost() -> None:
    import shutil
    import subprocess

    from wahost.testing import sign

    if shutil.which("openssl") is None:
        pytest.skip("no openssl")
    match = re.search(r"^SIG=\$\((.*)\)$", GETTING_STARTED, re.MULTILINE)
    assert match is not None
    body = '{"object":"whatsapp_business_account","entry":[]}'
    env = {"BODY": body, "WHATSAPP_APP_SECRET": "dev-app-secret", "PATH": os.environ["PATH"]}
    done = subprocess.run(
        ["sh", "-c", match.group(1)], env=env, capture_output=True, text=True, check=True
    )
    assert "sha256=" + done.stdout.strip() == sign(body.encode(), "dev-app-secret")
