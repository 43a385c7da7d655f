"""``wahost status show`` and ``wahost status stats``."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import click
import msgspec

from wahost import Wahost
from wahost.cli_options import config_option
from wahost.config import ConfigError, load_config
from wahost.logs import configure_logging
from wahost_status.plugin import settings
from wahost_status.stats import StatusStats, compute_stats
from wahost_status.store import load_record
from wahost_status.views import record_data, record_lines

T = TypeVar("T")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(value: str, *, now: datetime | None = None) -> datetime:
    """``7d``, ``24h``, ``90m``, ``30s``, ``2w`` before now, or an ISO 8601 date or time
    (UTC unless it says otherwise)."""
    now = now or datetime.now(UTC)
    text = value.strip()
    if match := _DURATION.fullmatch(text):
        return now - timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: expected a duration (7d, 24h, 90m) or an ISO date/time"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _with_host(config_path: Path, action: Callable[[Wahost], Awaitable[T]]) -> T:
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(
        level=config.logging.level, format=config.logging.format, secrets=config.secrets()
    )

    async def run() -> T:
        async with Wahost(config) as host:
            return await action(host)

    try:
        return asyncio.run(run())
    except click.ClickException:
        raise
    except Exception as exc:  # a start-up or store error: a message, not a traceback
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None


@click.group()
def status() -> None:
    """Statuses of sent messages: one message's lifecycle, figures (wahost-status)."""


@status.command("show")
@config_option
@click.argument("wamid")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(config_path: Path, wamid: str, as_json: bool) -> None:
    """The lifecycle of the message WAMID: each step with its time, pricing, errors."""
    record = _with_host(config_path, lambda host: load_record(host.state.kv_get, wamid))
    if record is None:
        raise click.ClickException(f"no record of {wamid} (never sent by this host, or pruned)")
    if as_json:
        click.echo(json.dumps(record_data(record), indent=2))
        return
    click.echo("\n".join(record_lines(record)))


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _counts(items: dict[str, int]) -> str:
    return ", ".join(f"{name} {count}" for name, count in items.items()) or "none"


def stats_lines(stats: StatusStats) -> list[str]:
    """The figures for people."""
    lines = [f"from {stats.since:%Y-%m-%d %H:%M:%S} to {stats.until:%Y-%m-%d %H:%M:%S} UTC"]
    lines += [f"  {step:<10}{count}" for step, count in stats.counts.items()]
    lines.append(f"  delivery rate {_percent(stats.delivery_rate)} (delivered / sent)")
    lines.append(f"  read rate     {_percent(stats.read_rate)} (read / delivered)")
    failures = ", ".join(f"{code} x{count}" for code, count in stats.failures.items())
    lines.append(f"  failures: {failures or 'none'}")
    lines.append(f"  charged by category: {_counts(stats.charged)}")
    lines.append(f"  free by category: {_counts(stats.free)}")
    return lines


@status.command("stats")
@config_option
@click.option(
    "--since",
    default=None,
    help="Start of the window: 7d, 24h, 90m, or an ISO date/time. Default: the retention.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def stats(config_path: Path, since: str | None, as_json: bool) -> None:
    """Counts per status, failure codes, delivery and read rates, charged messages by
    category."""
    start = parse_since(since) if since is not None else None

    async def figures(host: Wahost) -> StatusStats:
        retention = settings(host).retention
        return await compute_stats(host.state, since=start, retention=retention)

    result = _with_host(config_path, figures)
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(result), indent=2).decode())
        return
    click.echo("\n".join(stats_lines(result)))
