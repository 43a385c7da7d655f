"""The plugin's hook implementations (re-exported by the package, which is the plugin)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import msgspec
import pluggy

from wahost import hookimpl
from wahost_state_machine import hookspecs
from wahost_state_machine.config import StateMachineConfig
from wahost_state_machine.engine import current_step, handle_in_machine, prepare
from wahost_state_machine.registry import REGISTRY, Registry, build_registry, registry_of

if TYPE_CHECKING:
    import click

    from wahost import Context, Message, Wahost

DEFAULT_NAME = "wahost-state-machine"


@hookimpl
def wahost_add_hookspecs(pluginmanager: pluggy.PluginManager) -> None:
    """Add ``wahost_state_machines`` (once, even if the plugin is registered twice)."""
    caller = getattr(pluginmanager.hook, "wahost_state_machines", None)
    if caller is None or caller.spec is None:
        pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def wahost_config_schema() -> dict[str, type[msgspec.Struct]]:
    return {"state_machine": StateMachineConfig}


@hookimpl
def wahost_startup(host: Wahost) -> None:
    """Build and check every machine: a mistake stops the host here, not at a message. Log
    each use of the deprecated API with what to write instead."""
    registry = host.slots[REGISTRY] = build_registry(host)
    log_deprecations(host, registry)
    if not registry.machines:
        # No machine serves any number: every message would only look for one. Machines are
        # built here once, so the calls are left out for the host's lifetime.
        host.dispatch.skip(before_message, on_message)


def log_deprecations(host: Wahost, registry: Registry) -> None:
    """One warning per use of the deprecated API in the host's machines (as the host logs
    each plugin that implements a deprecated hook): the machine, where, what and instead."""
    for machine in registry.machines.values():
        for deprecation in machine.deprecations:
            host.log.warning(
                "state machine uses a deprecated API",
                plugin=_plugin_name(host),
                machine=machine.name,
                where=deprecation.where,
                used=deprecation.used,
                instead=deprecation.instead,
            )


def _plugin_name(host: Wahost) -> str:
    package = sys.modules.get("wahost_state_machine")
    name = host.pm.get_name(package) if package is not None else None
    return name or DEFAULT_NAME


@hookimpl
def before_message(host: Wahost, message: Message, ctx: Context) -> None:
    """Apply the machine's view before any plugin handles the message: a conversation idle
    past its state's timeout moves to ``timeout_to``, so that a router handler's
    ``state=...`` sees the state the machine would try, and ``current_step(ctx)`` is set."""
    if not ctx.unit.user:
        return
    machine = registry_of(host).for_number(ctx.phone_number_id)
    if machine is not None:
        prepare(machine, ctx, message)


@hookimpl
async def on_message(host: Wahost, message: Message, ctx: Context) -> bool | None:
    """Run the machine serving the conversation's phone number: ``True`` when a trigger (or
    the welcome, or an ``on_invalid_state`` implementation) took the message."""
    if not ctx.unit.user:
        return None
    machine = registry_of(host).for_number(ctx.phone_number_id)
    if machine is None:
        return None

    async def report(exc: BaseException) -> None:
        await host.dispatch.report(_plugin_name(host), "on_message", exc, ctx.unit)

    return await handle_in_machine(machine, host, ctx, message, report)


@hookimpl(trylast=True)
async def on_invalid_state(host: Wahost, state: str, ctx: Context) -> Any:
    """The default: reply with the state's, else the machine's, else the plugin's
    ``invalid_reply``; with none configured, leave the message to ``on_unhandled``."""
    step = current_step(ctx)
    machine = registry_of(host).get(step.machine) if step is not None else None
    reply = None
    if machine is not None:
        definition = machine.states.get(state)
        reply = definition.invalid_reply if definition is not None else None
        reply = reply if reply is not None else machine.invalid_reply
    if reply is None:
        reply = host.plugin_config("state_machine", StateMachineConfig).invalid_reply
    if reply is None:
        return None
    await ctx.reply(reply)
    return True


@hookimpl
def register_commands(cli: click.Group) -> None:
    from wahost_state_machine.cli import state

    cli.add_command(state)
