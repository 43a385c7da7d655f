"""Secrets: ``${VAR}`` and ``{ file = ... }`` resolved into a copy; redaction of resolved values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from wahost.config.base import REDACTED, is_secret_key

# -- secrets -------------------------------------------------------------------------------


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
