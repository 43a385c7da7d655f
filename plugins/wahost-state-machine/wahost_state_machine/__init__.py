"""wahost-state-machine: per-conversation state machines for wahost bots.

::

    from wahost import filters as F
    from wahost_state_machine import StateMachine

    sm = StateMachine("booking", initial="start")
    sm.add_state("ask_name", prompt="What is your name?")

    @sm.state("start", F.text("book", ignore_case=True) | F.command("book"))
    async def start(message, ctx):
        return "ask_name"

A state's handlers take core filters and their arguments by name, as a router's do; a router
handler with ``state="ask_name"`` runs in that state too (``await sm.goto(ctx, name)`` moves
the conversation from there). The old triggers (``on=Text(...)``, handlers ``(ctx, message)``)
still work and warn with the rewrite.

Register it with ``[plugins.state_machine] machine = "mybot.flows:sm"``, from a plugin's
``wahost_state_machines`` hook, or by passing ``sm`` to the host as a plugin. Config-only menus
need no Python at all; see the README.

This package is the plugin (entry point ``wahost-state-machine`` in the ``wahost`` group): its
hook implementations live in :mod:`wahost_state_machine.plugin`.
"""

from wahost_state_machine.engine import BOOKKEEPING, Step, current_step, timed_out
from wahost_state_machine.machine import (
    STEP,
    Deprecation,
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
    before_message,
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
    "STEP",
    "AnyMessage",
    "Deprecation",
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
    "before_message",
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
