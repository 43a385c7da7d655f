"""wahost.models: every webhook fixture decoded into typed models, plus the edge cases."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

import wahost.models as models
from wahost.models import (
    MESSAGE_TYPES,
    AccountUpdate,
    AudioMessage,
    ButtonMessage,
    ContactsMessage,
    ConversationCategory,
    DecodeError,
    DocumentMessage,
    Event,
    FlowEvent,
    ImageMessage,
    InteractiveMessage,
    LocationMessage,
    Message,
    OrderMessage,
    PricingModel,
    PricingType,
    ReactionMessage,
    RequestWelcomeMessage,
    RevokeMessage,
    Status,
    StatusKind,
    StickerMessage,
    SystemMessage,
    TemplateStatusUpdate,
    TextMessage,
    UnknownMessage,
    UnsupportedMessage,
    VideoMessage,
    WebhookError,
    decode_envelope,
    decode_message,
    decode_unit,
)
from wahost.testing.harness import FIXTURES
from wahost.units import Unit, split

PNID = "106540352242922"
WABA = "102290129340398"
SHEENA = "16505551234"


def webhook_fixtures() -> dict[str, Any]:
    """Every fixture that is a webhook body, found by content."""
    found = {}
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text())
        if isinstance(data, dict) and data.get("object") == "whatsapp_business_account":
            found[path.stem] = data
    return found


WEBHOOKS = webhook_fixtures()


def decoded(name: str) -> list[Message | Status | WebhookError | Event]:
    return [decode_unit(unit) for unit in split(json.dumps(WEBHOOKS[name]).encode())]


def one(name: str) -> Any:
    (update,) = decoded(name)
    return update


def message_unit(item: dict[str, Any], contacts: list[Any] | None = None) -> Unit:
    value: dict[str, Any] = {
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PNID},
        "messages": [item],
    }
    if contacts is not None:
        value["contacts"] = contacts
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "changes": [{"field": "messages", "value": value}]}],
    }
    (unit,) = split(json.dumps(body).encode())
    return unit


def decode_item(item: dict[str, Any], contacts: list[Any] | None = None) -> Any:
    return decode_unit(message_unit(item, contacts))


def decode_status(item: dict[str, Any]) -> Any:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "changes": [{"field": "messages", "value": {"statuses": [item]}}]}],
    }
    (unit,) = split(json.dumps(body).encode())
    return decode_unit(unit)


# -- every fixture ---------------------------------------------------------------------------


#: The payloads collected for issue 25 (Meta's examples, pywa's, composed ones) include group
#: chats and placeholders where these invariants differ; tests/test_models_typed.py checks them.
COLLECTED = ("meta_", "pywa_", "composed_")


@pytest.mark.parametrize("name", sorted(n for n in WEBHOOKS if not n.startswith(COLLECTED)))
def test_every_fixture_decodes(name: str) -> None:
    body = json.dumps(WEBHOOKS[name]).encode()
    for unit in split(body):
        update = decode_unit(unit)
        expected = {"message": Message, "status": Status, "error": WebhookError, "event": Event}
        assert isinstance(update, expected[unit.kind])
        assert not isinstance(update, UnknownMessage)
        if isinstance(update, Message | Status | WebhookError):
            assert update.phone_number_id == unit.phone_number_id
            assert update.waba_id
        if isinstance(update, Message):
            assert update.sender == unit.user
            assert unit.key == f"msg:{update.id}"
            assert update.time is not None
            assert MESSAGE_TYPES[update.type] is type(update)
        if isinstance(update, Status):
            assert update.recipient == unit.user
            assert unit.key == f"status:{update.id}:{update.status_raw}"
            assert update.status is not StatusKind.UNKNOWN
    assert len(decode_envelope(body).entry) >= 1


def test_text() -> None:
    message = one("inbound_text")
    assert isinstance(message, TextMessage)
    assert message.type == "text"
    assert message.text.body == "Does it come in another color?"
    assert message.id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert message.from_ == SHEENA
    assert message.sender == SHEENA
    assert message.timestamp == "1749416383"
    assert message.time == datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)
    assert message.phone_number_id == PNID
    assert message.display_phone_number == "15550783881"
    assert message.waba_id == WABA
    assert message.contact is not None
    assert message.contact.wa_id == SHEENA
    assert message.contact.name == "Sheena Nelson"
    assert message.context is None
    assert message.referral is None
    assert message.errors == []


def test_image() -> None:
    message = one("inbound_image")
    assert isinstance(message, ImageMessage)
    assert message.image.id == "1003383421387256"
    assert message.image.mime_type == "image/jpeg"
    assert message.image.caption == "Taj Mahal"
    assert message.image.sha256 == "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI="
    assert message.image.url is not None and message.image.url.startswith("https://lookaside")


def test_audio_voice_and_file() -> None:
    voice = one("inbound_audio_voice")
    assert isinstance(voice, AudioMessage)
    assert voice.audio.voice is True
    assert voice.audio.mime_type == "audio/ogg; codecs=opus"
    assert voice.audio.id == "1908647269898587"
    file = one("inbound_audio_file")
    assert isinstance(file, AudioMessage)
    assert file.audio.voice is False
    assert file.audio.mime_type == "audio/mpeg"
    assert file.context is not None and file.context.forwarded


def test_video_document_sticker() -> None:
    video = one("inbound_video")
    assert isinstance(video, VideoMessage)
    assert (video.video.id, video.video.mime_type) == ("731675419373506", "video/mp4")
    assert video.video.caption == "Timelapse of growth"
    document = one("inbound_document")
    assert isinstance(document, DocumentMessage)
    assert document.document.filename == "receipt.pdf"
    assert document.document.mime_type == "application/pdf"
    assert document.document.caption == "my receipt"
    sticker = one("inbound_sticker")
    assert isinstance(sticker, StickerMessage)
    assert sticker.sticker.animated is True
    assert sticker.sticker.mime_type == "image/webp"


def test_location() -> None:
    message = one("inbound_location")
    assert isinstance(message, LocationMessage)
    assert message.location.latitude == pytest.approx(37.44221496582)
    assert message.location.longitude == pytest.approx(-122.16165924072)
    assert message.location.name == "Philz Coffee"
    assert message.location.address == "101 Forest Ave, Palo Alto, CA 94301"


def test_contacts() -> None:
    message = one("inbound_contacts")
    assert isinstance(message, ContactsMessage)
    (card,) = message.contacts
    assert card.name is not None and card.name.formatted_name == "Barbara J. Johnson"
    assert card.org is not None and card.org.company == "Social Tsunami"
    assert [(p.phone, p.wa_id, p.type) for p in card.phones] == [
        ("+1 (415) 555-0829", "14125550829", "MOBILE")
    ]
    assert card.emails == [] and card.addresses == [] and card.birthday is None
    assert message.contact is not None and message.contact.wa_id == SHEENA  # the sender


def test_interactive_replies() -> None:
    button = one("inbound_interactive_button_reply")
    assert isinstance(button, InteractiveMessage) and button.interactive is not None
    assert button.interactive.type == "button_reply"
    assert button.interactive.button_reply is not None
    assert (button.interactive.button_reply.id, button.interactive.button_reply.title) == (
        "cancel-button",
        "Cancel",
    )
    assert button.reply_id == "cancel-button"
    assert button.context is not None and button.context.from_ == "15550783881"
    assert button.context.id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"

    listed = one("inbound_interactive_list_reply")
    assert isinstance(listed, InteractiveMessage) and listed.interactive is not None
    assert listed.interactive.list_reply is not None
    assert listed.interactive.list_reply.description == "Next Day to 2 Days"
    assert listed.reply_id == "priority_express"


def test_nfm_reply_decodes_response_json() -> None:
    message = one("inbound_interactive_nfm_reply")
    assert isinstance(message, InteractiveMessage) and message.interactive is not None
    reply = message.interactive.nfm_reply
    assert reply is not None
    assert (reply.name, reply.body) == ("flow", "Sent")
    assert isinstance(reply.response_json, str)
    assert reply.response == {
        "comment_text": "Comment Text",
        "delivery_rating": "4",
        "flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.",
        "purchase_rating": "2",
        "recommend_radio": "0",
        "cs_rating": "0",
    }
    assert message.reply_id is None


@pytest.mark.parametrize("response_json", ["{not json", "[1, 2]", '"text"', "", None])
def test_malformed_nfm_response_json_is_none(response_json: str | None) -> None:
    nfm: dict[str, Any] = {"name": "flow", "body": "Sent"}
    if response_json is not None:
        nfm["response_json"] = response_json
    item = {"id": "w", "from": "1", "type": "interactive"}
    item["interactive"] = {"type": "nfm_reply", "nfm_reply": nfm}  # type: ignore[assignment]
    message = decode_item(item)
    assert message.interactive.nfm_reply.response is None
    assert message.interactive.nfm_reply.response_json == response_json


def test_button() -> None:
    message = one("inbound_button")
    assert isinstance(message, ButtonMessage)
    assert (message.button.payload, message.button.text) == ("Unsubscribe", "Unsubscribe")
    assert message.context is not None and message.context.id is not None


def test_reaction_and_its_removal() -> None:
    reaction = one("inbound_reaction")
    assert isinstance(reaction, ReactionMessage)
    assert reaction.reaction.emoji == "\U0001f44d"
    assert reaction.reaction.message_id.startswith("wamid.")
    assert reaction.removed is False
    for name in ("inbound_reaction_removed", "inbound_reaction_removed_empty_emoji"):
        removed = one(name)
        assert isinstance(removed, ReactionMessage)
        assert removed.removed is True
        assert removed.reaction.removed is True
        assert removed.reaction.message_id.startswith("wamid.")
    assert one("inbound_reaction_removed").reaction.emoji is None
    assert one("inbound_reaction_removed_empty_emoji").reaction.emoji == ""


def test_order() -> None:
    message = one("inbound_order")
    assert isinstance(message, OrderMessage)
    assert message.order.catalog_id == "194836987003835"
    assert message.order.text == "Love these!"
    assert [
        (i.product_retailer_id, i.quantity, i.item_price, i.currency)
        for i in message.order.product_items
    ] == [("di9ozbzfi4", 2, 30.0, "USD"), ("nqryix03ez", 1, 25.0, "USD")]


def test_system_without_contacts() -> None:
    message = one("inbound_system")
    assert isinstance(message, SystemMessage)
    assert message.system.type == "user_changed_number"
    assert message.system.wa_id == "12195555358"
    assert message.system.body is not None and "changed from" in message.system.body
    assert message.contact is None
    assert message.sender == SHEENA


def test_unsupported_with_errors() -> None:
    message = one("inbound_unsupported")
    assert isinstance(message, UnsupportedMessage)
    assert message.unsupported is not None and message.unsupported.type == "edit"
    (error,) = message.errors
    assert (error.code, error.title) == (131051, "Message type unknown")
    assert error.details == "Message type is currently not supported."


def test_request_welcome() -> None:
    message = one("inbound_request_welcome")
    assert isinstance(message, RequestWelcomeMessage)
    assert message.type == "request_welcome"
    assert message.sender == SHEENA


def test_context_variants() -> None:
    reply = one("inbound_reply_context")
    assert reply.context.from_ == "15550783881"
    assert reply.context.id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MTE5MjVBOTE3MDk5QUVFM0YA"
    assert not reply.context.forwarded and not reply.context.frequently_forwarded
    forwarded = one("inbound_forwarded")
    assert forwarded.context.forwarded and not forwarded.context.frequently_forwarded
    assert forwarded.context.id is None and forwarded.context.from_ is None
    frequently = one("inbound_frequently_forwarded")
    assert frequently.context.frequently_forwarded and not frequently.context.forwarded
    product = one("inbound_referred_product")
    assert product.text.body == "Is this still available?"
    assert product.context.referred_product.catalog_id == "194836987003835"
    assert product.context.referred_product.product_retailer_id == "di9ozbzfi4"


def test_referral() -> None:
    message = one("inbound_referral")
    assert isinstance(message, TextMessage)
    referral = message.referral
    assert referral is not None
    assert referral.source_url == "https://fb.me/3cr4Wqqkv"
    assert referral.source_id == "120226305854810726"
    assert referral.source_type == "ad"
    assert referral.headline == "Chat with us"
    assert referral.media_type == "image"
    assert referral.ctwa_clid is not None and referral.ctwa_clid.startswith("Aff-")
    assert referral.welcome_message is not None
    assert referral.welcome_message.text == "Hi there! Let us know how we can help!"
    assert referral.video_url is None


# -- statuses --------------------------------------------------------------------------------


def test_status_sent_with_pricing() -> None:
    status = one("status_sent")
    assert isinstance(status, Status)
    assert status.status is StatusKind.SENT
    assert status.status_raw == "sent"
    assert status.recipient_id == SHEENA
    assert status.time == datetime.fromtimestamp(1750030073, tz=UTC)
    assert status.conversation is not None
    assert status.conversation.id == "72b14d6bd5407799e66f64d1b338e567"
    assert status.conversation.category is ConversationCategory.MARKETING
    assert status.conversation.expires == datetime.fromtimestamp(1750116480, tz=UTC)
    assert status.pricing is not None
    assert status.pricing.billable is True
    assert status.pricing.pricing_model is PricingModel.PMP
    assert status.pricing.type is PricingType.REGULAR
    assert status.pricing.category is ConversationCategory.MARKETING
    assert status.errors == []


def test_status_delivered_cbp_service() -> None:
    status = one("status_delivered")
    assert status.status is StatusKind.DELIVERED
    assert status.conversation.origin.type is ConversationCategory.SERVICE
    assert status.conversation.expires is None
    assert status.pricing.pricing_model is PricingModel.CBP
    assert status.pricing.type is PricingType.UNKNOWN  # CBP webhooks have no pricing.type
    assert status.pricing.type_raw is None
    assert status.pricing.category is ConversationCategory.SERVICE


def test_status_read_and_played_are_minimal() -> None:
    read, played = one("status_read"), one("status_played")
    assert read.status is StatusKind.READ
    assert played.status is StatusKind.PLAYED
    for status in (read, played):
        assert status.conversation is None and status.pricing is None
        assert status.recipient == SHEENA


def test_status_failed_with_error() -> None:
    status = one("status_failed")
    assert status.status is StatusKind.FAILED
    (error,) = status.errors
    assert error.code == 131049
    assert error.title == error.message
    assert error.details is not None and error.details.startswith("In order to maintain")
    assert error.href == "/documentation/business-messaging/whatsapp/support/error-codes"


def test_status_with_callback_data() -> None:
    status = one("status_with_callback_data")
    assert status.biz_opaque_callback_data == "order-7f3a9c;flow=checkout;step=confirm"
    assert status.pricing.category is ConversationCategory.UTILITY


@pytest.mark.parametrize(
    "raw, kind",
    [("deleted", StatusKind.UNKNOWN), ("warning", StatusKind.UNKNOWN), ("", StatusKind.UNKNOWN)],
)
def test_unknown_status_string_is_unknown_and_kept(raw: str, kind: StatusKind) -> None:
    item = {"id": "wamid.S", "status": raw, "timestamp": 1750000000, "recipient_id": "1"}
    status = decode_status(item)
    assert status.status is kind
    assert status.status_raw == raw
    assert status.time == datetime.fromtimestamp(1750000000, tz=UTC)


def test_new_enum_values_are_unknown() -> None:
    item = {
        "id": "wamid.S",
        "status": "sent",
        "recipient_user_id": "US.1",
        "conversation": {"id": "c", "origin": {"type": "marketing_lite_plus"}},
        "pricing": {"pricing_model": "XYZ", "type": "free_forever", "category": "new_one"},
    }
    status = decode_status(item)
    assert status.recipient == "US.1"
    assert status.conversation.category is ConversationCategory.UNKNOWN
    assert status.conversation.origin.type_raw == "marketing_lite_plus"
    assert status.pricing.pricing_model is PricingModel.UNKNOWN
    assert status.pricing.type is PricingType.UNKNOWN
    assert status.pricing.category is ConversationCategory.UNKNOWN
    assert status.pricing.category_raw == "new_one"


@pytest.mark.parametrize(
    "category",
    ["marketing_lite", "authentication_international", "referral_conversion", "authentication"],
)
def test_documented_categories(category: str) -> None:
    item = {
        "id": "w",
        "status": "sent",
        "pricing": {"category": category, "type": "free_entry_point"},
    }
    status = decode_status(item)
    assert status.pricing.category is ConversationCategory(category)
    assert status.pricing.type is PricingType.FREE_ENTRY_POINT


# -- value-level errors and events -----------------------------------------------------------


def test_webhook_error() -> None:
    error = one("webhook_value_errors")
    assert isinstance(error, WebhookError)
    assert (error.code, error.title, error.message) == (
        130429,
        "Rate limit hit",
        "Rate limit hit",
    )
    assert error.details is not None and error.details.startswith("Message failed to send")
    assert error.href == "/documentation/business-messaging/whatsapp/support/error-codes"
    assert (error.phone_number_id, error.waba_id) == (PNID, WABA)


def test_template_status_events() -> None:
    approved = one("template_status_update")
    assert isinstance(approved, Event)
    assert (approved.field, approved.waba_id, approved.time) == (
        "message_template_status_update",
        WABA,
        1751247548,
    )
    assert approved.phone_number_id == ""
    value = approved.value
    assert isinstance(value, TemplateStatusUpdate)
    assert value.event == "APPROVED"
    assert value.message_template_id == 1689556908129832
    assert (value.name, value.language, value.category, value.reason) == (
        "order_confirmation",
        "en-US",
        "UTILITY",
        "NONE",
    )
    assert approved.raw["message_template_name"] == "order_confirmation"

    rejected = one("template_status_update_rejected").value
    assert isinstance(rejected, TemplateStatusUpdate)
    assert (rejected.event, rejected.reason) == ("REJECTED", "INVALID_FORMAT")
    assert rejected.rejection_info is not None
    assert rejected.rejection_info.recommendation is not None


def test_flow_events() -> None:
    availability = one("flow_alert").value
    assert isinstance(availability, FlowEvent)
    assert (availability.event, availability.flow_id) == ("ENDPOINT_AVAILABILITY", "12345678")
    assert (availability.availability, availability.threshold) == (75, 90)
    assert availability.alert_state == "ACTIVATED"

    rate = one("flow_alert_endpoint_error_rate").value
    assert isinstance(rate, FlowEvent)
    assert (rate.event, rate.error_rate, rate.threshold) == ("ENDPOINT_ERROR_RATE", 14.28, 10)
    assert [(e.error_type, e.error_rate, e.error_count) for e in rate.errors] == [
        ("CAPABILITY_ERROR", 66.66, 2),
        ("TIMEOUT", 33.33, 1),
    ]

    latency = one("flow_alert_endpoint_latency").value
    assert isinstance(latency, FlowEvent)
    assert (latency.p50_latency, latency.p90_latency, latency.requests_count) == (500, 8000, 34)
    assert latency.threshold == 7000

    change = one("flow_status_change")
    assert isinstance(change.value, FlowEvent)
    assert (change.value.old_status, change.value.new_status) == ("DRAFT", "PUBLISHED")
    assert change.value.flow_id == "6627390910605886"
    assert change.waba_id == "644600416743275"


def test_account_update() -> None:
    event = one("account_update_violation")
    assert isinstance(event.value, AccountUpdate)
    assert event.value.event == "ACCOUNT_VIOLATION"
    assert event.value.violation_info is not None
    assert event.value.violation_info.violation_type == "ADULT"


def decode_event(field: str, value: Any) -> Any:
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA, "time": 1, "changes": [{"field": field, "value": value}]}],
    }
    (unit,) = split(json.dumps(body).encode())
    return decode_unit(unit)


def test_unknown_field_event_keeps_the_raw_dict() -> None:
    value = {"metadata": {"phone_number_id": PNID}, "anything": [1, {"x": None}]}
    event = decode_event("automatic_events", value)
    assert isinstance(event, Event)
    assert event.value == value == event.raw
    assert event.phone_number_id == PNID


def test_known_field_with_an_odd_leaf_stays_typed_without_it() -> None:
    value = {"event": "APPROVED", "message_template_id": "not-an-int"}
    event = decode_event("message_template_status_update", value)
    assert isinstance(event.value, TemplateStatusUpdate)
    assert (event.value.event, event.value.message_template_id) == ("APPROVED", None)
    assert event.degraded == ("$.message_template_id: dropped",)
    assert event.raw == value


def test_empty_messages_change_is_an_event() -> None:
    event = decode_event("messages", {"metadata": {"phone_number_id": PNID}})
    assert isinstance(event, Event)
    assert (event.field, event.phone_number_id) == ("messages", PNID)


@pytest.mark.parametrize("value", [None, 1, "x", [1]])
def test_event_whose_value_is_not_an_object_is_undecodable(value: Any) -> None:
    with pytest.raises(DecodeError):
        decode_event("brand_new_field", value)


# -- edge cases of messages ------------------------------------------------------------------


def test_interactive_without_interactive_object() -> None:
    # pywa's real-traffic fixture interactive_message_with_err (reference/cloudapi.md §3).
    item = {
        "from": "1",
        "id": "wamid.I",
        "timestamp": "1750000000",
        "type": "interactive",
        "errors": [{"code": 131051, "title": "Message type unknown"}],
    }
    message = decode_item(item)
    assert isinstance(message, InteractiveMessage)
    assert message.interactive is None
    assert message.reply_id is None
    assert message.errors[0].code == 131051


def test_unknown_type_keeps_the_raw_item() -> None:
    item = {
        "from": "1",
        "id": "wamid.P",
        "timestamp": "1750000000",
        "type": "poll",
        "poll": {"question": "Lunch?", "options": ["a", "b"]},
    }
    message = decode_item(item)
    assert isinstance(message, UnknownMessage)
    assert message.type == "poll"
    assert message.raw == item
    assert message.sender == "1"
    assert message.id == "wamid.P"


def test_type_unknown_is_unsupported() -> None:
    item = {"from": "1", "id": "w", "type": "unknown", "errors": [{"code": 131051}]}
    message = decode_item(item)
    assert isinstance(message, UnsupportedMessage)
    assert message.unsupported is None
    assert message.type == "unknown"


def test_missing_type_is_unknown() -> None:
    message = decode_item({"from": "1", "id": "w"})
    assert isinstance(message, UnknownMessage)
    assert message.type == ""


def test_revoke() -> None:
    item = {"from": "1", "id": "w", "type": "revoke", "revoke": {"original_message_id": "wamid.O"}}
    message = decode_item(item)
    assert isinstance(message, RevokeMessage)
    assert message.revoke.original_message_id == "wamid.O"


def test_timestamp_as_int_or_garbage() -> None:
    item = {"from": "1", "id": "w", "type": "text", "text": {"body": "x"}, "timestamp": 1750000000}
    assert decode_item(item).time == datetime.fromtimestamp(1750000000, tz=UTC)
    item["timestamp"] = "soon"
    assert decode_item(item).time is None
    del item["timestamp"]
    assert decode_item(item).time is None


def test_sender_without_from_uses_user_ids() -> None:
    contact = {"user_id": "US.1", "parent_user_id": "US.ENT.1", "profile": {"username": "@sheena"}}
    item = {"id": "w", "type": "text", "text": {"body": "x"}}
    message = decode_item(item, [contact])
    assert message.from_ is None
    assert message.sender == "US.1"
    assert message.contact.user_id == "US.1"
    assert message.contact.parent_user_id == "US.ENT.1"
    assert message.contact.username == "@sheena"
    assert message.contact.wa_id is None
    with_user_id = decode_item({**item, "from_user_id": "US.2"}, [contact])
    assert with_user_id.sender == "US.2"
    assert decode_item(item).sender == ""


def test_identity_key_hash() -> None:
    contact = {"wa_id": "1", "identity_key_hash": "DF2lS5v2W6x=", "profile": {"name": "A"}}
    message = decode_item({"from": "1", "id": "w", "type": "request_welcome"}, [contact])
    assert message.contact.identity_key_hash == "DF2lS5v2W6x="


def test_optional_parts_may_be_missing() -> None:
    cases: list[dict[str, Any]] = [
        {"type": "image", "image": {"id": "1"}},
        {"type": "audio", "audio": {}},
        {"type": "document", "document": {"id": "1"}},
        {"type": "sticker", "sticker": {"id": "1"}},
        {"type": "location", "location": {"latitude": 1, "longitude": 2}},
        {"type": "contacts", "contacts": [{}]},
        {"type": "contacts"},
        {"type": "order", "order": {"catalog_id": "1"}},
        {"type": "system", "system": {"body": "x"}},
        {"type": "reaction", "reaction": {"message_id": "w"}},
        {"type": "button", "button": {}},
        {"type": "unsupported"},
        {"type": "interactive", "interactive": {"type": "brand_new_reply", "x": {}}},
        {"type": "text", "text": {"body": "x"}, "context": {}, "referral": {}},
    ]
    for case in cases:
        message = decode_item({"id": "w", **case, "future_field": {"nested": [1]}})
        assert type(message) is MESSAGE_TYPES[case["type"]]
    assert decode_item(cases[4]).location.latitude == 1.0


@pytest.mark.parametrize(
    ("item", "cls", "degraded"),
    [
        ({"id": "w", "type": "text"}, UnknownMessage, ("$.text: unusable",)),
        (
            {"id": "w", "type": "text", "text": "hello"},
            UnknownMessage,
            ("$.text: dropped", "$.text: unusable"),
        ),
        ({"id": "w", "type": "text", "text": {"body": 1}}, TextMessage, ("$.text.body: dropped",)),
        (
            {"id": "w", "type": "image", "image": None},
            UnknownMessage,
            ("$.image: dropped", "$.image: unusable"),
        ),
        ({"id": 5, "type": "text", "text": {"body": "x"}}, TextMessage, ("$.id: dropped",)),
        ({"id": "w", "type": 5}, UnknownMessage, ("$.type: dropped",)),
        (
            {"id": "w", "type": "text", "text": {"body": "x"}, "errors": {}},
            TextMessage,
            ("$.errors: dropped",),
        ),
        (
            {"id": "w", "type": "text", "text": {"body": "x"}, "context": []},
            TextMessage,
            ("$.context: dropped",),
        ),
        (
            {"id": "w", "type": "location", "location": {"latitude": "37.5", "longitude": 1}},
            LocationMessage,
            ("$.location.latitude: coerced",),
        ),
    ],
)
def test_a_message_that_does_not_match_its_type_degrades_and_says_how(
    item: dict[str, Any], cls: type[Message], degraded: tuple[str, ...]
) -> None:
    message = decode_item(item)
    assert type(message) is cls
    assert message.degraded == degraded
    assert message.raw == item


@pytest.mark.parametrize("item", [b"1", b'"x"', b"null", b"[]", b"{", b'{"a": "\xff"}'])
def test_decode_message_raises_only_decode_error(item: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_message(item)


@pytest.mark.parametrize(
    "unit",
    [
        Unit("k", "message", "", "", "k", b"not json"),
        Unit("k", "message", "", "", "k", b'{"item": {}}'),
        Unit("k", "message", "", "", "k", b'{"field": "messages", "item": 1}'),
        Unit("k", "status", "", "", "k", b'{"field": "messages", "item": []}'),
        Unit("k", "error", "", "", "k", b'{"field": "messages", "item": 1}'),
        Unit("k", "bogus", "", "", "k", b'{"field": "m", "item": {}}'),  # type: ignore[arg-type]
    ],
)
def test_decode_unit_raises_only_decode_error(unit: Unit) -> None:
    with pytest.raises(DecodeError):
        decode_unit(unit)


def test_odd_envelope_parts_of_a_unit_cost_only_themselves() -> None:
    item = b'{"field":"messages","item":{"code":"x"}}'
    error = decode_unit(Unit("k", "error", "", "", "k", item))
    assert isinstance(error, WebhookError) and error.degraded == ("$.code: dropped",)
    body = b'{"field":"messages","item":{"id":"w","type":"text","text":{"body":"x"}},'
    message = decode_unit(Unit("k", "message", "", "", "k", body + b'"metadata":1,"contact":[]}'))
    assert isinstance(message, TextMessage) and message.text.body == "x"
    assert message.contact is None and message.phone_number_id == ""


def test_models_encode_back_to_meta_names() -> None:
    message = one("inbound_reply_context")
    encoded = json.loads(msgspec.json.encode(message))
    assert encoded["from"] == SHEENA
    assert encoded["context"]["from"] == "15550783881"
    status = json.loads(msgspec.json.encode(one("status_sent")))
    assert status["status"] == "sent"
    assert status["pricing"]["pricing_model"] == "PMP"


def test_models_are_immutable() -> None:
    message = one("inbound_text")
    with pytest.raises(AttributeError):
        message.id = "x"


# -- the public API --------------------------------------------------------------------------


def test_message_types_registry_covers_the_reference() -> None:
    documented = {
        "text", "image", "audio", "video", "document", "sticker", "location", "contacts",
        "interactive", "button", "reaction", "order", "system", "unsupported", "unknown",
        "request_welcome", "revoke", "edit",
    }  # fmt: skip
    assert set(MESSAGE_TYPES) == documented
    for cls in MESSAGE_TYPES.values():
        assert issubclass(cls, Message)


def test_every_public_name_is_exported_and_documented() -> None:
    for name in models.__all__:
        obj = getattr(models, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"
            for attr, member in vars(obj).items():
                if isinstance(member, property) and not attr.startswith("_"):
                    assert member.__doc__, f"{name}.{attr} has no docstring"
    assert set(models.__all__) >= {
        "Message",
        "TextMessage",
        "Status",
        "StatusKind",
        "WebhookError",
        "Event",
        "UnknownMessage",
        "DecodeError",
        "decode_unit",
    }
