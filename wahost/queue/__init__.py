"""The durable queue of units: the contract and the built-in backends."""

from wahost.queue.base import (
    DeadUnit,
    Lease,
    LeaseLost,
    QuarantinedBody,
    QueueBackend,
    QueueStats,
    QueueUnavailable,
)
from wahost.queue.memory import MemoryQueue
from wahost.queue.owner import Owner, known_dead
from wahost.queue.sqlite import SQLiteQueue

__all__ = [
    "DeadUnit",
    "Lease",
    "LeaseLost",
    "MemoryQueue",
    "Owner",
    "QuarantinedBody",
    "QueueBackend",
    "QueueStats",
    "QueueUnavailable",
    "SQLiteQueue",
    "known_dead",
]
