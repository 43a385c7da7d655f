"""``wahost templates pull | diff | push | delete | status`` on a real configuration file and
template files, against the fake Graph API over HTTP (the command runs in a thread with its
own event loop, as from a shell)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from wahost.cli import cli_group
from wahost.testing import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, TEST_TOKEN, FakeGraph

WABA = "102290129340398"

CONFIG = """
[whatsapp]
phone_number_id = "{pnid}"
waba_id = "{waba}"
token = "${{WHATSAPP_TOKEN}}"
app_secret = "${{WHATSAPP_APP_SECRET}}"
verify_token = "${{WHATSAPP_VERIFY_TOKEN}}"
graph_url = "{graph}"

[queue]
path = "{db}"

[plugins]
enabled = ["wahost-templates"]
"""

ORDER = """
category = "UTILITY"

[[languages.en_US.components]]
type = "BODY"
text = "Hi {{1}}, your order {{2}} ships today."
example = { body_text = [["Pablo", "A-17"]] }

[[languages.en_US.components]]
type = "BUTTONS"
buttons = [{ type = "QUICK_REPLY", text = "Track" }]

[[languages.es.components]]
type = "body"
text = "Hola {{1}}, tu pedido {{2}} sale hoy."
example = { body_text = [["Pablo", "A-17"]] }

[[languages.es.components]]
type = "buttons"
buttons = [{ type = "quick_reply", text = "Seguir" }]
"""


@pytest.fixture(autouse=True)
def _no_logging_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    # The command would configure the process's logging for the test runner's streams.
    monkeypatch.setattr("wahost.commands.configure_command_logging", lambda config: None)


def write_config(tmp_path: Path, graph: FakeGraph, waba: str = WABA) -> Path:
    path = tmp_path / "wahost.toml"
    path.write_text(
        CONFIG.format(
            pnid=TEST_PHONE_NUMBER_ID,
            waba=waba,
            graph=graph.url,
            db=tmp_path / "wahost.db",
        )
    )
    (tmp_path / "templates").mkdir(exist_ok=True)
    return path


async def wahost(*args: str) -> Result:
    env = {
        "WHATSAPP_TOKEN": TEST_TOKEN,
        "WHATSAPP_APP_SECRET": TEST_APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": "verify-me",
        "WAHOST_PLUGINS": "wahost-templates",
    }
    return await asyncio.to_thread(CliRunner().invoke, cli_group(), list(args), env=env)


def writes(graph: FakeGraph) -> list[Any]:
    return [r for r in graph.requests if r.method in ("POST", "DELETE")]


async def test_push_creates_each_language_then_a_second_push_changes_nothing(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    config = str(write_config(tmp_path, fake_graph))
    (tmp_path / "templates" / "order_update.toml").write_text(ORDER)

    diff = await wahost("templates", "diff", "--config", config, "--exit-code")
    assert diff.exit_code == 1, diff.output
    assert diff.output == "+ order_update en_US: create\n+ order_update es: create\n"

    pushed = await wahost("templates", "push", "--config", config)
    assert pushed.exit_code == 0, pushed.output
    assert pushed.output.splitlines() == [
        "+ order_update en_US: create",
        "+ order_update es: create",
        "order_update en_US: PENDING",
        "order_update es: PENDING",
        "pushed 2 change(s)",
    ]
    [first, second] = writes(fake_graph)
    assert first.path == f"/v24.0/{WABA}/message_templates"
    assert first.json == {
        "name": "order_update",
        "language": "en_US",
        "category": "UTILITY",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, your order {{2}} ships today.",
                "example": {"body_text": [["Pablo", "A-17"]]},
            },
            {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Track"}]},
        ],
    }
    assert second.json["language"] == "es"

    again = await wahost("templates", "push", "--config", config)
    assert again.exit_code == 0, again.output
    assert again.output == "nothing to push: the live templates match the files\n"
    assert len(writes(fake_graph)) == 2
    snapshot = json.loads((tmp_path / "templates" / ".pulled.json").read_text())
    assert {(t["name"], t["language"]) for t in snapshot["templates"]} == {
        ("order_update", "en_US"),
        ("order_update", "es"),
    }


async def test_push_edits_only_the_language_that_differs_once_reviewed(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    config = str(write_config(tmp_path, fake_graph))
    path = tmp_path / "templates" / "order_update.toml"
    path.write_text(ORDER)
    assert (await wahost("templates", "push", "--config", config)).exit_code == 0
    en = fake_graph.template("order_update", "en_US")
    assert en is not None

    path.write_text(ORDER.replace('text = "Track"', 'text = "Track it"'))
    blocked = await wahost("templates", "push", "--config", config)
    assert blocked.exit_code == 1
    assert blocked.output.splitlines()[0] == (
        "! order_update en_US: cannot push: PENDING templates cannot be edited; wait for the review"
    )

    fake_graph.review_template(en.id, "REJECTED", reason="INVALID_FORMAT")
    status = await wahost("templates", "status", "--config", config)
    assert "order_update en_US: REJECTED (INVALID_FORMAT)" in status.output.splitlines()

    before = len(writes(fake_graph))
    edited = await wahost("templates", "push", "--config", config)
    assert edited.exit_code == 0, edited.output
    assert edited.output.splitlines()[0] == "~ order_update en_US: edit components"
    [edit] = writes(fake_graph)[before:]
    assert edit.path == f"/v24.0/{en.id}"
    assert edit.json["components"][1] == {
        "type": "BUTTONS",
        "buttons": [{"type": "QUICK_REPLY", "text": "Track it"}],
    }
    assert "category" not in edit.json
    assert (await wahost("templates", "push", "--config", config)).output.startswith("nothing")


async def test_push_wait_follows_the_review(tmp_path: Path, fake_graph: FakeGraph) -> None:
    config = str(write_config(tmp_path, fake_graph))
    (tmp_path / "templates" / "order_update.toml").write_text(ORDER)
    running = asyncio.ensure_future(
        wahost("templates", "push", "--config", config, "--wait", "--interval", "0.05")
    )
    while len(fake_graph.message_templates) < 2:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    assert not running.done()
    for template in list(fake_graph.message_templates.values()):
        fake_graph.review_template(template.id, "APPROVED")
    result = await asyncio.wait_for(running, 10)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2:] == [
        "order_update en_US: APPROVED",
        "order_update es: APPROVED",
        "pushed 2 change(s)",
    ]


async def test_pull_writes_files_that_push_nothing(tmp_path: Path, fake_graph: FakeGraph) -> None:
    config = str(write_config(tmp_path, fake_graph))
    fake_graph.add_template(
        WABA,
        {
            "name": "welcome_back",
            "language": "en_US",
            "category": "MARKETING",
            "parameter_format": "named",
            "components": [
                {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://x"]}},
                {
                    "type": "BODY",
                    "text": "Welcome back {{first_name}}!",
                    "example": {
                        "body_text_named_params": [{"param_name": "first_name", "example": "Al"}]
                    },
                },
            ],
        },
    )
    pulled = await wahost("templates", "pull", "--config", config)
    assert pulled.exit_code == 0, pulled.output
    written = tmp_path / "templates" / "welcome_back.json"
    assert pulled.output.splitlines() == ["welcome_back en_US: APPROVED", f"wrote {written}"]
    declared = json.loads(written.read_text())
    assert declared["category"] == "MARKETING"
    assert declared["parameter_format"] == "named"
    assert declared["languages"]["en_US"]["components"][1]["text"] == (
        "Welcome back {{first_name}}!"
    )
    diff = await wahost("templates", "diff", "--config", config)
    assert diff.output == "no changes: the live templates match the files\n"


async def test_delete_and_what_is_refused(tmp_path: Path, fake_graph: FakeGraph) -> None:
    config = str(write_config(tmp_path, fake_graph))
    (tmp_path / "templates" / "order_update.toml").write_text(ORDER)
    await wahost("templates", "push", "--config", config)

    deleted = await wahost("templates", "delete", "order_update", "--language", "es", "-c", config)
    assert deleted.exit_code == 0, deleted.output
    assert deleted.output == "deleted order_update es\n"
    assert fake_graph.template("order_update", "es") is None
    assert fake_graph.template("order_update", "en_US") is not None
    assert writes(fake_graph)[-1].params["name"] == "order_update"

    missing = await wahost("templates", "delete", "nope", "-c", config)
    assert missing.exit_code == 1
    assert f"no template nope in WhatsApp Business Account {WABA}" in missing.output

    bad = tmp_path / "templates" / "bad_one.toml"
    bad.write_text(ORDER.replace('text = "Track"', 'text = "' + "x" * 26 + '"'))
    refused = await wahost("templates", "push", "-c", config)
    assert refused.exit_code == 1
    assert (
        f"{bad}: languages.en_US.components[1].buttons[0].text: at most 25 characters (got 26)"
        in refused.output
    )

    no_waba = str(write_config(tmp_path, fake_graph, waba=""))
    unset = await wahost("templates", "status", "-c", no_waba)
    assert unset.exit_code == 1
    assert "whatsapp.waba_id is not set" in unset.output
