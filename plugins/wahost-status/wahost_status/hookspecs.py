"""The hook wahost-status adds for other plugins (registered through
``wahost_add_hookspecs``; dispatched by the host's dispatcher, never ``pm.hook``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wahost import hookspec

if TYPE_CHECKING:
    from wahost import Context, Wahost
    from wahost_status.model import StatusUpdate
    from wahost_status.record import MessageRecord


@hookspec
async def on_message_status(
    host: Wahost, status: StatusUpdate, record: MessageRecord, ctx: Context
) -> None:
    """React to a message's status moving forward (``wahost-status``).

    **When:** once per *forward* transition of a message the business sent: ``sent``,
    ``delivered``, ``read``, ``played``, or ``failed`` (terminal). Duplicates and late statuses
    that do not move the status (a ``delivered`` after ``read``) do not call it. It runs
    inside the status's unit: if an implementation raises, the unit is retried and the call
    repeated, so implementations should be idempotent. **Mode:** broadcast.

    **Arguments:** ``status`` is the typed :class:`wahost_status.StatusUpdate` that moved it
    (``status.status``, ``status.timestamp`` (aware UTC), ``status.pricing``,
    ``status.error`` as a :class:`wahost.errors.GraphError` subclass, ``status.tracker``
    decoded into its registered struct). ``record`` is the
    :class:`wahost_status.MessageRecord` after the transition: every step with its time,
    and the send (``record.send``: recipient, tracker, the unit that sent it) when known.

    Implement it with ``@hookimpl(optionalhook=True)`` so your plugin still loads when
    wahost-status is not installed.
    """
