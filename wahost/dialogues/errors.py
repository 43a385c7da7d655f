"""What a dialogue raises: at a waiting ``ask`` (:class:`AskTimeout`,
:class:`ConversationCancelled`), on a replay that no longer matches its journal
(:class:`DialogueDiverged`), and the private signal that suspends a dialogue."""

from __future__ import annotations

__all__ = ["AskTimeout", "ConversationCancelled", "DialogueDiverged", "DialogueSuspended"]


class AskTimeout(Exception):
    """Raised by ``await ctx.ask(...)`` (or ``ask_choice``, ``wait_status``) when its
    ``timeout`` is up before an answer came — also when the process that asked has died since.

    Catch it to go on (ask again, say goodbye); left uncaught it ends the dialogue.
    """

    def __init__(self, step: int, timeout: float | None = None) -> None:
        #: The number of the ask that timed out (0 for a dialogue's first).
        self.step = step
        self.timeout = timeout
        after = f" after {timeout:g} s" if timeout is not None else ""
        super().__init__(f"no answer to step {step} of the dialogue{after}")


class ConversationCancelled(Exception):
    """Raised by a waiting ``ask`` when the user sent the cancel command (``[dialogues]
    cancel_command``, ``/cancel`` by default).

    Catch it to answer ("Cancelled."); left uncaught it ends the dialogue.
    """

    def __init__(self, step: int) -> None:
        #: The number of the ask that was waiting.
        self.step = step
        super().__init__(f"the user cancelled the dialogue at step {step}")


class DialogueDiverged(Exception):
    """A replay of a dialogue did not do what its journal recorded (another send, another ask,
    a handler whose filters no longer match its first message): its code changed, or does
    something that is not the same on every run. The dialogue ends; nothing is sent."""


class DialogueSuspended(BaseException):
    """Unwinds a dialogue's handler at an ``ask`` that has no answer yet.

    A ``BaseException``, so that an ``except Exception`` in the handler does not stop it; the
    router (first run) or the dialogue engine (replays) catches it: the unit is handled and
    acked, and no coroutine waits for the answer.
    """
