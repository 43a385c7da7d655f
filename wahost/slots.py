"""Typed slots: what a plugin shares with others, on the host or on a unit's context.

A plugin creates a :class:`SlotKey` at module level and owns it: only code that imports the key
reads or writes its slot, and mypy checks the value's type on both sides::

    from wahost import SlotKey

    #: The path of the downloaded media of the message being handled.
    MEDIA_PATH: SlotKey[Path] = SlotKey("media.path")

    ctx.slots[MEDIA_PATH] = path          # the media plugin
    path = ctx.slots.get(MEDIA_PATH)      # any later plugin: Path | None

``host.slots`` lives as long as the host (an engine, a registry, a task); ``ctx.slots`` as long
as the unit is handled (what one plugin found out about the update for the next ones).

``host.resources`` and ``ctx.extras`` (untyped dicts every plugin could write) are deprecated:
they warn and, until the next minor release, read and write the slots by their key's name, so
``ctx.extras["media.path"]`` still finds the slot above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any, Generic, TypeVar, overload

from wahost.deprecation import warn_deprecated

T = TypeVar("T")
D = TypeVar("D")

#: Every key by name, so that the deprecated dict views write the slot a name stands for.
_KEYS: dict[str, SlotKey[Any]] = {}


class SlotKey(Generic[T]):
    """The key of one slot holding a ``T``. Keys compare by identity: two plugins that choose
    the same name still have two slots. Name it ``"<plugin>.<what>"``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name
        _KEYS[name] = self

    def __repr__(self) -> str:
        return f"SlotKey({self.name!r})"


class Slots:
    """The slots of a host or of a unit's context: ``slots[KEY]``, ``slots[KEY] = value``,
    ``KEY in slots``, ``slots.get(KEY)``, ``slots.pop(KEY)``, ``slots.setdefault(KEY, make)``."""

    __slots__ = ("_legacy", "_values")

    def __init__(self) -> None:
        self._values: dict[SlotKey[Any], Any] = {}
        # What third parties put in the deprecated dicts under names no key has.
        self._legacy: dict[str, Any] = {}

    def __getitem__(self, key: SlotKey[T]) -> T:
        try:
            value: T = self._values[key]
        except KeyError:
            raise KeyError(f"slot {key.name!r} is not set") from None
        return value

    def __setitem__(self, key: SlotKey[T], value: T) -> None:
        self._values[key] = value

    def __delitem__(self, key: SlotKey[Any]) -> None:
        del self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    @overload
    def get(self, key: SlotKey[T]) -> T | None: ...
    @overload
    def get(self, key: SlotKey[T], default: D) -> T | D: ...
    def get(self, key: SlotKey[Any], default: Any = None) -> Any:
        """The slot's value, or ``default`` when it is not set."""
        return self._values.get(key, default)

    @overload
    def pop(self, key: SlotKey[T]) -> T | None: ...
    @overload
    def pop(self, key: SlotKey[T], default: D) -> T | D: ...
    def pop(self, key: SlotKey[Any], default: Any = None) -> Any:
        """Remove the slot's value and return it (``default`` when it was not set)."""
        return self._values.pop(key, default)

    def setdefault(self, key: SlotKey[T], make: Callable[[], T]) -> T:
        """The slot's value, made by ``make()`` and stored first when it is not set."""
        if key in self._values:
            value: T = self._values[key]
            return value
        value = self._values[key] = make()
        return value

    def legacy_view(self, attribute: str) -> LegacyView:
        """The deprecated dict API (``host.resources``, ``ctx.extras``) over these slots, warning
        once at the line that asks for it."""
        warn_deprecated(
            f"{attribute} is deprecated: share values through typed slots "
            "(wahost.SlotKey; host.slots / ctx.slots, see docs/plugins.md)",
            stacklevel=4,
        )
        return LegacyView(self)


class LegacyView(MutableMapping[Any, Any]):
    """``host.resources`` / ``ctx.extras`` until their removal: a key's name (or the key)
    reaches its slot; other names are kept apart for the third party that used them."""

    def __init__(self, slots: Slots) -> None:
        self._slots = slots

    def _key(self, name: object) -> SlotKey[Any] | None:
        if isinstance(name, SlotKey):
            return name
        if isinstance(name, str):
            # The key holding a value first: a module made twice (reloaded) made two keys.
            held = next((key for key in self._slots._values if key.name == name), None)
            return held or _KEYS.get(name)
        return None

    def __getitem__(self, name: Any) -> Any:
        key = self._key(name)
        if key is not None and key in self._slots:
            return self._slots[key]
        return self._slots._legacy[name]

    def __setitem__(self, name: Any, value: Any) -> None:
        key = self._key(name)
        if key is not None:
            self._slots[key] = value
        else:
            self._slots._legacy[name] = value

    def __delitem__(self, name: Any) -> None:
        key = self._key(name)
        if key is not None and key in self._slots:
            del self._slots[key]
        else:
            del self._slots._legacy[name]

    def __iter__(self) -> Iterator[Any]:
        yield from (key.name for key in self._slots._values)
        yield from self._slots._legacy

    def __len__(self) -> int:
        return len(self._slots._values) + len(self._slots._legacy)
