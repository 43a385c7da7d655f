"""What a ``wahost`` command needs to run a host, for the core's commands and plugins'
``register_commands`` alike (importing it does not import :mod:`wahost.cli`).

A plugin's command typically reads::

    from wahost.cli_options import config_option
    from wahost.commands import host_for_command, run_command

    @click.command()
    @config_option
    def sync(config_path: Path) -> None:
        config, host = host_for_command(config_path)

        async def run() -> int:
            async with host:
                return await do_it(host)

        click.echo(run_command(run))

Each turns what the user can fix (a bad configuration, an unusable store, a port in use)
into one line naming the file and key instead of a traceback.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import structlog

from wahost.config import Config, ConfigError, load_config
from wahost.config.audit import Exposure, find_exposures
from wahost.logs import configure_logging
from wahost.plugins import PluginError

if TYPE_CHECKING:
    from wahost.host import Wahost

T = TypeVar("T")

__all__ = [
    "bot_modules",
    "command_host",
    "configure_command_logging",
    "event_loop_factory",
    "host_for_command",
    "load_command_config",
    "run_command",
]


def load_command_config(path: Path, *, require_secrets: bool = True) -> Config:
    """The configuration at ``path``; a mistake in it stops the command with its one line."""
    try:
        return load_config(path, require_secrets=require_secrets)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def bot_modules(specs: tuple[str, ...], option: str = "--bot") -> list[Any]:
    """Import the ``--bot`` modules (resolved against the current directory); a module that
    cannot be used stops the command with one line naming it and the option."""
    from wahost.bots import BotLoadError, bot_plugins, import_bot

    modules = []
    for spec in specs:
        try:
            module = import_bot(spec, Path.cwd())
            bot_plugins(module)
        except BotLoadError as exc:
            raise click.ClickException(f"{option} {spec}: {exc}") from None
        modules.append(module)
    return modules


def command_host(
    config: Config,
    *,
    plugins: tuple[object, ...] = (),
    bots: list[Any] | None = None,
    graph_transport: Any = None,
) -> Wahost:
    """A host of ``config`` (not started); a plugin or setting that stops it from being made
    stops the command with one line."""
    from wahost.host import StartupError, Wahost

    try:
        return Wahost(config, plugins=plugins, bots=bots or (), graph_transport=graph_transport)
    except (ConfigError, PluginError, StartupError) as exc:
        raise click.ClickException(str(exc)) from None


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (with uvicorn[standard]; not on Windows)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


#: Errors of the machine, not of wahost, that stop a command: one line says it all.
_ENVIRONMENT_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.ENOENT,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.ENOSPC,
    errno.EADDRINUSE,
    errno.EADDRNOTAVAIL,
}


def run_command(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``factory()`` on a new event loop and return its result; a host that cannot start,
    a store that cannot be used or an error of the machine (permissions, a full disk, a port
    in use) stops the command with one line."""
    from wahost.host import StartupError
    from wahost.queue.base import QueueUnavailable
    from wahost.state.base import StoreUnavailable

    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            return runner.run(factory())
    except (StartupError, PluginError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    except (QueueUnavailable, StoreUnavailable) as exc:
        raise click.ClickException(
            f"the store cannot be used: {_one_line(exc)} (check [queue]/[state] path or url: "
            "the file's directory must be writable by this user, the server reachable)"
        ) from None
    except OSError as exc:
        if exc.errno not in _ENVIRONMENT_ERRNOS:
            raise
        raise click.ClickException(_one_line(exc)) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def configure_command_logging(config: Config) -> None:
    """Logging as ``[logging]`` says, with the configuration's secrets redacted."""
    configure_logging(
        level=config.logging.level, format=config.logging.format, secrets=config.secrets()
    )


def exposures(config: Config, host: Wahost) -> list[Exposure]:
    """What of the configuration's secrets and the database others may read (a line each)."""
    schemas: dict[str, Any] = {}
    for mapping in host.dispatch.collect("wahost_config_schema"):
        schemas.update(mapping)
    return find_exposures(config, schemas)


def host_for_command(
    config_path: Path, bot_specs: tuple[str, ...] = (), *, warn_exposures: bool = False
) -> tuple[Config, Wahost]:
    """The configuration and host (not started) for a command that runs the host, with
    logging set up; with ``warn_exposures`` (the long-running serve and worker), a warning
    logged for each secret or database file others may read — one-shot commands (send,
    profile, templates...) print their results and leave that to ``wahost check``."""
    config = load_command_config(config_path)
    bots = bot_modules(bot_specs)
    configure_command_logging(config)
    host = command_host(config, bots=bots)
    if warn_exposures:
        log = structlog.get_logger("wahost")
        for exposure in exposures(config, host):
            log.warning(str(exposure))
    return config, host
