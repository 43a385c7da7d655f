"""The ``wahost`` command line."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import msgspec

from wahost.account.commands import COMMANDS as ACCOUNT_COMMANDS
from wahost.cli_options import config_option as config_option  # plugins import it from here
from wahost.commands import (
    bot_modules as bot_modules,  # public here before wahost.commands existed
)
from wahost.commands import (
    command_host,
    exposures,
    host_for_command,
    load_command_config,
    run_command,
)
from wahost.config import ConfigError, config_to_toml
from wahost.deprecation import moved_names
from wahost.logs import configure_logging
from wahost.meta_setup import webhook_group
from wahost.plugins import PluginError, build_plugin_manager
from wahost.simulator.command import simulate
from wahost.startup_log import CONSOLE_INSTALL, console_loaded, log_start

T = TypeVar("T")

#: The helpers' old private names until the next minor release (a plugin's command imported
#: them from here): :mod:`wahost.commands` has them.
__getattr__ = moved_names(
    __name__,
    {
        "_load": "wahost.commands.load_command_config",
        "_run": "wahost.commands.run_command",
        "_running": "wahost.commands.host_for_command",
        "_logging": "wahost.commands.configure_command_logging",
        "_loop_factory": "wahost.commands.event_loop_factory",
        "_host": "wahost.commands.command_host",
    },
)


bot_option = click.option(
    "--bot",
    "bot_specs",
    multiple=True,
    metavar="MODULE",
    help="Run this module as the bot, tried before the installed plugins (after [bot] "
    "modules): a module name importable from the current directory or a .py file; repeat.",
)

reload_option = click.option(
    "--reload",
    is_flag=True,
    help="For development: restart when a .py file of the bot's folders or the "
    "configuration changes.",
)


class _Root(click.Group):
    """Adds the commands of installed plugins (``register_commands``) on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plugin_commands_added = False

    def _add_plugin_commands(self) -> None:
        if self._plugin_commands_added:
            return
        self._plugin_commands_added = True
        try:
            pm, _ = build_plugin_manager(record_unknown_hooks=True)
        except PluginError as exc:
            click.echo(f"warning: {exc}", err=True)
            return
        pm.hook.register_commands(cli=self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            self._add_plugin_commands()
            command = super().get_command(ctx, cmd_name)
        return command


@click.group(cls=_Root)
@click.version_option(package_name="wahost")
def cli() -> None:
    """wahost: a durable, ordered, plugin-based host for WhatsApp Cloud API bots."""


@cli.command()
@config_option
def check(config_path: Path) -> None:
    """Validate the configuration and print it resolved, secrets redacted; warn about
    secrets written in plain text and files others may read (secret files, this file, the
    database)."""
    config = load_command_config(config_path)
    host = command_host(config, graph_transport=_no_graph_transport())
    _dry_start(host)
    click.echo(f"# {config_path}: valid")
    broken = [info for info in host.plugins if info.error]
    for info in broken:
        click.echo(f"# warning: plugin {info.name} not loaded: {info.error}")
    if config.console.enabled and not console_loaded(host):
        click.echo(
            "# warning: console.enabled: the console's plugin is not loaded, /-/console would "
            f"not be served: {CONSOLE_INSTALL}"
        )
    for exposure in exposures(config, host):
        click.echo(f"# warning: {exposure}")
    click.echo(config_to_toml(config.redacted(also=host.plugin_secrets)), nl=False)


def _no_graph_transport() -> Any:
    """A Graph API transport that refuses every request: ``check`` sends nothing."""
    import httpx

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("wahost check sends nothing", request=request)

    return httpx.MockTransport(refuse)


def _dry_start(host: Any) -> None:
    """Start and stop ``host`` as ``serve`` does, short of the HTTP server and the worker: the
    backends by name, the stores opened, every plugin's start-up (its configuration, the
    modules it imports); what would stop ``serve`` stops ``check`` with the same line."""

    async def start_and_stop() -> None:
        async with host:
            pass

    # check prints its verdict and the configuration on stdout: the start-up's log lines
    # (and a failing plugin's traceback) would only bury the one line that says what is wrong.
    configure_logging(level="critical", format="console")
    run_command(start_and_stop)


def _reloading(
    command: str, config_path: Path, bot_specs: tuple[str, ...], extra: list[str] | None = None
) -> None:
    from wahost.reload import run_reloading

    argv = [command, "--config", str(config_path), *(extra or [])]
    for spec in bot_specs:
        argv += ["--bot", spec]
    run_reloading(argv, config_path, bot_specs)


@cli.command()
@config_option
@bot_option
@reload_option
@click.option("--host", "bind_host", default=None, help="Listen on this address ([server] host).")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Listen on this port ([server] port).",
)
def serve(
    config_path: Path,
    bot_specs: tuple[str, ...],
    reload: bool,
    bind_host: str | None,
    port: int | None,
) -> None:
    """Run the bot: webhook ingress and worker, until SIGTERM or SIGINT."""
    from wahost.server import serve as serve_host

    if reload:
        extra = ["--host", bind_host] if bind_host is not None else []
        extra += ["--port", str(port)] if port is not None else []
        _reloading("serve", config_path, bot_specs, extra)
        return
    config, host = host_for_command(config_path, bot_specs, warn_exposures=True)
    server = host.config.server
    if bind_host is not None or port is not None:
        # The command line wins over the file, as in every server: the platform gives --port.
        server = msgspec.structs.replace(
            server,
            host=bind_host if bind_host is not None else server.host,
            port=port if port is not None else server.port,
        )
        host.config.server = server
    log_start(host, serving=True)
    run_command(lambda: serve_host(host, with_worker=config.worker.enabled))


@cli.command()
@config_option
@bot_option
@reload_option
def worker(config_path: Path, bot_specs: tuple[str, ...], reload: bool) -> None:
    """Run only a worker against the configured store (ingress runs elsewhere)."""
    from wahost.server import run_worker

    if reload:
        _reloading("worker", config_path, bot_specs)
        return
    _, host = host_for_command(config_path, bot_specs, warn_exposures=True)
    log_start(host, serving=False)
    run_command(lambda: run_worker(host))


cli.add_command(simulate)
cli.add_command(webhook_group)
for _account_command in ACCOUNT_COMMANDS:
    cli.add_command(_account_command)


@cli.command()
@click.option(
    "--config",
    "-c",
    "config_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Apply [plugins] enabled/disabled from this configuration.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@bot_option
def plugins(config_path: Path | None, as_json: bool, bot_specs: tuple[str, ...]) -> None:
    """List plugins: name, version, hooks implemented, loaded or the error; the bot's
    modules ([bot] modules with --config, and --bot) first, in the order they are tried."""
    from wahost.bots import configured_bots

    options: dict[str, Any] = {}
    bots: list[Any] = []
    if config_path is not None:
        config = load_command_config(config_path, require_secrets=False)
        options = {
            "enabled": config.plugins.enabled,
            "disabled": config.plugins.disabled,
            "strict": config.plugins.strict,
        }
        try:
            bots = configured_bots(config)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    bots += bot_modules(bot_specs)
    try:
        _, infos = build_plugin_manager(**options, bots=bots, record_unknown_hooks=True)
    except PluginError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(msgspec.to_builtins(infos), indent=2))
        return
    # The bot first: the order in which on_message implementations are tried.
    infos = [info for info in infos if info.bot] + [info for info in infos if not info.bot]
    for info in infos:
        status = "loaded" if info.loaded else f"ERROR: {info.error}"
        version = f" {info.version}" if info.version else ""
        origin = " (built-in)" if info.builtin else " (bot)" if info.bot else ""
        click.echo(f"{info.name}{version}{origin}: {status}")
        if info.hooks:
            click.echo(f"    hooks: {', '.join(info.hooks)}")
        for deprecation in info.deprecated:
            click.echo(f"    deprecated hook: {deprecation}")


@cli.command()
def hooks() -> None:
    """Print the hook reference (every hook, its arguments, mode and documentation)."""
    from wahost.reference import hook_reference

    click.echo(hook_reference())


@cli.command("config-reference")
def config_reference() -> None:
    """Print the configuration reference (every key, its type, default and meaning)."""
    from wahost.reference import config_reference as reference

    click.echo(reference())


@cli.group()
def send() -> None:
    """Send one message from the configured number (a smoke test of the setup)."""


def _message(build: Callable[[], T]) -> T:
    """The message ``build`` makes, or one line saying which limit it breaks: checked before
    the configuration is read, so a mistake costs no start-up."""
    try:
        return build()
    except (ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None


def _send(
    config_path: Path, to: str, message: Any, *, upload: Callable[[str], Any] | None = None
) -> None:
    """Send ``message``; with ``upload``, first upload the local file and send
    ``upload(media_id)``."""
    _, host = host_for_command(config_path)

    async def run() -> Any:
        async with host:
            outbound = message
            if upload is not None:
                outbound = upload(await _upload(host, message))
            return await host.send(to, outbound)

    try:
        sent = run_command(run)
    except (ValueError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # a Graph error: print it, not a traceback
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    status = f" ({sent.message_status})" if sent.message_status else ""
    click.echo(f"sent {sent.id} to {sent.to}{status}")


#: A phone number as people write it: digits, a leading +, spaces, dashes, dots, brackets.
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]*")
#: A business-scoped user id (reference/cloudapi.md §13): a country code, a dot, letters and
#: digits (``US.13491208655302741918``).
_BSUID = re.compile(r"[A-Z]{2}\.[A-Za-z0-9.]{1,256}")


def _recipient(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """``--to``: a phone number in international form (up to 15 digits) or a BSUID."""
    if _BSUID.fullmatch(value):
        return value
    digits = re.sub(r"[^0-9]", "", value)
    if _PHONE.fullmatch(value.strip()) and len(digits) <= 15:
        return digits
    raise click.BadParameter(
        f"{value!r} is not a phone number: write it in international form with the country "
        "code, digits only (16505551234 or +1 650 555 1234), or give a user id (US.1349...)"
    )


_to_option = click.option(
    "--to",
    "to",
    required=True,
    callback=_recipient,
    help="The recipient: a phone number with its country code, or a user id.",
)


async def _upload(host: Any, path: Path) -> str:
    """Upload a local file through wahost-media; its media id."""
    try:
        # A plugin, not a dependency of the core: imported by name when a file is sent.
        wahost_media = importlib.import_module("wahost_media")
    except ImportError:
        raise click.ClickException(
            f"{path} is a local file: sending it needs wahost-media to upload it "
            "(pip install wahost-media; from a checkout: pip install -e plugins/wahost-media)"
        ) from None
    media_id: str = await wahost_media.for_host(host).upload(path)
    return media_id


@send.command("text")
@config_option
@_to_option
@click.argument("body")
@click.option("--preview-url", is_flag=True, help="Show a preview of the first link.")
def send_text(config_path: Path, to: str, body: str, preview_url: bool) -> None:
    """Send a text."""
    from wahost import outbound

    _send(config_path, to, _message(lambda: outbound.Text(body=body, preview_url=preview_url)))


def _media_command(kind: str) -> None:
    @send.command(
        kind,
        help=f"Send {'an' if kind[0] in 'aeiou' else 'a'} {kind}: a media id, an https link, "
        "or a local file (uploaded first, with wahost-media).",
    )
    @config_option
    @_to_option
    @click.argument("media")
    @click.option("--caption", default=None, help="A caption (image, video, document).")
    @click.option("--filename", default=None, help="A file name (document).")
    def command(
        config_path: Path, to: str, media: str, caption: str | None, filename: str | None
    ) -> None:
        from wahost import outbound

        options: dict[str, Any] = {}
        if caption is not None:
            options["caption"] = caption
        if filename is not None:
            options["filename"] = filename
        local = Path(media)
        if local.is_file():
            _message(lambda: outbound.coerce(**{kind: "0"}, **options))  # the options' limits

            def uploaded(media_id: str) -> Any:
                return outbound.coerce(**{kind: media_id}, **options)

            _send(config_path, to, local, upload=uploaded)
            return
        if "://" not in media and outbound.media.looks_like_file(media):
            raise click.ClickException(
                f"{media}: no such file (a media id is digits, a link starts with https://)"
            )
        _send(config_path, to, _message(lambda: outbound.coerce(**{kind: media}, **options)))


for _kind in ("image", "video", "audio", "document", "sticker"):
    _media_command(_kind)


@send.command("location")
@config_option
@_to_option
@click.argument("latitude", type=float)
@click.argument("longitude", type=float)
@click.option("--name", default=None)
@click.option("--address", default=None)
def send_location(
    config_path: Path,
    to: str,
    latitude: float,
    longitude: float,
    name: str | None,
    address: str | None,
) -> None:
    """Send a location."""
    from wahost import outbound

    location = _message(lambda: outbound.Location(latitude, longitude, name=name, address=address))
    _send(config_path, to, location)


@send.command("reaction")
@config_option
@_to_option
@click.argument("message_id")
@click.argument("emoji")
def send_reaction(config_path: Path, to: str, message_id: str, emoji: str) -> None:
    """React to a message (an empty EMOJI removes the reaction)."""
    from wahost import outbound

    _send(config_path, to, _message(lambda: outbound.Reaction(message_id=message_id, emoji=emoji)))


@send.command("template")
@config_option
@_to_option
@click.argument("name")
@click.option("--language", default="en_US", show_default=True)
def send_template(config_path: Path, to: str, name: str, language: str) -> None:
    """Send a template without parameters (e.g. hello_world)."""
    from wahost import outbound

    _send(config_path, to, _message(lambda: outbound.Template(name=name, language=language)))


@cli.group()
def queue() -> None:
    """Inspect and repair the queue: stats, dead units, replay, quarantine."""


def _with_queue(config_path: Path, action: Callable[[Any], Awaitable[T]]) -> T:
    # The store is all these commands read: the Graph API's secrets need not be set.
    config = load_command_config(config_path, require_secrets=False)
    host = command_host(config)

    async def run() -> T:
        async with host:
            return await action(host.queue)

    return run_command(run)


@queue.command("stats")
@config_option
def queue_stats(config_path: Path) -> None:
    """Counts of ready, leased, retrying, dead and quarantined units."""
    stats = _with_queue(config_path, lambda q: q.stats())
    for field, value in msgspec.structs.asdict(stats).items():
        click.echo(f"{field}: {value}")


@queue.command("dead")
@config_option
@click.option("--limit", default=100, show_default=True)
def queue_dead(config_path: Path, limit: int) -> None:
    """List dead units with their attempts and last error."""
    dead = _with_queue(config_path, lambda q: q.list_dead(limit=limit))
    for item in dead:
        click.echo(f"{item.unit.key}\t{item.unit.kind}\tattempts={item.attempts}\t{item.error}")
    if not dead:
        click.echo("no dead units")


@queue.command("replay")
@config_option
@click.argument("key", required=False)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead unit.")
def queue_replay(config_path: Path, key: str | None, replay_all: bool) -> None:
    """Put a dead unit (by KEY) or all of them (--all) back in the queue."""
    if replay_all == (key is not None):
        raise click.UsageError("give a KEY or --all")
    if replay_all:
        count = _with_queue(config_path, lambda q: q.replay_all())
        click.echo(f"replayed {count} unit(s)")
        return
    assert key is not None
    if not _with_queue(config_path, lambda q: q.replay(key)):
        raise click.ClickException(f"no dead unit with key {key!r}")
    click.echo(f"replayed {key}")


@queue.command("downgrade")
@config_option
def queue_downgrade(config_path: Path) -> None:
    """Rewrite the SQLite queue for the release before its schema 2, to roll back to it.

    Stop the host first; run this, then install the earlier release. Nothing is lost: units,
    dead units, leases and dedupe keys are kept. The next start of this release upgrades the
    file again.
    """
    from wahost.host import StartupError
    from wahost.queue.base import QueueUnavailable
    from wahost.queue.sqlite import SQLiteQueue

    try:
        config = load_command_config(config_path, require_secrets=False)
        queue = command_host(config).make_queue()  # not opened: opening upgrades it
    except StartupError as exc:
        raise click.ClickException(str(exc)) from None
    if not isinstance(queue, SQLiteQueue):
        raise click.ClickException(
            f"the {queue.name!r} queue has no schema to downgrade (only SQLite's changed)"
        )
    try:
        found = run_command(queue.downgrade)
    except QueueUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    if found >= 2:
        click.echo("the queue is in schema 1 now: install the earlier release before a start")
    elif found == 1:
        click.echo("the queue is in schema 1 already: nothing to do")
    else:
        click.echo(f"{queue.database.path} holds no queue yet: nothing to do")


@queue.command("quarantine")
@config_option
@click.option("--limit", default=100, show_default=True)
@click.option("--show-body", is_flag=True, help="Print each body too.")
def queue_quarantine(config_path: Path, limit: int, show_body: bool) -> None:
    """List signed webhook bodies that could not be decoded."""
    items = _with_queue(config_path, lambda q: q.list_quarantine(limit=limit))
    for item in items:
        click.echo(f"{item.id}\t{item.received_at:.3f}\t{len(item.body)} bytes\t{item.reason}")
        if show_body:
            click.echo(item.body.decode("utf-8", "replace"))
    if not items:
        click.echo("quarantine is empty")


@cli.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to create the bot's folder.",
)
def new(name: str, directory: Path) -> None:
    """Create a bot NAME that runs without packaging: its module (a Router), a wahost.toml
    whose [bot] modules names it, tests and a README."""
    from wahost.scaffold import ScaffoldError, scaffold_bot

    try:
        target = scaffold_bot(name, directory)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {target}")
    click.echo(f"next: cd {target} && pytest && wahost simulate --config wahost.toml")


@cli.group("plugin")
def plugin_group() -> None:
    """Create plugins."""


@plugin_group.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to create the plugin's directory.",
)
def plugin_new(name: str, directory: Path) -> None:
    """Create an installable plugin NAME: pyproject.toml, a module, a README and a test."""
    from wahost.scaffold import ScaffoldError, scaffold

    try:
        target = scaffold(name, directory)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created {target}")
    click.echo(f'next: pip install -e "{target}[test]" && pytest {target}')


def cli_group() -> click.Group:
    """A fresh ``wahost`` command group: the core commands, plus installed plugins' commands
    added on first use (so each invocation, or test, gets its own)."""
    return _Root(
        name="wahost",
        commands=dict(cli.commands),
        callback=cli.callback,
        params=list(cli.params),
        help=cli.help,
    )


def main() -> None:
    """Entry point of the ``wahost`` console script."""
    cli_group()(prog_name="wahost")


if __name__ == "__main__":  # pragma: no cover
    main()
