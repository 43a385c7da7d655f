"""Templates declared in files beside the configuration, and the snapshot of the last pull.

A file ``<dir>/<name>.toml`` or ``<name>.json`` declares one template name; its languages are
variants of it, each with its components in the shape Meta's create endpoint takes::

    category = "UTILITY"                # name: the file's stem unless given

    [[languages.en_US.components]]
    type = "BODY"
    text = "Hi {{1}}, your order ships today."
    example = { body_text = [["Pablo"]] }

Files starting with ``.`` are not declarations: ``.pulled.json`` is the snapshot of what
Meta held at the last ``pull``, ``diff`` or ``push``, which send-time checks read.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from wahost_templates.components import Category, Component, TemplateSpec, upper_tags
from wahost_templates.rules import TemplateError, problems

__all__ = [
    "SNAPSHOT",
    "Declared",
    "TemplateFile",
    "declared_templates",
    "live_file",
    "read_snapshot",
    "write_snapshot",
]

SNAPSHOT = ".pulled.json"


class Variant(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One language of a declared template."""

    components: list[Component]


class TemplateFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The content of one declaration file."""

    category: Category
    languages: dict[str, Variant]
    name: str | None = None
    parameter_format: str | None = None
    message_send_ttl_seconds: int | None = None


class Declared(msgspec.Struct, frozen=True):
    """A declared template in one language, and the file that declares it."""

    spec: TemplateSpec
    path: Path


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".toml":
        return tomllib.loads(text)
    return json.loads(text)


def load_file(path: Path) -> list[Declared]:
    """The templates ``path`` declares, checked; raises :class:`TemplateError` naming the
    file and the field."""
    try:
        raw = _read(path)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    try:
        if isinstance(raw, dict) and isinstance(raw.get("languages"), dict):
            raw["languages"] = {k: upper_tags(v) for k, v in raw["languages"].items()}
        declared = msgspec.convert(upper_tags(raw), TemplateFile)
    except msgspec.ValidationError as exc:
        message, _, where = str(exc).partition(" - at `$.")
        key = where.rstrip("`") or "(the file)"
        raise ValueError(f"{path}: {key}: {message}") from None
    name = declared.name or path.stem
    if not declared.languages:
        raise ValueError(f"{path}: languages: declare at least one language")
    out: list[Declared] = []
    for language, variant in declared.languages.items():
        spec = TemplateSpec(
            name=name,
            language=language,
            category=declared.category,
            components=variant.components,
            parameter_format=declared.parameter_format,  # type: ignore[arg-type]
            message_send_ttl_seconds=declared.message_send_ttl_seconds,
        )
        found = problems(spec)
        if found:
            prefixed = [
                p._replace(key=f"languages.{language}.{p.key}")
                if p.key.startswith("components")
                else p
                for p in found
            ]
            raise TemplateError(prefixed, where=str(path))
        out.append(Declared(spec, path))
    return out


def declaration_paths(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in (".toml", ".json") and not p.name.startswith(".") and p.is_file()
    )


def declared_templates(directory: Path) -> list[Declared]:
    """Every template the directory declares, checked, in file then language order; a
    name declared twice in one language is refused."""
    out: list[Declared] = []
    seen: dict[tuple[str, str], Path] = {}
    for path in declaration_paths(directory):
        for declared in load_file(path):
            key = (declared.spec.name, declared.spec.language)
            if key in seen:
                raise ValueError(f"{path}: {key[0]} ({key[1]}) is already declared in {seen[key]}")
            seen[key] = path
            out.append(declared)
    return out


def live_file(templates: list[dict[str, Any]]) -> dict[str, Any]:
    """The declaration (JSON form) of the live languages of one template name."""
    first = templates[0]
    body: dict[str, Any] = {"name": first["name"], "category": first.get("category", "")}
    if str(first.get("parameter_format", "")).lower() == "named":
        body["parameter_format"] = "named"
    body["languages"] = {
        t["language"]: {"components": t.get("components", [])}
        for t in sorted(templates, key=lambda t: str(t["language"]))
    }
    return body


def write_snapshot(directory: Path, waba_id: str, templates: list[dict[str, Any]]) -> Path:
    """Save what Meta holds (as listed) for send-time checks and ``status``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SNAPSHOT
    body = {"waba_id": waba_id, "templates": templates}
    path.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_snapshot(directory: Path) -> list[dict[str, Any]] | None:
    """The templates of the last pull, or ``None`` when none was saved."""
    path = directory / SNAPSHOT
    if not path.is_file():
        return None
    templates: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["templates"]
    return templates
