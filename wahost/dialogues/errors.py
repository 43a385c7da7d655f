"""What a dialogue raises: at a waiting ``ask`` (:class:`AskTimeout`,
:class:`ConversationCancelled`), on a replay that no longer matches its journal
(:class:`DialogueDiverged`), and the private signal that suspends a dialogue."""

from __future__ import annotations

from wahost.errors import AskTimeout as AskTimeout
from wahost.errors import ConversationCancelled as ConversationCancelled
from wahost.errors import DialogueDiverged as DialogueDiverged

__all__ = ["AskTimeout", "ConversationCancelled", "DialogueDiverged", "DialogueSuspended"]


class DialogueSuspended(BaseException):
    """Unwinds a dialogue's handler at an ``ask`` that has no answer yet.

    A ``BaseException``, so that an ``except Exception`` in the handler does not stop it; the
    router (first run) or the dialogue engine (replays) catches it: the unit is handled and
    acked, and no coroutine waits for the answer.
    """
