"""Per-conversation state and namespaced key-value data: the contract and built-in stores."""

from wahost.state.base import (
    ConversationState,
    KVWrite,
    StateChanges,
    StateStore,
    StoreUnavailable,
)
from wahost.state.memory import MemoryStateStore
from wahost.state.sqlite import SQLiteStateStore

__all__ = [
    "ConversationState",
    "KVWrite",
    "MemoryStateStore",
    "SQLiteStateStore",
    "StateChanges",
    "StateStore",
    "StoreUnavailable",
]
