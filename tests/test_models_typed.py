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

import msgspec
import pytest

from wahost import hookimpl
from wahost.models import (
    MESSAGE_TYPES,
    AccountAlert,
    AccountReviewUpdate,
    AccountUpdate,
    AppStateSync,
    BusinessCapabilityUpdate,
    BusinessUsernameUpdate,
    ButtonMessage,
    CallEvent,
    ConversationCategory,
    DecodeError,
    EditMessage,
    Event,
    GroupEvent,
    HistoryUpdate,
    InteractiveMessage,
    LocationMessage,
    Message,
    MessageEchoes,
    OrderMessage,
    PartnerSolutionUpdate,
    PaymentConfigurationUpdate,
    PhoneNumberNameUpdate,
    PhoneNumberQualityUpdate,
    PricingModel,
    RevokeMessage,
    SecurityEvent,
    Status,
    StatusKind,
    SystemMessage,
    TemplateCategoryUpdate,
    TemplateComponentsUpdate,
    TemplateQualityUpdate,
    TextMessage,
    UnsupportedMessage,
    UserPreferencesUpdate,
    WebhookError,
)
from wahost.testing import BotHarness
from wahost.testing.harness import FIXTURES, load_fixture
from wahost.units import Unit, split


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
    "edit": "pywa_edited_message_image.json",
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


async def test_a_mistyped_leaf_in_a_status_an_error_or_an_event_is_still_dispatched(
    tmp_path: Path,
) -> None:
    status = fixture("status_sent.json")
    item = status["entry"][0]["changes"][0]["value"]["statuses"][0]
    item["pricing"]["billable"] = "true"
    item["conversation"]["origin"] = ["service"]
    error = fixture("webhook_value_errors.json")
    error["entry"][0]["changes"][0]["value"]["errors"][0]["code"] = "130429"
    error["entry"][0]["changes"][0]["value"]["errors"][0]["href"] = 42
    preference = fixture("meta_user_preferences.json")
    value = preference["entry"][0]["changes"][0]["value"]
    value["user_preferences"][0]["timestamp"] = {"at": 1731705721}
    recorder = Recorder()
    async with BotHarness(tmp_path, plugins=[recorder]) as bot:
        for body in (status, error, preference):
            assert (await bot.post(body)).status_code == 200
        await bot.idle()
    # Three conversations (a user's status, an error's and an event's own lanes): handled in
    # any order.
    [sent] = [u for u in recorder.updates if isinstance(u, Status)]
    [failure] = [u for u in recorder.updates if isinstance(u, WebhookError)]
    [event] = [u for u in recorder.updates if isinstance(u, Event)]
    assert len(recorder.updates) == 3
    assert sent.status == StatusKind.SENT
    assert sent.pricing is not None and sent.pricing.billable is True
    assert sent.degraded == ("$.conversation.origin: dropped", "$.pricing.billable: coerced")
    assert failure.code == 130429 and failure.href is None
    assert failure.degraded == ("$.href: dropped", "$.code: coerced")
    assert isinstance(event.value, UserPreferencesUpdate)
    assert event.value.user_preferences[0].value == "resume"
    assert event.degraded == ("$.user_preferences[0].timestamp: dropped",)


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


# -- every shipped webhook fixture, through the host -------------------------------------------


def webhook_fixtures() -> list[str]:
    """Every shipped fixture that is a whole webhook body."""
    names = []
    for path in sorted(FIXTURES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("object") == "whatsapp_business_account":
            names.append(path.name)
    return names


def one(updates: list[Any], cls: type[Any]) -> Any:
    [update] = updates
    assert isinstance(update, cls), update
    return update


def event_value(updates: list[Any], cls: type[Any], field: str | None = None) -> Any:
    event = one(updates, Event)
    assert isinstance(event.value, cls), event.value
    if field is not None:
        assert event.field == field
    return event.value


def check_text(u: list[Any]) -> None:
    message = one(u, TextMessage)
    assert message.sender == "16505551234" and message.text.body == "Does it come in another color?"
    assert message.contact is not None and message.contact.name == "Sheena Nelson"
    assert message.id.startswith("wamid.") and message.group_id is None


def check_button_reply(u: list[Any]) -> None:
    message = one(u, InteractiveMessage)
    assert message.reply_id == "cancel-button" and message.context is not None


def check_template_button(u: list[Any]) -> None:
    assert one(u, ButtonMessage).button.payload == "Unsubscribe"


def check_flow(u: list[Any]) -> None:
    reply = one(u, InteractiveMessage).interactive.nfm_reply
    assert reply.response["flow_token"] == "AQAAAAACS5FpgQ_cAAAAAD0QI3s."


def check_status_read(u: list[Any]) -> None:
    status = one(u, Status)
    assert status.status == StatusKind.READ and status.recipient == "16505551234"


def check_status_failed(u: list[Any]) -> None:
    status = one(u, Status)
    assert status.status == StatusKind.FAILED
    assert status.errors[0].code == 131049 and status.errors[0].details


def check_status_pricing(u: list[Any]) -> None:
    status = one(u, Status)
    assert status.charge is not None and status.charge.category == ConversationCategory.MARKETING
    assert status.charge.pricing_model == PricingModel.PMP


def check_value_error(u: list[Any]) -> None:
    assert one(u, WebhookError).code == 130429


def check_bsuid_status(u: list[Any]) -> None:
    status = one(u, Status)
    assert status.recipient_id == "" and status.recipient.startswith("user.9373")


def check_bsuid_message(u: list[Any]) -> None:
    message = one(u, TextMessage)
    assert message.from_ == "" and message.sender == "user.93737..."
    assert message.contact is not None and message.contact.username == "@realsheenanelson"


def check_group_message(u: list[Any]) -> None:
    message = one(u, TextMessage)
    assert message.group_id == "<GROUP_ID>"
    assert message.sender == "<GROUP_PARTICIPANT_PHONE_NUMBER>"


def check_group_status(u: list[Any]) -> None:
    status = one(u, Status)
    assert status.group_id == "fowefinoewcnw"
    assert status.participant == "<GROUP_PARTICIPANT_USER_PHONE_NUMBER>"


def check_call_connect(u: list[Any]) -> None:
    calls = event_value(u, CallEvent, "calls")
    [call] = calls.calls
    assert (call.event, call.direction, call.user) == ("connect", "USER_INITIATED", "972987654321")
    assert call.session.sdp_type == "offer" and call.id == "wacid.xxxx="
    assert calls.contacts[0].user_id == "US.13491208655302741918"


def check_call_terminate(u: list[Any]) -> None:
    calls = event_value(u, CallEvent, "calls")
    [call] = calls.calls
    assert (call.event, call.status, call.duration) == ("terminate", "COMPLETED", 120)
    assert call.user == "16315553601"  # business-initiated: the callee
    [error] = calls.errors
    assert (error.code, error.details, error.title) == (12455, "ERROR_DETAILS", "")


def check_call_status(u: list[Any]) -> None:
    [status] = event_value(u, CallEvent, "calls").statuses
    assert (status.type, status.status, status.recipient_id) == ("call", "RINGING", "163155536021")


def check_call_permission(u: list[Any]) -> None:
    reply = one(u, InteractiveMessage).interactive.call_permission_reply
    assert reply.accepted and reply.response_source == "user_action"
    assert reply.expires is not None and reply.expires.year == 2025


def check_edit(u: list[Any]) -> None:
    message = one(u, EditMessage)
    assert message.edit.original_message_id.startswith("wamid.HBgLMTQxMjU1")
    assert message.edit.message.type == "image"
    assert message.edit.message.body == "Updated image caption"


def check_revoke(u: list[Any]) -> None:
    assert one(u, RevokeMessage).revoke.original_message_id == "<ORIGINAL_WHATSAPP_MESSAGE_ID>"


def check_echo_text(u: list[Any]) -> None:
    [echo] = event_value(u, MessageEchoes, "smb_message_echoes").message_echoes
    assert (echo.to, echo.to_user_id, echo.body) == (
        "<WHATSAPP_USER_PHONE_NUMBER>",
        "<BSUID>",
        "Test message",
    )


def check_echo_delete(u: list[Any]) -> None:
    [echo] = event_value(u, MessageEchoes).message_echoes
    assert echo.type == "revoke" and echo.revoke.original_message_id == "wamid.zzzzzz"


def check_echo_edit(u: list[Any]) -> None:
    [echo] = event_value(u, MessageEchoes).message_echoes
    assert echo.edit.original_message_id == "wamid.zzzzzz"
    assert echo.edit.message.body == "Text was edited"


def check_identity(u: list[Any]) -> None:
    message = one(u, SystemMessage)
    assert message.system.type == "customer_identity_changed"
    assert message.identity is not None and message.identity.hash == "xyzxyz"
    assert message.identity.acknowledged is True


def check_number_change(u: list[Any]) -> None:
    assert one(u, SystemMessage).system.new_id == "972912345678"


def check_preferences_resume(u: list[Any]) -> None:
    [pref] = event_value(u, UserPreferencesUpdate, "user_preferences").user_preferences
    assert (pref.user, pref.value, pref.stopped_marketing) == ("16505551234", "resume", False)


def check_preferences_signup(u: list[Any]) -> None:
    [pref] = event_value(u, UserPreferencesUpdate).user_preferences
    assert (pref.value, pref.signup_id) == ("signup", "13176843987434774")


def check_quality(u: list[Any]) -> None:
    value = event_value(u, TemplateQualityUpdate)
    assert (value.previous_quality_score, value.new_quality_score) == ("GREEN", "YELLOW")
    assert value.message_template_id == 806312974732579


def check_quality_under_status_field(u: list[Any]) -> None:
    value = event_value(u, TemplateQualityUpdate, "message_template_status_update")
    assert value.new_quality_score


def check_category_notice(u: list[Any]) -> None:
    value = event_value(u, TemplateCategoryUpdate, "template_category_update")
    assert (value.new_category, value.correct_category) == ("UTILITY", "MARKETING")
    assert value.category_update_timestamp == 1746169200


def check_category_done(u: list[Any]) -> None:
    value = event_value(u, TemplateCategoryUpdate)
    assert (value.previous_category, value.new_category) == ("UTILITY", "MARKETING")


def check_components(u: list[Any]) -> None:
    value = event_value(u, TemplateComponentsUpdate, "message_template_components_update")
    assert value.element and value.name
    if value.buttons:
        assert value.buttons[0].type and value.buttons[0].text


def check_number_quality(u: list[Any]) -> None:
    value = event_value(u, PhoneNumberQualityUpdate, "phone_number_quality_update")
    assert (value.event, value.current_limit) == ("THROUGHPUT_UPGRADE", "TIER_UNLIMITED")


def check_number_name(u: list[Any]) -> None:
    value = event_value(u, PhoneNumberNameUpdate, "phone_number_name_update")
    assert (value.decision, value.requested_verified_name) == ("APPROVED", "Lucky Shrub")


def check_capability(u: list[Any]) -> None:
    value = event_value(u, BusinessCapabilityUpdate, "business_capability_update")
    assert value.max_daily_conversations_per_business == 2000
    assert value.max_phone_numbers_per_waba == 25


def check_security(u: list[Any]) -> None:
    value = event_value(u, SecurityEvent, "security")
    assert (value.event, value.requester) == ("PIN_RESET_REQUEST", "61555822107539")


def check_history(u: list[Any]) -> None:
    [chunk] = event_value(u, HistoryUpdate, "history").history
    assert chunk.metadata is not None and chunk.metadata.progress == 55
    first = chunk.threads[0]
    assert first.id == "16505551234" and len(first.messages) == 3
    assert first.messages[1].type == "media_placeholder"
    assert first.messages[0].history_context.status == "READ"


def check_history_media(u: list[Any]) -> None:
    [message] = event_value(u, HistoryUpdate, "history").messages
    assert message.image is not None and message.image.id == "24230790383178626"


def check_state_sync(u: list[Any]) -> None:
    [item] = event_value(u, AppStateSync, "smb_app_state_sync").state_sync
    assert (item.action, item.contact.phone_number) == ("add", "16505551234")


def check_group_settings(u: list[Any]) -> None:
    [change] = event_value(u, GroupEvent, "group_settings_update").groups
    assert change.group_subject is not None and change.group_subject.text == "Test Subject"
    assert change.group_subject.update_successful is False
    # Meta's sample writes "code": "ERROR_CODE": that leaf is dropped, the rest is kept.
    assert change.errors[0].title == "ERROR_TITLE"
    assert "$.groups[0].errors[0].code: dropped" in u[0].degraded


def check_group_suspend(u: list[Any]) -> None:
    [change] = event_value(u, GroupEvent, "group_status_update").groups
    assert change.type.startswith("group_suspend") and change.group_id == "GROUP_ID"


def check_payment_method(u: list[Any]) -> None:
    method = one(u, InteractiveMessage).interactive.payment_method
    assert (method.payment_method, method.reference_id) == ("offsite_card_pay", "pix_test_webhook")


def check_group_create(u: list[Any]) -> None:
    [change] = event_value(u, GroupEvent, "group_lifecycle_update").groups
    assert (change.type, change.subject) == ("group_create", "Lucky Shrub VIPs")
    assert change.invite_link == "https://chat.whatsapp.com/LINK_ID"


def check_group_remove(u: list[Any]) -> None:
    [change] = event_value(u, GroupEvent, "group_participants_update").groups
    assert change.removed_participants[0].input == "16505551234"
    assert change.failed_participants[0].errors[0].code == 131212
    assert (change.errors[0].code, change.initiated_by) == (131201, "business")


def check_username(u: list[Any]) -> None:
    value = event_value(u, BusinessUsernameUpdate, "business_username_update")
    assert (value.username, value.status) == ("luckyshrub", "approved")


def check_group_unsupported(u: list[Any]) -> None:
    message = one(u, UnsupportedMessage)
    assert message.group_id and message.errors[0].code == 130501
    assert message.from_user_id == "US.13491208655302741918"


def check_payment_status(u: list[Any]) -> None:
    status = one(u, Status)
    assert (status.type, status.status_raw, status.status) == (
        "payment",
        "captured",
        StatusKind.UNKNOWN,
    )
    assert status.payment is not None and status.payment.reference_id == "order-0042"
    assert status.payment.transaction.amount.value == 21000


def account(event: str) -> Any:
    def check(u: list[Any]) -> Any:
        value = event_value(u, AccountUpdate, "account_update")
        assert value.event == event
        return value

    return check


def check_ad_account(u: list[Any]) -> None:
    info = account("AD_ACCOUNT_LINKED")(u).waba_info
    assert info.ad_account_linked == "980198427534243"


def check_auth_intl(u: list[Any]) -> None:
    value = account("AUTH_INTL_PRICE_ELIGIBILITY_UPDATE")(u)
    assert value.auth_international_rate_eligibility.exception_countries[0].country_code == "ID"


def check_partner_added(u: list[Any]) -> None:
    info = account("PARTNER_ADDED")(u).waba_info
    assert info.solution_partner_business_ids == ["2949482758682047", "520744086200222"]


def check_disconnection(u: list[Any]) -> None:
    value = account("PARTNER_REMOVED")(u)
    assert value.disconnection_info.initiated_by == "SYSTEM"


def check_certification(u: list[Any]) -> None:
    value = account("PARTNER_CLIENT_CERTIFICATION_STATUS_UPDATE")(u)
    assert value.partner_client_certification_info.status == "APPROVED"


def check_country(u: list[Any]) -> None:
    assert account("BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE")(u).country == "IN"


def check_volume_tier(u: list[Any]) -> None:
    value = account("VOLUME_BASED_PRICING_TIER_UPDATE")(u)
    assert value.volume_tier_info.tier == "25000001:50000000"


def check_restriction(u: list[Any]) -> None:
    value = account("ACCOUNT_RESTRICTION")(u)
    assert value.restriction_info[0].restriction_type == "RESTRICTED_BIZ_INITIATED_MESSAGING"


def check_payment_config(u: list[Any]) -> None:
    value = event_value(u, PaymentConfigurationUpdate, "payment_configuration_update")
    assert (value.provider_name, value.status) == ("razorpay", "Needs Testing")


def check_partner_solution(u: list[Any]) -> None:
    value = event_value(u, PartnerSolutionUpdate, "partner_solutions")
    assert (value.event, value.solution_status) == ("SOLUTION_CREATED", "INITIATED")


def check_alert(u: list[Any]) -> None:
    value = event_value(u, AccountAlert, "account_alerts")
    assert value.alert_info.alert_type == "INCREASED_CAPABILITIES_ELIGIBILITY_DEFERRED"


def check_review(u: list[Any]) -> None:
    assert event_value(u, AccountReviewUpdate, "account_review_update").decision == "APPROVED"


#: The typed facts a bot author reads, per fixture. Every other webhook fixture is checked by
#: the general rules of the test (each update reaches a hook, typed, nothing degraded).
FACTS = {
    "inbound_text.json": check_text,
    "inbound_interactive_button_reply.json": check_button_reply,
    "inbound_button.json": check_template_button,
    "pywa_flow_completion_completion.json": check_flow,
    "status_read.json": check_status_read,
    "meta_status_3.json": check_status_failed,
    "meta_status_1.json": check_status_pricing,
    "webhook_value_errors.json": check_value_error,
    "meta_errors.json": check_value_error,
    "meta_business_scoped_user_ids_2.json": check_bsuid_status,
    "meta_business_scoped_user_ids_3.json": check_bsuid_message,
    "meta_groups_messaging.json": check_group_message,
    "pywa_message_status_group.json": check_group_status,
    "pywa_call_connect_user_initiated.json": check_call_connect,
    "pywa_call_terminate_call_terminate.json": check_call_terminate,
    "pywa_call_status_call_status.json": check_call_status,
    "pywa_call_permission_update_accept.json": check_call_permission,
    "pywa_edited_message_image.json": check_edit,
    "pywa_deleted_message_revoke.json": check_revoke,
    "pywa_outgoing_message_text.json": check_echo_text,
    "pywa_outgoing_message_delete.json": check_echo_delete,
    "pywa_outgoing_message_edit.json": check_echo_edit,
    "pywa_system_identity_change.json": check_identity,
    "pywa_system_phone_number_change.json": check_number_change,
    "pywa_user_marketing_preferences_resume.json": check_preferences_resume,
    "meta_user_preferences.json": check_preferences_resume,
    "pywa_user_marketing_preferences_signup.json": check_preferences_signup,
    "pywa_template_quality_update_yellow.json": check_quality,
    "meta_message_template_quality_update.json": check_quality_under_status_field,
    "meta_template_category_update_1.json": check_category_notice,
    "meta_template_category_update_2.json": check_category_done,
    "meta_message_template_components_update.json": check_components,
    "pywa_template_components_update_element.json": check_components,
    "meta_phone_number_quality_update.json": check_number_quality,
    "meta_phone_number_name_update.json": check_number_name,
    "meta_business_capability_update.json": check_capability,
    "meta_security.json": check_security,
    "meta_history_1.json": check_history,
    "meta_history_2.json": check_history_media,
    "meta_smb_app_state_sync.json": check_state_sync,
    "meta_webhooks_1.json": check_group_settings,
    "meta_webhooks_2.json": check_group_suspend,
    "meta_webhooks_3.json": check_group_suspend,
    "meta_one_click_payments.json": check_payment_method,
    "pywa_account_update_ad_account_linked.json": check_ad_account,
    "pywa_account_update_authentication_international_eligibility.json": check_auth_intl,
    "pywa_account_update_partner_added.json": check_partner_added,
    "pywa_account_update_partner_removed_wa_app_disconnection.json": check_disconnection,
    "pywa_account_update_partner_led_business_verification_status.json": check_certification,
    "pywa_account_update_primary_business_location_set.json": check_country,
    "pywa_account_update_pricing_tiering_update.json": check_volume_tier,
    "pywa_account_update_account_restriction.json": check_restriction,
    "meta_payment_configuration_update.json": check_payment_config,
    "meta_partner_solutions.json": check_partner_solution,
    "meta_account_alerts.json": check_alert,
    "meta_account_review_update.json": check_review,
    "composed_group_lifecycle_create.json": check_group_create,
    "composed_group_participants_remove.json": check_group_remove,
    "composed_business_username_update.json": check_username,
    "composed_group_unsupported_message.json": check_group_unsupported,
    "composed_status_payment.json": check_payment_status,
}

#: Keys of an event's value that the Event itself carries (phone_number_id) or that say nothing.
ENVELOPE_KEYS = {"metadata", "messaging_product"}

#: Fixtures whose samples hold placeholders where Meta documents another type.
DEGRADED = {"meta_webhooks_1.json"}


def untyped_keys(raw: Any, typed: Any, path: str = "$") -> list[str]:
    """The keys of ``raw`` (what Meta sent) that the typed model, encoded back to Meta's
    names, does not have; a key whose value is a default (null, false, "") is not counted,
    since the encoding omits defaults."""
    missing: list[str] = []
    if isinstance(raw, dict) and isinstance(typed, dict):
        for key, value in raw.items():
            if key not in typed:
                if value not in (None, False, "", [], {}):
                    missing.append(f"{path}.{key}")
            else:
                missing += untyped_keys(value, typed[key], f"{path}.{key}")
    elif isinstance(raw, list) and isinstance(typed, list):
        for one_raw, one_typed in zip(raw, typed, strict=False):
            missing += untyped_keys(one_raw, one_typed, f"{path}[]")
    return missing


def typed_view(update: Any) -> Any:
    """The typed part of an update as Meta's JSON: an event's value, else the update."""
    typed = update.value if isinstance(update, Event) else update
    return json.loads(msgspec.json.encode(typed))


def batches(names: list[str]) -> list[list[str]]:
    """The fixtures in runs whose updates have distinct keys: Meta's samples share wamids, and
    a host deduplicates a key it has seen."""
    runs: list[tuple[set[str], list[str]]] = []
    for name in names:
        keys = {unit.key for unit in split(load_fixture(name))}
        for seen, run in runs:
            if not seen & keys:
                seen |= keys
                run.append(name)
                break
        else:
            runs.append((keys, [name]))
    return [run for _, run in runs]


async def test_every_fixture_reaches_a_hook_typed_with_the_facts_a_bot_reads(
    tmp_path: Path,
) -> None:
    names = webhook_fixtures()
    assert set(FACTS) <= set(names)
    seen: dict[str, list[Any]] = {}
    for number, run in enumerate(batches(names)):
        seen |= await received(tmp_path / str(number), *run)
    for name in names:
        units = [unit for unit in split(load_fixture(name)) if unit.kind != "receipt"]
        updates = seen[name]
        assert len(updates) == len(units), name
        for update in updates:
            assert update.raw, name
            if name not in DEGRADED:
                assert update.degraded == (), (name, update.degraded)
                # Lossless: every field Meta sent is a typed field too.
                raw = {k: v for k, v in update.raw.items() if k not in ENVELOPE_KEYS}
                assert untyped_keys(raw, typed_view(update)) == [], name
            if isinstance(update, Event):
                assert not isinstance(update.value, dict), (name, update.field)
            if isinstance(update, Message):
                assert update.id and update.sender is not None, name
        if name in FACTS:
            FACTS[name](updates)
