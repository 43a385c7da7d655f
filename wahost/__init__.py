"""wahost: a durable, ordered, plugin-based host for WhatsApp Cloud API bots.

Public names for bot and plugin authors::

    from wahost import hookimpl, Wahost, Context, Message, Status
"""

from wahost.context import Context, Conversation
from wahost.hookspecs import hookimpl, hookspec
from wahost.host import Route, Wahost
from wahost.models import (
    DecodeError,
    Event,
    Message,
    Status,
    StatusKind,
    UnknownMessage,
    WebhookError,
)
from wahost.units import Unit

__all__ = [
    "Context",
    "Conversation",
    "DecodeError",
    "Event",
    "Message",
    "Route",
    "Status",
    "StatusKind",
    "Unit",
    "UnknownMessage",
    "Wahost",
    "WebhookError",
    "hookimpl",
    "hookspec",
]
