"""The ``wahost`` command line, on real configuration files and a real SQLite store."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wahost import hookimpl
from wahost.cli import cli_group
from wahost.testing import TEST_APP_SECRET, TEST_TOKEN, BotHarness, FakeGraph

CONFIG = """
[whatsapp]
phone_number_id = "106540352242922"
token = "${{WHATSAPP_TOKEN}}"
app_secret = "{secret}"
verify_token = "verify-me-please"

[queue]
path = "{db}"
"""


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "wahost.toml"
    path.write_text(CONFIG.format(secret=TEST_APP_SECRET, db=tmp_path / "wahost.db") + extra)
    return path


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    environment = {"WHATSAPP_TOKEN": TEST_TOKEN, "WAHOST_PLUGINS": "none", **(env or {})}
    return CliRunner().invoke(cli_group(), list(args), env=environment)


def test_check_prints_the_resolved_config_with_secrets_redacted(tmp_path: Path) -> None:
    result = run("check", "--config", str(write_config(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "valid" in result.output
    assert 'phone_number_id = "106540352242922"' in result.output
    assert 'token = "***"' in result.output
    for secret in (TEST_TOKEN, TEST_APP_SECRET, "verify-me-please"):
        assert secret not in result.output


def test_check_names_the_file_key_and_reason(tmp_path: Path) -> None:
    path = write_config(tmp_path, "\n[sever]\nport = 1\n")
    result = run("check", "--config", str(path))
    assert result.exit_code == 1
    assert f"{path}: sever: unknown key" in result.output


def test_check_reports_a_missing_environment_variable_without_values(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli_group(),
        ["check", "--config", str(write_config(tmp_path))],
        env={"WHATSAPP_TOKEN": None},
    )
    assert result.exit_code == 1
    assert "whatsapp.token: environment variable WHATSAPP_TOKEN is not set" in result.output


def test_check_on_a_missing_file(tmp_path: Path) -> None:
    result = run("check", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 1
    assert "nope.toml: cannot read the file: No such file or directory" in result.output


def test_plugins_lists_versions_hooks_and_errors(tmp_path: Path, install: Any) -> None:
    good = "from wahost import hookimpl\n\n@hookimpl\nasync def on_status(status):\n    pass\n"
    install("wahost-good", "3.1.4", {"wahost-good": "t_cli_good"}, {"t_cli_good": good})
    install(
        "wahost-bad", "0.0.1", {"wahost-bad": "t_cli_bad"}, {"t_cli_bad": "import does_not_exist\n"}
    )
    result = CliRunner().invoke(cli_group(), ["plugins", "--json"], env={"WAHOST_PLUGINS": None})
    assert result.exit_code == 0, result.output
    infos = {info["name"]: info for info in json.loads(result.output)}
    assert infos["wahost-good"]["version"] == "3.1.4"
    assert infos["wahost-good"]["hooks"] == ["on_status"]
    assert infos["wahost-good"]["loaded"] is True
    assert infos["wahost-bad"]["loaded"] is False
    assert "No module named 'does_not_exist'" in infos["wahost-bad"]["error"]
    assert infos["wahost.defaults.backends"]["builtin"] is True
    text = CliRunner().invoke(cli_group(), ["plugins"], env={"WAHOST_PLUGINS": None}).output
    assert "wahost-good 3.1.4: loaded" in text
    assert "wahost-bad 0.0.1: ERROR: ModuleNotFoundError" in text


def test_plugins_applies_the_configuration_selection(tmp_path: Path, install: Any) -> None:
    good = "from wahost import hookimpl\n\n@hookimpl\nasync def on_status(status):\n    pass\n"
    install("wahost-sel", "1.0", {"wahost-sel": "t_cli_sel"}, {"t_cli_sel": good})
    path = write_config(tmp_path, '\n[plugins]\ndisabled = ["wahost-sel"]\n')
    result = CliRunner().invoke(
        cli_group(),
        ["plugins", "--json", "--config", str(path)],
        env={"WAHOST_PLUGINS": None, "WHATSAPP_TOKEN": TEST_TOKEN},
    )
    assert "wahost-sel" not in {info["name"] for info in json.loads(result.output)}


def test_hooks_prints_the_reference() -> None:
    result = run("hooks")
    assert result.exit_code == 0
    assert "## on_message" in result.output
    assert "*Mode: first.*" in result.output


class AlwaysFails:
    __name__ = "alwaysfails"

    @hookimpl
    async def on_message(self) -> bool:
        raise RuntimeError("handler is broken")


@pytest.fixture
async def store_with_dead_and_quarantine(tmp_path: Path) -> Path:
    config = {"worker": {"max_attempts": 1}}
    async with BotHarness(tmp_path, plugins=[AlwaysFails()], config=config) as bot:
        assert (await bot.post_fixture("inbound_text.json")).status_code == 200
        assert (await bot.post(b"{not json")).status_code == 200
        await bot.idle()
    return write_config(tmp_path)


def test_queue_commands(store_with_dead_and_quarantine: Path) -> None:
    path = str(store_with_dead_and_quarantine)
    stats = run("queue", "stats", "--config", path)
    assert stats.exit_code == 0, stats.output
    assert "dead: 1" in stats.output and "quarantined: 1" in stats.output

    dead = run("queue", "dead", "--config", path)
    assert "msg:wamid." in dead.output and "RuntimeError: handler is broken" in dead.output
    key = dead.output.split("\t")[0]

    quarantine = run("queue", "quarantine", "--config", path, "--show-body")
    assert "{not json" in quarantine.output

    assert run("queue", "replay", "--config", path).exit_code == 2  # neither KEY nor --all
    missing = run("queue", "replay", "--config", path, "msg:nope")
    assert missing.exit_code == 1 and "no dead unit with key 'msg:nope'" in missing.output
    replayed = run("queue", "replay", "--config", path, key)
    assert replayed.exit_code == 0 and f"replayed {key}" in replayed.output
    assert "ready: 1" in run("queue", "stats", "--config", path).output
    assert "no dead units" in run("queue", "dead", "--config", path).output


def test_queue_downgrade(store_with_dead_and_quarantine: Path) -> None:
    path = str(store_with_dead_and_quarantine)
    first = run("queue", "downgrade", "--config", path)
    assert first.exit_code == 0, first.output
    assert "schema 1 now" in first.output
    assert "schema 1 already" in run("queue", "downgrade", "--config", path).output
    # The next command opens the queue (upgrading it again) and finds everything kept.
    stats = run("queue", "stats", "--config", path)
    assert "dead: 1" in stats.output and "quarantined: 1" in stats.output
    assert "schema 1 now" in run("queue", "downgrade", "--config", path).output


def test_queue_downgrade_of_a_file_with_no_queue(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    db = tmp_path / "wahost.db"
    assert not db.exists()
    result = run("queue", "downgrade", "--config", str(path))
    assert result.exit_code == 0, result.output
    assert "holds no queue yet: nothing to do" in result.output
    assert not db.exists()  # nothing created
    with contextlib.closing(sqlite3.connect(db)) as conn:  # a file, but of something else
        conn.execute("CREATE TABLE other (x)")
    result = run("queue", "downgrade", "--config", str(path))
    assert "holds no queue yet: nothing to do" in result.output


def test_queue_downgrade_of_another_backend(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    path.write_text(path.read_text().replace("[queue]", '[queue]\nbackend = "memory"'))
    result = run("queue", "downgrade", "--config", str(path))
    assert result.exit_code == 1
    assert "the 'memory' queue has no schema to downgrade" in result.output


async def _wahost(*args: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wahost.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_send_commands_reach_the_graph_api(tmp_path: Path) -> None:
    async with FakeGraph() as graph:
        path = write_config(tmp_path, "")
        text = path.read_text().replace("[queue]", f'graph_url = "{graph.url}"\n\n[queue]')
        path.write_text(text)
        env = {**os.environ, "WHATSAPP_TOKEN": TEST_TOKEN, "WAHOST_PLUGINS": "none"}
        code, output = await _wahost(
            "send",
            "text",
            "--config",
            str(path),
            "--to",
            "16505551234",
            "hello from the CLI",
            env=env,
        )
        assert code == 0, output
        assert f"sent {graph.sent[0].wamid} to 16505551234" in output
        code, output = await _wahost(
            "send",
            "image",
            "--config",
            str(path),
            "--to",
            "1650",
            "https://example.com/a.png",
            "--caption",
            "look",
            env=env,
        )
        assert code == 0, output
        code, output = await _wahost(
            "send",
            "location",
            "--config",
            str(path),
            "--to",
            "1650",
            "52.5",
            "13.4",
            "--name",
            "Berlin",
            env=env,
        )
        assert code == 0, output
        graph.fail_next(1, code=131047)
        code, output = await _wahost(
            "send", "text", "--config", str(path), "--to", "1650", "too late", env=env
        )
        assert code == 1
        assert "ReengagementError: (131047)" in output
        code, output = await _wahost(
            "send", "text", "--config", str(path), "--to", "1650", "x" * 4097, env=env
        )
        assert code == 1 and "4096" in output
    assert [m.type for m in graph.sent] == ["text", "image", "location"]
    assert graph.sent[1]["image"] == {"link": "https://example.com/a.png", "caption": "look"}
    for request in graph.requests:
        assert TEST_TOKEN not in request.path + request.query
