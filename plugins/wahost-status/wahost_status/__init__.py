"""wahost-status: the lifecycle of every message a wahost bot sends.

Every send Meta accepted is recorded; every status webhook moves its record forward (sent,
delivered, read, played, or failed), whatever order and how many times statuses arrive.
Other plugins get typed statuses (:class:`StatusUpdate`) with typed trackers, and the hook
``on_message_status`` on each forward transition. Queries: ``wahost status show``,
``wahost status stats`` and ``GET /-/status/<wamid>``. See the README.
"""

from wahost.deprecation import moved_names
from wahost_status.model import ConversationInfo, PricingInfo, StatusUpdate, parse
from wahost_status.plugin import (
    STATUS_UPDATE,
    on_message_sent,
    on_status,
    register_commands,
    register_routes,
    wahost_add_hookspecs,
    wahost_config_schema,
)
from wahost_status.record import MessageRecord, SendInfo, Step
from wahost_status.stats import StatusStats, compute_stats
from wahost_status.store import load_record
from wahost_status.trackers import decode_tracker, tracker

__all__ = [
    "STATUS_UPDATE",
    "ConversationInfo",
    "MessageRecord",
    "PricingInfo",
    "SendInfo",
    "StatusStats",
    "StatusUpdate",
    "Step",
    "compute_stats",
    "decode_tracker",
    "load_record",
    "on_message_sent",
    "on_status",
    "parse",
    "register_commands",
    "register_routes",
    "tracker",
    "wahost_add_hookspecs",
    "wahost_config_schema",
]

#: ``EXTRAS_KEY`` until the next minor release.
__getattr__ = moved_names(__name__, {"EXTRAS_KEY": "wahost_status.plugin.STATUS_UPDATE"})
