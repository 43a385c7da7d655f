"""Every shipped fixture through a real host: the typed facts a bot author reads.

Each fixture is posted signed to a BotHarness (loopback HTTP → queue → worker) and a
recording plugin keeps what each hook received, so these tests check the decoded models the
way a plugin sees them, not the decoder alone.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from wahost import hookimpl
from wahost.models import (
    MESSAGE_TYPES,
    AccountUpdate,
    DecodeError,
    Event,
    LocationMessage,
    Message,
    OrderMessage,
    Status,
    TextMessage,
    WebhookError,
)
from wahost.testing import BotHarness
from wahost.testing.harness import FIXTURES
from wahost.units import Unit


class Recorder:
    """Keeps every update a hook received, in order."""

    def __init__(self) -> None:
        self.updates: list[Message | Status | Event | WebhookError] = []
        self.errors: list[tuple[str, str, BaseException, Unit | None]] = []

    @hookimpl
    async def on_message(self, message: Message) -> bool:
        self.updates.append(message)
        return True

    @hookimpl
    async def on_status(self, status: Status) -> None:
        self.updates.append(status)

    @hookimpl
    async def on_event(self, event: Event) -> None:
        self.updates.append(event)

    @hookimpl
    async def on_webhook_error(self, error: WebhookError) -> None:
        self.updates.append(error)

    @hookimpl
    async def on_plugin_error(
        self, plugin: str, hook: str, exc: BaseException, unit: Unit | None
    ) -> None:
        self.errors.append((plugin, hook, exc, unit))


async def received(tmp_path: Path, *names: str) -> dict[str, list[Any]]:
    """What the recording plugin got for each fixture, posted one at a time."""
    recorder = Recorder()
    seen: dict[str, list[Any]] = {}
    async with BotHarness(tmp_path, plugins=[recorder]) as bot:
        for name in names:
            assert (await bot.post_fixture(name)).status_code == 200, name
            await bot.idle()
            seen[name] = list(recorder.updates)
            recorder.updates.clear()
    return seen


async def test_group_message_and_group_status_carry_the_group_and_participant(
    tmp_path: Path,
) -> None:
    seen = await received(tmp_path, "meta_groups_messaging.json", "pywa_message_status_group.json")
    [message] = seen["meta_groups_messaging.json"]
    assert isinstance(message, TextMessage)
    assert message.group_id == "<GROUP_ID>" and message.in_group
    assert message.sender == "<GROUP_PARTICIPANT_PHONE_NUMBER>"
    assert message.text.body == "<MESSAGE_BODY>"
    [status] = seen["pywa_message_status_group.json"]
    assert isinstance(status, Status)
    assert status.group_id == "fowefinoewcnw"
    assert status.participant == "<GROUP_PARTICIPANT_USER_PHONE_NUMBER>"
    assert status.recipient_participant_user_id == "US.123456"
    assert status.recipient_participant_parent_user_id == "<PARENT_BSUID>"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def first_message(body: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = body["entry"][0]["changes"][0]["value"]["messages"][0]
    return found


def first_leaf(node: Any, path: str) -> tuple[str, list[Any] | dict[str, Any], Any] | None:
    """The first string, number or boolean under ``node``: (its path, its container, key)."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        where = f"{path}.{key}" if isinstance(node, dict) else f"{path}[{key}]"
        if isinstance(value, dict | list):
            found = first_leaf(value, where)
            if found is not None:
                return found
        elif value is not None:
            return where, node, key
    return None


# One fixture per message type wahost models: every type gets a leaf of the wrong type.
TYPED_FIXTURES = {
    "text": "inbound_text.json",
    "image": "inbound_image.json",
    "audio": "inbound_audio_voice.json",
    "video": "inbound_video.json",
    "document": "inbound_document.json",
    "sticker": "inbound_sticker.json",
    "location": "inbound_location.json",
    "contacts": "inbound_contacts.json",
    "interactive": "inbound_interactive_button_reply.json",
    "button": "inbound_button.json",
    "reaction": "inbound_reaction.json",
    "order": "inbound_order.json",
    "system": "inbound_system.json",
    "request_welcome": "inbound_request_welcome.json",
    "unsupported": "inbound_unsupported.json",
    "revoke": "pywa_deleted_message_revoke.json",
}


def test_every_modelled_message_type_has_a_tolerance_case() -> None:
    assert set(TYPED_FIXTURES) == set(MESSAGE_TYPES) - {"unknown"}


@pytest.mark.parametrize("message_type", sorted(TYPED_FIXTURES))
async def test_a_mistyped_leaf_in_any_message_type_is_still_dispatched(
    tmp_path: Path, message_type: str
) -> None:
    body = fixture(TYPED_FIXTURES[message_type])
    item = first_message(body)
    assert item["type"] == message_type
    # The type's own object where there is one, else the message itself (request_welcome).
    target = item.get(message_type, item)
    found = first_leaf(target, f"$.{message_type}" if message_type in item else "$")
    assert found is not None
    path, container, key = found
    if path == "$.id" or path == "$.from":  # keep the unit's key and user readable
        path, container, key = "$.timestamp", item, "timestamp"
    container[key] = {"not": ["what", "Meta", "documents"]}  # type: ignore[index]
    recorder = Recorder()
    async with BotHarness(tmp_path, plugins=[recorder]) as bot:
        assert (await bot.post(body)).status_code == 200
        await bot.idle()
    [message] = recorder.updates
    assert isinstance(message, Message) and message.type == message_type
    assert type(message) is MESSAGE_TYPES[message_type]
    assert message.degraded == (f"{path}: dropped",)
    assert message.raw == item  # the odd value is still there, as Meta sent it
    assert recorder.errors == []


async def test_numbers_sent_as_strings_are_coerced_losslessly(tmp_path: Path) -> None:
    location = fixture("inbound_location.json")
    first_message(location)["location"]["latitude"] = "37.4831"
    order = fixture("inbound_order.json")
    first_message(order)["id"] = "wamid.order"  # Meta's samples share one wamid
    first_message(order)["order"]["product_items"][0]["quantity"] = "2"
    first_message(order)["order"]["product_items"][0]["item_price"] = "10.5"
    recorder = Recorder()
    async with BotHarness(tmp_path, plugins=[recorder]) as bot:
        for body in (location, order):
            assert (await bot.post(body)).status_code == 200
        await bot.idle()
    at, bought = recorder.updates
    assert isinstance(at, LocationMessage) and at.location.latitude == 37.4831
    assert at.degraded == ("$.location.latitude: coerced",)
    assert isinstance(bought, OrderMessage)
    item = bought.order.product_items[0]
    assert (item.quantity, item.item_price) == (2, 10.5)
    assert bought.degraded == (
        "$.order.product_items[0].quantity: coerced",
        "$.order.product_items[0].item_price: coerced",
    )


async def test_odd_envelope_fields_never_cost_the_body(tmp_path: Path) -> None:
    text = fixture("inbound_text.json")
    text["entry"][0]["id"] = int(text["entry"][0]["id"])
    seen = await received(tmp_path, "meta_onboarding_1.json")
    [event] = seen["meta_onboarding_1.json"]
    assert isinstance(event, Event) and isinstance(event.value, AccountUpdate)
    assert event.value.event == "MM_LITE_TERMS_SIGNED"
    recorder = Recorder()
    async with BotHarness(tmp_path / "int-id", plugins=[recorder]) as bot:
        assert (await bot.post(text)).status_code == 200
        await bot.idle()
    [message] = recorder.updates
    assert isinstance(message, TextMessage)
    assert message.waba_id == str(text["entry"][0]["id"])


async def test_a_unit_with_nothing_usable_is_parked_and_reported(tmp_path: Path) -> None:
    body = fixture("inbound_text.json")
    value = body["entry"][0]["changes"][0]["value"]
    value["messages"] = [1, *value["messages"]]
    recorder = Recorder()
    async with BotHarness(tmp_path, plugins=[recorder]) as bot:
        assert (await bot.post(copy.deepcopy(body))).status_code == 200
        await bot.idle()
        assert (await bot.host.queue.stats()).dead == 1
    [message] = recorder.updates
    assert isinstance(message, TextMessage)  # the rest of the body is handled
    [(plugin, hook, exc, unit)] = recorder.errors
    assert (plugin, hook) == ("wahost", "decode_unit")
    assert isinstance(exc, DecodeError) and unit is not None and unit.kind == "message"
