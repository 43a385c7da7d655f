"""A dialogue's journal: what it sent, asked and was answered, in the state store.

One journal per conversation (a conversation has at most one dialogue), under the key-value
namespace :data:`NAMESPACE`, keyed by the conversation. It is written through the unit's
buffered ``ctx.kv_set``, so it commits with the ack of the unit that changed it: a unit
handled twice never records an answer twice, and a unit that failed records nothing.

It holds the dialogue's first update (the raw unit, decoded again on every replay), the
state its handler's filters saw, every send with a fingerprint of its request, every step
(``ask``) with its kind and place, and every answer so far. A replay serves the sends and
answers it finds here and compares each send and step with what it records: any difference
is a divergence (:class:`~wahost.dialogues.errors.DialogueDiverged`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from wahost import outbound
from wahost.graph import SentMessage, encode_tracker
from wahost.state.base import ConversationState
from wahost.units import Unit, conversation_key

__all__ = [
    "DEADLINES",
    "NAMESPACE",
    "Answer",
    "Journal",
    "SentRecord",
    "Signal",
    "Step",
    "StepKind",
    "deadline_key",
    "decode",
    "decode_signal",
    "dialogue_id",
    "encode",
    "encode_signal",
    "fingerprint",
]

#: The key-value namespace of the journals, keyed by conversation.
NAMESPACE = "wahost.dialogues"

StepKind = Literal["ask", "choice", "status"]
AnswerKind = Literal["message", "status", "timeout", "cancelled"]


class SentRecord(msgspec.Struct, array_like=True):
    """One send of the dialogue: the fingerprint of its request and Meta's answer."""

    digest: str
    sent: SentMessage


class Step(msgspec.Struct, array_like=True):
    """One ``ask`` (``ask_choice``, ``wait_status``) of the dialogue."""

    kind: StepKind
    #: How many sends the dialogue had made when the step began waiting (its prompt included).
    sends: int
    #: When its timeout is up (``time.time()``), or ``None``.
    deadline: float | None = None
    #: ``wait_status``: the wamid and the status waited for.
    wamid: str = ""
    status: str = ""


class Answer(msgspec.Struct, array_like=True):
    """How a step was answered: a message or status (the raw unit), a timeout, a cancel."""

    kind: AnswerKind
    unit: Unit | None = None


class Journal(msgspec.Struct, kw_only=True):
    """The journal of one dialogue; see the module docstring."""

    #: The dialogue's id: the first unit's key and the handler's name, digested.
    id: str
    #: The handler's stable name, ``<router name>:<module.qualname>``.
    handler: str
    #: The handler's ``version`` when the dialogue started.
    version: str = ""
    #: The update that started it, and the conversation's state its filters saw.
    start: Unit
    start_state: ConversationState | None = None
    started_at: float = 0.0
    sends: list[SentRecord] = msgspec.field(default_factory=list)
    steps: list[Step] = msgspec.field(default_factory=list)
    answers: list[Answer] = msgspec.field(default_factory=list)
    #: The latest status seen of each message the dialogue sent (for ``wait_status``).
    statuses: dict[str, Unit] = msgspec.field(default_factory=dict)

    @property
    def waiting(self) -> Step | None:
        """The step that waits for its answer (the last one), or ``None``."""
        if len(self.answers) < len(self.steps):
            return self.steps[len(self.answers)]
        return None

    def timer(self, k: int) -> Signal | None:
        """The timeout of step ``k``, when it has one."""
        deadline = self.steps[k].deadline
        if deadline is None:
            return None
        return Signal(self.start.phone_number_id, self.start.user, self.id, k, deadline)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Journal)


def encode(journal: Journal) -> bytes:
    return _encoder.encode(journal)


def decode(value: bytes) -> Journal:
    """Raises :class:`msgspec.DecodeError` for a value that is not a journal."""
    return _decoder.decode(value)


def _digest(data: bytes, size: int = 12) -> str:
    return base64.urlsafe_b64encode(hashlib.blake2b(data, digest_size=size).digest()).decode()


def dialogue_id(unit_key: str, handler: str) -> str:
    """A dialogue's id: the same when its first unit is handled again (so its sends are found
    in the outbox), different for every other start."""
    return _digest(f"{unit_key}\n{handler}".encode())


def fingerprint(to: str, message: Any, kwargs: Mapping[str, Any]) -> str:
    """A digest of the request a send makes (recipient, sender, body, quote, tracker) from the
    arguments of ``ctx.send``."""
    rest = dict(kwargs)
    phone_number_id = rest.pop("phone_number_id", None)
    reply_to = rest.pop("reply_to", None)
    group = bool(rest.pop("group", False))
    tracker = encode_tracker(rest.pop("tracker", None))
    body = outbound.message_body(
        to, outbound.coerce(message, **rest), reply_to=reply_to, biz_opaque_callback_data=tracker
    )
    return _digest(msgspec.json.encode([phone_number_id, group, body]))


# -- timeouts -----------------------------------------------------------------------------------
#
# A step with a timeout writes a *deadline* key with its journal (same buffered commit): the
# key sorts by the deadline, so every worker finds the due ones with one ordered scan of the
# namespace. A due deadline becomes a ``dialogue`` unit in the conversation's lane (ordered
# with the user's messages); handling it deletes the key. An answer deletes it too.


class Signal(msgspec.Struct, array_like=True):
    """The body of a ``dialogue`` unit (and the value of a deadline key): raise
    :class:`~wahost.dialogues.errors.AskTimeout` at step ``step`` of dialogue ``dialogue``,
    due at ``due``, if it still waits there."""

    phone_number_id: str
    user: str
    dialogue: str
    step: int
    due: float

    @property
    def key(self) -> str:
        """Its deadline key: sorted by ``due``, unique per step."""
        return deadline_key(self.dialogue, self.step, self.due)

    def unit(self) -> Unit:
        """The timeout unit, in the conversation's lane."""
        return Unit(
            f"dialogue:timeout:{self.dialogue}:{self.step}",
            "dialogue",
            self.phone_number_id,
            self.user,
            conversation_key(self.phone_number_id, self.user),
            _signal_encoder.encode(self),
        )


#: The key-value namespace of the deadlines of waiting steps.
DEADLINES = "wahost.dialogues.deadlines"

_signal_encoder = msgspec.json.Encoder()
_signal_decoder = msgspec.json.Decoder(Signal)


def deadline_key(dialogue: str, step: int, due: float) -> str:
    """Milliseconds since the epoch, zero-padded so that keys sort by time."""
    return f"{round(due * 1000):015d}:{dialogue}:{step}"


def encode_signal(signal: Signal) -> bytes:
    return _signal_encoder.encode(signal)


def decode_signal(value: bytes) -> Signal:
    """Raises :class:`msgspec.DecodeError` for a value that is not a signal."""
    return _signal_decoder.decode(value)
