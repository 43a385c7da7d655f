"""The ``calls`` webhook field: calls starting and ending, and business-initiated call statuses.

One change carries ``calls[]`` (``connect`` or ``terminate``) or ``statuses[]`` (RINGING,
ACCEPTED, REJECTED), with the callers in ``contacts[]`` and, on failed calls, value-level
``errors[]`` without a ``title`` (reference/cloudapi.md §14.1, §19).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from wahost.models.common import Error, unix_time
from wahost.models.envelope import Contact


class CallSession(msgspec.Struct, frozen=True, omit_defaults=True):
    """``calls[].session``: the SDP ``offer`` of a user-initiated call, or the ``answer`` to a
    business-initiated one."""

    sdp_type: str | None = None
    sdp: str | None = None


class Call(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One item of ``calls[]``.

    ``event`` is ``connect`` (answer a USER_INITIATED call within about 30-60 s with
    ``pre_accept`` and ``accept``) or ``terminate`` (``status`` COMPLETED or FAILED, written in
    either case; ``start_time``, ``end_time`` and ``duration`` in seconds when it was picked
    up). ``direction`` is USER_INITIATED or BUSINESS_INITIATED. ``deeplink_payload`` and
    ``cta_payload`` come from a call link or button. The user is ``from_`` for calls they
    make and ``to`` for calls the business makes, with business-scoped ids beside each.
    """

    id: str = ""
    event: str = ""
    direction: str | None = None
    from_: str | None = msgspec.field(default=None, name="from")
    from_user_id: str | None = None
    from_parent_user_id: str | None = None
    to: str | None = None
    to_user_id: str | None = None
    to_parent_user_id: str | None = None
    timestamp: str | int | None = None
    session: CallSession | None = None
    status: str | None = None
    start_time: str | int | None = None
    end_time: str | int | None = None
    duration: int | None = None
    deeplink_payload: str | None = None
    cta_payload: str | None = None
    biz_opaque_callback_data: str | None = None

    @property
    def user(self) -> str:
        """The user on the call: the caller of a user-initiated call, else the callee."""
        if self.direction == "BUSINESS_INITIATED":
            return self.to or self.to_user_id or ""
        return self.from_ or self.from_user_id or ""

    @property
    def time(self) -> datetime | None:
        """``timestamp`` as an aware UTC datetime."""
        return unix_time(self.timestamp)


class CallStatus(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One item of ``statuses[]`` of a ``calls`` change: a business-initiated call is
    RINGING, ACCEPTED or REJECTED (a terminate follows). ``type`` is ``"call"``."""

    id: str = ""
    type: str | None = None
    status: str = ""
    timestamp: str | int | None = None
    recipient_id: str | None = None
    recipient_user_id: str | None = None
    recipient_parent_user_id: str | None = None
    biz_opaque_callback_data: str | None = None


class CallEvent(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The value of a ``calls`` change: ``calls`` or ``statuses``, the users in
    ``contacts``, and the ``errors`` of a failed call."""

    contacts: list[Contact] = []
    calls: list[Call] = []
    statuses: list[CallStatus] = []
    errors: list[Error] = []
