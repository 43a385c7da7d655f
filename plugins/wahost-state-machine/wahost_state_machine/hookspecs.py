"""The hook this plugin adds, for bot plugins that provide machines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wahost import hookspec

if TYPE_CHECKING:
    from wahost import Wahost


@hookspec
def wahost_state_machines(host: Wahost) -> Any:
    """Provide state machines to run.

    **When:** once at start-up, after every plugin is registered. *Start-up, sync only.*
    **Mode:** collect.

    **Returns:** a :class:`wahost_state_machine.StateMachine`, an iterable of them, or
    ``None``. A machine passed to the host as a plugin provides itself this way.
    """
