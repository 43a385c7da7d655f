"""``wahost profile pull | diff | push`` on a real configuration file, against the fake Graph
API (the command runs in a thread with its own event loop, as from a shell)."""

from __future__ import annotations

import asyncio
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from wahost.cli import cli_group
from wahost.testing import (
    TEST_APP_SECRET,
    TEST_PHONE_NUMBER_ID,
    TEST_TOKEN,
    FakeGraph,
    load_fixture,
)

PNID = TEST_PHONE_NUMBER_ID

CONFIG = """
[whatsapp]
phone_number_id = "{pnid}"
token = "${{WHATSAPP_TOKEN}}"
app_secret = "{secret}"
verify_token = "verify-me"
graph_url = "{graph}"

[queue]
path = "{db}"

[plugins]
enabled = ["wahost-profile"]

[plugins.profile]
enable_welcome_message = true
prompts = ["Book a table", "Opening hours"]
apply_on_start = false
about = "Pizza since 1990"
{extra}
[[plugins.profile.commands]]
command_name = "menu"
command_description = "Show the menu"
"""


@pytest.fixture(autouse=True)
def _no_logging_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    # The command would configure the process's logging for the test runner's streams.
    monkeypatch.setattr("wahost.commands.configure_command_logging", lambda config: None)


def write_config(tmp_path: Path, graph: FakeGraph, extra: str = "", name: str = "menu") -> Path:
    path = tmp_path / "wahost.toml"
    text = CONFIG.format(
        pnid=PNID, secret=TEST_APP_SECRET, graph=graph.url, db=tmp_path / "wahost.db", extra=extra
    )
    path.write_text(text.replace('command_name = "menu"', f'command_name = "{name}"'))
    return path


async def wahost(*args: str) -> Result:
    env = {"WHATSAPP_TOKEN": TEST_TOKEN, "WAHOST_PLUGINS": "wahost-profile"}
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli_group(), list(args), env=env)


def posts(graph: FakeGraph) -> list[Any]:
    return [r for r in graph.requests if r.method == "POST"]


async def test_diff_push_then_nothing_to_push(tmp_path: Path, fake_graph: FakeGraph) -> None:
    path = str(write_config(tmp_path, fake_graph))

    diff = await wahost("profile", "diff", "--config", path, "--exit-code")
    assert diff.exit_code == 1, diff.output
    assert diff.output == (
        "conversational_automation:\n"
        "  enable_welcome_message: false -> true\n"
        "  commands:\n"
        "    + /menu: Show the menu\n"
        "  prompts:\n"
        '    + "Book a table"\n'
        '    + "Opening hours"\n'
        "whatsapp_business_profile:\n"
        '  about: "" -> "Pizza since 1990"\n'
    )
    assert not posts(fake_graph)

    push = await wahost("profile", "push", "--config", path)
    assert push.exit_code == 0, push.output
    assert push.output.endswith("pushed 4 change(s)\n")
    automation, profile = posts(fake_graph)
    assert automation.json == {
        "enable_welcome_message": True,
        "commands": [{"command_name": "menu", "command_description": "Show the menu"}],
        "prompts": ["Book a table", "Opening hours"],
    }
    assert profile.json == {"messaging_product": "whatsapp", "about": "Pizza since 1990"}

    before = len(fake_graph.requests)
    again = await wahost("profile", "push", "--config", path)
    assert again.exit_code == 0, again.output
    assert again.output == "nothing to push: the live settings match the configuration\n"
    assert [r.method for r in fake_graph.requests[before:]] == ["GET", "GET"]

    same = await wahost("profile", "diff", "--config", path, "--exit-code")
    assert same.exit_code == 0
    assert same.output == "no changes: the live settings match the configuration\n"


async def test_pull_prints_the_live_settings_as_toml(tmp_path: Path, fake_graph: FakeGraph) -> None:
    live = json.loads(load_fixture("conversational_automation_get_response.json"))
    fake_graph.conversational_automation[PNID] = live["conversational_automation"]
    result = await wahost("profile", "pull", "--config", str(write_config(tmp_path, fake_graph)))
    assert result.exit_code == 0, result.output
    table = tomllib.loads(result.output)["plugins"]["profile"]
    assert table == {
        "enable_welcome_message": True,
        "prompts": ["Find the best hotels in the area", "Find deals on rental cars"],
        "commands": [
            {"command_name": "tickets", "command_description": "Book flight tickets"},
            {"command_name": "hotel", "command_description": "Book hotel"},
        ],
    }
    assert not posts(fake_graph)


async def test_another_phone_number(tmp_path: Path, fake_graph: FakeGraph) -> None:
    path = str(write_config(tmp_path, fake_graph))
    result = await wahost("profile", "push", "--config", path, "--phone-number-id", "999")
    assert result.exit_code == 0, result.output
    assert {r.path.split("/")[2] for r in fake_graph.requests} == {"999"}
    assert "999" in fake_graph.conversational_automation


async def test_a_limit_stops_the_commands_and_wahost_check(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    path = write_config(tmp_path, fake_graph, name="m" * 40)
    expected = (
        f"{path}: plugins.profile.commands[0].command_name: expected at most 32 characters, got 40"
    )
    for command in (["profile", "push"], ["profile", "pull"], ["check"]):
        result = await wahost(*command, "--config", str(path))
        assert result.exit_code == 1
        assert expected in result.output
    assert fake_graph.requests == []


async def test_a_graph_error_is_reported(tmp_path: Path, fake_graph: FakeGraph) -> None:
    fake_graph.fail_next(1, code=100, path_contains="whatsapp_business_profile")
    result = await wahost("profile", "push", "--config", str(write_config(tmp_path, fake_graph)))
    assert result.exit_code == 1
    assert "Error: InvalidParameterError" in result.output


async def test_the_plugin_must_be_enabled(tmp_path: Path, fake_graph: FakeGraph) -> None:
    path = write_config(tmp_path, fake_graph)
    text = path.read_text()
    enabled = text[: text.index("[plugins.profile]")].replace("wahost-profile", "another-one")
    path.write_text(enabled)
    env = {"WHATSAPP_TOKEN": TEST_TOKEN, "WAHOST_PLUGINS": None}
    result = await asyncio.to_thread(
        CliRunner().invoke, cli_group(), ["profile", "pull", "--config", str(path)], env=env
    )
    assert result.exit_code == 1, result.output
    assert "the wahost-profile plugin is not enabled" in result.output


async def test_picture_is_uploaded_and_set_as_the_profile_picture(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    picture = tmp_path / "logo.jpg"
    picture.write_bytes(b"\xff\xd8\xff\xe0 a jpeg's bytes \xff\xd9")
    no_app = await wahost(
        "profile", "picture", "--config", str(write_config(tmp_path, fake_graph)), str(picture)
    )
    assert no_app.exit_code == 1
    assert "whatsapp.app_id: set it to your Meta app's ID" in no_app.output
    assert not posts(fake_graph)

    path = write_config(tmp_path, fake_graph)
    path.write_text(path.read_text().replace("[whatsapp]\n", '[whatsapp]\napp_id = "1234567890"\n'))
    done = await wahost("profile", "picture", "--config", str(path), str(picture))
    assert done.exit_code == 0, done.output
    assert done.output == f"profile picture set from {picture}\n"
    opened, stored, profile = posts(fake_graph)
    assert opened.path.endswith("/1234567890/uploads")
    assert opened.params == {
        "file_name": "logo.jpg",
        "file_length": str(len(picture.read_bytes())),
        "file_type": "image/jpeg",
    }
    assert stored.headers["file_offset"] == "0" and stored.body == picture.read_bytes()
    [(handle, uploaded)] = fake_graph.uploads.items()
    assert uploaded.data == picture.read_bytes()
    assert profile.json == {"messaging_product": "whatsapp", "profile_picture_handle": handle}
    assert fake_graph.business_profiles[PNID]["profile_picture_handle"] == handle


async def test_picture_refuses_a_type_meta_does_not_take(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    gif = tmp_path / "logo.gif"
    gif.write_bytes(b"GIF89a")
    result = await wahost(
        "profile", "picture", "--config", str(write_config(tmp_path, fake_graph)), str(gif)
    )
    assert result.exit_code == 2
    assert "must be a .jpg, .jpeg or .png file" in result.output
    assert fake_graph.requests == []
