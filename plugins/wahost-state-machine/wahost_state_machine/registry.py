"""The machines of one host and which phone number each serves.

Machines come from three places, in this order: ``[plugins.state_machine] machine`` /
``machines`` (import paths), the ``wahost_state_machines`` hook (a machine passed as a plugin
answers it), and ``[plugins.state_machine.menus.<name>]`` (config-only menus).

Routing: a conversation is ``(phone_number_id, user)`` and is in one machine at a time. A
machine serves the numbers given to it in ``[plugins.state_machine.numbers]``, else its own
``phone_number_ids``; a machine with neither serves every number no other machine claims.
Two machines claiming one number, or two catch-all machines, fail at start-up.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from wahost.config import ConfigError
from wahost.slots import SlotKey
from wahost_state_machine.config import StateMachineConfig, build_menu, config_key
from wahost_state_machine.machine import MachineDefinitionError, StateMachine

if TYPE_CHECKING:
    from wahost import Wahost

__all__ = ["REGISTRY", "Registry", "build_registry", "load_machines", "registry_of"]


class Registry:
    """The machines of a host, by name and by the phone number ids they serve."""

    def __init__(self, machines: Iterable[StateMachine], numbers: Mapping[str, str] = {}) -> None:
        self.machines: dict[str, StateMachine] = {}
        for machine in machines:
            known = self.machines.get(machine.name)
            if known is machine:
                continue
            if known is not None:
                raise MachineDefinitionError(f"two machines are named {machine.name!r}")
            machine.check()
            self.machines[machine.name] = machine
        assigned: dict[str, list[str]] = {}
        for number, name in numbers.items():
            if name not in self.machines:
                raise MachineDefinitionError(
                    f"numbers: {number} -> {name!r}, but no machine has that name "
                    f"(machines: {', '.join(map(repr, self.machines)) or 'none'})"
                )
            assigned.setdefault(name, []).append(number)
        self._by_number: dict[str, StateMachine] = {}
        self.default: StateMachine | None = None
        for machine in self.machines.values():
            served = assigned.get(machine.name, machine.phone_number_ids)
            if not served:
                if self.default is not None:
                    raise MachineDefinitionError(
                        f"machines {self.default.name!r} and {machine.name!r} both serve every "
                        "phone number; give them phone_number_ids or [plugins.state_machine."
                        "numbers]"
                    )
                self.default = machine
            for number in served:
                other = self._by_number.setdefault(number, machine)
                if other is not machine:
                    raise MachineDefinitionError(
                        f"machines {other.name!r} and {machine.name!r} both serve phone number "
                        f"id {number}"
                    )

    def for_number(self, phone_number_id: str) -> StateMachine | None:
        """The machine serving conversations on ``phone_number_id``."""
        return self._by_number.get(phone_number_id, self.default)

    def get(self, name: str) -> StateMachine | None:
        return self.machines.get(name)


def _flatten(value: Any, where: str) -> list[StateMachine]:
    if isinstance(value, StateMachine):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        items = list(value)
        if all(isinstance(item, StateMachine) for item in items):
            return items
    raise TypeError(f"{where}: expected a StateMachine or a list of them, got {value!r}")


def load_machines(path: str) -> list[StateMachine]:
    """The machine(s) at ``"module:attribute"``; the working directory is importable, as
    with uvicorn. Raises ``ValueError`` saying what is wrong."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f'expected "module:attribute", got {path!r}')
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import {module_name!r}: {exc}") from None
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise ValueError(f"{module_name!r} has no attribute {attribute!r}") from None
    try:
        return _flatten(value, path)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


#: The slot of ``host.slots`` holding the host's :class:`Registry` (read it with
#: :func:`registry_of`).
REGISTRY: SlotKey[Registry] = SlotKey("wahost_state_machine")
#: The old name of :data:`REGISTRY` (``host.resources[RESOURCE]``, deprecated).
RESOURCE = REGISTRY


def build_registry(host: Wahost) -> Registry:
    """Collect and check the host's machines (at start-up: mistakes stop the host)."""
    settings = host.plugin_config("state_machine", StateMachineConfig)
    source = host.config.source
    machines: list[StateMachine] = []
    paths = [("machine", settings.machine)] if settings.machine else []
    paths += [(f"machines[{i}]", path) for i, path in enumerate(settings.machines)]
    for key, path in paths:
        try:
            machines.extend(load_machines(path))
        except ValueError as exc:
            raise ConfigError(source, config_key(key), str(exc)) from None
    for provided in host.dispatch.collect("wahost_state_machines"):
        machines.extend(_flatten(provided, "wahost_state_machines"))
    for name, menu in settings.menus.items():
        machines.append(build_menu(source, name, menu))
    return Registry(machines, settings.numbers)


def registry_of(host: Wahost) -> Registry:
    """The host's registry (built at start-up; built here if the host skipped that)."""
    registry = host.slots.get(REGISTRY)  # asked for every message: no closure made then
    if registry is None:
        registry = host.slots.setdefault(REGISTRY, lambda: build_registry(host))
    return registry
