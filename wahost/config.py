"""The configuration file: TOML decoded into typed structs, with secrets resolved.

``load_config("config/wahost.toml")`` reads the file, resolves every ``${VAR}`` reference from
the environment and every ``{ file = "path" }`` secret (relative to the file's directory), and
decodes the result into :class:`Config`. Anything wrong (a syntax error, an unknown key, a wrong
type, a value out of range, a missing variable) raises :class:`ConfigError`, whose message names
the file, the key and the reason, and never a secret's value.

Every struct field carries its documentation as ``Annotated[T, msgspec.Meta(description=...)]``;
``Meta.extra`` marks secrets (``{"secret": True}``) and fields the loader sets rather than reads
(``{"internal": True}``). The configuration reference is generated from these structs.
"""

from __future__ import annotations

import datetime
import math
import os
import re
import tomllib
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

__all__ = [
    "Config",
    "ConfigError",
    "GraphConfig",
    "LoggingConfig",
    "PluginsConfig",
    "QueueConfig",
    "ServerConfig",
    "StateConfig",
    "WhatsAppConfig",
    "WorkerConfig",
    "config_to_toml",
    "is_secret_key",
    "load_config",
    "parse_config",
    "validate_plugin_settings",
]

_SECRET = {"secret": True}
_INTERNAL = {"internal": True}
_SECRET_WORDS = ("token", "secret", "passphrase", "password", "private_key")
_PLUGINS_KEYS = frozenset({"enabled", "disabled", "strict"})
REDACTED = "***"


def is_secret_key(name: str) -> bool:
    """Whether a plugin-settings key holds a secret (its name contains token, secret, ...)."""
    lowered = name.lower().replace("-", "_")
    return any(word in lowered for word in _SECRET_WORDS)


class ConfigError(Exception):
    """The configuration is invalid: ``str(err)`` is ``"<source>: <key>: <reason>"``.

    ``source`` is the file, ``key`` the dotted key path (``whatsapp.token``; empty for an error
    about the whole file) and ``reason`` what is wrong. TOML syntax errors leave ``key`` empty
    and set ``line`` and ``column`` instead.
    """

    def __init__(
        self,
        source: str,
        key: str,
        reason: str,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(source, key, reason)
        self.source = source
        self.key = key
        self.reason = reason
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.key:
            return f"{self.source}: {self.key}: {self.reason}"
        if self.line is not None:
            return f"{self.source}: line {self.line}, column {self.column}: {self.reason}"
        return f"{self.source}: {self.reason}"


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


class QueueConfig(_Table):
    """``[queue]``: where received updates wait durably for the worker."""

    backend: Annotated[
        str,
        Meta(
            min_length=1,
            description='Queue backend name: "sqlite" (built in), "memory" (tests only), or '
            'one a plugin provides, e.g. "redis" with wahost-redis.',
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
        str, Meta(description='Server URL for network backends, e.g. "redis://localhost:6379/0".')
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
        Meta(min_length=1, description='State store backend name: "sqlite", "memory", "redis".'),
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
        int, Meta(ge=1, description="Units handled at once (one at a time per conversation).")
    ] = 64
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
        float, Meta(gt=0, description="Seconds between polls of an idle queue.")
    ] = 0.05
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
        int, Meta(ge=1, description="Connections kept open to the Graph API at most.")
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
            "open, /readyz answers 503).",
        ),
    ] = 5
    breaker_reset: Annotated[
        float,
        Meta(gt=0, description="Seconds the circuit stays open before one request is tried."),
    ] = 30.0


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
    logging: Annotated[LoggingConfig, Meta(description="Logging.")] = msgspec.field(
        default_factory=LoggingConfig
    )
    plugins: Annotated[PluginsConfig, Meta(description="Plugins.")] = msgspec.field(
        default_factory=PluginsConfig
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

        The token, app secrets and verify token; each plugin-settings value under a key whose
        name contains token, secret, passphrase, password or private_key; and the password of
        any URL (``redis://:pw@host``).
        """
        whatsapp = self.whatsapp
        values = [whatsapp.token, *whatsapp.all_app_secrets(), whatsapp.verify_token]
        for table in self.plugins.settings.values():
            values.extend(_secret_leaves(table, secret=False))
        for _, value in _walk(self._plain()):
            if isinstance(value, str) and (password := _url_password(value)):
                values.append(password)
        return [value for value in dict.fromkeys(values) if value]

    def redacted(self) -> dict[str, Any]:
        """The configuration as plain TOML-shaped data, every secret replaced by ``"***"``."""
        data = self._plain()
        whatsapp = data["whatsapp"]
        for key in _secret_fields(WhatsAppConfig):
            if isinstance(whatsapp.get(key), list):
                whatsapp[key] = [REDACTED for _ in whatsapp[key]]
            elif whatsapp.get(key) is not None:
                whatsapp[key] = REDACTED
        plugins = data["plugins"]
        for name in self.plugins.settings:
            plugins[name] = _redact_tree(plugins[name], secret=False)
        # Also mask secrets embedded in other values (a token inside a URL, say); short ones
        # are skipped as the log redactor does, or "***" would replace common substrings.
        secrets = sorted((s for s in self.secrets() if len(s) >= 6), key=len, reverse=True)
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


# -- loading ------------------------------------------------------------------------------


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    """Read, resolve and validate a configuration file.

    ``env`` (default ``os.environ``) supplies ``${VAR}`` references; ``{ file = "..." }``
    secrets are relative to the file's directory. Raises :class:`ConfigError`.
    """
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(source, "", "not a UTF-8 text file") from None
    return parse_config(text, source=source, base_dir=Path(source).absolute().parent, env=env)


def parse_config(
    text: str,
    *,
    source: str = "<string>",
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Parse configuration text; like :func:`load_config` (``base_dir`` defaults to the cwd)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(source, text, exc) from None
    base = Path.cwd() if base_dir is None else Path(base_dir)
    resolver = _Resolver(source, base, os.environ if env is None else env)
    resolved = resolver.tree(raw, ())
    for key in resolved:
        if key in _internal_fields(Config):
            raise ConfigError(source, key, "unknown key")
    resolved = _split_plugin_settings(source, resolved)
    try:
        config = msgspec.convert(resolved, Config)
    except msgspec.ValidationError as exc:
        raise _translate(exc, source, Config, resolved, ()) from None
    config.source = source
    config.base_dir = base
    _check(config)
    return config


def validate_plugin_settings(
    config: Config,
    schemas: Mapping[str, type[msgspec.Struct]],
    *,
    unknown: Literal["error", "ignore"] = "error",
) -> dict[str, Any]:
    """Decode each plugin's ``[plugins.<name>]`` table into the struct the plugin declared.

    Returns ``{name: struct}`` for every schema; a schema without a table gets its defaults.
    A table no schema reads is an error unless ``unknown="ignore"``, and so is a key the
    struct does not declare. Raises :class:`ConfigError` naming ``plugins.<name>.<key>``.
    """
    if unknown not in ("error", "ignore"):
        raise ValueError(f"unknown must be 'error' or 'ignore', not {unknown!r}")
    settings = config.plugins.settings
    if unknown == "error":
        for name in settings:
            if name not in schemas:
                raise ConfigError(
                    config.source, f"plugins.{name}", "no installed plugin reads this table"
                )
    result: dict[str, Any] = {}
    for name, schema in schemas.items():
        table = settings.get(name, {})
        known = {field.encode_name for field in msgspec.structs.fields(schema)}
        for key in table:
            if key not in known:
                raise ConfigError(config.source, f"plugins.{name}.{key}", "unknown key")
        try:
            result[name] = msgspec.convert(table, schema)
        except msgspec.ValidationError as exc:
            raise _translate(exc, config.source, schema, table, ("plugins", name)) from None
    return result


def _syntax_error(source: str, text: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    # Python 3.11's TOMLDecodeError has no lineno attribute: read it from the message.
    message = str(exc)
    if match := re.fullmatch(r"(?s)(.*) \(at line (\d+), column (\d+)\)", message):
        line, column = int(match[2]), int(match[3])
    elif match := re.fullmatch(r"(?s)(.*) \(at end of document\)", message):
        lines = text.split("\n")
        line, column = len(lines), len(lines[-1]) + 1
    else:
        return ConfigError(source, "", f"invalid TOML: {message}")
    reason = "invalid TOML: " + match[1][:1].lower() + match[1][1:]
    return ConfigError(source, "", reason, line=line, column=column)


def _split_plugin_settings(source: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Move the ``[plugins.<name>]`` sub-tables into ``plugins.settings``."""
    plugins = raw.get("plugins")
    if not isinstance(plugins, dict):
        return raw
    own: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    for key, value in plugins.items():
        if key in _PLUGINS_KEYS:
            own[key] = value
        elif isinstance(value, dict):
            settings[key] = value
        else:
            raise ConfigError(source, f"plugins.{key}", "unknown key")
    return {**raw, "plugins": {**own, "settings": settings}}


def _check(config: Config) -> None:
    """The checks msgspec constraints cannot express."""
    fail = ConfigError
    whatsapp = config.whatsapp
    for key in ("token", "verify_token"):
        if not getattr(whatsapp, key):
            raise fail(config.source, f"whatsapp.{key}", "must not be empty")
    if whatsapp.app_secret == "":
        raise fail(config.source, "whatsapp.app_secret", "must not be empty")
    for index, value in enumerate(whatsapp.app_secrets):
        if not value:
            raise fail(config.source, f"whatsapp.app_secrets[{index}]", "must not be empty")
    if not whatsapp.all_app_secrets():
        raise fail(
            config.source,
            "whatsapp.app_secret",
            "required key is missing (set app_secret, or app_secrets to rotate secrets)",
        )
    if not re.fullmatch(r"v[0-9]+\.[0-9]+", whatsapp.api_version):
        raise fail(
            config.source,
            "whatsapp.api_version",
            f'expected a version like "v24.0", got {whatsapp.api_version!r}',
        )
    if not whatsapp.graph_url.startswith(("http://", "https://")):
        raise fail(
            config.source,
            "whatsapp.graph_url",
            f"expected an http(s) URL, got {whatsapp.graph_url!r}",
        )
    if not config.server.webhook_path.startswith("/"):
        raise fail(
            config.source,
            "server.webhook_path",
            f'must start with "/", got {config.server.webhook_path!r}',
        )
    if config.worker.backoff_cap < config.worker.backoff_base:
        raise fail(config.source, "worker.backoff_cap", "must be >= worker.backoff_base")


# -- secrets -------------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")


class _Resolver:
    """Resolves ``${VAR}`` in every string and ``{ file = ... }`` in secrets, into a copy."""

    def __init__(self, source: str, base_dir: Path, env: Mapping[str, str]) -> None:
        self.source = source
        self.base_dir = base_dir
        self.env = env
        self.secret_paths = {("whatsapp", name) for name in _secret_fields(WhatsAppConfig)}

    def tree(self, value: Any, path: tuple[str | int, ...]) -> Any:
        secret = self._is_secret(path)
        if isinstance(value, str):
            return self.string(value, path)
        if isinstance(value, list):
            return [self.tree(item, (*path, index)) for index, item in enumerate(value)]
        if isinstance(value, dict):
            if secret and set(value) == {"file"}:
                return self.file(value["file"], path)
            if secret and path[:1] == ("whatsapp",):
                raise ConfigError(self.source, _key(path), 'expected a string or { file = "path" }')
            return {key: self.tree(item, (*path, key)) for key, item in value.items()}
        return value

    def _is_secret(self, path: tuple[str | int, ...]) -> bool:
        if path[:2] in self.secret_paths:
            return True
        # [plugins.<name>] tables: a value is secret when a key on its path is secret-like.
        if len(path) >= 3 and path[0] == "plugins" and path[1] not in _PLUGINS_KEYS:
            return any(isinstance(part, str) and is_secret_key(part) for part in path[2:])
        return False

    def string(self, value: str, path: tuple[str | int, ...]) -> str:
        def replace(match: re.Match[str]) -> str:
            if match[0] == "$${":
                return "${"
            name = match[1]
            if name is None:
                raise ConfigError(
                    self.source,
                    _key(path),
                    "invalid ${...} reference: write ${NAME}, or $${ for a literal ${",
                )
            if name not in self.env:
                raise ConfigError(
                    self.source, _key(path), f"environment variable {name} is not set"
                )
            return self.env[name]

        return _REFERENCE.sub(replace, value)

    def file(self, name: Any, path: tuple[str | int, ...]) -> str:
        if not isinstance(name, str):
            raise ConfigError(
                self.source, _key((*path, "file")), f"expected str, got {type(name).__name__}"
            )
        file = self.base_dir / self.string(name, (*path, "file"))
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                self.source,
                _key(path),
                f"cannot read secret file {file}: {exc.strerror or exc}",
            ) from None
        except UnicodeDecodeError:
            raise ConfigError(
                self.source, _key(path), f"secret file {file} is not UTF-8 text"
            ) from None
        return text.rstrip("\r\n")


def _secret_leaves(value: Any, *, secret: bool) -> Iterator[str]:
    """The strings of a plugin table that sit under a secret-like key."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _secret_leaves(item, secret=secret or is_secret_key(str(key)))
    elif isinstance(value, list):
        for item in value:
            yield from _secret_leaves(item, secret=secret)
    elif secret and isinstance(value, str):
        yield value


def _redact_tree(value: Any, *, secret: bool) -> Any:
    if isinstance(value, dict):
        return {
            key: _redact_tree(item, secret=secret or is_secret_key(str(key)))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_tree(item, secret=secret) for item in value]
    return REDACTED if secret and value is not None else value


def _url_password(value: str) -> str | None:
    if "://" not in value or "@" not in value:
        return None
    try:
        return urlsplit(value).password
    except ValueError:
        return None


def _mask_url_password(value: str) -> str:
    password = _url_password(value)
    return value if password is None else value.replace(f":{password}@", f":{REDACTED}@", 1)


def _replace_all(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _map_strings(value: Any, function: Any) -> Any:
    if isinstance(value, str):
        return function(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, function) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, function) for item in value]
    return value


def _walk(value: Any) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every leaf of plain data with its path."""
    if isinstance(value, dict):
        for key, item in value.items():
            for path, leaf in _walk(item):
                yield (key, *path), leaf
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for path, leaf in _walk(item):
                yield (index, *path), leaf
    else:
        yield (), value


# -- struct introspection and msgspec error messages -----------------------------------------


def _metas(hint: Any) -> list[Meta]:
    if get_origin(hint) is Annotated:
        return [meta for meta in hint.__metadata__ if isinstance(meta, Meta)]
    return []


def _fields_with(struct: type[msgspec.Struct], flag: str) -> list[str]:
    hints = get_type_hints(struct, include_extras=True)
    return [
        field.name
        for field in msgspec.structs.fields(struct)
        if any((meta.extra or {}).get(flag) for meta in _metas(hints[field.name]))
    ]


def _secret_fields(struct: type[msgspec.Struct]) -> list[str]:
    return _fields_with(struct, "secret")


def _internal_fields(struct: type[msgspec.Struct]) -> list[str]:
    return _fields_with(struct, "internal")


def _table_fields(struct: type[msgspec.Struct]) -> list[str]:
    internal = _internal_fields(struct)
    return [field.name for field in msgspec.structs.fields(struct) if field.name not in internal]


def _strip(hint: Any) -> Any:
    """``hint`` without ``Annotated`` layers and without ``None`` in a union."""
    while get_origin(hint) is Annotated:
        hint = get_args(hint)[0]
    if get_origin(hint) in (Union, types.UnionType):
        members = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(members) == 1:
            return _strip(members[0])
    return hint


def _type_at(root: Any, path: list[str | int]) -> Any:
    """The declared type at ``path`` inside struct ``root`` (``None`` if unknown)."""
    hint: Any = root
    for part in path:
        hint = _strip(hint)
        if isinstance(hint, type) and issubclass(hint, msgspec.Struct) and isinstance(part, str):
            fields = {f.encode_name: f.name for f in msgspec.structs.fields(hint)}
            if part not in fields:
                return None
            hint = get_type_hints(hint, include_extras=True)[fields[part]]
        elif get_origin(hint) is list and isinstance(part, int):
            hint = get_args(hint)[0]
        else:
            return None
    return _strip(hint)


def _value_at(data: Any, path: list[str | int]) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


def _type_name(names: str) -> str:
    """msgspec's ``int | null`` as a TOML user reads it: ``int`` (TOML has no null)."""
    kept = [name for name in names.split(" | ") if name != "null"]
    return " | ".join("table" if name == "object" else name for name in kept)


def _translate(
    exc: msgspec.ValidationError,
    source: str,
    root: Any,
    data: Any,
    prefix: tuple[str, ...],
) -> ConfigError:
    """Turn ``Expected `str`, got `int` - at `$.whatsapp.token``` into a ConfigError."""
    match = re.fullmatch(r"(?s)(.*?)(?: - at `\$(.*)`)?", str(exc))
    assert match is not None  # the pattern matches any string
    reason, where = match[1], match[2] or ""
    path: list[str | int] = [
        name if name is not None and name != "" else int(index)
        for name, index in _PATH_PART.findall(where)
    ]
    if unknown := re.fullmatch(r"Object contains unknown field `(.*)`", reason):
        path.append(unknown[1])
        reason = "unknown key"
    elif missing := re.fullmatch(r"Object missing required field `(.*)`", reason):
        path.append(missing[1])
        reason = "required key is missing"
    elif re.fullmatch(r"Expected `str` of length >= 1", reason):
        reason = "must not be empty"
    elif re.match(r"Invalid enum value ", reason):
        allowed = get_args(_type_at(root, path))
        got = _value_at(data, path)
        reason = f"expected one of {', '.join(map(repr, allowed))}, got {got!r}"
    else:
        reason = re.sub(r"`([^`]+)`", lambda m: _type_name(m[1]), reason)
        reason = reason[:1].lower() + reason[1:]
        constrained = not re.fullmatch(r"expected [\w |]+, got \w+", reason)
        secret = _is_secret_path(root, path)
        if constrained and not secret and (got := _value_at(data, path)) is not None:
            reason += f", got {got!r}"
    return ConfigError(source, _key((*prefix, *path)) or "(top level)", reason)


def _is_secret_path(root: Any, path: list[str | int]) -> bool:
    names = [part for part in path if isinstance(part, str)]
    if root is Config:
        return (
            len(names) >= 2
            and names[0] == "whatsapp"
            and names[1] in _secret_fields(WhatsAppConfig)
        )
    return any(is_secret_key(name) for name in names)


def _key(path: tuple[str | int, ...]) -> str:
    key = ""
    for part in path:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else part)
    return key


# -- writing TOML --------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def config_to_toml(data: Mapping[str, Any]) -> str:
    """Write plain data (e.g. :meth:`Config.redacted`) as TOML text.

    Tables become ``[a.b]`` sections, lists inline arrays; a ``None`` value (TOML has no null)
    becomes a comment saying the key is not set.
    """
    lines: list[str] = []
    _write_table(lines, (), data)
    return "\n".join(lines).strip("\n") + "\n"


def _write_table(lines: list[str], path: tuple[str, ...], table: Mapping[str, Any]) -> None:
    if path:
        lines.extend(["", f"[{'.'.join(_toml_key(part) for part in path)}]"])
    subtables = []
    for key, value in table.items():
        if isinstance(value, Mapping):
            subtables.append((key, value))
        elif value is None:
            lines.append(f"# {_toml_key(key)} is not set")
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in subtables:
        _write_table(lines, (*path, key), value)


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    def escape(char: str) -> str:
        if char in _ESCAPES:
            return _ESCAPES[char]
        if char < " " or char == "\x7f":
            return f"\\u{ord(char):04X}"
        return char

    return '"' + "".join(escape(char) for char in text) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        items = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
