"""The account plane's commands: ``wahost groups``, ``wahost block / unblock / blocked``,
``wahost qr``, ``wahost numbers``, ``wahost calls``, ``wahost commerce`` (one module each;
what they share in :mod:`._common`)."""

from wahost.account.commands.blocking import block_command, blocked_command, unblock_command
from wahost.account.commands.calls import calls_group
from wahost.account.commands.commerce import commerce_group
from wahost.account.commands.groups import groups_group
from wahost.account.commands.numbers import numbers_group
from wahost.account.commands.qr import qr_group

#: The commands :mod:`wahost.cli` adds at its top level.
COMMANDS = (
    groups_group,
    block_command,
    unblock_command,
    blocked_command,
    qr_group,
    numbers_group,
    calls_group,
    commerce_group,
)

__all__ = ["COMMANDS"]
