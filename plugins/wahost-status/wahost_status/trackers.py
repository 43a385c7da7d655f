"""Typed trackers: a msgspec struct sent as ``biz_opaque_callback_data`` and read back typed.

A tracker travels inside Meta's ``biz_opaque_callback_data`` (at most 512 characters,
reference/cloudapi.md §4 and §6) and comes back, as the same string, in every status of the
message. To read it back as the struct it was, the receiving side must know its type, so a
tracker type is a msgspec *tagged* struct registered with :func:`tracker`::

    @wahost_status.tracker
    class Order(msgspec.Struct, tag="order", omit_defaults=True):
        id: str
        step: str = "confirm"

    await ctx.reply("Confirm your order?", tracker=Order("7f3a9c"))
    # -> biz_opaque_callback_data = '{"type":"order","id":"7f3a9c"}'

msgspec writes the tag itself (``tag_field``, ``"type"`` by default), so the core's
``wahost.graph.encode_tracker`` needs no change and a short tag costs a few characters of the
512. Types are code, registered when their module is imported, like click commands; the
registry holds nothing that belongs to one host.

Decoding never raises: a string that is not JSON, JSON without a registered tag, or a tagged
object that does not fit its struct is kept as the raw string.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

__all__ = ["TrackerRegistry", "decode_tracker", "registry", "tracker"]

S = TypeVar("S", bound=type[msgspec.Struct])

_json = msgspec.json.Decoder()


class TrackerRegistry:
    """Tracker types by ``(tag_field, tag)``."""

    def __init__(self) -> None:
        self._types: dict[tuple[str, str | int], type[msgspec.Struct]] = {}
        self._fields: list[str] = []

    def register(self, cls: S) -> S:
        """Register a tagged struct type; returns it (usable as a class decorator)."""
        if not (isinstance(cls, type) and issubclass(cls, msgspec.Struct)):
            raise TypeError(f"a tracker type must be a msgspec.Struct, not {cls!r}")
        config = cls.__struct_config__
        if config.tag is None or config.tag_field is None:
            raise TypeError(
                f"tracker type {cls.__qualname__} needs a tag to be recognised on the way back: "
                f'declare it as `class {cls.__name__}(msgspec.Struct, tag="short-name")`'
            )
        key = (config.tag_field, config.tag)
        known = self._types.get(key)
        if known is not None and known is not cls and _name(known) != _name(cls):
            raise ValueError(
                f"tracker tag {config.tag!r} (field {config.tag_field!r}) is taken by "
                f"{_name(known)}; give {_name(cls)} another tag"
            )
        self._types[key] = cls  # the same name again: a re-imported module replaces it
        if config.tag_field not in self._fields:
            self._fields.append(config.tag_field)
        return cls

    def unregister(self, cls: type[msgspec.Struct]) -> None:
        """Forget a tracker type (tests)."""
        config = cls.__struct_config__
        key = (config.tag_field or "", config.tag or "")
        if self._types.get(key) is cls:
            del self._types[key]
        self._fields = sorted({field for field, _ in self._types})

    def types(self) -> list[type[msgspec.Struct]]:
        """The registered types."""
        return list(self._types.values())

    def decode(self, data: str | None) -> msgspec.Struct | str | None:
        """The struct encoded in ``data`` if its tag is registered, else ``data`` unchanged."""
        if not data or data[0] != "{":
            return data
        try:
            obj: Any = _json.decode(data)
        except msgspec.DecodeError:
            return data
        if not isinstance(obj, dict):
            return data
        for field in self._fields:
            tag = obj.get(field)
            if not isinstance(tag, str | int) or isinstance(tag, bool):
                continue
            cls = self._types.get((field, tag))
            if cls is None:
                continue
            try:
                return msgspec.convert(obj, cls)
            except msgspec.ValidationError:
                return data  # malformed for its type: kept raw, never an exception
        return data


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


#: The registry :func:`tracker` and :func:`decode_tracker` use.
registry = TrackerRegistry()


def tracker(cls: S) -> S:
    """Class decorator: register a tagged msgspec struct as a tracker type."""
    return registry.register(cls)


def decode_tracker(data: str | None) -> msgspec.Struct | str | None:
    """Read back a ``biz_opaque_callback_data``: the registered struct it encodes, or the
    string as it is (a plain string tracker, an unknown tag, malformed data)."""
    return registry.decode(data)
