"""``wahost flows``: the endpoint's keys.

* ``wahost flows keygen --out private.pem [--passphrase-env VAR]`` — a new RSA-2048 key,
  PKCS#8, encrypted (PBKDF2-HMAC-SHA256, AES-256-CBC) when a passphrase is given; prints the
  public key.
* ``wahost flows upload-key --config F`` — uploads each endpoint's public key to its phone
  numbers (``POST /<PHONE_NUMBER_ID>/whatsapp_business_encryption``).
* ``wahost flows show-key --config F`` — reads the uploaded key back and compares it with the
  endpoints' keys.

Flows as code (:mod:`wahost_flows.sync`, reference/cloudapi.md §16):

* ``wahost flows validate [FILE...] [--config F]`` — Flow JSON checked locally (the declared
  Flows' files without FILE); problems as ``file:line:column: path: message``.
* ``wahost flows push [NAME...] --config F [--publish] [--dry-run]`` — create or update the
  declared Flows where they differ from Meta's; Meta's validation errors with line and path.
* ``wahost flows list / publish / deprecate / delete / preview / metrics`` — the live Flows.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wahost.cli_options import config_option
from wahost.config import Config, ConfigError, load_config, validate_plugin_settings
from wahost.graph_guard import graph_path_id
from wahost_flows.config import FlowsConfig, check_settings
from wahost_flows.endpoint import FlowEndpoint, load_endpoints
from wahost_flows.flowjson import Problem, validate_text
from wahost_flows.keys import (
    generate_private_key,
    public_key_pem,
    same_public_key,
    write_private_key,
)
from wahost_flows.manage import GRANULARITIES, METRICS, FlowsApi, MetaValidationError
from wahost_flows.sync import PushResult, declared_flows, push

__all__ = ["flows"]

T = TypeVar("T")


@click.group()
def flows() -> None:
    """WhatsApp Flows: endpoint keys, and Flows as code (wahost-flows)."""


@flows.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the private key (PEM, PKCS#8, mode 0600).",
)
@click.option(
    "--passphrase-env",
    metavar="VAR",
    default=None,
    help="Encrypt the key with the passphrase in this environment variable.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def keygen(out: Path, passphrase_env: str | None, force: bool) -> None:
    """Generate an RSA-2048 key pair: write the private key, print the public key."""
    passphrase = None
    if passphrase_env is not None:
        passphrase = os.environ.get(passphrase_env)
        if not passphrase:
            raise click.ClickException(f"environment variable {passphrase_env} is not set or empty")
    key = generate_private_key()
    try:
        write_private_key(out, key, passphrase, overwrite=force)
    except FileExistsError:
        raise click.ClickException(f"{out} exists; use --force to overwrite it") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None
    state = "encrypted" if passphrase else "NOT encrypted (no --passphrase-env)"
    click.echo(f"wrote {out}: RSA-2048 private key, PKCS#8, {state}", err=True)
    click.echo(public_key_pem(key), nl=False)


def _endpoints(config_path: Path, names: tuple[str, ...]) -> tuple[Config, list[FlowEndpoint]]:
    try:
        config = load_config(config_path)
        settings = validate_plugin_settings(config, {"flows": FlowsConfig}, unknown="ignore")
        flows_config: FlowsConfig = settings["flows"]
        check_settings(flows_config, config.source)
        endpoints = load_endpoints(config, flows_config)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not endpoints:
        raise click.ClickException(f"{config_path}: no [[plugins.flows.endpoints]] configured")
    if names:
        unknown = sorted(set(names) - {endpoint.name for endpoint in endpoints})
        if unknown:
            known = ", ".join(endpoint.name for endpoint in endpoints)
            raise click.ClickException(f"no endpoint named {', '.join(unknown)} (known: {known})")
        endpoints = [endpoint for endpoint in endpoints if endpoint.name in names]
    return config, endpoints


def _numbers(config: Config, endpoint: FlowEndpoint, only: tuple[str, ...]) -> list[str]:
    numbers = endpoint.phone_number_ids or config.whatsapp.all_phone_number_ids()
    return [number for number in numbers if not only or number in only]


def _encryption_path(number: str) -> str:
    # The number may come from the command line: checked before it goes in a Graph path.
    return f"/{graph_path_id(number, what='phone number id')}/whatsapp_business_encryption"


def _graph(config: Config, action: Callable[[Any], Awaitable[T]]) -> T:
    from wahost.graph import GraphClient

    async def run() -> T:
        client = GraphClient(config)
        try:
            return await action(client)
        finally:
            await client.aclose()

    try:
        return asyncio.run(run())
    except Exception as exc:  # a Graph error: its message, not a traceback
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


_endpoint_option = click.option(
    "--endpoint", "names", multiple=True, help="Only this endpoint (by name); repeatable."
)
_number_option = click.option(
    "--phone-number-id", "numbers", multiple=True, help="Only this phone number; repeatable."
)


@flows.command("upload-key")
@config_option
@_endpoint_option
@_number_option
def upload_key(config_path: Path, names: tuple[str, ...], numbers: tuple[str, ...]) -> None:
    """Upload each endpoint's public key to its phone numbers."""
    config, endpoints = _endpoints(config_path, names)
    plan: dict[str, FlowEndpoint] = {}
    for endpoint in endpoints:
        for number in _numbers(config, endpoint, numbers):
            other = plan.get(number)
            if other is not None and not same_public_key(
                public_key_pem(other.private_key), endpoint.private_key
            ):
                raise click.ClickException(
                    f"phone number {number}: endpoints {other.name} and {endpoint.name} have "
                    "different keys; a number has one key (set phone_number_ids)"
                )
            plan[number] = endpoint
    if not plan:
        raise click.ClickException("no phone number to upload to")

    async def upload(client: Any) -> None:
        for number, endpoint in plan.items():
            await client.request(
                "POST",
                _encryption_path(number),
                data={"business_public_key": public_key_pem(endpoint.private_key)},
            )
            click.echo(f"uploaded the public key of endpoint {endpoint.name} to {number}")

    _graph(config, upload)


@flows.command("show-key")
@config_option
@_number_option
def show_key(config_path: Path, numbers: tuple[str, ...]) -> None:
    """Print the public key Meta holds for each phone number and whether it matches."""
    config, endpoints = _endpoints(config_path, ())
    wanted = list(numbers) or config.whatsapp.all_phone_number_ids()

    async def show(client: Any) -> None:
        for number in wanted:
            answer = await client.request("GET", _encryption_path(number))
            answer = answer if isinstance(answer, dict) else {}
            pem = answer.get("business_public_key")
            status = answer.get("business_public_key_signature_status", "unknown")
            click.echo(f"# {number}: signature status {status}")
            if not isinstance(pem, str) or not pem:
                click.echo("no public key uploaded")
                continue
            click.echo(pem.strip())
            match = [e.name for e in endpoints if same_public_key(pem, e.private_key)]
            if match:
                click.echo(f"# matches endpoint {', '.join(match)}")
            else:
                click.echo("# does not match any configured endpoint key (run upload-key)")

    _graph(config, show)


# -- Flows as code ------------------------------------------------------------------------


def _settings(config_path: Path) -> tuple[Config, FlowsConfig]:
    try:
        config = load_config(config_path)
        settings = validate_plugin_settings(config, {"flows": FlowsConfig}, unknown="ignore")
        flows_config: FlowsConfig = settings["flows"]
        check_settings(flows_config, config.source)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    return config, flows_config


def _waba(config: Config) -> str:
    if not config.whatsapp.waba_id:
        raise click.ClickException(
            f"{config.source}: whatsapp.waba_id: set the WhatsApp Business Account id; "
            "Flows belong to it"
        )
    return config.whatsapp.waba_id


def _print_problems(file: str, problems: list[Problem]) -> int:
    """Print ``problems``; the number of errors among them."""
    for problem in problems:
        click.echo(problem.format(file), err=problem.severity == "error")
    return sum(problem.severity == "error" for problem in problems)


def _print_meta_errors(file: str, errors: list[MetaValidationError]) -> None:
    for error in errors:
        click.echo(error.format(file), err=True)


@flows.command("validate")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Validate the declared Flows' files of this configuration (when no FILE is given).",
)
def validate_command(files: tuple[Path, ...], config_path: Path | None) -> None:
    """Check Flow JSON files locally: version, screens, routing, data model references."""
    targets: list[tuple[str, str]] = []
    if files:
        for file in files:
            try:
                targets.append((str(file), file.read_text(encoding="utf-8")))
            except OSError as exc:
                raise click.ClickException(f"{file}: {exc.strerror or exc}") from None
    else:
        if config_path is None:
            raise click.UsageError("give FILE(s), or --config to check the declared Flows")
        config, settings = _settings(config_path)
        try:
            targets = [(str(f.path), f.text) for f in declared_flows(config, settings)]
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        if not targets:
            raise click.ClickException(f"{config.source}: no [[plugins.flows.flows]] declared")
    errors = 0
    for name, text in targets:
        found = _print_problems(name, validate_text(text))
        errors += found
        if not found:
            click.echo(f"{name}: ok")
    if errors:
        raise click.ClickException(f"{errors} error{'s' if errors != 1 else ''} found")


@flows.command("push")
@config_option
@click.argument("names", nargs=-1)
@click.option("--publish", is_flag=True, help="Publish each Flow the push changed (or a DRAFT).")
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
def push_command(config_path: Path, names: tuple[str, ...], publish: bool, dry_run: bool) -> None:
    """Create or update the declared Flows (all, or NAMES) where they differ from Meta's."""
    config, settings = _settings(config_path)
    waba = _waba(config)
    try:
        local = declared_flows(config, settings, names)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if not local:
        raise click.ClickException(f"{config.source}: no [[plugins.flows.flows]] declared")
    refused = 0
    for flow in local:
        refused += _print_problems(str(flow.path), flow.problems())
    if refused:
        raise click.ClickException(
            f"not pushed: {refused} error{'s' if refused != 1 else ''} in the Flow JSON"
        )

    async def run(client: Any) -> PushResult:
        return await push(
            FlowsApi(client, waba), local, publish=publish, dry_run=dry_run, echo=click.echo
        )

    result = _graph(config, run)
    for flow in local:
        if flow.name in result.errors:
            _print_meta_errors(str(flow.path), result.errors[flow.name])
    if result.errors:
        raise click.ClickException(
            f"Meta found errors in {', '.join(result.errors)}: fix the file and push again"
        )
    if not result.changes:
        click.echo("nothing to change")


@flows.command("list")
@config_option
def list_command(config_path: Path) -> None:
    """List the WABA's Flows: id, status, name, categories, whether declared here."""
    config, settings = _settings(config_path)
    waba = _waba(config)
    declared = {flow.name for flow in settings.flows}
    found = _graph(config, lambda client: FlowsApi(client, waba).list_flows())
    if not found:
        click.echo("no Flows")
    for info in found:
        marks = " (declared)" if info.name in declared else ""
        errors = (
            f" {len(info.validation_errors)} validation errors" if info.validation_errors else ""
        )
        categories = ",".join(info.categories)
        click.echo(f"{info.id}  {info.status:<10} {info.name}  [{categories}]{marks}{errors}")


def _flow_id(api: FlowsApi, flow: str) -> Any:
    """A coroutine giving the id of ``flow``: its id (digits) or its name at Meta."""

    async def resolve() -> str:
        if flow.isdigit():
            return flow
        for info in await api.list_flows():
            if info.name == flow:
                return info.id
        raise click.ClickException(f"no Flow named {flow!r} in WABA {api.waba_id}")

    return resolve()


def _lifecycle(action: str, help_text: str, confirm: str | None = None) -> None:
    @flows.command(action, help=help_text)
    @config_option
    @click.argument("flow")
    @click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
    def command(config_path: Path, flow: str, yes: bool) -> None:
        config, _ = _settings(config_path)
        waba = _waba(config)
        if confirm is not None and not yes:
            click.confirm(f"{action} {flow}: {confirm}. Go on?", abort=True)

        async def run(client: Any) -> str:
            api = FlowsApi(client, waba)
            flow_id = await _flow_id(api, flow)
            await getattr(api, action)(flow_id)
            return str(flow_id)

        flow_id = _graph(config, run)
        click.echo(f"{action.rstrip('e')}ed {flow} ({flow_id})")


_lifecycle("publish", "Publish FLOW (its name or id): it can then be sent without mode=draft.")
_lifecycle("deprecate", "Deprecate FLOW: it can no longer be sent.", "this cannot be undone")
_lifecycle("delete", "Delete FLOW (a DRAFT only).", "the Flow and its JSON are deleted")


@flows.command("preview")
@config_option
@click.argument("flow")
@click.option("--invalidate", is_flag=True, help="Make a new URL (the old one stops working).")
def preview_command(config_path: Path, flow: str, invalidate: bool) -> None:
    """Print FLOW's public preview URL (valid 30 days) and when it expires."""
    config, _ = _settings(config_path)
    waba = _waba(config)

    async def run(client: Any) -> dict[str, Any]:
        api = FlowsApi(client, waba)
        return await api.preview(await _flow_id(api, flow), invalidate=invalidate)

    preview = _graph(config, run)
    click.echo(preview.get("preview_url", ""))
    if preview.get("expires_at"):
        click.echo(f"expires {preview['expires_at']}", err=True)


@flows.command("metrics")
@config_option
@click.argument("flow")
@click.option("--metric", "name", type=click.Choice(METRICS), default="ENDPOINT_REQUEST_COUNT")
@click.option("--granularity", type=click.Choice(GRANULARITIES), default="DAY")
@click.option("--since", default=None, help="First day, YYYY-MM-DD.")
@click.option("--until", default=None, help="Last day, YYYY-MM-DD.")
def metrics_command(
    config_path: Path,
    flow: str,
    name: str,
    granularity: str,
    since: str | None,
    until: str | None,
) -> None:
    """Print an endpoint metric of FLOW: a line per data point, key=value pairs."""
    config, _ = _settings(config_path)
    waba = _waba(config)

    async def run(client: Any) -> dict[str, Any]:
        api = FlowsApi(client, waba)
        flow_id = await _flow_id(api, flow)
        return await api.metrics(flow_id, name, granularity, since, until)

    metric = _graph(config, run)
    points = metric.get("data_points") or []
    if not points:
        click.echo("no data points")
    for point in points:
        values = " ".join(
            f"{item.get('key')}={item.get('value')}" for item in point.get("data", [])
        )
        click.echo(f"{point.get('timestamp', '')}  {values}")
