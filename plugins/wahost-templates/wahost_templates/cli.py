"""``wahost templates pull | diff | push | delete | status``.

Like ``wahost profile``, the commands load and validate the configuration, then talk to the
Graph API with a client of their own without starting the host. The declarations are read
and checked against Meta's rules before any request: a broken file stops the command with
``<file>: <field>: <reason>``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wahost.cli_options import config_option
from wahost.commands import host_for_command, run_command
from wahost.errors import CircuitOpenError, GraphError, TransportError
from wahost.graph import GraphClient
from wahost_templates.config import TemplatesConfig
from wahost_templates.files import (
    declaration_paths,
    declared_templates,
    live_file,
    write_snapshot,
)
from wahost_templates.sync import Change, delete, list_live, plan, push, wait_for_review

__all__ = ["templates"]

T = TypeVar("T")


class _Target:
    def __init__(self, client: GraphClient, waba_id: str, directory: Path) -> None:
        self.client = client
        self.waba_id = waba_id
        self.directory = directory


def _graph(config_path: Path, action: Callable[[_Target], Awaitable[T]]) -> T:
    config, host = host_for_command(config_path)
    try:
        settings = host.plugin_config("templates", TemplatesConfig)
    except KeyError:
        raise click.ClickException(
            f"{config_path}: the wahost-templates plugin is not enabled ([plugins] enabled)"
        ) from None
    waba_id = config.whatsapp.waba_id
    if not waba_id:
        raise click.ClickException(
            f"{config_path}: whatsapp.waba_id is not set: give the WhatsApp Business Account "
            "ID that holds the templates"
        )
    directory = settings.directory(config.base_dir)

    async def run() -> T:
        client = GraphClient(config)
        try:
            return await action(_Target(client, waba_id, directory))
        finally:
            await client.aclose()

    try:
        return run_command(run)
    except (GraphError, TransportError, CircuitOpenError) as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    except (ValueError, LookupError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from None


def status_line(template: dict[str, Any]) -> str:
    """``name language STATUS`` and the rejection reason, if any."""
    line = f"{template.get('name')} {template.get('language')}: {template.get('status')}"
    reason = template.get("rejected_reason")
    if reason and reason != "NONE":
        line += f" ({reason})"
    return line


def change_line(change: Change) -> str:
    where = f"{change.name} {change.language}"
    if change.action == "create":
        return f"+ {where}: create"
    if change.action == "edit":
        return f"~ {where}: edit {change.detail}"
    return f"! {where}: cannot push: {change.detail}"


@click.group()
def templates() -> None:
    """Message templates declared in files: pull, diff, push, delete, status."""


@templates.command("pull")
@config_option
@click.option("--overwrite", is_flag=True, help="Rewrite the files of declared names too.")
def pull(config_path: Path, overwrite: bool) -> None:
    """Save what Meta holds and write a file for each template name not declared yet."""

    async def action(t: _Target) -> list[str]:
        live = await list_live(t.client, t.waba_id)
        write_snapshot(t.directory, t.waba_id, live)
        existing = {p.stem for p in declaration_paths(t.directory)}
        by_name: dict[str, list[dict[str, Any]]] = {}
        for template in live:
            by_name.setdefault(str(template.get("name")), []).append(template)
        lines = [status_line(template) for template in live]
        for name, languages in sorted(by_name.items()):
            if name in existing and not overwrite:
                continue
            path = t.directory / f"{name}.json"
            text = json.dumps(live_file(languages), indent=2, ensure_ascii=False) + "\n"
            path.write_text(text, encoding="utf-8")
            lines.append(f"wrote {path}")
        return lines

    for line in _graph(config_path, action):
        click.echo(line)


@templates.command("diff")
@config_option
@click.option("--exit-code", is_flag=True, help="Exit with status 1 when push would change.")
def diff(config_path: Path, exit_code: bool) -> None:
    """Show what push would create or edit."""

    async def action(t: _Target) -> list[Change]:
        declared = declared_templates(t.directory)
        live = await list_live(t.client, t.waba_id)
        write_snapshot(t.directory, t.waba_id, live)
        return plan(declared, live)

    changes = _graph(config_path, action)
    if not changes:
        click.echo("no changes: the live templates match the files")
        return
    for change in changes:
        click.echo(change_line(change))
    if exit_code:
        raise SystemExit(1)


@templates.command("push")
@config_option
@click.option("--wait", is_flag=True, help="Wait for Meta's review of what was pushed.")
@click.option("--interval", default=10.0, show_default=True, help="Seconds between polls.")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait at most.")
def push_command(config_path: Path, wait: bool, interval: float, timeout: float) -> None:
    """Create the declared templates Meta lacks and edit those that differ."""

    async def action(t: _Target) -> tuple[list[Change], list[str]]:
        declared = declared_templates(t.directory)
        changes = await push(t.client, t.waba_id, declared)
        sent = [(c.name, c.language) for c in changes if c.action != "blocked"]
        lines: list[str] = []
        if wait and sent:
            reviewed = await wait_for_review(
                t.client, t.waba_id, sent, interval=interval, timeout=timeout
            )
            lines = [status_line(reviewed[key]) for key in sent]
        live = await list_live(t.client, t.waba_id)
        write_snapshot(t.directory, t.waba_id, live)
        if not wait:
            index = {(str(x.get("name")), str(x.get("language"))): x for x in live}
            lines = [status_line(index[key]) for key in sent if key in index]
        return changes, lines

    changes, lines = _graph(config_path, action)
    if not changes:
        click.echo("nothing to push: the live templates match the files")
        return
    for change in changes:
        click.echo(change_line(change))
    for line in lines:
        click.echo(line)
    pushed = sum(1 for c in changes if c.action != "blocked")
    click.echo(f"pushed {pushed} change(s)")
    if pushed < len(changes) or any("REJECTED" in line for line in lines):
        raise SystemExit(1)


@templates.command("delete")
@config_option
@click.argument("name")
@click.option("--language", default=None, help="Delete only this language (default: all).")
def delete_command(config_path: Path, name: str, language: str | None) -> None:
    """Delete a template (every language, or one). Meta keeps an approved name for 30 days."""

    async def action(t: _Target) -> list[dict[str, Any]]:
        deleted = await delete(t.client, t.waba_id, name, language=language)
        write_snapshot(t.directory, t.waba_id, await list_live(t.client, t.waba_id))
        return deleted

    for template in _graph(config_path, action):
        click.echo(f"deleted {template.get('name')} {template.get('language')}")


@templates.command("status")
@config_option
def status(config_path: Path) -> None:
    """The review status of every template Meta holds (and save them as the snapshot)."""

    async def action(t: _Target) -> list[dict[str, Any]]:
        live = await list_live(t.client, t.waba_id)
        write_snapshot(t.directory, t.waba_id, live)
        return live

    for template in _graph(config_path, action):
        click.echo(status_line(template))
