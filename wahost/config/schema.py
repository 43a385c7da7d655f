"""The configuration structs: one per TOML table, every field documented.

Every struct field carries its documentation as ``Annotated[T, msgspec.Meta(description=...)]``;
``Meta.extra`` marks secrets (``{"secret": True}``) and fields the loader sets rather than reads
(``{"internal": True}``). The configuration reference is generated from these structs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from wahost.config.base import _INTERNAL, _SECRET, REDACTED
from wahost.config.introspect import _secret_fields, _table_fields
from wahost.config.secrets import (
    _map_strings,
    _mask_url_password,
    _redact_tree,
    _replace_all,
    _secret_leaves,
    _url_password,
    _walk,
)


class _Table(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A TOML table: unknown keys are errors."""


class WhatsAppConfig(_Table):
    """``[whatsapp]``: the Cloud API app and phone number this host serves."""

    phone_number_id: Annotated[
        str,
        Meta(
            min_length=1,
            description="ID of the phone number the bot sends from (WhatsApp Manager, API "
            "Setup). Not the phone number itself.",
        ),
    ]
    token: Annotated[
        str,
        Meta(description="Access token for the Graph API (a system user token).", extra=_SECRET),
    ]
    verify_token: Annotated[
        str,
        Meta(
            description="The string entered in the App Dashboard's webhook setup; Meta sends "
            "it when it verifies the webhook (GET /webhook).",
            extra=_SECRET,
        ),
    ]
    app_secret: Annotated[
        str | None,
        Meta(
            description="The app secret that signs webhooks (X-Hub-Signature-256). Set this, "
            "app_secrets, or both.",
            extra=_SECRET,
        ),
    ] = None
    app_secrets: Annotated[
        list[str],
        Meta(
            description="Several app secrets, all accepted, for rotating the secret without "
            "downtime. Merged with app_secret.",
            extra=_SECRET,
        ),
    ] = []
    api_version: Annotated[
        str,
        Meta(description='Graph API version: "v" and a version number, e.g. "v24.0".'),
    ] = "v24.0"
    graph_url: Annotated[
        str, Meta(description="Base URL of the Graph API (change it for a fake server in tests).")
    ] = "https://graph.facebook.com"
    waba_id: Annotated[
        str,
        Meta(description="WhatsApp Business Account ID; needed by templates and Flows tools."),
    ] = ""
    app_id: Annotated[
        str,
        Meta(
            description="The Meta app's ID (App Dashboard); needed by resumable uploads: the "
            "business profile's picture (wahost profile picture), template media examples."
        ),
    ] = ""
    phone_number_ids: Annotated[
        list[str],
        Meta(description="More phone number IDs served by the same app and token (optional)."),
    ] = []

    def all_app_secrets(self) -> list[str]:
        """``app_secret`` then ``app_secrets``, without duplicates: every accepted secret."""
        values = [self.app_secret] if self.app_secret is not None else []
        return list(dict.fromkeys([*values, *self.app_secrets]))

    def all_phone_number_ids(self) -> list[str]:
        """``phone_number_id`` then ``phone_number_ids``, without duplicates."""
        return list(dict.fromkeys([self.phone_number_id, *self.phone_number_ids]))


class ServerConfig(_Table):
    """``[server]``: the HTTP server that receives webhooks."""

    host: Annotated[
        str,
        Meta(min_length=1, description='Address to listen on ("0.0.0.0" for all interfaces).'),
    ] = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535, description="TCP port to listen on.")] = 8080
    webhook_path: Annotated[
        str, Meta(description='Path of the webhook endpoint; starts with "/".')
    ] = "/webhook"
    max_body_bytes: Annotated[
        int,
        Meta(ge=1, description="Largest accepted webhook body in bytes; larger ones get 413."),
    ] = 4 * 1024 * 1024
    engine: Annotated[
        Literal["hypercorn", "uvicorn"],
        Meta(
            description='ASGI server: "uvicorn" (with httptools and uvloop; about 3x the '
            'webhooks per second in bench/ingress.py) or "hypercorn".'
        ),
    ] = "uvicorn"
    webhook_fast_path: Annotated[
        bool,
        Meta(
            description="With uvicorn, answer the webhook's POSTs in the HTTP protocol itself, "
            "without the ASGI cycle (the same checks and answers; see docs/architecture.md). "
            "false sends them through ASGI like every other request."
        ),
    ] = True
    header_timeout: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds a client has to send a request's headers, from the request's "
            "first byte (from the connection's opening for its first request); then 408 and "
            "the connection is closed. A connection that sends nothing is closed after it "
            "too. Meta sends a webhook at once. With Hypercorn, keep_alive_timeout bounds "
            "the headers instead (see docs/security.md).",
        ),
    ] = 10.0
    body_timeout: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds a client has to send a request's body after its headers; "
            "then 408 and the connection is closed. Time the server itself is not reading "
            "does not count. With Hypercorn, only the wait for each read is bounded.",
        ),
    ] = 30.0
    keep_alive_timeout: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds an idle connection stays open between requests; longer than "
            "Meta's and most proxies' idle timeouts, so that they close it first.",
        ),
    ] = 75.0
    max_connections: Annotated[
        int,
        Meta(
            ge=1,
            description="Client connections served at once (uvicorn). A connection past it is "
            "answered 503 and closed at once (Meta retries); those already open keep being "
            "served. Keep it below the open files limit, which is logged at start.",
        ),
    ] = 1000


class QueueConfig(_Table):
    """``[queue]``: where received updates wait durably for the worker."""

    backend: Annotated[
        str,
        Meta(
            min_length=1,
            description='Queue backend name: "sqlite" (built in), "memory" (tests only), or '
            'one a plugin provides: "redis" with wahost-redis, "postgres" with wahost-postgres.',
        ),
    ] = "sqlite"
    path: Annotated[
        str,
        Meta(
            description="SQLite database file. A relative path is relative to the current "
            "working directory of the process, not to this file.",
        ),
    ] = "var/wahost.db"
    url: Annotated[
        str,
        Meta(
            description='Server URL for network backends, e.g. "redis://localhost:6379/0" or '
            '"postgresql://user:${PGPASSWORD}@host:5432/dbname".'
        ),
    ] = ""
    dedupe_ttl: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds a unit key is remembered to drop Meta's redeliveries (Meta "
            "retries for up to 7 days).",
        ),
    ] = 8 * 24 * 3600.0
    synchronous: Annotated[
        Literal["normal", "full", "off"],
        Meta(description="SQLite PRAGMA synchronous: normal, full or off."),
    ] = "normal"
    busy_timeout: Annotated[
        float, Meta(ge=0, description="Seconds SQLite waits for a lock held by another process.")
    ] = 5.0


class StateConfig(_Table):
    """``[state]``: the per-conversation state store."""

    backend: Annotated[
        str,
        Meta(
            min_length=1,
            description='State store backend name: "sqlite", "memory", or one a plugin '
            'provides: "redis", "postgres".',
        ),
    ] = "sqlite"
    path: Annotated[
        str | None,
        Meta(
            description="SQLite database file; unset means the queue's file (queue.path), so a "
            "unit's state changes commit with its ack. Relative to the working directory.",
        ),
    ] = None
    url: Annotated[str, Meta(description="Server URL for network backends.")] = ""
    ttl: Annotated[
        Annotated[float, Meta(gt=0)] | None,
        Meta(
            description="Seconds after its last change a conversation's state expires; unset "
            "means never."
        ),
    ] = None


class WorkerConfig(_Table):
    """``[worker]``: the loop that hands queued updates to the plugins."""

    concurrency: Annotated[
        Annotated[int, Meta(ge=1)] | None,
        Meta(
            description="Units handled at once (one at a time per conversation). Unset: twice "
            "graph.messages_per_second, at least 64 and at most 2000 (160 at Meta's default "
            "80/s, 2000 at 1,000/s), so that "
            "handlers that take up to about 2 s, waiting on an upstream included, still send "
            "at the cap; set it for slower handlers or to bound a bot's load on its upstream.",
        ),
    ] = None
    max_attempts: Annotated[
        int, Meta(ge=1, description="Attempts before a failing unit is parked as dead.")
    ] = 5
    backoff_base: Annotated[
        float, Meta(ge=0, description="Seconds before the first retry; doubles each attempt.")
    ] = 1.0
    backoff_cap: Annotated[float, Meta(ge=0, description="Longest wait between retries.")] = 300.0
    lease_seconds: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds a leased unit stays with a worker before it is handed "
            "out again (the worker is presumed dead).",
        ),
    ] = 60.0
    hook_timeout: Annotated[
        Annotated[float, Meta(gt=0)] | None,
        Meta(description="Seconds a hook may run before it is cancelled; unset means no limit."),
    ] = None
    poll_interval: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds between polls of an idle queue. On a queue that wakes its "
            "workers itself (PostgreSQL), only in the moment after a worker's last wake-up: "
            "then it waits for the queue's wake-up and polls every 5 s (or this, if longer).",
        ),
    ] = 0.05
    outage_patience: Annotated[
        float,
        Meta(
            ge=0,
            description="Seconds a unit waits for an unavailable Graph API (circuit open, "
            "server errors) before that counts as a failed attempt; meanwhile its sends wait "
            "and its conversation keeps its order. 0: fail at once.",
        ),
    ] = 3600.0
    enabled: Annotated[
        bool,
        Meta(
            description="Run the worker in `wahost serve`; false serves ingress only, for a "
            "separate `wahost worker` process."
        ),
    ] = True


class GraphConfig(_Table):
    """``[graph]``: the Graph API client that sends messages."""

    timeout: Annotated[float, Meta(gt=0, description="Seconds to wait for a Graph API answer.")] = (
        15.0
    )
    connect_timeout: Annotated[
        float, Meta(gt=0, description="Seconds to wait for a connection to the Graph API.")
    ] = 5.0
    max_connections: Annotated[
        int,
        Meta(
            ge=1,
            description="Connections kept open to the Graph API at most, and requests in "
            "flight at most: for sends and mark-reads, and again for other calls (media, "
            "uploads, the account plane), which have a pool of their own.",
        ),
    ] = 100
    max_retries: Annotated[
        int,
        Meta(
            ge=0,
            description="Retries of a request that failed with a retryable error code or a "
            "transport failure (0: none).",
        ),
    ] = 4
    backoff_base: Annotated[
        float, Meta(ge=0, description="Seconds before the first retry; doubles each retry.")
    ] = 0.5
    backoff_cap: Annotated[
        float, Meta(ge=0, description="Longest wait between retries (a Retry-After wins).")
    ] = 30.0
    messages_per_second: Annotated[
        float,
        Meta(
            gt=0,
            description="Messages sent per second per phone number at most (Meta's default "
            "throughput is 80; 1000 after an upgrade, 20 for coexistence numbers).",
        ),
    ] = 80.0
    recipient_interval: Annotated[
        float,
        Meta(
            ge=0,
            description="Seconds between two messages to the same user (Meta's pair rate "
            "limit is about 6); 0 turns the spacing off.",
        ),
    ] = 0.0
    breaker_failures: Annotated[
        int,
        Meta(
            ge=1,
            description="Consecutive server errors after which sending pauses (circuit "
            "open: /healthz/graph answers 503, sends in units wait).",
        ),
    ] = 5
    breaker_reset: Annotated[
        float,
        Meta(gt=0, description="Seconds the circuit stays open before one request is tried."),
    ] = 10.0
    token_hosts: Annotated[
        list[str],
        Meta(
            description="Hosts besides Meta's that get the access token on media downloads "
            "(a proxy, a test server): a host name (https, port 443) or an origin like "
            '"https://proxy:8443" or "http://127.0.0.1:8081" (plain http only when the entry '
            "says http). The Graph API origin of whatsapp.graph_url and Meta's media host "
            "lookaside.fbsbx.com always get it; any other URL is refused."
        ),
    ] = msgspec.field(default_factory=list)


class OutboxConfig(_Table):
    """``[outbox]``: how replies sent while handling a unit are kept from repeating."""

    ambiguous: Annotated[
        Literal["confirm", "resend", "never"],
        Meta(
            description="A send whose outcome is unknown (the connection dropped or the answer "
            "came too late after the request left): confirm waits for Meta's status of it and "
            "sends again only if none came; resend sends again at once (may duplicate); never "
            "does not send again (may lose it)."
        ),
    ] = "confirm"
    confirm_wait: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds to wait for Meta's status of an ambiguous send before "
            "sending it again (ambiguous = confirm).",
        ),
    ] = 30.0


class DialoguesConfig(_Table):
    """``[dialogues]``: conversations written as functions (``ctx.ask``, docs/dialogues.md)."""

    cancel_command: Annotated[
        str,
        Meta(
            description="A text that cancels the dialogue waiting in a conversation: the "
            "waiting ctx.ask raises ConversationCancelled. Compared with the whole message, "
            'ignoring case and surrounding spaces; "" turns the command off.'
        ),
    ] = "/cancel"
    timer_interval: Annotated[
        float,
        Meta(
            gt=0,
            description="Seconds between two looks for the dialogues' timeouts that are due "
            "(one ordered read of the state store by each worker): a timeout is raised at "
            "most about this long after its time.",
        ),
    ] = 1.0


class LoggingConfig(_Table):
    """``[logging]``: log level and format."""

    level: Annotated[
        Literal["debug", "info", "warning", "error", "critical"],
        Meta(description="Lowest level logged: debug, info, warning, error or critical."),
    ] = "info"
    format: Annotated[
        Literal["auto", "json", "console"],
        Meta(
            description="json (one object per line), console (for people), or auto: console "
            "on a terminal, json otherwise."
        ),
    ] = "auto"


class ConsoleConfig(_Table):
    """``[console]``: the web console at ``/-/console`` (queue, dead units, conversations),
    served by the ``wahost-console`` plugin."""

    enabled: Annotated[
        bool,
        Meta(
            description="Serve the web console at /-/console. It needs token, or username and "
            "password; never expose it without TLS."
        ),
    ] = False
    token: Annotated[
        str | None,
        Meta(
            description="Bearer token that opens the console (Authorization: Bearer, or the "
            "login form). Use a long random value.",
            extra=_SECRET,
        ),
    ] = None
    username: Annotated[
        str | None, Meta(description="User name for basic auth and the login form.")
    ] = None
    password: Annotated[
        str | None,
        Meta(description="Password for basic auth and the login form.", extra=_SECRET),
    ] = None
    session_ttl: Annotated[
        float,
        Meta(gt=0, description="Seconds a login lasts before the form asks again."),
    ] = 12 * 3600.0
    history: Annotated[
        bool,
        Meta(
            description="Keep a journal of each conversation (messages, sends, statuses) for "
            "the console: one more key-value write per unit."
        ),
    ] = True
    history_ttl: Annotated[float, Meta(gt=0, description="Seconds a journal entry is kept.")] = (
        7 * 24 * 3600.0
    )
    sample_interval: Annotated[
        float,
        Meta(gt=0, description="Seconds between two samples of the queue for the rate graph."),
    ] = 2.0

    def secret_values(self) -> list[str]:
        """The token and password, when set."""
        return [value for value in (self.token, self.password) if value]


class MetricsConfig(_Table):
    """``[metrics]``: Prometheus metrics (docs/operations.md, "Metrics and tracing")."""

    enabled: Annotated[
        bool,
        Meta(
            description="Count and serve Prometheus metrics at path. Off by default: set token, "
            "or port to serve them on a listener of their own (e.g. on a private interface)."
        ),
    ] = False
    path: Annotated[str, Meta(description='Path of the scrape endpoint; starts with "/".')] = (
        "/metrics"
    )
    token: Annotated[
        str | None,
        Meta(
            description="Bearer token a scrape must send (Authorization: Bearer); none: any "
            "client that reaches the listener may scrape.",
            extra=_SECRET,
        ),
    ] = None
    host: Annotated[
        str,
        Meta(min_length=1, description="Address of the metrics listener when port is set."),
    ] = "127.0.0.1"
    port: Annotated[
        int,
        Meta(
            ge=0,
            le=65535,
            description="0: serve the metrics on the webhook's listener ([server]). Another "
            "number: on a listener of their own at host:port instead, in wahost serve and in "
            "wahost worker (whose metrics have no other way out, but see "
            "PROMETHEUS_MULTIPROC_DIR in docs/operations.md).",
        ),
    ] = 0


class TracingConfig(_Table):
    """``[tracing]``: OpenTelemetry traces (docs/operations.md, "Metrics and tracing")."""

    enabled: Annotated[
        bool,
        Meta(
            description="Trace each webhook through the queue to the Graph API requests of its "
            "units, across processes. Needs pip install 'wahost[otel]'."
        ),
    ] = False
    exporter: Annotated[
        Literal["otlp", "console"],
        Meta(
            description="Where wahost serve and wahost worker send the spans when the "
            'application has set no tracer provider: "otlp" (OTLP over HTTP, configured by '
            'the OTEL_EXPORTER_OTLP_* environment variables) or "console" (standard output).'
        ),
    ] = "otlp"
    service_name: Annotated[
        str, Meta(min_length=1, description="The service.name of the spans' resource.")
    ] = "wahost"


class BotConfig(_Table):
    """``[bot]``: the bot's own modules, run without packaging (docs/bots.md)."""

    modules: Annotated[
        list[Annotated[str, Meta(min_length=1)]],
        Meta(
            description="Modules of the bot, each registered like a plugin (its Router "
            "objects and its @hookimpl functions) and tried before the installed plugins, in "
            'this order. A dotted module name importable from this file\'s folder ("mybot", '
            '"shop.bot") or a path to a .py file relative to it ("bots/mybot.py"). A module '
            "that cannot be imported stops the start.",
        ),
    ] = []


class PluginsConfig(_Table):
    """``[plugins]``: which plugins load, and their settings in ``[plugins.<name>]`` tables."""

    enabled: Annotated[
        list[str],
        Meta(description="Plugins to load, by entry-point name; empty loads every installed one."),
    ] = []
    disabled: Annotated[list[str], Meta(description="Plugins not to load.")] = []
    strict: Annotated[
        bool, Meta(description="A plugin that fails to load stops the host instead of a warning.")
    ] = False
    settings: Annotated[
        dict[str, dict[str, Any]],
        Meta(
            description="Each plugin's table, by name: [plugins.state_machine] is "
            'settings["state_machine"]. Validated by validate_plugin_settings.'
        ),
    ] = {}


class Config(_Table):
    """The whole configuration: one struct per TOML table, secrets resolved."""

    whatsapp: Annotated[WhatsAppConfig, Meta(description="The Cloud API app and phone number.")]
    server: Annotated[ServerConfig, Meta(description="The webhook HTTP server.")] = msgspec.field(
        default_factory=ServerConfig
    )
    queue: Annotated[QueueConfig, Meta(description="The durable queue.")] = msgspec.field(
        default_factory=QueueConfig
    )
    state: Annotated[StateConfig, Meta(description="The state store.")] = msgspec.field(
        default_factory=StateConfig
    )
    worker: Annotated[WorkerConfig, Meta(description="The worker.")] = msgspec.field(
        default_factory=WorkerConfig
    )
    graph: Annotated[GraphConfig, Meta(description="The Graph API client.")] = msgspec.field(
        default_factory=GraphConfig
    )
    outbox: Annotated[OutboxConfig, Meta(description="The reply outbox.")] = msgspec.field(
        default_factory=OutboxConfig
    )
    dialogues: Annotated[DialoguesConfig, Meta(description="Dialogues (ctx.ask).")] = msgspec.field(
        default_factory=DialoguesConfig
    )
    logging: Annotated[LoggingConfig, Meta(description="Logging.")] = msgspec.field(
        default_factory=LoggingConfig
    )
    console: Annotated[
        ConsoleConfig,
        Meta(
            description="The web console, served by the wahost-console plugin "
            "(plugins/wahost-console)."
        ),
    ] = msgspec.field(default_factory=ConsoleConfig)
    metrics: Annotated[MetricsConfig, Meta(description="Prometheus metrics.")] = msgspec.field(
        default_factory=MetricsConfig
    )
    tracing: Annotated[TracingConfig, Meta(description="OpenTelemetry tracing.")] = msgspec.field(
        default_factory=TracingConfig
    )
    plugins: Annotated[PluginsConfig, Meta(description="Plugins.")] = msgspec.field(
        default_factory=PluginsConfig
    )
    bot: Annotated[BotConfig, Meta(description="The bot's modules, run without packaging.")] = (
        msgspec.field(default_factory=BotConfig)
    )
    source: Annotated[
        str, Meta(description="The file this came from (set by the loader).", extra=_INTERNAL)
    ] = "<string>"
    base_dir: Annotated[
        Path,
        Meta(
            description="Directory that file secrets are relative to: the file's directory "
            "(set by the loader).",
            extra=_INTERNAL,
        ),
    ] = msgspec.field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        if self.state.path is None:
            self.state = msgspec.structs.replace(self.state, path=self.queue.path)

    def secrets(self) -> list[str]:
        """Every resolved secret value, for the log redactor.

        The token, app secrets and verify token; the console's token and password; each
        plugin-settings value under a key whose name contains token, secret, passphrase,
        password or private_key; and the password of any URL (``redis://:pw@host``).
        """
        whatsapp = self.whatsapp
        values = [whatsapp.token, *whatsapp.all_app_secrets(), whatsapp.verify_token]
        values.extend(self.console.secret_values())
        if self.metrics.token:
            values.append(self.metrics.token)
        for table in self.plugins.settings.values():
            values.extend(_secret_leaves(table, secret=False))
        for _, value in _walk(self._plain()):
            if isinstance(value, str) and (password := _url_password(value)):
                values.append(password)
        return [value for value in dict.fromkeys(values) if value]

    def redacted(self, also: Iterable[str] = ()) -> dict[str, Any]:
        """The configuration as plain TOML-shaped data, every secret replaced by ``"***"``.

        ``also``: more secret values, e.g. the fields plugins' schemas mark secret
        (:attr:`wahost.Wahost.plugin_secrets`), whose names need not look like secrets.
        """
        data = self._plain()
        marked = {value for value in also if value}
        if marked:
            data["plugins"] = _map_strings(
                data["plugins"], lambda text: REDACTED if text in marked else text
            )
        whatsapp = data["whatsapp"]
        for key in _secret_fields(WhatsAppConfig):
            if isinstance(whatsapp.get(key), list):
                whatsapp[key] = [REDACTED for _ in whatsapp[key]]
            elif whatsapp.get(key) is not None:
                whatsapp[key] = REDACTED
        console = data["console"]
        for key in _secret_fields(ConsoleConfig):
            if console.get(key) is not None:
                console[key] = REDACTED
        if data["metrics"].get("token") is not None:
            data["metrics"]["token"] = REDACTED
        plugins = data["plugins"]
        for name in self.plugins.settings:
            plugins[name] = _redact_tree(plugins[name], secret=False)
        # Also mask secrets embedded in other values (a token inside a URL, say); short ones
        # are skipped as the log redactor does, or "***" would replace common substrings.
        secrets = sorted(
            (s for s in (*self.secrets(), *marked) if len(s) >= 6), key=len, reverse=True
        )
        redacted: dict[str, Any] = _map_strings(
            data, lambda text: _replace_all(_mask_url_password(text), secrets)
        )
        return redacted

    def _plain(self) -> dict[str, Any]:
        """The TOML tables as builtins; plugin settings back as ``[plugins.<name>]``."""
        data: dict[str, Any] = {}
        for name in _table_fields(Config):
            data[name] = msgspec.to_builtins(getattr(self, name))
        plugins = data["plugins"]
        plugins.update(plugins.pop("settings"))
        return data
