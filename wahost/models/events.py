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

from wahost.models.common import NO_RAW, Error, raw_dict


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


class AccountUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The value of an ``account_update`` change (ACCOUNT_VIOLATION, DISABLED_UPDATE,
    ACCOUNT_RESTRICTION, PARTNER_*, ...); ``event`` tells which ``*_info`` is set."""

    event: str = ""
    phone_number: str | None = None
    violation_info: ViolationInfo | None = None
    ban_info: BanInfo | None = None
    restriction_info: list[Restriction] = []


EventValue = TemplateStatusUpdate | FlowEvent | AccountUpdate
"""The typed values of :class:`Event`."""

EVENT_VALUE_TYPES: Mapping[str, type[EventValue]] = MappingProxyType(
    {
        "message_template_status_update": TemplateStatusUpdate,
        "flows": FlowEvent,
        "account_update": AccountUpdate,
    }
)
"""Each webhook field whose ``value`` is typed, and its struct."""


def event_value_type(field: str, value: Mapping[str, Any]) -> type[EventValue] | None:
    """The struct for the ``value`` of a change of ``field``, None when it is not typed."""
    return EVENT_VALUE_TYPES.get(field)


class Event(msgspec.Struct, kw_only=True, frozen=True):
    """One change of a webhook field other than messages and statuses (template status,
    Flow alerts, account updates, fields wahost does not know yet).

    ``value`` is the typed struct of :data:`EVENT_VALUE_TYPES` when the field is known and its
    value has the documented shape, else the raw dict. ``raw`` is always the value as a dict.
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
