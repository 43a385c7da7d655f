"""``wahost plugin new``: the scaffold is written, refuses what it must, and the generated
plugin installs into a fresh virtual environment and passes its own tests there. ``wahost
new``: the bot folder runs without packaging and passes its own tests."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from wahost.cli import cli_group
from wahost.scaffold import ScaffoldError, plugin_files, scaffold, scaffold_bot

ROOT = Path(__file__).resolve().parents[1]


def test_the_command_writes_an_installable_plugin(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_group(), ["plugin", "new", "wahost-greeter", "--dir", tmp_path])
    assert result.exit_code == 0, result.output
    target = tmp_path / "wahost-greeter"
    assert f"created {target}" in result.output
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == [
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "tests/test_wahost_greeter.py",
        "wahost_greeter/__init__.py",
    ]
    project = tomllib.loads((target / "pyproject.toml").read_text())
    assert project["project"]["name"] == "wahost-greeter"
    assert project["project"]["dependencies"] == ["wahost"]
    assert project["project"]["entry-points"]["wahost"] == {"wahost-greeter": "wahost_greeter"}


def test_generated_python_parses_and_implements_on_message() -> None:
    files = plugin_files("greeter")
    module = ast.parse(files["greeter/__init__.py"])
    functions = [node for node in module.body if isinstance(node, ast.AsyncFunctionDef)]
    assert [f.name for f in functions] == ["on_message"]
    test = files["tests/test_greeter.py"]
    ast.parse(test)
    imports = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(test))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    # The generated test depends on wahost.testing only (plus the plugin and the stdlib).
    assert imports == {"__future__", "importlib.metadata", "greeter", "wahost.testing"}


def test_the_generated_tests_pass_against_this_checkout(tmp_path: Path) -> None:
    """The quick version of the fresh-venv test below: the generated plugin is built and
    installed (``--no-deps``, into a directory of its own) with this interpreter's setuptools,
    and all its tests pass, the entry-point one included, with wahost from this checkout."""
    target = scaffold("wahost-quick", tmp_path)
    site = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    installed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            str(site),
            str(target),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # The tests must import the installed plugin, not the source folder next to them.
    shutil.rmtree(target / "wahost_quick")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(site)])
    listed = subprocess.run(
        [sys.executable, "-m", "wahost.cli", "plugins", "--json"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "wahost-quick" in listed.stdout, listed.stdout + listed.stderr
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_wahost_new_writes_a_bot_whose_tests_pass_without_packaging(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli_group(), ["new", "hello-bot", "--dir", tmp_path])
    assert result.exit_code == 0, result.output
    target = tmp_path / "hello-bot"
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == [
        ".gitignore",
        "README.md",
        "hello_bot.py",
        "pytest.ini",
        "tests/test_hello_bot.py",
        "wahost.toml",
    ]
    config = tomllib.loads((target / "wahost.toml").read_text())
    assert config["bot"] == {"modules": ["hello_bot"]}
    assert config["whatsapp"]["token"] == "${WHATSAPP_TOKEN}"
    # Nothing installed: wahost from this checkout, the bot from its folder (pytest.ini).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Bad Name", "invalid bot name 'Bad Name'"),
        ("json", "its module json.py would hide the installed module 'json'"),
        ("pytest", "its module pytest.py would hide the installed module 'pytest'"),
    ],
)
def test_wahost_new_refuses_a_name_that_cannot_be_the_bots_module(
    tmp_path: Path, name: str, reason: str
) -> None:
    with pytest.raises(ScaffoldError, match=reason):
        scaffold_bot(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["", "Bad Name", "1plugin", "wahost", "class", "a--b", "x/y"])
def test_invalid_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ScaffoldError, match="invalid plugin name"):
        scaffold(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_directory_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "wahost-greeter").mkdir()
    (tmp_path / "wahost-greeter" / "keep.txt").write_text("mine")
    result = CliRunner().invoke(cli_group(), ["plugin", "new", "wahost-greeter", "--dir", tmp_path])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert [p.name for p in (tmp_path / "wahost-greeter").iterdir()] == ["keep.txt"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_scaffold_installs_into_a_fresh_venv_and_its_tests_pass(tmp_path: Path) -> None:
    """The promise to plugin authors, end to end: a virtual environment *without* the system's
    site-packages gets wahost (this checkout) and the generated plugin with ``pip install -e``
    — dependencies come from the package index — and the plugin's own pytest run, with wahost's
    pytest plugin found through its ``pytest11`` entry point, passes. About 40 s with a warm pip
    cache, so it is marked ``slow`` (``python -m pytest -m slow``); the quick version above
    installs the plugin alone."""
    target = scaffold("wahost-greeter", tmp_path)
    venv = tmp_path / "venv"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"} and not k.startswith("PYTEST")
    }

    def run(*args: str | Path, cwd: Path = tmp_path) -> str:
        done = subprocess.run(
            [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=480
        )
        assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run(sys.executable, "-m", "venv", venv)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    run(python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", ROOT)
    run(
        python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", f"{target}[test]"
    )
    # wahost in the venv is this checkout, not whatever the outer interpreter has.
    where = run(python, "-c", "import wahost; print(wahost.__file__)")
    assert Path(where.strip()).resolve() == (ROOT / "wahost" / "__init__.py").resolve()
    listed = run(python, "-m", "wahost.cli", "plugins", "--json", cwd=target)
    assert "wahost-greeter" in listed
    output = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=target)
    assert "3 passed" in output
