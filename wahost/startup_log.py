"""What ``wahost serve`` and ``wahost worker`` say when they start: the plugins loaded and
those that failed (with the fix), whether anything handles messages, what placeholder secrets
mean, and where the console is (when its plugin is loaded). Never a secret's value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from wahost.host import Wahost

#: Graph API access tokens (user, system-user and app tokens alike) start with this.
_TOKEN_PREFIX = "EAA"

CONSOLE_PATH = "/-/console"
#: The plugin that serves ``[console]`` (``pip install wahost-console``).
CONSOLE_MODULE = "wahost_console"
CONSOLE_INSTALL = "pip install wahost-console"


def console_loaded(host: Wahost) -> bool:
    """Whether the console plugin is loaded in ``host``: the core only configures the console
    (``[console]``), the plugin serves it."""
    return any(
        info.loaded and info.module.partition(":")[0] == CONSOLE_MODULE for info in host.plugins
    )


def plugin_fix(name: str, module: str) -> str:
    """How to get past a plugin that cannot be used."""
    where = module.partition(":")[0] or name
    return (
        f"correct {where} (or reinstall it), or leave it out: "
        f'[plugins] disabled = ["{name}"] in the configuration'
    )


def log_start(host: Wahost, *, serving: bool, log: Any = None) -> None:
    """Log the start-up report of ``host`` (``serving``: with the HTTP server)."""
    log = log if log is not None else structlog.get_logger("wahost")
    handlers = []
    for info in host.plugins:
        if info.builtin:
            continue
        if info.loaded:
            log.info(
                "plugin loaded",
                plugin=info.name,
                version=info.version or None,
                bot=info.bot or None,
                hooks=info.hooks,
            )
            if "on_message" in info.hooks:
                handlers.append(info.name)
        else:
            # Loudly: the plugin is not there, so its messages go unanswered.
            log.error(
                "plugin not loaded",
                plugin=info.name,
                error=info.error,
                fix=plugin_fix(info.name, info.module),
            )
    if not handlers:
        log.warning(
            "no plugin handles messages: every message is stored and logged as not handled",
            fix="run a bot with --bot MODULE or [bot] modules, or install a plugin",
        )
    token = host.config.whatsapp.token
    if not token.startswith(_TOKEN_PREFIX):
        log.warning(
            "whatsapp.token is a placeholder, not a Graph API access token: webhooks are "
            "received and stored, but every reply fails until it is your app's token",
            fix="set WHATSAPP_TOKEN to the token of WhatsApp Manager > API Setup",
        )
        log.info(
            "the other secrets",
            app_secret="must be your Meta app's App Secret, or Meta's webhooks get 403",
            verify_token="the text you type as Verify token in Meta's webhook set-up",
        )
    if serving:
        server = host.config.server
        address = "127.0.0.1" if server.host in ("0.0.0.0", "::", "") else server.host
        base = f"http://{address}:{server.port}"
        loaded = console_loaded(host)
        if host.config.console.enabled and loaded:
            log.info("console", url=f"{base}{CONSOLE_PATH}")
        elif host.config.console.enabled:
            log.warning(
                "console is enabled but its plugin is not loaded: /-/console is not served",
                fix=f"{CONSOLE_INSTALL} (or take wahost-console out of [plugins] disabled)",
            )
        elif loaded:
            log.info("console is off", fix="[console] enabled = true, with a token")
        else:
            log.info("console is off", fix=f"{CONSOLE_INSTALL}, then [console] enabled = true")


def index_text(host: Wahost) -> str:
    """What ``GET /`` answers when no plugin serves ``/``: what runs here and where."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("wahost")
    except PackageNotFoundError:  # run from a checkout that is not installed
        release = "(not installed)"
    config = host.config
    if not console_loaded(host):
        console = f"not loaded ({CONSOLE_INSTALL})"
    elif config.console.enabled:
        console = CONSOLE_PATH
    else:
        console = "off ([console] enabled = true)"
    plugins = [info.name for info in host.plugins if info.loaded and not info.builtin]
    return (
        f"wahost {release} is running.\n"
        f"webhook: {config.server.webhook_path} (POST from Meta; GET answers Meta's "
        f"verification)\n"
        f"health: /healthz  /readyz  /healthz/graph\n"
        f"console: {console}\n"
        f"plugins: {', '.join(plugins) or 'none'}\n"
    )
