"""wahost-state-machine: per-conversation state machines for wahost bots.

::

    from wahost_state_machine import StateMachine, Text, Regex, Reply

    sm = StateMachine("booking", initial="start")

    @sm.state("start", on=Text("book", ignore_case=True))
    async def start(ctx, message):
        await ctx.reply("What is your name?")
        return "ask_name"

Register it with ``[plugins.state_machine] machine = "mybot.flows:sm"``, from a plugin's
``wahost_state_machines`` hook, or by passing ``sm`` to the host as a plugin. Config-only menus
need no Python at all; see the README.

This package is the plugin (entry point ``wahost-state-machine`` in the ``wahost`` group): its
hook implementations live in :mod:`wahost_state_machine.plugin`.
"""

from wahost_state_machine.engine import BOOKKEEPING, Step, current_step, timed_out
from wahost_state_machine.machine import (
    Handler,
    MachineDefinitionError,
    Prompt,
    State,
    StateMachine,
    StateMachineError,
    Transition,
    UnknownStateError,
)
from wahost_state_machine.plugin import (
    on_invalid_state,
    on_message,
    register_commands,
    wahost_add_hookspecs,
    wahost_config_schema,
    wahost_startup,
)
from wahost_state_machine.registry import Registry, registry_of
from wahost_state_machine.triggers import (
    PASSIVE_TYPES,
    AnyMessage,
    FlowCompleted,
    MessageType,
    Regex,
    Reply,
    Text,
    Trigger,
    When,
    flow_token,
)

__all__ = [
    "BOOKKEEPING",
    "PASSIVE_TYPES",
    "AnyMessage",
    "FlowCompleted",
    "Handler",
    "MachineDefinitionError",
    "MessageType",
    "Prompt",
    "Regex",
    "Registry",
    "Reply",
    "State",
    "StateMachine",
    "StateMachineError",
    "Step",
    "Text",
    "Transition",
    "Trigger",
    "UnknownStateError",
    "When",
    "current_step",
    "flow_token",
    "on_invalid_state",
    "on_message",
    "register_commands",
    "registry_of",
    "timed_out",
    "wahost_add_hookspecs",
    "wahost_config_schema",
    "wahost_startup",
]
