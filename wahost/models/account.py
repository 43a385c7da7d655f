"""Typed values of the account-plane webhook fields: templates, phone numbers, the business.

Each struct is the ``value`` of one field (reference/cloudapi.md §13.6, §14.5, §14.6 and §3's
field list); :data:`wahost.models.EVENT_VALUE_TYPES` maps the fields to them. Enum-like values
(``event``, ``decision``, tiers, quality scores) are kept as the strings Meta sent: Meta adds
values without notice.
"""

from __future__ import annotations

import msgspec


class TemplateQualityUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``message_template_quality_update``: a template's quality score changed.

    Scores are GREEN, YELLOW, RED or UNKNOWN. Meta's own syntax block sends it under the field
    ``message_template_status_update``; a value with ``new_quality_score`` is read as this
    whatever its field (§14.5).
    """

    previous_quality_score: str | None = None
    new_quality_score: str | None = None
    message_template_id: int | None = None
    name: str | None = msgspec.field(default=None, name="message_template_name")
    language: str | None = msgspec.field(default=None, name="message_template_language")


class TemplateCategoryUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``template_category_update``: Meta will change (24 hours ahead: ``correct_category``,
    ``new_category`` is still the current one, ``category_update_timestamp``) or has changed
    (``previous_category`` → ``new_category``) a template's category."""

    message_template_id: int | None = None
    name: str | None = msgspec.field(default=None, name="message_template_name")
    language: str | None = msgspec.field(default=None, name="message_template_language")
    previous_category: str | None = None
    new_category: str | None = None
    correct_category: str | None = None
    category_update_timestamp: str | int | None = None


class TemplateButton(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One button of ``message_template_buttons`` (QUICK_REPLY, URL, PHONE_NUMBER, ...)."""

    type: str | None = msgspec.field(default=None, name="message_template_button_type")
    text: str | None = msgspec.field(default=None, name="message_template_button_text")
    url: str | None = msgspec.field(default=None, name="message_template_button_url")
    phone_number: str | None = msgspec.field(
        default=None, name="message_template_button_phone_number"
    )


class TemplateComponentsUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``message_template_components_update``: a template's components were edited.

    ``element`` is the body text, ``title`` the text header, ``footer`` the footer.
    """

    message_template_id: int | None = None
    name: str | None = msgspec.field(default=None, name="message_template_name")
    language: str | None = msgspec.field(default=None, name="message_template_language")
    element: str | None = msgspec.field(default=None, name="message_template_element")
    title: str | None = msgspec.field(default=None, name="message_template_title")
    footer: str | None = msgspec.field(default=None, name="message_template_footer")
    buttons: list[TemplateButton] = msgspec.field(
        default_factory=list, name="message_template_buttons"
    )


class PhoneNumberQualityUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``phone_number_quality_update``: the number's messaging limit changed.

    ``event`` is ONBOARDING or THROUGHPUT_UPGRADE (older payloads: FLAGGED, UNFLAGGED,
    UPGRADE, DOWNGRADE). ``current_limit`` / ``old_limit`` (TIER_250, TIER_2K, ...) are being
    removed: read ``max_daily_conversations_per_business``.
    """

    display_phone_number: str | None = None
    event: str = ""
    old_limit: str | None = None
    current_limit: str | None = None
    max_daily_conversations_per_business: str | int | None = None


class PhoneNumberNameUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``phone_number_name_update``: the review of a display name. ``decision`` is APPROVED,
    DEFERRED, PENDING or REJECTED (then ``rejection_reason``)."""

    display_phone_number: str | None = None
    decision: str | None = None
    requested_verified_name: str | None = None
    rejection_reason: str | None = None


class BusinessCapabilityUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``business_capability_update``: the business's limits changed.

    ``max_daily_conversations_per_business`` is a tier string in Meta's table and an int in
    its example, so both are kept as sent; ``max_daily_conversation_per_phone`` (-1:
    unlimited) is being removed.
    """

    max_daily_conversation_per_phone: int | None = None
    max_daily_conversations_per_business: str | int | None = None
    max_phone_numbers_per_business: int | None = None
    max_phone_numbers_per_waba: int | None = None


class SecurityEvent(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``security``: the number's two-step PIN was changed (PIN_CHANGED), its reset requested
    (PIN_RESET_REQUEST, with the Business Suite user id in ``requester``) or completed
    (PIN_REQUEST_SUCCESS)."""

    display_phone_number: str | None = None
    event: str = ""
    requester: str | None = None


class PaymentConfigurationUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``payment_configuration_update``: a payment configuration (India) changed; ``status``
    is ``Active``, ``Needs Connecting`` or ``Needs Testing``."""

    configuration_name: str | None = None
    provider_name: str | None = None
    provider_mid: str | None = None
    status: str | None = None
    created_timestamp: int | None = None
    updated_timestamp: int | None = None


class BusinessUsernameUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``business_username_update`` (and the earlier ``phone_number_username_update``): the
    business username of a number. ``status`` is ``approved``, ``reserved`` or ``deleted``
    (``username`` omitted); the earlier field sent ``decision``, ``requested_username`` and
    ``rejection_reasons`` (reference/cloudapi.md §13.6)."""

    display_phone_number: str | None = None
    username: str | None = None
    status: str | None = None
    decision: str | None = None
    requested_username: str | None = None
    rejection_reasons: list[str] = []


class AlertInfo(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``alert_info`` of an ``account_alerts`` change."""

    alert_severity: str | None = None
    alert_status: str | None = None
    alert_type: str | None = None
    alert_description: str | None = None


class AccountAlert(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``account_alerts``: an alert about the business or a number (``entity_type``,
    ``entity_id``), e.g. a messaging-limit increase deferred."""

    entity_type: str | None = None
    entity_id: str | None = None
    alert_info: AlertInfo | None = None


class AccountReviewUpdate(msgspec.Struct, frozen=True, omit_defaults=True):
    """``account_review_update``: the review of the WhatsApp Business Account; ``decision``
    is APPROVED, REJECTED, PENDING, ..."""

    decision: str | None = None


class PartnerSolutionUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``partner_solutions``: a Multi-Partner Solution changed (``event`` such as
    SOLUTION_CREATED, ``solution_status`` such as INITIATED or ACTIVE)."""

    event: str = ""
    solution_id: str | None = None
    solution_status: str | None = None
