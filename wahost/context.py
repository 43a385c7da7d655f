"""The context a hook gets while a unit is handled (``ctx``).

Writes made through ``ctx.state`` and ``ctx.kv_set`` are buffered and committed together
with the unit's ack, so a unit that is redelivered after a crash never applies them twice and
a unit that fails applies none of them.

Inside a router handler, ``await ctx.ask(...)`` (``ask_choice``, ``wait_status``) turns the
handler into a dialogue (:mod:`wahost.dialogues`).
"""

from __future__ import annotations

import copy
import functools
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import msgspec
import structlog

from wahost import local_media, marketing
from wahost.errors import GraphError
from wahost.groups import Chat, chat_of
from wahost.router import HandlerSkipped
from wahost.slots import LegacyView, Slots
from wahost.state.base import ConversationState, KVWrite, StateChanges, now
from wahost.units import Unit, conversation_key

if TYPE_CHECKING:
    from wahost.account.blocking import BlockResult
    from wahost.callback_data import CallbackData
    from wahost.dialogues.run import DialogueRun
    from wahost.filters.base import Filter
    from wahost.graph import GraphClient, SentMessage
    from wahost.host import Wahost
    from wahost.models import Message, Status
    from wahost.queue.base import Lease
    from wahost.router import Running

_encode = msgspec.json.encode
#: The snapshot of a conversation with no state: no name, no data.
_EMPTY_SNAPSHOT = _encode([None, {}])

D = TypeVar("D", bound="CallbackData")


class Conversation:
    """The state of the unit's conversation ``(phone_number_id, user)``: a name and data.

    ``name`` is ``None`` until a plugin sets one. ``data`` is a plain dict you may mutate in
    place; changes are detected and committed with the unit's ack.
    """

    def __init__(self, key: str, stored: ConversationState | None) -> None:
        self.key = key
        self._stored = stored
        self._name = stored.name if stored else None
        self.data: dict[str, Any] = copy.deepcopy(stored.data) if stored else {}
        # A conversation without a state (every unit's context starts with one) needs no
        # encoding: its snapshot is always the same.
        self._snapshot = _encode([self._name, self.data]) if stored else _EMPTY_SNAPSHOT
        self._cleared = False

    @property
    def name(self) -> str | None:
        """The conversation's current state name."""
        return self._name

    @property
    def loaded(self) -> ConversationState | None:
        """The state as it was read from the store, before this unit's changes."""
        return self._stored

    def get(self, key: str, default: Any = None) -> Any:
        """A value of the conversation's data."""
        return self.data.get(key, default)

    def set(self, name: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Set the state name and, when given, replace the data."""
        self._name = name
        if data is not None:
            self.data = dict(data)
        self._cleared = False

    def update(self, values: dict[str, Any] | None = None, /, **more: Any) -> None:
        """Merge values into the data."""
        if values:
            self.data.update(values)
        self.data.update(more)
        self._cleared = False

    def clear(self) -> None:
        """Forget the conversation's name and data."""
        self._name = None
        self.data = {}
        self._cleared = True

    def pending(self) -> tuple[bool, ConversationState | None]:
        """``(changed, new state or None when cleared)`` — used when committing."""
        if self._stored is None and self._name is None and not self.data:
            return False, None  # none stored, none now (cleared or not): nothing to write
        if self._cleared and self._stored is not None and not self.data and self._name is None:
            return True, None
        if _encode([self._name, self.data]) == self._snapshot:
            return False, None
        return True, ConversationState(name=self._name, data=self.data, updated_at=now())


class Context:
    """What a hook implementation gets as ``ctx`` while a unit is handled.

    In a group chat (reference/cloudapi.md §12) the conversation is the group: ``ctx.state``,
    the ordering of units and dialogues are the group's, shared by its participants;
    :attr:`group_id` is set, :attr:`sender` is the participant and :meth:`reply` answers in
    the group.
    """

    def __init__(self, host: Wahost, unit: Unit, *, lease: Lease | None = None) -> None:
        self.host = host
        self.unit = unit
        self.lease = lease
        #: How many times this unit has been tried, this time included.
        self.attempt = lease.attempt if lease is not None else 1
        #: Whether this is the unit's first handling ever (see
        #: :attr:`wahost.queue.Lease.first_handling`): its sends need no look in the outbox.
        self.first_handling = lease.first_handling if lease is not None else False
        self.state = Conversation(conversation_key(unit.phone_number_id, unit.user), None)
        self._kv: dict[tuple[str, str], KVWrite] = {}
        #: Number of messages sent so far while handling this unit (the outbox sequence).
        self.sends = 0
        #: The decoded update (message, status, error or event) being handled.
        self.update: Any = None
        #: What plugins share while handling this unit (the path of downloaded media, the
        #: recognised command), each in a typed slot its plugin owns (:mod:`wahost.slots`).
        self.slots = Slots()
        #: The router handler being run (set by :class:`wahost.Router`), or ``None``.
        self.running: Running | None = None
        #: The dialogue this context runs (``ctx.ask``), or ``None``: its sends go through the
        #: dialogue's journal and outbox key.
        self.dialogue: DialogueRun | None = None
        #: ``(to, message, arguments, result)`` of each send of this unit, in order: a
        #: dialogue that starts later in the handler journals the handler's sends from here.
        self.sent: list[tuple[str, Any, dict[str, Any], SentMessage]] = []
        self._log: structlog.stdlib.BoundLogger | None = None

    @property
    def log(self) -> structlog.stdlib.BoundLogger:
        """A structlog logger bound to the unit (its key, kind and conversation)."""
        # Bound on first use: most units log nothing, and binding costs every unit.
        if self._log is None:
            unit = self.unit
            self._log = structlog.get_logger("wahost.unit").bind(
                unit=unit.key, kind=unit.kind, conversation=unit.conversation
            )
        return self._log

    @log.setter
    def log(self, logger: structlog.stdlib.BoundLogger) -> None:
        self._log = logger

    @property
    def extras(self) -> LegacyView:
        """**Deprecated** (removed in the next minor release): use :attr:`slots`. A dict view
        of the slots by their keys' names, warning at each use."""
        return self.slots.legacy_view("ctx.extras")

    def skip(self) -> NoReturn:
        """Pass the update on: inside a :class:`wahost.Router`'s handler, the router tries its
        next matching handler, then the next router and plugin; inside a filter, no match;
        inside a ``before`` function, the router is skipped. Raises (nothing after it runs).

        Only for routers: in a hook implementation of your own, return ``None`` instead.
        """
        raise HandlerSkipped

    async def load(self) -> None:
        """Read the conversation's state from the store (done by the worker)."""
        if self.unit.user:
            self.set_loaded_state(await self.host.state.get(self.state.key))

    def set_loaded_state(self, stored: ConversationState | None) -> None:
        """Take ``stored`` as the conversation's state, read by the worker with the rest of
        its batch."""
        self.state = Conversation(self.state.key, stored)

    @property
    def client(self) -> GraphClient:
        """The Graph API client of the host."""
        if self.host.client is None:
            raise RuntimeError("the host is not started")
        return self.host.client

    # -- key-value, committed with the unit ---------------------------------------------

    async def kv_get(self, namespace: str, key: str) -> bytes | None:
        """Read a namespaced key, seeing this unit's own buffered writes."""
        pending = self._kv.get((namespace, key))
        if pending is not None:
            return pending.value
        return await self.host.state.kv_get(namespace, key)

    def kv_set(self, namespace: str, key: str, value: bytes, *, ttl: float | None = None) -> None:
        """Buffer a namespaced write, committed with the unit's ack."""
        self._kv[(namespace, key)] = KVWrite(namespace, key, value, ttl)

    def kv_delete(self, namespace: str, key: str) -> None:
        """Buffer a delete, committed with the unit's ack."""
        self._kv[(namespace, key)] = KVWrite(namespace, key, None)

    def share_writes(self, other: Context) -> None:
        """Buffer this context's key-value writes with ``other``'s, so that they commit with
        ``other``'s unit (a dialogue runs with its first update while another is handled)."""
        self._kv = other._kv

    def changes(self) -> StateChanges:
        """Everything this unit wrote, to commit with its ack."""
        changes = StateChanges(unit_key=self.unit.key, kv=list(self._kv.values()))
        changed, state = self.state.pending()
        if changed:
            changes.conversations[self.state.key] = state
        return changes

    # -- sending ------------------------------------------------------------------------

    @property
    def phone_number_id(self) -> str:
        """The business phone number the unit came to (the configured one for events)."""
        return self.unit.phone_number_id or self.host.config.whatsapp.phone_number_id

    async def send(
        self, to: str, message: Any = None, /, *, group: bool = False, **kwargs: Any
    ) -> SentMessage:
        """Send a message to ``to`` from the unit's phone number; see
        :meth:`wahost.graph.GraphClient.send` for the arguments. ``group=True``: ``to`` is a
        group id (``ctx.send(ctx.group_id, "hi", group=True)``); a group takes text, media
        and templates only.

        Sends go through the reply outbox (:mod:`wahost.outbox`): when this unit is handled
        again (after a failure, a crash or a replay), a send Meta already accepted is not made
        again (its recorded result is returned); while the Graph API is unavailable the send
        waits for it; a send whose outcome is unknown is confirmed by Meta's status before it is
        sent again.

        A media keyword given a local file (``image=Path("chart.png")`` or bytes) uploads it
        first through wahost-media (:mod:`wahost.local_media`; without the plugin,
        :class:`~wahost.local_media.MediaPluginMissing`). A
        :class:`~wahost.outbound.MarketingTemplate` to a user who stopped marketing messages
        raises :class:`~wahost.marketing.MarketingStopped` without a request.
        """
        kwargs.setdefault("phone_number_id", self.phone_number_id)
        message, kwargs = await local_media.resolve(
            self.host, message, kwargs, kwargs["phone_number_id"]
        )
        await marketing.check_allowed(self.host, kwargs["phone_number_id"], to, message)
        if group:  # only when set: a dialogue's journal fingerprints the arguments
            kwargs["group"] = True
        try:
            if self.dialogue is not None:
                return await self.dialogue.send(to, message, kwargs)
            n = self.sends
            self.sends += 1
            outbox = self.host.outbox
            if outbox is None:
                raise RuntimeError("the host is not started")
            sent, fresh = await outbox.send(
                self.unit.key, n, to, message, first_handling=self.first_handling, **kwargs
            )
        except GraphError as exc:
            await marketing.record_refusal(self.host, kwargs["phone_number_id"], to, exc)
            raise
        self.sent.append((to, message, kwargs, sent))
        if fresh:
            if self.host.metrics is not None:
                self.host.metrics.replied(self.unit)
            await self.host.dispatch.broadcast(
                "on_message_sent", unit=self.unit, sent=sent, ctx=self
            )
        return sent

    async def reply(
        self, message: Any = None, /, *, quote: bool = False, **kwargs: Any
    ) -> SentMessage:
        """Send a message to the unit's user, or in a group chat to the group (never to the
        participant privately); ``quote=True`` shows it as a reply to the inbound message (a
        reply context)."""
        if quote and self.message_id is not None:
            kwargs.setdefault("reply_to", self.message_id)
        group_id = self.group_id
        if group_id is not None:
            return await self.send(group_id, message, group=True, **kwargs)
        return await self.send(self.unit.user, message, **kwargs)

    async def mark_read(self, *, typing: bool = False) -> None:
        """Mark the inbound message as read (blue ticks); ``typing=True`` also shows the
        typing indicator until the reply (or 25 s). In a group chat it does nothing: Meta
        does not support marking group messages as read (reference/cloudapi.md §12.1)."""
        if self.message_id is None:
            raise RuntimeError("mark_read needs an inbound message")
        if self.is_group:
            return
        await self.client.mark_read(
            self.message_id, phone_number_id=self.phone_number_id, typing=typing
        )

    async def block_sender(self) -> BlockResult:
        """Block the user who wrote this message (in a group, the participant, not the
        group) from the unit's phone number, for abuse handling: they can no longer write to
        the business. Meta blocks only users who wrote in the last 24 hours; a refusal is in
        the result's ``failed`` (or raised as :class:`~wahost.errors.GraphError`), see
        :class:`wahost.account.BlockingApi`."""
        from wahost.account.blocking import BlockingApi

        sender = self.sender
        if not sender or self.unit.kind != "message":
            raise RuntimeError("block_sender needs an inbound message with a sender")
        return await BlockingApi(self.client, self.phone_number_id).block([sender])

    # -- dialogues (wahost.dialogues) ----------------------------------------------------------

    async def ask(
        self,
        prompt: Any,
        /,
        *filters: Filter,
        timeout: float | None = None,  # noqa: ASYNC109 - a durable timer, not a wait in memory
        retry: Any = None,
    ) -> Message:
        """Send ``prompt`` (anything :meth:`reply` takes) and return the conversation's next
        message that matches ``filters`` (all of them; none: any message).

        A message that does not match is answered with ``retry`` (when given) and the
        dialogue keeps waiting; without ``retry`` it goes on to the routers. ``timeout``
        (seconds) raises :class:`wahost.AskTimeout` here when the time is up, the cancel
        command :class:`wahost.ConversationCancelled`.

        Only in a router's message or status handler. The handler does not wait in memory: it
        is run again from the top when the answer comes, earlier asks and sends served from
        its journal — see docs/dialogues.md for what the code between asks may do.
        """
        from wahost.dialogues.run import message_filter, run_of

        check = message_filter(filters, "ctx.ask")
        return await (await run_of(self)).step(  # type: ignore[no-any-return]
            "ask", prompt, check, seconds=timeout, retry=retry
        )

    async def ask_choice(
        self,
        prompt: Any,
        choice: type[D],
        /,
        *filters: Filter,
        timeout: float | None = None,  # noqa: ASYNC109 - a durable timer, not a wait in memory
        retry: Any = None,
    ) -> D:
        """Send ``prompt`` (buttons or a list whose ids are ``choice`` values) and return the
        :class:`wahost.CallbackData` value of the button or row the user picks.

        A press of another button (another class, or ``filters`` that do not match) is not an
        answer: ``retry`` is sent when given. Otherwise as :meth:`ask`.
        """
        from wahost.dialogues.run import choice_filter, run_of

        check = choice_filter(choice, filters)
        return await (await run_of(self)).step(  # type: ignore[no-any-return]
            "choice", prompt, check, seconds=timeout, retry=retry
        )

    async def wait_status(
        self,
        sent: SentMessage | str,
        status: str = "read",
        /,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a durable timer, not a wait in memory
    ) -> Status:
        """Wait for Meta's ``status`` (``sent``, ``delivered``, ``read`` or ``played``) of a
        message sent to this conversation's user (a :class:`~wahost.graph.SentMessage` or its
        wamid) and return that :class:`~wahost.models.Status`.

        A later status counts too (``read`` answers a wait for ``delivered``), and so does
        ``failed``: check ``status.status``. A status that came before the wait, while the
        dialogue existed, answers at once. ``timeout`` raises :class:`wahost.AskTimeout`.
        """
        from wahost.dialogues.run import run_of, status_step

        run = await run_of(self)
        return await status_step(run, sent, status, seconds=timeout)

    @property
    def replaying(self) -> bool:
        """Inside a dialogue, whether the code running now already ran when an earlier
        message was handled (it runs again to reach the ask being answered). Guard side
        effects that must happen once per step with ``if not ctx.replaying:``."""
        return self.dialogue is not None and self.dialogue.replaying

    # -- group chats (wahost.groups) ----------------------------------------------------------

    @functools.cached_property
    def chat(self) -> Chat:
        """The unit's chat: its group (``None`` for a one-to-one chat) and participant."""
        return chat_of(self.unit, self.update)

    @property
    def group_id(self) -> str | None:
        """The group the message was sent in, or the status's group; ``None`` in a one-to-one
        chat. It is also the conversation's user (``ctx.unit.user``)."""
        return self.chat.group_id

    @property
    def is_group(self) -> bool:
        """Whether the unit belongs to a group chat."""
        return self.chat.group_id is not None

    @property
    def sender(self) -> str:
        """Who the update is from: the author of a message (in a group, the participant who
        wrote it, where ``ctx.unit.user`` is the group); for a status, its recipient (in a
        group, the participant, ``""`` for the ``sent``/``failed`` of the whole group). ``""``
        for other updates."""
        chat = self.chat
        if self.unit.kind == "message":
            author = getattr(self.update, "sender", None)
            if isinstance(author, str) and author:
                return author
            return chat.participant if chat.group_id is not None else self.unit.user
        if self.unit.kind == "status":
            return chat.participant if chat.group_id is not None else self.unit.user
        return ""

    @property
    def message_id(self) -> str | None:
        """The wamid of the inbound message being handled, if the unit is one."""
        return getattr(self.update, "id", None) if self.unit.kind == "message" else None
