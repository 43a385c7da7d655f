"""Meta set-up from the command line: ``wahost webhook subscribe`` and ``wahost webhook status``.

Meta delivers a number's webhooks to the first callback URL set of: the phone number's
override, the WhatsApp Business Account's override, the app's URL (reference/cloudapi.md
§18.3). ``subscribe`` subscribes the app to the WABA and sets the override at the WABA
(``--level waba``, the default) or the phone number (``--level phone``), with the configured
verify token; Meta then sends its verification GET to the URL, which must therefore be served
by a running ``wahost serve`` already. ``status`` prints what Meta has at each level.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import click
import msgspec

from wahost.cli_options import config_option
from wahost.config import Config

#: Meta's limit on an override's length (§18.3).
OVERRIDE_MAX = 200

Level = Literal["waba", "phone"]


class Subscription(msgspec.Struct, kw_only=True):
    """What Meta has for one phone number: the URL at each level, and which one applies."""

    phone_number_id: str
    waba_id: str = ""
    #: Whether the app is subscribed to the WABA (``None``: no WABA configured to ask).
    subscribed: bool | None = None
    phone_number: str | None = None
    whatsapp_business_account: str | None = None
    application: str | None = None

    @property
    def in_effect(self) -> tuple[str, str] | None:
        """``(level, url)`` that Meta uses: phone, then WABA, then app."""
        for level in ("phone_number", "whatsapp_business_account", "application"):
            url: str | None = getattr(self, level)
            if url:
                return level, url
        return None


def check_callback_url(url: str, config: Config) -> list[str]:
    """Raise ``click.BadParameter`` for a URL Meta refuses; return warnings for one that
    would not reach this host's webhook."""
    if not url.startswith("https://"):
        raise click.BadParameter(
            f"{url!r}: Meta calls only https URLs with a valid certificate (a tunnel such as "
            "cloudflared or ngrok gives one in development; see docs/getting-started.md)",
            param_hint="--url",
        )
    if len(url) > OVERRIDE_MAX:
        raise click.BadParameter(
            f"{len(url)} characters: Meta takes at most {OVERRIDE_MAX}", param_hint="--url"
        )
    warnings = []
    path = config.server.webhook_path
    if not url.split("?", 1)[0].rstrip("/").endswith(path.rstrip("/")):
        warnings.append(
            f"the URL does not end with [server] webhook_path ({path}): Meta's webhooks "
            "would not reach wahost's ingress"
        )
    return warnings


async def subscribe(client: Any, config: Config, url: str, level: Level) -> None:
    """Subscribe the app to the WABA and set the override at ``level`` (§18.3)."""
    whatsapp = config.whatsapp
    override = {"override_callback_uri": url, "verify_token": whatsapp.verify_token}
    if level == "waba":
        # Subscribes the app and sets the WABA's override in one request.
        await client.request(
            "POST", f"/{whatsapp.waba_id}/subscribed_apps", json=override, retry=False
        )
        return
    if whatsapp.waba_id:
        # Without the subscription no webhook comes, whatever the callback URL; but a POST
        # without a body also removes the WABA's override, so only when not subscribed yet.
        apps = await client.request("GET", f"/{whatsapp.waba_id}/subscribed_apps")
        if not (apps or {}).get("data"):
            await client.request("POST", f"/{whatsapp.waba_id}/subscribed_apps", retry=False)
    await client.request(
        "POST",
        f"/{whatsapp.phone_number_id}",
        json={"webhook_configuration": override},
        retry=False,
    )


async def status(client: Any, config: Config) -> Subscription:
    """What Meta has for the configured phone number."""
    whatsapp = config.whatsapp
    found = Subscription(phone_number_id=whatsapp.phone_number_id, waba_id=whatsapp.waba_id)
    answer = await client.request(
        "GET", f"/{whatsapp.phone_number_id}", params={"fields": "webhook_configuration"}
    )
    levels = (answer or {}).get("webhook_configuration") or {}
    found.phone_number = levels.get("phone_number")
    found.whatsapp_business_account = levels.get("whatsapp_business_account")
    found.application = levels.get("application")
    if whatsapp.waba_id:
        apps = await client.request("GET", f"/{whatsapp.waba_id}/subscribed_apps")
        data = (apps or {}).get("data") or []
        found.subscribed = bool(data)
        for app in data:
            if app.get("override_callback_uri") and not found.whatsapp_business_account:
                found.whatsapp_business_account = app["override_callback_uri"]
    return found


def describe(found: Subscription) -> list[str]:
    """``wahost webhook status``'s lines."""
    lines = [f"phone number {found.phone_number_id}:"]
    names = {
        "phone_number": "phone number override",
        "whatsapp_business_account": "WABA override",
        "application": "app callback URL",
    }
    for level, name in names.items():
        lines.append(f"  {name}: {getattr(found, level) or '-'}")
    effect = found.in_effect
    lines.append(
        f"  webhooks go to: {effect[1]} ({names[effect[0]]})"
        if effect
        else "  webhooks go to: nowhere (no callback URL at any level)"
    )
    if found.subscribed is None:
        lines.append("  app subscribed to the WABA: unknown (set [whatsapp] waba_id to ask)")
    else:
        answer = "yes" if found.subscribed else "NO: no webhook comes until it is"
        lines.append(f"  app subscribed to the WABA {found.waba_id}: {answer}")
    return lines


@click.group("webhook")
def webhook_group() -> None:
    """Set up where Meta sends this number's webhooks (subscribe, status)."""


@webhook_group.command("subscribe")
@config_option
@click.option("--url", required=True, help="The https URL of this host's webhook path.")
@click.option(
    "--level",
    type=click.Choice(["waba", "phone"]),
    default="waba",
    show_default=True,
    help="Override the callback URL for the whole WABA ([whatsapp] waba_id) or only for "
    "this phone number.",
)
def subscribe_command(config_path: Path, url: str, level: Level) -> None:
    """Subscribe the app to the WABA and point this number's webhooks at URL, with the
    configured verify token. Meta verifies URL at once: `wahost serve` must answer there."""
    from wahost.commands import host_for_command, load_command_config, run_command

    config = load_command_config(config_path)
    for warning in check_callback_url(url, config):
        click.echo(f"warning: {warning}", err=True)
    if level == "waba" and not config.whatsapp.waba_id:
        raise click.ClickException(
            f"{config.source}: whatsapp.waba_id: required for --level waba (WhatsApp Manager "
            "> Account tools > Phone numbers shows it); or use --level phone"
        )
    _, host = host_for_command(config_path)

    async def run() -> Subscription:
        async with host:
            await subscribe(host.client, config, url, level)
            return await status(host.client, config)

    found = _graph(lambda: run_command(run))
    for line in describe(found):
        click.echo(line)


@webhook_group.command("status")
@config_option
def status_command(config_path: Path) -> None:
    """Show where Meta sends this number's webhooks: the URL at each level and which one
    applies, and whether the app is subscribed to the WABA."""
    from wahost.commands import host_for_command, run_command

    config, host = host_for_command(config_path)

    async def run() -> Subscription:
        async with host:
            return await status(host.client, config)

    for line in describe(_graph(lambda: run_command(run))):
        click.echo(line)


def _graph(call: Any) -> Subscription:
    """A Graph error as one line (Meta's message says what is wrong: a token without
    whatsapp_business_management, a verification that failed)."""
    from wahost.errors import GraphError

    try:
        result: Subscription = call()
    except GraphError as exc:
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from None
    return result
