"""Warnings about secrets that other people can read: ``wahost check`` prints them, and
``wahost serve`` and ``wahost worker`` log them at start. None stops the host.

What is reported, one line each, naming the file, the key and the fix, never a secret's value:

* a secret written in plain text in the configuration file: a key marked secret in the schema
  (the token, the app secrets, the verify token, the console's token and password; a plugin's
  field marked ``{"secret": True}``, or named like a secret as the log redactor reads plugin
  tables), or the password of a URL. ``"${VAR}"`` references and ``{ file = "..." }`` are fine;
* a secret file (``{ file = "..." }``, or a plugin's field marked ``{"secret_file": True}``,
  such as the Flows private key's ``key_file``) that group or others may read;
* the configuration file itself when it holds a secret in plain text and group or others may
  read it;
* a SQLite database (``[queue] path``, ``[state] path``) or its ``-wal`` and ``-shm`` files that
  group or others may read: they hold message bodies and phone numbers. wahost creates them
  0600 but leaves the mode of an existing file alone.

Modes are not checked on Windows, whose files have no such bits.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import msgspec

from wahost.config.base import _PLUGINS_KEYS, ConfigError, is_secret_key
from wahost.config.introspect import _key, _metas, _secret_fields, _strip
from wahost.config.loader import _Resolver
from wahost.config.schema import Config, ConsoleConfig, WhatsAppConfig
from wahost.config.secrets import _url_password

__all__ = ["Exposure", "find_exposures"]

#: Group and others may read: the bits that make a private file readable by someone else.
_READABLE_BY_OTHERS = stat.S_IRGRP | stat.S_IROTH
_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")

_Path = tuple[str | int, ...]


class Exposure(msgspec.Struct, frozen=True):
    """One finding: ``str(exposure)`` is the line printed or logged."""

    file: str
    key: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.problem}; {self.fix}"


def find_exposures(
    config: Config,
    plugin_schemas: Mapping[str, type[msgspec.Struct]] | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> list[Exposure]:
    """What in ``config``'s file, its secret files and its SQLite files others may read.

    ``plugin_schemas`` (``{name: struct}``, what plugins return from ``wahost_config_schema``)
    says which fields of ``[plugins.<name>]`` are secrets; a table without one is read by key
    names. ``env`` (default ``os.environ``) resolves ``${VAR}`` in secret file names. A
    configuration that was not read from a file has only its databases checked.
    """
    found: list[Exposure] = []
    raw = _read_toml(config.source)
    if raw is not None:
        found.extend(_config_exposures(config, raw, plugin_schemas or {}, env))
    found.extend(_database_exposures(config))
    return found


def _read_toml(source: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


# -- the configuration file and secret files -------------------------------------------------


def _config_exposures(
    config: Config,
    raw: dict[str, Any],
    schemas: Mapping[str, type[msgspec.Struct]],
    env: Mapping[str, str] | None,
) -> Iterator[Exposure]:
    source = config.source
    resolver = _Resolver(source, config.base_dir, os.environ if env is None else env)
    plain: list[str] = []
    for path, value, kind in _Marks(schemas).walk(raw):
        key = _key(path)
        if kind == "secret_file" or isinstance(value, dict):  # a key file, { file = "..." }
            name = value.get("file") if isinstance(value, dict) else value
            if not isinstance(name, str):
                continue
            try:
                name = resolver.string(name, (*path, "file"))
            except ConfigError:  # a variable that is not set: the load said so already
                continue
            what = "key file" if kind == "secret_file" else "secret file"
            yield from _file_exposure(config.base_dir / name, key, what=what)
        elif kind == "secret" and value and not _REFERENCE.search(value):
            plain.append(key)
            yield Exposure(source, key, "a secret written in plain text", _move_fix(path, key))
        elif kind == "url" and not _REFERENCE.search(_url_password(value) or ""):
            plain.append(key)
            variable = _variable(key) + "_PASSWORD"
            yield Exposure(
                source,
                key,
                "a URL with its password in plain text",
                f"write the password as ${{{variable}}} and set {variable} in the environment",
            )
    mode = _group_or_other_mode(Path(source))
    if plain and mode is not None:
        yield Exposure(
            source,
            ", ".join(plain),
            f"the file holds secrets in plain text and group or others may read it "
            f"(mode {mode:04o})",
            f"move the secrets out as above, or chmod 600 {source}",
        )


def _file_exposure(path: Path, key: str, *, what: str) -> Iterator[Exposure]:
    mode = _group_or_other_mode(path)
    if mode is not None:
        yield Exposure(
            str(path),
            key,
            f"the {what} is readable by group or others (mode {mode:04o})",
            f"chmod 600 {path}",
        )


def _variable(key: str) -> str:
    """An environment variable name for ``key``: ``whatsapp.token`` -> ``WHATSAPP_TOKEN``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_").upper()


def _move_fix(path: _Path, key: str) -> str:
    variable = _variable(key)
    name = path[-1]
    if isinstance(name, int):  # an element of a list of secrets
        return f'write "${{{variable}}}" in its place and set {variable} in the environment'
    return (
        f'write {name} = "${{{variable}}}" and set {variable} in the environment, or '
        f'{name} = {{ file = "<path>" }} with a file of mode 0600'
    )


_Kind = Literal["secret", "secret_file", "url", ""]


class _Marks:
    """Walks the raw TOML, telling each leaf's kind from the schemas (and key names)."""

    def __init__(self, schemas: Mapping[str, type[msgspec.Struct]]) -> None:
        self.core = {("whatsapp", name) for name in _secret_fields(WhatsAppConfig)} | {
            ("console", name) for name in _secret_fields(ConsoleConfig)
        }
        self.schemas = schemas

    def walk(self, raw: dict[str, Any]) -> Iterator[tuple[_Path, Any, _Kind]]:
        for section, table in raw.items():
            if not isinstance(table, dict):
                yield from _leaves(table, (section,), "")
            elif section == "plugins":
                for plugin, settings in table.items():
                    path = ("plugins", plugin)
                    if plugin in _PLUGINS_KEYS or not isinstance(settings, dict):
                        yield from _leaves(settings, path, "")
                    else:
                        yield from self._plugin(settings, path, self.schemas.get(plugin))
            else:
                for name, value in table.items():
                    kind: _Kind = "secret" if (section, name) in self.core else ""
                    yield from _leaves(value, (section, name), kind)

    def _plugin(
        self, value: Any, path: _Path, schema: type[msgspec.Struct] | None
    ) -> Iterator[tuple[_Path, Any, _Kind]]:
        if not isinstance(value, dict):
            yield from _leaves(value, path, "")
            return
        if schema is None:  # no schema: the log redactor's rule, by key name
            for name, item in value.items():
                kind: _Kind = "secret" if is_secret_key(str(name)) else ""
                yield from (
                    _leaves(item, (*path, name), kind)
                    if kind
                    else self._plugin(item, (*path, name), None)
                )
            return
        fields = {field.encode_name: field.name for field in msgspec.structs.fields(schema)}
        hints = get_type_hints(schema, include_extras=True)
        for name, item in value.items():
            field = fields.get(str(name))
            if field is None:
                yield from _leaves(item, (*path, name), "")
                continue
            hint = hints[field]
            extra: dict[str, Any] = {}
            for meta in _metas(hint):
                extra.update(meta.extra or {})
            inner = _strip(hint)
            if extra.get("secret_file"):
                yield from _leaves(item, (*path, name), "secret_file")
            elif extra.get("secret") or (
                # Named like a secret, as the log redactor reads it: unless it is a choice
                # among fixed words (a Literal), which cannot be a secret.
                is_secret_key(field) and get_origin(inner) is not Literal
            ):
                yield from _leaves(item, (*path, name), "secret")
            else:
                yield from self._nested(item, (*path, name), inner)

    def _nested(self, value: Any, path: _Path, hint: Any) -> Iterator[tuple[_Path, Any, _Kind]]:
        if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
            yield from self._plugin(value, path, hint)
        elif get_origin(hint) is list and isinstance(value, list):
            item_hint = _strip(get_args(hint)[0])
            for index, item in enumerate(value):
                yield from self._nested(item, (*path, index), item_hint)
        elif get_origin(hint) is dict and isinstance(value, dict):
            item_hint = _strip(get_args(hint)[1])
            for name, item in value.items():
                yield from self._nested(item, (*path, name), item_hint)
        else:
            yield from _leaves(value, path, "")


def _leaves(value: Any, path: _Path, kind: _Kind) -> Iterator[tuple[_Path, Any, _Kind]]:
    """The string leaves under ``value``; a ``{ file = ... }`` table is one leaf of a secret.

    A string that is not a secret is still reported when it is a URL with a password.
    """
    if isinstance(value, dict):
        if kind == "secret" and set(value) == {"file"}:
            yield path, value, kind
            return
        for name, item in value.items():
            yield from _leaves(item, (*path, name), kind)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index), kind)
    elif isinstance(value, str):
        if kind:
            yield path, value, kind
        elif _url_password(value):
            yield path, value, "url"


# -- SQLite files ------------------------------------------------------------------------


def _database_exposures(config: Config) -> Iterator[Exposure]:
    databases: list[tuple[str, str]] = []
    if config.queue.backend == "sqlite":
        databases.append(("queue.path", config.queue.path))
    if config.state.backend == "sqlite":
        databases.append(("state.path", config.state.path or config.queue.path))
    seen: set[str] = set()
    for key, path in databases:
        if os.path.realpath(path) in seen:
            continue  # the state store in the queue's file
        seen.add(os.path.realpath(path))
        files = [name for name in (path, f"{path}-wal", f"{path}-shm") if os.path.exists(name)]
        modes = [mode for name in files if (mode := _group_or_other_mode(Path(name))) is not None]
        if modes:
            yield Exposure(
                path,
                key,
                "the database (message bodies, phone numbers) is readable by group or others "
                f"(mode {modes[0]:04o})",
                f"chmod 600 {' '.join(files)}",
            )


def _group_or_other_mode(path: Path) -> int | None:
    """The permission bits of ``path`` when group or others may read it, else ``None``."""
    if os.name == "nt":
        return None
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return mode if mode & _READABLE_BY_OTHERS else None
