"""Webhook fields of numbers shared with the WhatsApp Business app (coexistence), and the
marketing preferences of users.

``smb_message_echoes`` echoes what the business sent from the app, ``history`` replays up to
180 days of chats when a number is onboarded, ``smb_app_state_sync`` syncs the app's contacts
(reference/cloudapi.md §14.2, §14.7); ``user_preferences`` says a user stopped or resumed
marketing messages (§14.4), after which marketing sends fail with 131050.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from wahost.models.common import Error, unix_time
from wahost.models.envelope import Contact
from wahost.models.messages import Edit, MessageContent


class MessageEcho(MessageContent, kw_only=True, frozen=True, omit_defaults=True):
    """A message the business sent from the WhatsApp Business app or a companion device:
    ``from_`` is the business number, ``to`` the user (with business-scoped ids beside it).
    The content is as in :class:`wahost.models.MessageContent`; an edit made in the app has
    ``type == "edit"`` and ``edit``."""

    id: str = ""
    from_: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    to_user_id: str | None = None
    to_parent_user_id: str | None = None
    timestamp: str | int | None = None
    edit: Edit | None = None

    @property
    def time(self) -> datetime | None:
        """``timestamp`` as an aware UTC datetime."""
        return unix_time(self.timestamp)


class MessageEchoes(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The value of a ``smb_message_echoes`` change."""

    contacts: list[Contact] = []
    message_echoes: list[MessageEcho] = []


class HistoryContext(msgspec.Struct, frozen=True, omit_defaults=True):
    """``history_context``: what became of a past message (DELIVERED, ERROR, PENDING, PLAYED,
    READ, SENT)."""

    status: str | None = None


class HistoryMessage(MessageEcho, kw_only=True, frozen=True, omit_defaults=True):
    """A past message of a synced chat; ``to`` is set on the business's own messages. Media
    come as ``type == "media_placeholder"`` (their ids follow in later webhooks)."""

    history_context: HistoryContext | None = None


class ThreadContext(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``threads[].context``: the user's ids when the thread id alone does not give them."""

    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    username: str | None = None


class HistoryThread(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One chat: ``id`` is the user's phone number."""

    id: str = ""
    context: ThreadContext | None = None
    messages: list[HistoryMessage] = []


class HistoryMetadata(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``history[].metadata``: ``phase`` 0 (day 0-1), 1 (days 1-90) or 2 (days 90-180);
    chunks may arrive out of ``chunk_order``; ``progress`` is 0-100."""

    phase: int | None = None
    chunk_order: int | None = None
    progress: int | None = None


class HistoryChunk(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One item of ``history[]``; ``errors`` (code 2593109) when the user declined sharing."""

    metadata: HistoryMetadata | None = None
    threads: list[HistoryThread] = []
    errors: list[Error] = []


class HistoryUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The value of a ``history`` change: chunks of past chats, or (for media of the last 14
    days) ``messages`` that give the ids of earlier placeholders."""

    history: list[HistoryChunk] = []
    messages: list[HistoryMessage] = []


class SyncedContact(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """``state_sync[].contact``: a contact of the WhatsApp Business app."""

    full_name: str | None = None
    first_name: str | None = None
    phone_number: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    username: str | None = None


class SyncMetadata(msgspec.Struct, frozen=True, omit_defaults=True):
    """``state_sync[].metadata``."""

    timestamp: str | int | None = None


class StateSync(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One item of ``state_sync[]``: ``type`` ``contact``, ``action`` ``add`` or ``remove``."""

    type: str | None = None
    contact: SyncedContact | None = None
    action: str | None = None
    metadata: SyncMetadata | None = None


class AppStateSync(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The value of a ``smb_app_state_sync`` change."""

    state_sync: list[StateSync] = []


class UserPreference(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """One item of ``user_preferences[]``: ``category`` ``marketing_messages``, ``value``
    ``stop`` or ``resume`` (or ``signup``, with ``signup_id``); ``detail`` says it in words."""

    wa_id: str | None = None
    user_id: str | None = None
    parent_user_id: str | None = None
    detail: str | None = None
    category: str | None = None
    value: str | None = None
    signup_id: str | None = None
    timestamp: str | int | None = None

    @property
    def user(self) -> str:
        """The user: ``wa_id``, else ``user_id``."""
        return self.wa_id or self.user_id or ""

    @property
    def stopped_marketing(self) -> bool:
        """True when the user asked to receive no more marketing messages."""
        return self.category == "marketing_messages" and self.value == "stop"


class UserPreferencesUpdate(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """The value of a ``user_preferences`` change."""

    contacts: list[Contact] = []
    user_preferences: list[UserPreference] = []
