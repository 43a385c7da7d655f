"""The checker that rules modules share: problems named by field, parameters read from texts.

Parameters are ``{{1}}`` (positional) or ``{{name}}`` (named); lengths are counted in code
points (Python's ``len``), as Meta does not say how it counts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from wahost.errors import WahostError

__all__ = ["Checker", "Problem", "TemplateError", "has_emoji", "parameters"]

_VARIABLE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
# The reference says named parameters are lower-case letters and "_"; digits after the first
# letter are accepted too (Meta's own examples use none, so refusing them would be a guess).
_NAMED = re.compile(r"[a-z_][a-z0-9_]*")
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]")


class Problem(NamedTuple):
    """A broken rule: ``key`` is the field's path in the template, ``reason`` says why."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


class TemplateError(WahostError, ValueError):
    """A template breaks Meta's rules; ``problems`` lists each, the message names the first."""

    def __init__(self, problems: Sequence[Problem], *, where: str = "") -> None:
        self.problems = list(problems)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{problems[0]}{more}")


def parameters(text: str | None) -> list[str]:
    """The parameter names in ``text`` in order (``"1"`` for ``{{1}}``)."""
    return [match.group(1) for match in _VARIABLE.finditer(text or "")]


class Checker:
    """Collects :class:`Problem` s in the order the fields are checked."""

    def __init__(self) -> None:
        self.found: list[Problem] = []

    def add(self, key: str, reason: str) -> None:
        self.found.append(Problem(key, reason))

    def length(self, key: str, value: str | None, limit: int, *, required: bool = True) -> None:
        if value is None or value == "":
            if required:
                self.add(key, "is required")
            return
        if not isinstance(value, str):
            self.add(key, f"must be a string (got {value!r})")
        elif len(value) > limit:
            self.add(key, f"at most {limit} characters (got {len(value)})")

    def no_parameters(self, key: str, text: str | None) -> None:
        if parameters(text):
            self.add(key, "takes no parameters")

    def text_parameters(
        self,
        key: str,
        text: str | None,
        style: str,
        positional: list[str] | None,
        named: list[Any] | None,
        example_key: str,
    ) -> None:
        """Parameters are all numbered 1..n or all named, each with an example."""
        names = parameters(text)
        if not names:
            if positional or named:
                self.add(example_key, "examples given but the text has no parameters")
            return
        numbered = [name.isdigit() for name in names]
        if any(numbered) and not all(numbered):
            self.add(key, "mixes numbered and named parameters")
            return
        if style == "positional":
            if not all(numbered):
                self.add(key, "named parameters, but parameter_format is positional")
                return
            numbers = sorted({int(name) for name in names})
            if numbers != list(range(1, len(numbers) + 1)):
                self.add(
                    key,
                    f"parameters must be numbered from {{{{1}}}} on without gaps "
                    f"(got {', '.join(f'{{{{{n}}}}}' for n in numbers)})",
                )
            if positional is None or len(positional) != len(numbers):
                self.add(
                    example_key,
                    f"needs one example per parameter ({len(numbers)}), "
                    f"got {len(positional or [])}",
                )
            elif any(not isinstance(v, str) or not v for v in positional):
                self.add(example_key, "examples must be non-empty strings")
            return
        if all(numbered):
            self.add(key, "numbered parameters, but the template's parameters are named")
            return
        bad = [name for name in names if not _NAMED.fullmatch(name)]
        if bad:
            self.add(
                key,
                f"parameter {{{{{bad[0]}}}}}: named parameters are lower-case "
                "letters, digits and _",
            )
            return
        given = {getattr(item, "param_name", None): item for item in named or []}
        missing = [name for name in dict.fromkeys(names) if name not in given]
        if missing:
            self.add(example_key, f"no example for {{{{{missing[0]}}}}}")
        extra = [name for name in given if name not in names]
        if extra:
            self.add(example_key, f"example for {extra[0]!r}, which the text does not use")


def has_emoji(text: str | None) -> bool:
    """Whether ``text`` holds a pictograph (authentication templates allow none)."""
    return bool(_EMOJI.search(text or ""))
