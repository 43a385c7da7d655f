"""Sends checked against the template's last pulled definition: a snapshot saved by a real
``wahost templates pull`` against the fake Graph API, then sends that fit or do not."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import wahost_templates
from click.testing import CliRunner
from wahost_templates import TemplateCatalog, TemplateSendError, checked

from wahost.cli import cli_group
from wahost.outbound import (
    Document,
    Image,
    Template,
    TemplateBody,
    TemplateButton,
    TemplateHeader,
    TextParameter,
)
from wahost.testing import TEST_APP_SECRET, TEST_PHONE_NUMBER_ID, TEST_TOKEN, FakeGraph
from wahost.testing.harness import BotHarness

WABA = "102290129340398"

NAMED = {
    "name": "order_update",
    "language": "en_US",
    "category": "UTILITY",
    "parameter_format": "named",
    "components": [
        {"type": "HEADER", "format": "TEXT", "text": "Order {{order_id}}"},
        {"type": "BODY", "text": "Hi {{first_name}}, it ships {{day}}."},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Track"},
                {"type": "URL", "text": "Open", "url": "https://shop.example/o/{{1}}"},
                {"type": "URL", "text": "Help", "url": "https://shop.example/help"},
            ],
        },
    ],
}
POSITIONAL = {
    "name": "invoice",
    "language": "es",
    "category": "UTILITY",
    "components": [
        {"type": "HEADER", "format": "DOCUMENT"},
        {"type": "BODY", "text": "Hola {{1}}, tu factura de {{2}}."},
    ],
}


@pytest.fixture(autouse=True)
def _no_logging_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("wahost.commands.configure_command_logging", lambda config: None)


async def pull(tmp_path: Path, graph: FakeGraph) -> Path:
    """Run a real ``wahost templates pull`` and return the templates folder."""
    config = tmp_path / "wahost.toml"
    config.write_text(
        f'[whatsapp]\nphone_number_id = "{TEST_PHONE_NUMBER_ID}"\nwaba_id = "{WABA}"\n'
        'token = "${WHATSAPP_TOKEN}"\napp_secret = "${WHATSAPP_APP_SECRET}"\n'
        f'verify_token = "${{WHATSAPP_VERIFY_TOKEN}}"\ngraph_url = "{graph.url}"\n'
        f'[queue]\npath = "{tmp_path / "cli.db"}"\n[plugins]\nenabled = ["wahost-templates"]\n'
    )
    env = {
        "WHATSAPP_TOKEN": TEST_TOKEN,
        "WHATSAPP_APP_SECRET": TEST_APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": "verify-me",
        "WAHOST_PLUGINS": "wahost-templates",
    }
    args = ["templates", "pull", "--config", str(config)]
    result = await asyncio.to_thread(CliRunner().invoke, cli_group(), args, env=env)
    assert result.exit_code == 0, result.output
    return tmp_path / "templates"


def good_named() -> Template:
    return Template(
        "order_update",
        "en_US",
        components=[
            TemplateHeader(TextParameter("A-17", parameter_name="order_id")),
            TemplateBody.named(first_name="Pablo", day="today"),
            TemplateButton.quick_reply(0, "TRACK"),
            TemplateButton.url(1, "A-17"),
        ],
    )


def error_of(catalog: TemplateCatalog, template: Template) -> str:
    with pytest.raises(TemplateSendError) as caught:
        catalog.check(template)
    return str(caught.value)


async def test_sends_are_checked_against_the_pulled_definitions(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    fake_graph.add_template(WABA, NAMED)
    fake_graph.add_template(WABA, POSITIONAL)
    catalog = TemplateCatalog(await pull(tmp_path, fake_graph))

    catalog.check(good_named())
    catalog.check(
        Template("invoice", "es", components=[
            TemplateHeader(Document(id="1234", filename="f.pdf")),
            TemplateBody.positional("Pablo", "mayo"),
        ])
    )  # fmt: skip

    typo = Template("order_update", "en_US", components=[
        TemplateHeader(TextParameter("A-17", parameter_name="order_id")),
        TemplateBody.named(frist_name="Pablo", day="today"),
    ])  # fmt: skip
    assert error_of(catalog, typo) == (
        "components[1].parameters[0].parameter_name: 'frist_name' is not a parameter of the "
        "body of order_update (en_US); did you mean 'first_name'?"
    )
    assert error_of(catalog, Template("order_updates", "en_US")) == (
        "name: no template 'order_updates' at the last pull; did you mean 'order_update'?"
    )
    assert error_of(catalog, Template("order_update", "fr")) == (
        "language: order_update has no fr at the last pull (it has en_US)"
    )
    missing_header = Template("invoice", "es", components=[TemplateBody.positional("a", "b")])
    assert error_of(catalog, missing_header) == (
        "components: the header of invoice (es) needs a document"
    )
    wrong_media = Template("invoice", "es", components=[
        TemplateHeader(Image(id="1")), TemplateBody.positional("a", "b"),
    ])  # fmt: skip
    assert error_of(catalog, wrong_media) == (
        "components[0].parameter: the header of invoice (es) is DOCUMENT: send a document"
    )
    one_short = Template("invoice", "es", components=[
        TemplateHeader(Document(id="1")), TemplateBody.positional("a"),
    ])  # fmt: skip
    assert error_of(catalog, one_short) == (
        "components[1].parameters: the body of invoice (es) takes 2 parameter(s), got 1"
    )
    positional_for_named = Template("order_update", "en_US", components=[
        TemplateHeader(TextParameter("A-17", parameter_name="order_id")),
        TemplateBody.positional("Pablo", "today"),
    ])  # fmt: skip
    assert error_of(catalog, positional_for_named).startswith(
        "components[1].parameters[0]: the body of order_update (en_US) has named parameters"
    )

    def with_button(button: TemplateButton) -> Template:
        return Template("order_update", "en_US", components=[*good_named().components[:2], button])

    assert error_of(catalog, with_button(TemplateButton.url(0, "x"))) == (
        "components[2].sub_type: button 0 of order_update (en_US) is QUICK_REPLY, not url"
    )
    assert error_of(catalog, with_button(TemplateButton.url(2, "x"))) == (
        "components[2]: the URL of button 2 of order_update (en_US) has no parameter to fill"
    )
    assert error_of(catalog, with_button(TemplateButton.quick_reply(3, "x"))) == (
        "components[2].index: order_update (en_US) has 3 button(s), no index 3"
    )


async def test_checked_reads_the_folder_of_the_config_and_a_new_pull(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    directory = await pull(tmp_path, fake_graph)  # nothing held yet: an empty snapshot
    async with BotHarness(
        tmp_path, plugins=[wahost_templates], graph=fake_graph, worker=False
    ) as bot:
        assert bot.host.config.base_dir == tmp_path  # [plugins.templates] dir is beside it
        with pytest.raises(TemplateSendError, match="no templates pulled yet"):
            checked(bot.host, good_named())
        fake_graph.add_template(WABA, NAMED)
        await pull(tmp_path, fake_graph)
        # The snapshot changed on disk: the catalog rereads it.
        os.utime(directory / ".pulled.json", (1, 2))
        assert checked(bot.host, good_named()) is not None


async def test_every_template_send_is_checked_once_templates_were_pulled(
    tmp_path: Path, fake_graph: FakeGraph
) -> None:
    typo = Template(
        "order_update",
        "en_US",
        components=[
            TemplateHeader(TextParameter("A-17", parameter_name="order_id")),
            TemplateBody.named(frist_name="Pablo", day="today"),
            TemplateButton.quick_reply(0, "TRACK"),
            TemplateButton.url(1, "A-17"),
        ],
    )
    async with BotHarness(
        tmp_path, plugins=[wahost_templates], graph=fake_graph, worker=False
    ) as bot:
        # Never pulled (templates made in WhatsApp Manager): sends are not checked.
        await bot.host.send("16505551234", typo)
        assert len(fake_graph.sent) == 1
    fake_graph.add_template(WABA, NAMED)
    await pull(tmp_path, fake_graph)
    async with BotHarness(
        tmp_path, plugins=[wahost_templates], graph=fake_graph, worker=False
    ) as bot:
        # No checked() needed: the typo is a local error, and nothing reaches the API.
        with pytest.raises(TemplateSendError, match="did you mean 'first_name'"):
            await bot.host.send("16505551234", typo)
        await bot.host.send("16505551234", good_named())
    assert len(fake_graph.sent) == 2
    config = {"plugins": {"templates": {"check_sends": False}}}
    async with BotHarness(
        tmp_path, plugins=[wahost_templates], graph=fake_graph, worker=False, config=config
    ) as bot:
        await bot.host.send("16505551234", typo)  # checked only through checked()
    assert len(fake_graph.sent) == 3
