"""Units: the pieces one webhook is split into, and what the queue stores.

A webhook POST may carry up to 1000 updates across several entries and changes
(reference/cloudapi.md §3). Ingress splits it into *units* — one per message, status,
value-level error or other change — and enqueues them in one transaction. A unit keeps the
raw JSON of its item, so the queue never re-encodes what Meta sent and the worker decodes it
into the typed models (:mod:`wahost.models`) only when it is handled.
"""

from __future__ import annotations

from typing import Literal

import msgspec

UnitKind = Literal["message", "status", "error", "event"]


class Unit(msgspec.Struct, frozen=True, gc=False):
    """One update of a webhook, as the queue stores it.

    ``key`` is the deduplication key: ``msg:<wamid>`` for a message,
    ``status:<wamid>:<status>`` for a status, ``error:<hash>`` / ``event:<hash>`` (a hash of
    the change's raw bytes) for the rest. Meta retries a webhook for days, so the queue
    remembers keys for ``dedupe_ttl``.

    ``conversation`` is the ordering lane: units of one lane are handled one at a time, in
    arrival order. For messages and statuses it is ``<phone_number_id>:<user>``; a change with
    no user (a template status, a Flow alert) gets a lane of its own (its key).

    ``body`` is the JSON of a :class:`UnitBody`.
    """

    key: str
    kind: UnitKind
    phone_number_id: str
    user: str
    conversation: str
    body: bytes


class UnitBody(msgspec.Struct, frozen=True, omit_defaults=True):
    """What a unit carries: its item plus the envelope context needed to interpret it.

    ``item`` is the raw JSON of the message, status, error or (for events) the change's whole
    ``value``, byte for byte as Meta sent it.
    """

    field: str
    item: msgspec.Raw
    waba_id: str = ""
    time: int | None = None
    metadata: msgspec.Raw | None = None
    contact: msgspec.Raw | None = None


def conversation_key(phone_number_id: str, user: str) -> str:
    """The ordering lane and state-store key of the conversation ``(phone_number_id, user)``."""
    return f"{phone_number_id}:{user}"
