"""``wahost state show|reset`` on a real configuration file and SQLite store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import wahost_state_machine
from click.testing import CliRunner
from wahost_state_machine import StateMachine, Text

from wahost import Context
from wahost.cli import cli_group
from wahost.testing import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, TEST_TOKEN, BotHarness
from wahost.testing.payloads import make_text

USER = "16505551234"
OTHER_NUMBER = "209999999999999"

CONFIG = """
[whatsapp]
phone_number_id = "{pnid}"
token = "{token}"
app_secret = "{secret}"
verify_token = "verify"

[queue]
path = "{db}"
"""


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "wahost.toml"
    path.write_text(
        CONFIG.format(
            pnid=TEST_PHONE_NUMBER_ID,
            token=TEST_TOKEN,
            secret=TEST_APP_SECRET,
            db=tmp_path / "wahost.db",
        )
    )
    return path


def run(*args: str) -> Any:
    # Only this plugin, found through its entry point, as an installed wahost finds it.
    env = {"WAHOST_PLUGINS": "wahost-state-machine"}
    return CliRunner().invoke(cli_group(), list(args), env=env)


def populate(tmp_path: Path) -> None:
    """Walk two conversations through a machine, on the store the config file names."""
    sm = StateMachine("greeter", initial="start")
    sm.add_state("named")

    async def named(ctx: Context, message: Any) -> str:
        ctx.state.update(name=message.text.body)
        return "named"

    with pytest.warns(DeprecationWarning, match="deprecated state machine API"):
        sm.state("start", on=Text())(named)  # the deprecated API still works

    async def main() -> None:
        async with BotHarness(tmp_path, plugins=[wahost_state_machine, sm]) as bot:
            await bot.post(make_text("Ana"))
            await bot.post(make_text("Bo", phone_number_id=OTHER_NUMBER))
            await bot.idle()

    asyncio.run(main())


def test_the_state_commands_come_with_the_installed_plugin() -> None:
    result = run("state", "--help")
    assert result.exit_code == 0, result.output
    assert "show" in result.output and "reset" in result.output


def test_show_prints_the_state_the_machine_and_the_data(tmp_path: Path) -> None:
    populate(tmp_path)
    config = str(write_config(tmp_path))
    result = run("state", "show", "--config", config, USER)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"conversation: {TEST_PHONE_NUMBER_ID}:{USER}"
    assert "state: named" in lines and "machine: greeter" in lines
    assert any(line.startswith("entered: 20") and "s ago)" in line for line in lines)
    assert '"name": "Ana"' in result.output and "_sm" not in result.output

    result = run("state", "show", "-c", config, "--phone-number-id", OTHER_NUMBER, f"+{USER}")
    assert result.exit_code == 0, result.output
    assert '"name": "Bo"' in result.output

    result = run("state", "show", "-c", config, "--json", USER)
    shown = json.loads(result.output)
    assert shown["conversation"] == f"{TEST_PHONE_NUMBER_ID}:{USER}"
    assert shown["state"]["name"] == "named"
    assert shown["state"]["data"]["_sm"]["machine"] == "greeter"


def test_reset_forgets_one_conversation(tmp_path: Path) -> None:
    populate(tmp_path)
    config = str(write_config(tmp_path))
    result = run("state", "reset", "--config", config, USER)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{TEST_PHONE_NUMBER_ID}:{USER}: reset"
    result = run("state", "show", "--config", config, USER)
    assert "no state" in result.output
    result = run("state", "show", "-c", config, "--phone-number-id", OTHER_NUMBER, USER)
    assert "state: named" in result.output  # the same user on another number is untouched
    result = run("state", "reset", "--config", config, USER)
    assert result.output.strip().endswith("had no state")


def test_a_bad_configuration_is_an_error_naming_the_file_and_key(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    path.write_text(path.read_text() + '\n[plugins.state_machine]\nmachine = "nowhere:sm"\n')
    result = run("state", "show", "--config", str(path), USER)
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("Error: ")
    assert f"{path}: plugins.state_machine.machine: cannot import 'nowhere'" in last
