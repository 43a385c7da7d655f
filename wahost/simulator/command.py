"""``wahost simulate``: the configured bot, a local Graph API, a chat in the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click
import msgspec

from wahost.config import Config, ConfigError, load_config
from wahost.logs import configure_logging
from wahost.startup_log import CONSOLE_INSTALL, console_loaded


class _Placeholders(Mapping[str, str]):
    """The environment, with a placeholder for each variable it lacks: the simulator needs no
    Meta token or app secret (it replaces them), so a new bot runs before it has any."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ
        self.missing: list[str] = []

    def __getitem__(self, name: str) -> str:
        if name in self._environ:
            return self._environ[name]
        if name not in self.missing:
            self.missing.append(name)
        return f"simulated-{name.lower()}"

    def __contains__(self, name: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)


def _with_console(config: Config, web: bool) -> tuple[Config, str | None]:
    """With ``--web``: the console on, with a fresh token unless one is configured."""
    console = getattr(config, "console", None)
    if not web or console is None:
        return config, None
    if console.enabled:
        return config, None
    token = secrets.token_urlsafe(24)
    enabled = msgspec.structs.replace(console, enabled=True, token=token)
    return msgspec.structs.replace(config, console=enabled), token


@click.command()
@click.option(
    "--config",
    "-c",
    "config_path",
    default="config/wahost.toml",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The TOML configuration file (the bot's plugins, queue and state store).",
)
@click.option("--user", default=None, help="The simulated user's number (default 16505551234).")
@click.option("--name", default="Simulated user", show_default=True, help="Their profile name.")
@click.option(
    "--flows",
    "flows_dir",
    default=None,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="A directory of Flow JSON files named <flow name or id>.json: Flows open as forms.",
)
@click.option(
    "--bot",
    "bot_specs",
    multiple=True,
    metavar="MODULE",
    help="Run this module as the bot, tried before the installed plugins (after [bot] "
    "modules): a module name importable from the current directory or a .py file; repeat.",
)
@click.option(
    "--plugin",
    "plugin_modules",
    multiple=True,
    hidden=True,
    help="The same as --bot (its earlier name).",
)
@click.option(
    "--group",
    "group_specs",
    multiple=True,
    metavar="SUBJECT=NUMBER,...",
    help="Stage a group chat of the bot, the simulated user and these numbers (write in it "
    "with /group SUBJECT, or choose it in the browser); repeat for more.",
)
@click.option("--port", default=0, type=int, help="The loopback port of the bot (0: any free).")
@click.option("--web", is_flag=True, help="Serve the web console with the chat in the browser.")
@click.option(
    "--no-terminal", is_flag=True, help="No terminal chat: serve until Ctrl-C (with --web)."
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Log level of the bot (logs go to stderr).",
)
def simulate(
    config_path: Path,
    user: str | None,
    name: str,
    flows_dir: Path | None,
    bot_specs: tuple[str, ...],
    plugin_modules: tuple[str, ...],
    group_specs: tuple[str, ...],
    port: int,
    web: bool,
    no_terminal: bool,
    log_level: str,
) -> None:
    """Chat with the bot in the terminal, without Meta.

    The bot runs as under ``wahost serve`` — its modules ([bot] modules, then --bot) tried
    before the same plugins, the same store — on a loopback port, with the Graph API replaced
    by a local one. Your messages go through the real signed-webhook path; the
    bot's replies are shown with their buttons, lists and forms, and answered with the status
    webhooks Meta would send (sent, delivered, read).
    """
    from wahost.commands import bot_modules
    from wahost.simulator.session import DEFAULT_USER, Simulation, load_flows
    from wahost.simulator.terminal import TerminalChat

    environ = _Placeholders(os.environ)
    try:
        config = load_config(config_path, env=environ)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    bots = bot_modules(bot_specs) + bot_modules(plugin_modules, option="--plugin")
    config, token = _with_console(config, web)
    configure_logging(level=log_level, format="console", secrets=config.secrets())
    flows: dict[str, Any] = {}
    if flows_dir is not None:
        try:
            flows = dict(load_flows(flows_dir))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    groups = [_group_spec(spec) for spec in group_specs]
    if environ.missing:
        click.echo(f"# not set, simulated values used: {', '.join(environ.missing)}", err=True)

    async def main() -> None:
        sim = Simulation(
            config,
            bots=bots,
            user=user or DEFAULT_USER,
            name=name,
            flows=flows,
            port=port,
        )
        async with sim:
            for subject, numbers in groups:
                try:
                    sim.add_group(subject, [sim.default_user, *numbers])
                except ValueError as exc:
                    raise click.BadParameter(str(exc), param_hint="--group") from None
            if web:
                assert sim.host is not None
                if not console_loaded(sim.host):
                    raise click.ClickException(
                        f"--web: the console's plugin is not loaded: {CONSOLE_INSTALL}"
                    )
                click.echo(f"# console: {sim.url}/-/console/chat", err=True)
                if token is not None:
                    click.echo(f"# console token (this run only): {token}", err=True)
            if no_terminal:
                await asyncio.Event().wait()
            else:
                await TerminalChat(sim).run()

    from wahost.commands import run_command

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the runner stopped the bot
        run_command(main)


def _group_spec(spec: str) -> tuple[str, list[str]]:
    """``SUBJECT=NUMBER,NUMBER`` (the numbers may be left out) as a subject and numbers."""
    subject, _, numbers = spec.partition("=")
    if not subject.strip():
        raise click.BadParameter(
            f"{spec!r}: write SUBJECT=NUMBER,NUMBER (a subject, then the participants)",
            param_hint="--group",
        )
    return subject.strip(), [n.strip() for n in numbers.split(",") if n.strip()]
