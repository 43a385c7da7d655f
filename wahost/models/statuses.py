"""Status webhooks (``value.statuses[]``): what happened to a message the business sent.

Enum-valued fields are kept as Meta sent them in ``*_raw`` fields; the property of the plain
name gives the :class:`~wahost.models.common.OpenEnum` member, ``UNKNOWN`` for values this
version does not know (reference/cloudapi.md §4).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from wahost.models.common import NO_RAW, Error, OpenEnum, raw_dict, unix_time


class StatusKind(OpenEnum):
    """``statuses[].status``. ``PLAYED`` is the first play of a voice message.

    ``read`` implies ``delivered``, and Meta may skip ``delivered`` (reference/cloudapi.md §4).
    Values Meta does not document any more (``deleted``) or adds later are ``UNKNOWN``.
    """

    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PLAYED = "played"
    FAILED = "failed"
    UNKNOWN = "unknown"


class ConversationCategory(OpenEnum):
    """``conversation.origin.type`` and ``pricing.category``."""

    AUTHENTICATION = "authentication"
    AUTHENTICATION_INTERNATIONAL = "authentication_international"
    MARKETING = "marketing"
    MARKETING_LITE = "marketing_lite"
    REFERRAL_CONVERSION = "referral_conversion"
    SERVICE = "service"
    UTILITY = "utility"
    UNKNOWN = "unknown"


class PricingModel(OpenEnum):
    """``pricing.pricing_model``: ``CBP`` before July 1, 2025, ``PMP`` (per message) after."""

    CBP = "CBP"
    PMP = "PMP"
    UNKNOWN = "unknown"


class PricingType(OpenEnum):
    """``pricing.type``: whether the message is charged."""

    REGULAR = "regular"
    FREE_CUSTOMER_SERVICE = "free_customer_service"
    FREE_ENTRY_POINT = "free_entry_point"
    UNKNOWN = "unknown"


class Origin(msgspec.Struct, frozen=True, omit_defaults=True):
    """``conversation.origin``."""

    type_raw: str | None = msgspec.field(default=None, name="type")

    @property
    def type(self) -> ConversationCategory:
        """The category of the conversation."""
        return ConversationCategory.parse(self.type_raw)


class Conversation(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``statuses[].conversation``: omitted by v24.0+ webhooks outside free-entry-point windows.

    ``expiration_timestamp`` is sent with ``sent`` statuses only. Some of Meta's group samples
    nest ``pricing`` here rather than beside it; :attr:`Status.charge` reads either.
    """

    id: str | None = None
    expiration_timestamp: str | int | None = None
    origin: Origin | None = None
    pricing: Pricing | None = None

    @property
    def category(self) -> ConversationCategory:
        """``origin.type`` as an enum; ``UNKNOWN`` when absent."""
        return self.origin.type if self.origin is not None else ConversationCategory.UNKNOWN

    @property
    def expires(self) -> datetime | None:
        """``expiration_timestamp`` as an aware UTC datetime, if present."""
        return unix_time(self.expiration_timestamp)


class Pricing(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``statuses[].pricing``: sent with ``sent`` and one of ``delivered``/``read``.

    ``billable`` is being deprecated by Meta; use :attr:`type` and :attr:`category`.
    """

    billable: bool | None = None
    pricing_model_raw: str | None = msgspec.field(default=None, name="pricing_model")
    type_raw: str | None = msgspec.field(default=None, name="type")
    category_raw: str | None = msgspec.field(default=None, name="category")

    @property
    def pricing_model(self) -> PricingModel:
        """The pricing model (``CBP``/``PMP``)."""
        return PricingModel.parse(self.pricing_model_raw)

    @property
    def type(self) -> PricingType:
        """Whether and why the message is charged."""
        return PricingType.parse(self.type_raw)

    @property
    def category(self) -> ConversationCategory:
        """The pricing category."""
        return ConversationCategory.parse(self.category_raw)


class Amount(msgspec.Struct, frozen=True, omit_defaults=True):
    """An amount of money as Meta writes it: ``value`` in units of ``1 / offset``
    (``{"value": 21000, "offset": 100}`` is 210.00)."""

    value: int | None = None
    offset: int | None = None


class Transaction(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``payment.transaction`` of a payment status."""

    id: str | None = None
    type: str | None = None
    status: str | None = None
    created_timestamp: str | int | None = None
    updated_timestamp: str | int | None = None
    amount: Amount | None = None
    currency: str | None = None
    method: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class Payment(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``statuses[].payment`` of a ``type == "payment"`` status (India and Brazil payments):
    ``reference_id`` is the order's reference; the status itself is ``Status.status_raw``
    (``captured``, ``pending``, ``failed``, ...)."""

    reference_id: str | None = None
    amount: Amount | None = None
    currency: str | None = None
    transaction: Transaction | None = None
    receipt: str | None = None


class Status(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """A status of a message the business sent (``value.statuses[]``).

    ``id`` is the wamid returned when the message was sent; ``recipient`` is the user (or group)
    it was sent to. ``errors`` is set on ``failed`` statuses (e.g. code 131049).
    ``biz_opaque_callback_data`` echoes the value set when sending.

    A status of a group message has ``recipient_type == "group"`` and the group id in
    ``recipient_id``; ``delivered`` and ``read`` name the participant in
    ``recipient_participant_id`` (``participant_recipient_id`` in some of Meta's samples),
    ``recipient_participant_user_id`` and ``recipient_participant_parent_user_id``
    (reference/cloudapi.md §12.4): :attr:`group_id` and :attr:`participant` read them.
    ``parent_recipient_user_id`` / ``parent_user_id`` carry the recipient's parent
    business-scoped user id (Meta's page uses both names, §13.2).

    ``type`` is absent for message statuses; ``"payment"`` marks a payment status (with
    ``payment``, reference/cloudapi.md §14.10; its shape is known from BSPs only, so read
    :attr:`raw` for anything else it carries). Call statuses come on the ``calls`` field
    (:class:`wahost.models.CallEvent`).

    The envelope fields ``phone_number_id``, ``display_phone_number`` and ``waba_id`` are filled
    by :func:`wahost.models.decode_unit`. :attr:`raw` and ``degraded`` are as on
    :class:`wahost.models.Message`.
    """

    id: str = ""
    status_raw: str = msgspec.field(default="", name="status")
    timestamp: str | int | None = None
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    parent_recipient_user_id: str | None = None
    parent_user_id: str | None = None
    recipient_type: str | None = None
    recipient_participant_id: str | None = None
    participant_recipient_id: str | None = None
    recipient_participant_user_id: str | None = None
    recipient_participant_parent_user_id: str | None = None
    recipient_identity_key_hash: str | None = None
    biz_opaque_callback_data: str | None = None
    conversation: Conversation | None = None
    pricing: Pricing | None = None
    type: str | None = None
    payment: Payment | None = None
    errors: list[Error] = []
    phone_number_id: str = ""
    display_phone_number: str = ""
    waba_id: str = ""
    raw_json: msgspec.Raw = NO_RAW
    degraded: tuple[str, ...] = ()

    @property
    def raw(self) -> dict[str, Any]:
        """The status item as Meta sent it (``value.statuses[]``), as a new dict on each read."""
        return raw_dict(self.raw_json)

    @property
    def charge(self) -> Pricing | None:
        """``pricing``, also when Meta nests it in ``conversation`` (group statuses, §12.4)."""
        if self.pricing is not None:
            return self.pricing
        return self.conversation.pricing if self.conversation is not None else None

    @property
    def status(self) -> StatusKind:
        """The status as an enum; the string Meta sent is in :attr:`status_raw`."""
        return StatusKind.parse(self.status_raw)

    @property
    def time(self) -> datetime | None:
        """``timestamp`` as an aware UTC datetime (None if Meta sent none)."""
        return unix_time(self.timestamp)

    @property
    def group_id(self) -> str | None:
        """The group id for a status of a message sent to a group, else None."""
        if self.recipient_type == "group":
            return self.recipient_id or None
        return None

    @property
    def participant(self) -> str | None:
        """The group participant this status is about (phone, else business-scoped user id);
        None for the whole-group ``sent``/``failed`` statuses and for one-to-one chats."""
        return (
            self.recipient_participant_id
            or self.participant_recipient_id
            or self.recipient_participant_user_id
            or None
        )

    @property
    def parent_recipient(self) -> str | None:
        """The recipient's parent business-scoped user id, under either name Meta uses."""
        return self.parent_recipient_user_id or self.parent_user_id

    @property
    def recipient(self) -> str:
        """The recipient's id: ``recipient_id`` (phone or group id), else
        ``recipient_user_id`` (business-scoped user id), else ``""``."""
        return self.recipient_id or self.recipient_user_id or ""
