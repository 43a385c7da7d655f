"""wahost: a durable, ordered, plugin-based host for WhatsApp Cloud API bots.

Public names for bot and plugin authors::

    from wahost import CallbackData, Router, filters as F      # writing a bot
    from wahost import hookimpl, Wahost, Context, Message, Status  # writing a plugin
"""

from wahost import filters
from wahost.callback_data import CallbackData
from wahost.context import Context, Conversation
from wahost.dialogues import AskTimeout, ConversationCancelled
from wahost.errors import WahostError
from wahost.hookspecs import hookimpl, hookspec
from wahost.host import Wahost
from wahost.models import (
    DecodeError,
    Event,
    Message,
    Status,
    StatusKind,
    UnknownMessage,
    WebhookError,
)
from wahost.router import SKIP, HandlerSkipped, Router
from wahost.slots import SlotKey, Slots
from wahost.units import Unit
from wahost.web import Route

__all__ = [
    "SKIP",
    "AskTimeout",
    "CallbackData",
    "Context",
    "Conversation",
    "ConversationCancelled",
    "DecodeError",
    "Event",
    "HandlerSkipped",
    "Message",
    "Route",
    "Router",
    "SlotKey",
    "Slots",
    "Status",
    "StatusKind",
    "Unit",
    "UnknownMessage",
    "Wahost",
    "WahostError",
    "WebhookError",
    "filters",
    "hookimpl",
    "hookspec",
]
