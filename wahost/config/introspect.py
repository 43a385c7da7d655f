"""Struct introspection (which fields are secrets, tables) and msgspec error messages in
the ``file: key: reason`` form.
"""

from __future__ import annotations

import functools
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import msgspec
from msgspec import Meta

# -- struct introspection and msgspec error messages -----------------------------------------


def _metas(hint: Any) -> list[Meta]:
    if get_origin(hint) is Annotated:
        return [meta for meta in hint.__metadata__ if isinstance(meta, Meta)]
    return []


# A struct's annotations do not change; resolving them (get_type_hints) on every configuration
# parsed and every redaction was a good part of what a test's host took to start.
@functools.lru_cache(maxsize=1024)
def _fields_with(struct: type[msgspec.Struct], flag: str) -> tuple[str, ...]:
    hints = get_type_hints(struct, include_extras=True)
    return tuple(
        field.name
        for field in msgspec.structs.fields(struct)
        if any((meta.extra or {}).get(flag) for meta in _metas(hints[field.name]))
    )


def _secret_fields(struct: type[msgspec.Struct]) -> tuple[str, ...]:
    return _fields_with(struct, "secret")


def marked_secret_values(settings: Any) -> list[str]:
    """Every value of a field marked ``Meta(extra={"secret": True})`` in ``settings`` (a
    struct, or a mapping or list of them, nested structs included): what a plugin declares a
    secret must be redacted whatever the field's name."""
    found: list[str] = []

    def walk(value: Any, secret: bool) -> None:
        if isinstance(value, msgspec.Struct):
            marked = set(_secret_fields(type(value)))
            for field in msgspec.structs.fields(value):
                walk(getattr(value, field.name), field.name in marked)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item, secret)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, secret)
        elif secret and isinstance(value, str) and value:
            found.append(value)

    walk(settings, False)
    return found


def _internal_fields(struct: type[msgspec.Struct]) -> tuple[str, ...]:
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
        elif get_origin(hint) is dict and isinstance(part, str):
            hint = get_args(hint)[1]
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


_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")

#: msgspec writes a dict key in an error path as ``[...]``, without the key.
DICT_KEY = "..."


def _resolve_dict_keys(root: Any, data: Any, path: list[str | int]) -> list[str | int]:
    """``path`` with each :data:`DICT_KEY` replaced by the key whose value fails to decode.

    msgspec does not say which key of a ``dict[str, Struct]`` table failed, so each value is
    decoded again on its own; the first that fails is the one. Left as is when not found.
    """
    resolved: list[str | int] = []
    for part in path:
        if part == DICT_KEY:
            hint = _type_at(root, resolved)
            value_type = get_args(hint)[1] if get_origin(hint) is dict else None
            table = _value_at(data, resolved)
            if value_type is not None and isinstance(table, dict):
                for key, value in table.items():
                    try:
                        msgspec.convert(value, value_type)
                    except msgspec.ValidationError:
                        part = key
                        break
        resolved.append(part)
    return resolved


def _type_name(names: str) -> str:
    """msgspec's ``int | null`` as a TOML user reads it: ``int`` (TOML has no null)."""
    kept = [name for name in names.split(" | ") if name != "null"]
    return " | ".join("table" if name == "object" else name for name in kept)


def _key(path: tuple[str | int, ...]) -> str:
    key = ""
    for part in path:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else part)
    return key
