"""The simulator: a bot run against a local Graph API, chatted with from a terminal or a browser."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wahost.slots import SlotKey

if TYPE_CHECKING:
    from wahost.simulator.session import Simulation

#: The running simulation of a host, in ``host.slots`` (the console's chat finds it there);
#: here so that reading it does not import the simulator.
SIMULATION: SlotKey[Simulation] = SlotKey("wahost.simulator")
