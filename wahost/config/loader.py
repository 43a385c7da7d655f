"""Reading the file: TOML syntax, secrets, decoding, checks, plugin tables."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

import msgspec

from wahost.config.base import _PLUGINS_KEYS, ConfigError, is_secret_key
from wahost.config.introspect import (
    _PATH_PART,
    DICT_KEY,
    _internal_fields,
    _key,
    _resolve_dict_keys,
    _secret_fields,
    _type_at,
    _type_name,
    _value_at,
)
from wahost.config.schema import Config, ConsoleConfig, WhatsAppConfig
from wahost.graph_guard import parse_token_host

# -- loading ------------------------------------------------------------------------------


def load_config(
    path: str | os.PathLike[str],
    *,
    env: Mapping[str, str] | None = None,
    require_secrets: bool = True,
) -> Config:
    """Read, resolve and validate a configuration file.

    ``env`` (default ``os.environ``) supplies ``${VAR}`` references; ``{ file = "..." }``
    secrets are relative to the file's directory. Raises :class:`ConfigError`.
    ``require_secrets=False`` is for commands that only read the store (``wahost queue``,
    ``wahost plugins``): a ``[whatsapp]`` or ``[console]`` secret whose environment variable
    is not set gets a placeholder that no request can use, instead of an error.
    """
    source = os.fspath(path)
    try:
        text = Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(source, "", "not a UTF-8 text file") from None
    return parse_config(
        text,
        source=source,
        base_dir=Path(source).absolute().parent,
        env=env,
        require_secrets=require_secrets,
    )


def parse_config(
    text: str,
    *,
    source: str = "<string>",
    base_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    require_secrets: bool = True,
) -> Config:
    """Parse configuration text; like :func:`load_config` (``base_dir`` defaults to the cwd)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(source, text, exc) from None
    base = Path.cwd() if base_dir is None else Path(base_dir)
    resolver = _Resolver(source, base, os.environ if env is None else env)
    resolver.require_secrets = require_secrets
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
    if any(c in whatsapp.token for c in "\r\n\0"):
        # It travels in a header: a line break (a token file's last newline is read off, one
        # pasted in the middle is not) would end the header early.
        raise fail(
            config.source,
            "whatsapp.token",
            "contains a line break: paste the token on one line",
        )
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
    for index, entry in enumerate(config.graph.token_hosts):
        try:
            parse_token_host(entry)
        except ValueError as exc:
            raise fail(config.source, f"graph.token_hosts[{index}]", str(exc)) from None
    if not config.server.webhook_path.startswith("/"):
        raise fail(
            config.source,
            "server.webhook_path",
            f'must start with "/", got {config.server.webhook_path!r}',
        )
    metrics_path = config.metrics.path
    if not metrics_path.startswith("/"):
        raise fail(config.source, "metrics.path", f'must start with "/", got {metrics_path!r}')
    if config.metrics.port == 0 and metrics_path in (
        config.server.webhook_path,
        "/healthz",
        "/readyz",
    ):
        raise fail(config.source, "metrics.path", f"{metrics_path!r} is taken: choose another")
    if config.metrics.port == config.server.port:
        raise fail(
            config.source,
            "metrics.port",
            f"{config.metrics.port} is [server] port: choose another, or 0 to serve the "
            "metrics on the webhook's listener",
        )
    if config.worker.backoff_cap < config.worker.backoff_base:
        raise fail(config.source, "worker.backoff_cap", "must be >= worker.backoff_base")
    _check_console(config)


def _check_console(config: Config) -> None:
    """An enabled console must be closed by a token or a username and password."""
    console = config.console
    for key in ("token", "username", "password"):
        if getattr(console, key) == "":
            raise ConfigError(config.source, f"console.{key}", "must not be empty")
    if (console.username is None) != (console.password is None):
        key = "console.password" if console.password is None else "console.username"
        raise ConfigError(config.source, key, "set username and password together")
    if console.enabled and console.token is None and console.username is None:
        raise ConfigError(
            config.source,
            "console.token",
            "required when the console is enabled (or set username and password): the "
            "console is never served without authentication",
        )


# -- secrets ----------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")

#: A value that is one reference and nothing else: ``port = "${PORT}"``.
_WHOLE_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class _Resolver:
    """Resolves ``${VAR}`` in every string and ``{ file = ... }`` in secrets, into a copy."""

    def __init__(self, source: str, base_dir: Path, env: Mapping[str, str]) -> None:
        self.source = source
        self.base_dir = base_dir
        self.env = env
        self.require_secrets = True
        self.secret_paths = {("whatsapp", name) for name in _secret_fields(WhatsAppConfig)} | {
            ("console", name) for name in _secret_fields(ConsoleConfig)
        }

    def tree(self, value: Any, path: tuple[str | int, ...]) -> Any:
        secret = self._is_secret(path)
        if isinstance(value, str):
            return self.string(value, path)
        if isinstance(value, list):
            return [self.tree(item, (*path, index)) for index, item in enumerate(value)]
        if isinstance(value, dict):
            if secret and set(value) == {"file"}:
                return self.file(value["file"], path)
            if secret and path[:1] in (("whatsapp",), ("console",)):
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

    def string(self, value: str, path: tuple[str | int, ...]) -> Any:
        whole = _WHOLE_REFERENCE.fullmatch(value)
        if whole and whole[1] in self.env and path[:1] != ("plugins",):
            # The environment holds only strings; a number or flag of the core schema written
            # as one reference (a platform's PORT) takes the type the key declares.
            declared = _type_at(Config, list(path))
            if declared in (int, float, bool):
                return self._typed(self.env[whole[1]], declared, whole[1], path)
        return self._substitute(value, path)

    def _typed(self, text: str, declared: type, name: str, path: tuple[str | int, ...]) -> Any:
        try:
            return msgspec.convert(text.strip(), declared, strict=False)
        except msgspec.ValidationError:
            kind = {int: "an integer", float: "a number", bool: "true or false"}[declared]
            raise ConfigError(
                self.source,
                _key(path),
                f"environment variable {name} must be {kind}, got {text!r}",
            ) from None

    def _substitute(self, value: str, path: tuple[str | int, ...]) -> str:
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
            if name not in self.env and not self.require_secrets and self._is_secret(path):
                return f"<unset: {name}>"
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
        file = self.base_dir / self._substitute(name, (*path, "file"))
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


# -- msgspec error messages --------------------------------------------------------------


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
        name if name else (index if index == DICT_KEY else int(index))
        for name, index in _PATH_PART.findall(where)
    ]
    path = _resolve_dict_keys(root, data, path)
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
        got = _value_at(data, path)
        # Never quote a whole table or list: it may hold secrets (a plugin struct's
        # __post_init__ that rejects its table fails at the table's path).
        if constrained and not secret and got is not None and not isinstance(got, dict | list):
            reason += f", got {got!r}"
    return ConfigError(source, _key((*prefix, *path)) or "(top level)", reason)


def _is_secret_path(root: Any, path: list[str | int]) -> bool:
    names = [part for part in path if isinstance(part, str)]
    if root is Config:
        if len(names) >= 2 and names[0] == "console":
            return names[1] in _secret_fields(ConsoleConfig)
        return (
            len(names) >= 2
            and names[0] == "whatsapp"
            and names[1] in _secret_fields(WhatsAppConfig)
        )
    return any(is_secret_key(name) for name in names)
