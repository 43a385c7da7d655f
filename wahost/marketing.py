"""Who stopped marketing messages, so that a marketing send to them is refused locally.

A user stops (or resumes) marketing messages in WhatsApp; Meta tells the business with a
``user_preferences`` webhook (reference/cloudapi.md §14.4), and a marketing send to a user who
stopped fails with 131050 (§7). This built-in plugin keeps the list in the state store
(namespace :data:`NAMESPACE`, key ``<phone number id>:<user>``), written from both signs, and
:func:`check_allowed` refuses a :class:`~wahost.outbound.MarketingTemplate` to a user on it
with :class:`MarketingStopped` before any request. A ``resume`` removes the user.

Only what this host saw is known: a user who stopped before wahost ran is learned from the
first 131050. Template sends through ``/messages`` are not refused (wahost cannot tell a
marketing template from another without its definition), but their 131050 is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wahost.errors import MarketingStopped as MarketingStopped
from wahost.hookspecs import hookimpl
from wahost.models.coexistence import UserPreferencesUpdate

if TYPE_CHECKING:
    from wahost.context import Context
    from wahost.host import Wahost

__all__ = [
    "NAMESPACE",
    "STOPPED_CODE",
    "MarketingStopped",
    "check_allowed",
    "record_refusal",
    "stopped_key",
]

NAMESPACE = "wahost.marketing.stopped"
#: Meta's error code of a marketing send to a user who stopped them (reference §7).
STOPPED_CODE = 131050


def stopped_key(phone_number_id: str, user: str) -> str:
    """The state store key of ``user`` of the business number ``phone_number_id``."""
    return f"{phone_number_id}:{user.lstrip('+')}"


async def check_allowed(host: Wahost, phone_number_id: str, to: str, message: Any) -> None:
    """Raise :class:`MarketingStopped` when ``message`` is a marketing send to a user who
    stopped marketing messages."""
    from wahost.outbound.marketing import MarketingTemplate

    if not isinstance(message, MarketingTemplate):
        return
    if await host.state.kv_get(NAMESPACE, stopped_key(phone_number_id, to)) is not None:
        raise MarketingStopped(to)


async def record_refusal(host: Wahost, phone_number_id: str, to: str, exc: BaseException) -> None:
    """Record ``to`` as stopped when a send was refused with 131050. Written to the store at
    once, not with the unit: the refusal happened whatever becomes of the unit."""
    if getattr(exc, "code", None) == STOPPED_CODE:
        await host.state.kv_set(NAMESPACE, stopped_key(phone_number_id, to), b"131050")


@hookimpl(trylast=True)
def on_event(event: Any, ctx: Context) -> None:
    """Record a ``stop`` or ``resume`` of marketing messages (committed with the unit)."""
    value = getattr(event, "value", None)
    if not isinstance(value, UserPreferencesUpdate):
        return
    pnid = event.phone_number_id or ctx.phone_number_id
    for preference in value.user_preferences:
        if preference.category != "marketing_messages" or not preference.user:
            continue
        key = stopped_key(pnid, preference.user)
        if preference.value == "stop":
            ctx.kv_set(NAMESPACE, key, str(preference.timestamp or "").encode())
        elif preference.value == "resume":
            ctx.kv_delete(NAMESPACE, key)


@hookimpl(trylast=True)
def on_status(status: Any, ctx: Context) -> None:
    """Record the user of a send that failed with 131050."""
    errors = getattr(status, "errors", None) or ()
    if any(getattr(e, "code", None) == STOPPED_CODE for e in errors) and status.recipient:
        pnid = status.phone_number_id or ctx.phone_number_id
        ctx.kv_set(NAMESPACE, stopped_key(pnid, status.recipient), b"131050")
