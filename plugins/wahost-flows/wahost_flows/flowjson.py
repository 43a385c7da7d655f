"""Flow JSON checked locally, before Meta sees it: ``wahost flows validate FILE``.

:func:`validate` reads a Flow JSON file and returns its :class:`Problem` list, each with the
line and column of the value it is about and its path (``screens[1].layout.children[0]``).
It checks what can be told from the file alone (reference/cloudapi.md §16):

* the JSON itself (a syntax error is one problem at its line);
* ``version``: ``"<major>.<minor>"``, one Meta publishes (5.1, 6.0-6.3, 7.0-7.3) — a version
  Meta only still sends (2.1-5.0) is a warning;
* ``screens``: a non-empty list of objects with unique ``id`` s, each with a ``layout`` whose
  ``children`` is a list, at least one ``terminal`` screen;
* routing: ``routing_model`` names only screens, ``data_api_version`` needs a
  ``routing_model``, every ``navigate`` action goes to a screen (and to one its screen's
  routes list when there is a routing model);
* the data model: ``${data.X}`` names a field declared in its screen's ``data``, ``${form.X}``
  an input of its screen (a component with that ``name``), ``${screen.S.…}`` a screen that
  exists; input names are unique within a screen; actions are ones Flows know.

Meta validates much more (every component's properties and their versions); what it finds
comes back from ``wahost flows push`` with the same line and path form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PUBLISHABLE_VERSIONS",
    "SENDABLE_VERSIONS",
    "Problem",
    "locate",
    "validate",
    "validate_text",
]

#: Flow JSON versions Meta publishes; 7.3 is the recommended one (reference §16).
PUBLISHABLE_VERSIONS = ("5.1", "6.0", "6.1", "6.2", "6.3", "7.0", "7.1", "7.2", "7.3")
#: Versions that can still be sent but not published.
SENDABLE_VERSIONS = ("2.1", "3.0", "3.1", "4.0", "5.0")
ACTIONS = ("complete", "navigate", "data_exchange", "update_data", "open_url")
_VERSION = re.compile(r"\d+\.\d+")
_DECODER = json.JSONDecoder()
_REFERENCE = re.compile(r"\$\{(data|form|screen)\.([^}]*)\}")

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a Flow JSON: where (``line``, ``column``, 1-based; ``path``) and
    what. ``severity`` is ``"error"`` or ``"warning"`` (a warning does not fail
    ``validate``)."""

    path: str
    line: int
    column: int
    message: str
    severity: str = "error"

    def format(self, file: str) -> str:
        """``file:line:column: path: message`` (``warning:`` before a warning's message)."""
        where = self.path or "(top level)"
        kind = "warning: " if self.severity == "warning" else ""
        return f"{file}:{self.line}:{self.column}: {where}: {kind}{self.message}"


def format_path(path: Path_) -> str:
    """``("screens", 1, "id")`` as ``screens[1].id``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class _Locator:
    """Walks JSON text as :mod:`json` parses it, noting where each value starts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.positions: dict[Path_, int] = {}

    def skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at] in " \t\r\n":
            self.at += 1

    def value(self, path: Path_) -> None:
        self.skip()
        self.positions[path] = self.at
        char = self.text[self.at : self.at + 1]
        if char == "{":
            self.at += 1
            self.skip()
            if self.text[self.at : self.at + 1] == "}":
                self.at += 1
                return
            while True:
                self.skip()
                key = self.string()
                self.skip()
                self.at += 1  # the colon
                self.value((*path, key))
                self.skip()
                char = self.text[self.at : self.at + 1]
                self.at += 1
                if char != ",":
                    return
        elif char == "[":
            self.at += 1
            self.skip()
            if self.text[self.at : self.at + 1] == "]":
                self.at += 1
                return
            index = 0
            while True:
                self.value((*path, index))
                index += 1
                self.skip()
                char = self.text[self.at : self.at + 1]
                self.at += 1
                if char != ",":
                    return
        elif char == '"':
            self.string()
        else:
            _, end = _DECODER.raw_decode(self.text, self.at)
            self.at = end

    def string(self) -> str:
        value, end = _DECODER.raw_decode(self.text, self.at)
        self.at = end
        return str(value)


def locate(text: str) -> dict[Path_, tuple[int, int]]:
    """The 1-based ``(line, column)`` where each value of the JSON ``text`` starts, by path.
    ``text`` must be valid JSON."""
    locator = _Locator(text)
    locator.value(())
    return {path: _line_column(text, offset) for path, offset in locator.positions.items()}


def _line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


class _Checker:
    def __init__(self, text: str, document: Any) -> None:
        self.document = document
        self.positions = locate(text)
        self.problems: list[Problem] = []

    def add(self, path: Path_, message: str, severity: str = "error") -> None:
        # A missing key is reported where its object starts.
        probe = path
        while probe not in self.positions and probe:
            probe = probe[:-1]
        line, column = self.positions.get(probe, (1, 1))
        self.problems.append(Problem(format_path(path), line, column, message, severity))

    def run(self) -> list[Problem]:
        document = self.document
        if not isinstance(document, dict):
            self.add((), "a Flow JSON is an object")
            return self.problems
        self.check_version(document.get("version"))
        screens = self.check_screens(document.get("screens"))
        self.check_routing(document, screens)
        for index, screen in enumerate(document.get("screens") or []):
            if isinstance(screen, dict):
                self.check_screen(("screens", index), screen, screens, document)
        return self.problems

    def check_version(self, version: Any) -> None:
        if version is None:
            self.add(("version",), 'required: the Flow JSON version, e.g. "7.3"')
        elif not isinstance(version, str) or not _VERSION.fullmatch(version):
            self.add(("version",), f'must be a "<major>.<minor>" string (got {version!r})')
        elif version in SENDABLE_VERSIONS:
            self.add(
                ("version",),
                f"{version} can still be sent but not published; use one of "
                f"{', '.join(PUBLISHABLE_VERSIONS)}",
                "warning",
            )
        elif version not in PUBLISHABLE_VERSIONS:
            self.add(
                ("version",),
                f"{version} is not a version Meta publishes ({', '.join(PUBLISHABLE_VERSIONS)})",
            )

    def check_screens(self, screens: Any) -> dict[str, dict[str, Any]]:
        """The screens by id."""
        if not isinstance(screens, list) or not screens:
            self.add(("screens",), "required: a non-empty list of screens")
            return {}
        found: dict[str, dict[str, Any]] = {}
        terminal = False
        for index, screen in enumerate(screens):
            where: Path_ = ("screens", index)
            if not isinstance(screen, dict):
                self.add(where, "a screen is an object")
                continue
            screen_id = screen.get("id")
            if not isinstance(screen_id, str) or not screen_id:
                self.add((*where, "id"), "required: the screen's id")
            elif screen_id in found:
                self.add((*where, "id"), f"screen id {screen_id!r} is used twice")
            else:
                found[screen_id] = screen
            layout = screen.get("layout")
            if not isinstance(layout, dict):
                self.add((*where, "layout"), 'required: {"type": "SingleColumnLayout", ...}')
            elif not isinstance(layout.get("children"), list):
                self.add((*where, "layout", "children"), "required: a list of components")
            terminal = terminal or screen.get("terminal") is True
        if not terminal:
            self.add(("screens",), 'no terminal screen: mark the last one "terminal": true')
        return found

    def check_routing(self, document: dict[str, Any], screens: dict[str, Any]) -> None:
        routing = document.get("routing_model")
        if routing is None:
            if document.get("data_api_version") is not None:
                self.add(("routing_model",), "required when data_api_version is set")
            return
        if not isinstance(routing, dict):
            self.add(("routing_model",), "must be an object of screen id: [next screen ids]")
            return
        for source, targets in routing.items():
            if source not in screens:
                self.add(("routing_model", source), f"no screen {source!r}")
            if not isinstance(targets, list):
                self.add(("routing_model", source), "must be a list of screen ids")
                continue
            for index, target in enumerate(targets):
                if target not in screens:
                    self.add(("routing_model", source, index), f"no screen {target!r}")

    def check_screen(
        self,
        where: Path_,
        screen: dict[str, Any],
        screens: dict[str, dict[str, Any]],
        document: dict[str, Any],
    ) -> None:
        declared = screen.get("data")
        data: dict[str, Any] = declared if isinstance(declared, dict) else {}
        inputs: dict[str, Path_] = {}
        for path, component in _components(screen.get("layout"), (*where, "layout")):
            name = component.get("name")
            if isinstance(name, str) and "type" in component:
                if name in inputs:
                    self.add((*path, "name"), f"input name {name!r} is used twice in the screen")
                inputs.setdefault(name, path)
        routing = document.get("routing_model")
        routes = routing.get(screen.get("id")) if isinstance(routing, dict) else None
        for path, action in _actions(screen, where):
            self.check_action(path, action, screens, routes if isinstance(routing, dict) else None)
        for path, text in _strings(screen, where):
            for kind, rest in _REFERENCE.findall(text):
                name = re.split(r"[.\[]", rest, maxsplit=1)[0]
                if kind == "data" and name not in data:
                    self.add(path, f"${{data.{rest}}}: {name!r} is not in the screen's data")
                elif kind == "form" and name not in inputs:
                    self.add(path, f"${{form.{rest}}}: no input named {name!r} in this screen")
                elif kind == "screen" and name not in screens:
                    self.add(path, f"${{screen.{rest}}}: no screen {name!r}")

    def check_action(
        self, path: Path_, action: dict[str, Any], screens: dict[str, Any], routes: Any
    ) -> None:
        name = action.get("name")
        if name not in ACTIONS:
            self.add((*path, "name"), f"unknown action {name!r} ({', '.join(ACTIONS)})")
            return
        if name != "navigate":
            return
        target = action.get("next")
        target_name = target.get("name") if isinstance(target, dict) else None
        if not isinstance(target_name, str):
            self.add((*path, "next"), 'navigate needs "next": {"type": "screen", "name": ...}')
        elif target_name not in screens:
            self.add((*path, "next", "name"), f"no screen {target_name!r}")
        elif isinstance(routes, list) and target_name not in routes:
            self.add(
                (*path, "next", "name"),
                f"{target_name!r} is not among this screen's routes in routing_model",
            )


def _components(node: Any, path: Path_) -> Iterator[tuple[Path_, dict[str, Any]]]:
    """Every component under ``node`` (children, nested forms and branches), with its path."""
    if isinstance(node, dict):
        if "type" in node:
            yield path, node
        for key, value in node.items():
            if isinstance(value, dict | list) and key not in ("data", "on-click-action"):
                yield from _components(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _components(item, (*path, index))


def _actions(node: Any, path: Path_) -> Iterator[tuple[Path_, dict[str, Any]]]:
    """Every action (``on-click-action``, ``on-select-action``, ...) under ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key.startswith("on-") and key.endswith("-action") and isinstance(value, dict):
                yield (*path, key), value
            elif isinstance(value, dict | list):
                yield from _actions(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _actions(item, (*path, index))


def _strings(node: Any, path: Path_) -> Iterator[tuple[Path_, str]]:
    """Every string under ``node`` outside the screen's ``data`` declaration."""
    if isinstance(node, str):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            if len(path) == 2 and key == "data":  # the declaration, not a use
                continue
            yield from _strings(value, (*path, key))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _strings(item, (*path, index))


def validate_text(text: str) -> list[Problem]:
    """The problems of the Flow JSON ``text`` (see the module docstring)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return [Problem("", exc.lineno, exc.colno, f"invalid JSON: {exc.msg}")]
    return sorted(_Checker(text, document).run(), key=lambda p: (p.line, p.column))


def validate(path: str | Path) -> list[Problem]:
    """The problems of the Flow JSON file at ``path``; raises :class:`OSError` when it cannot
    be read."""
    return validate_text(Path(path).read_text(encoding="utf-8"))
