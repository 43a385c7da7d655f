"""Updates that are not messages or statuses: value-level errors and other webhook fields.

:class:`WebhookError` is one item of ``value.errors[]`` in a ``messages`` change.
:class:`Event` is one change of any other field (reference/cloudapi.md §3), with ``value``
typed where wahost knows the field (:data:`EVENT_VALUE_TYPES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import msgspec

from wahost.models.account import (
    AccountAlert,
    AccountReviewUpdate,
    BusinessCapabilityUpdate,
    BusinessUsernameUpdate,
    PartnerSolutionUpdate,
    PaymentConfigurationUpdate,
    PhoneNumberNameUpdate,
    PhoneNumberQualityUpdate,
    SecurityEvent,
    TemplateCategoryUpdate,
    TemplateComponentsUpdate,
    TemplateQualityUpdate,
)
from wahost.models.calls import CallEvent
from wahost.models.coexistence import (
    AppStateSync,
    HistoryUpdate,
    MessageEchoes,
    UserPreferencesUpdate,
)
from wahost.models.common import NO_RAW, Error, raw_dict
from wahost.models.groups import GroupEvent


class WebhookError(Error, kw_only=True, frozen=True, omit_defaults=True):
    """A value-level error (``value.errors[]`` of a ``messages`` change): a system, app or
    account problem not tied to one message, e.g. 130429 (rate limit hit).

    ``code``, ``title``, ``message``, ``details`` and ``href`` as in :class:`Error`; the
    envelope fields are filled by :func:`wahost.models.decode_unit`.
    """

    phone_number_id: str = ""
    display_phone_number: str = ""
    waba_id: str = ""
    raw_json: msgspec.Raw = NO_RAW
    degraded: tuple[str, ...] = ()

    @property
    def raw(self) -> dict[str, Any]:
        """The error item as Meta sent it (``value.errors[]``), as a new dict on each read."""
        return raw_dict(self.raw_json)


class RejectionInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """``rejection_info`` of a rejected template."""

    reason: str | None = None
    recommendation: str | None = None


class OtherInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """``other_info`` of a template status update (e.g. why it was paused)."""

    title: str | None = None
    description: str | None = None


class DisableInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """``disable_info`` of a disabled template."""

    disable_date: str | int | None = None


class TemplateStatusUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The value of a ``message_template_status_update`` change.

    ``event`` is APPROVED, REJECTED, PAUSED, DISABLED, ... (kept as a string: Meta adds
    events); ``reason`` explains rejections (``NONE`` otherwise).
    """

    event: str = ""
    message_template_id: int | None = None
    name: str | None = msgspec.field(default=None, name="message_template_name")
    language: str | None = msgspec.field(default=None, name="message_template_language")
    category: str | None = msgspec.field(default=None, name="message_template_category")
    reason: str | None = None
    rejection_info: RejectionInfo | None = None
    other_info: OtherInfo | None = None
    disable_info: DisableInfo | None = None


class FlowErrorRate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One error type of a Flows error-rate alert."""

    error_type: str = ""
    error_rate: float | None = None
    error_count: int | None = None


class FlowEvent(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The value of a ``flows`` change: a status change or a health alert of a Flow.

    ``event`` tells which fields are set: FLOW_STATUS_CHANGE (``old_status``, ``new_status``),
    CLIENT_ERROR_RATE / ENDPOINT_ERROR_RATE (``error_rate``, ``threshold``, ``alert_state``,
    ``errors``), ENDPOINT_LATENCY (``p50_latency``, ``p90_latency`` in ms,
    ``requests_count``, ``threshold``), ENDPOINT_AVAILABILITY (``availability``,
    ``threshold``), FLOW_VERSION_EXPIRY_WARNING (``warning``). Rates are percentages.
    """

    event: str = ""
    message: str | None = None
    flow_id: str | None = None
    old_status: str | None = None
    new_status: str | None = None
    alert_state: str | None = None
    availability: float | None = None
    error_rate: float | None = None
    threshold: float | None = None
    errors: list[FlowErrorRate] = []
    p50_latency: float | None = None
    p90_latency: float | None = None
    requests_count: int | None = None
    warning: str | None = None


class ViolationInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """``violation_info`` of an ACCOUNT_VIOLATION update."""

    violation_type: str | None = None


class BanInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """``ban_info`` of a DISABLED_UPDATE: ``waba_ban_state`` is SCHEDULE_FOR_DISABLE, DISABLE
    or REINSTATE; ``waba_ban_date`` is a display date, kept as sent."""

    waba_ban_state: str | None = None
    waba_ban_date: str | None = None


class Restriction(msgspec.Struct, frozen=True, omit_defaults=True):
    """One item of ``restriction_info`` of an ACCOUNT_RESTRICTION update."""

    restriction_type: str | None = None
    expiration: str | int | None = None
    remediation: str | None = None


class WabaInfo(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``waba_info`` of AD_ACCOUNT_LINKED, MM_LITE_TERMS_SIGNED and the PARTNER_* updates."""

    waba_id: str | None = None
    owner_business_id: str | None = None
    ad_account_linked: str | None = None
    ad_account_id: str | None = None
    partner_app_id: str | None = None
    solution_id: str | None = None
    solution_partner_business_ids: list[str] = []


class ExceptionCountry(msgspec.Struct, frozen=True, omit_defaults=True):
    """A country whose authentication-international rate starts at its own ``start_time``."""

    country_code: str | None = None
    start_time: int | None = None


class AuthInternationalRateEligibility(msgspec.Struct, frozen=True, omit_defaults=True):
    """``auth_international_rate_eligibility`` of AUTH_INTL_PRICE_ELIGIBILITY_UPDATE."""

    start_time: int | None = None
    exception_countries: list[ExceptionCountry] = []


class DisconnectionInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """``disconnection_info`` of PARTNER_REMOVED for a coexistence number: ``initiated_by``
    is ``USER`` or ``SYSTEM``."""

    reason: str | None = None
    initiated_by: str | None = None


class PartnerClientCertificationInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """``partner_client_certification_info`` of PARTNER_CLIENT_CERTIFICATION_STATUS_UPDATE."""

    client_business_id: str | None = None
    status: str | None = None
    rejection_reasons: list[str] = []


class VolumeTierInfo(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``volume_tier_info`` of VOLUME_BASED_PRICING_TIER_UPDATE: ``tier`` is ``"min:max"``
    messages, ``effective_month`` is ``YYYY-MM``."""

    tier_update_time: int | None = None
    pricing_category: str | None = None
    tier: str | None = None
    effective_month: str | None = None
    region: str | None = None


class AccountUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The value of an ``account_update`` change; ``event`` tells which part is set
    (reference/cloudapi.md §14.6): ACCOUNT_VIOLATION (``violation_info``), DISABLED_UPDATE
    (``ban_info``), ACCOUNT_RESTRICTION (``restriction_info``), AD_ACCOUNT_LINKED,
    MM_LITE_TERMS_SIGNED and PARTNER_* (``waba_info``), PARTNER_REMOVED of a coexistence number
    (``disconnection_info``), AUTH_INTL_PRICE_ELIGIBILITY_UPDATE
    (``auth_international_rate_eligibility``), BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE
    (``country``), PARTNER_CLIENT_CERTIFICATION_STATUS_UPDATE
    (``partner_client_certification_info``), VOLUME_BASED_PRICING_TIER_UPDATE
    (``volume_tier_info``); ACCOUNT_DELETED, ACCOUNT_OFFBOARDED and ACCOUNT_RECONNECTED carry
    nothing more."""

    event: str = ""
    phone_number: str | None = None
    violation_info: ViolationInfo | None = None
    ban_info: BanInfo | None = None
    restriction_info: list[Restriction] = []
    waba_info: WabaInfo | None = None
    auth_international_rate_eligibility: AuthInternationalRateEligibility | None = None
    country: str | None = None
    disconnection_info: DisconnectionInfo | None = None
    partner_client_certification_info: PartnerClientCertificationInfo | None = None
    volume_tier_info: VolumeTierInfo | None = None


EventValue = (
    TemplateStatusUpdate
    | TemplateQualityUpdate
    | TemplateCategoryUpdate
    | TemplateComponentsUpdate
    | FlowEvent
    | AccountUpdate
    | AccountAlert
    | AccountReviewUpdate
    | BusinessCapabilityUpdate
    | BusinessUsernameUpdate
    | PartnerSolutionUpdate
    | PaymentConfigurationUpdate
    | PhoneNumberNameUpdate
    | PhoneNumberQualityUpdate
    | SecurityEvent
    | CallEvent
    | MessageEchoes
    | UserPreferencesUpdate
    | HistoryUpdate
    | AppStateSync
    | GroupEvent
)
"""The typed values of :class:`Event`."""

EVENT_VALUE_TYPES: Mapping[str, type[EventValue]] = MappingProxyType(
    {
        "message_template_status_update": TemplateStatusUpdate,
        "message_template_quality_update": TemplateQualityUpdate,
        "template_category_update": TemplateCategoryUpdate,
        "message_template_components_update": TemplateComponentsUpdate,
        "flows": FlowEvent,
        "account_update": AccountUpdate,
        "account_alerts": AccountAlert,
        "account_review_update": AccountReviewUpdate,
        "business_capability_update": BusinessCapabilityUpdate,
        "business_username_update": BusinessUsernameUpdate,
        "phone_number_username_update": BusinessUsernameUpdate,
        "partner_solutions": PartnerSolutionUpdate,
        "payment_configuration_update": PaymentConfigurationUpdate,
        "phone_number_name_update": PhoneNumberNameUpdate,
        "phone_number_quality_update": PhoneNumberQualityUpdate,
        "security": SecurityEvent,
        "calls": CallEvent,
        "smb_message_echoes": MessageEchoes,
        "user_preferences": UserPreferencesUpdate,
        "history": HistoryUpdate,
        "smb_app_state_sync": AppStateSync,
        "group_lifecycle_update": GroupEvent,
        "group_participants_update": GroupEvent,
        "group_settings_update": GroupEvent,
        "group_status_update": GroupEvent,
    }
)
"""Each webhook field whose ``value`` is typed, and its struct (reference/cloudapi.md §3,
§12.5, §13.6, §14). Fields not listed (``automatic_events``, fields Meta adds later) reach the
plugins with ``Event.value`` the raw dict."""


def event_value_type(field: str, value: Mapping[str, Any]) -> type[EventValue] | None:
    """The struct for the ``value`` of a change of ``field``, None when it is not typed.

    A quality update sent under ``message_template_status_update`` (as Meta's own syntax
    block shows it, §14.5) is told apart by its ``new_quality_score``.
    """
    if field == "message_template_status_update" and "new_quality_score" in value:
        return TemplateQualityUpdate
    return EVENT_VALUE_TYPES.get(field)


class Event(msgspec.Struct, kw_only=True, frozen=True):
    """One change of a webhook field other than messages and statuses (calls, echoes, user
    preferences, templates, account and phone number updates, groups, Flows, history, fields
    wahost does not know yet).

    ``value`` is the typed struct of :data:`EVENT_VALUE_TYPES` for a known field (test it with
    ``isinstance(event.value, CallEvent)``), else the raw dict; a leaf of an unexpected type
    is coerced or dropped and listed in ``degraded``, as for messages. ``raw`` is always the
    value as a dict, as Meta sent it.
    ``time`` is ``entry.time`` (Unix seconds); ``phone_number_id`` comes from
    ``value.metadata`` and is ``""`` for fields that have none (Flows, templates).
    """

    field: str
    waba_id: str = ""
    time: int | None = None
    phone_number_id: str = ""
    value: EventValue | dict[str, Any]
    raw: dict[str, Any]
    degraded: tuple[str, ...] = ()
