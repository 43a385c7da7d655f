"""Flows declared as files, made Meta's with ``wahost flows push``.

Each ``[[plugins.flows.flows]]`` names a Flow and its metadata; its Flow JSON is a file
(``<flows_dir>/<name>.json`` unless ``file`` says otherwise) — the same file the simulator
opens with ``--flows DIR``. :func:`push` finds the live Flow by name and changes only what
differs: it creates a missing Flow (metadata and JSON in one call), updates the categories
(and the endpoint URI when one is declared) when they differ, and uploads the JSON when the
document Meta holds is not the file's (formatting aside). A second push changes nothing.
Uploading JSON or metadata to a published Flow puts it back to DRAFT at Meta
(reference/cloudapi.md §16): ``--publish`` publishes what the push changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from wahost.config import Config, ConfigError
from wahost_flows.config import FlowsConfig
from wahost_flows.flowjson import Problem, validate_text
from wahost_flows.manage import FlowInfo, FlowsApi, MetaValidationError, same_json

__all__ = ["LocalFlow", "PushResult", "declared_flows", "push"]


@dataclass
class LocalFlow:
    """A declared Flow with its Flow JSON read from its file."""

    name: str
    path: Path
    text: str
    categories: list[str]
    endpoint_uri: str | None = None

    def problems(self) -> list[Problem]:
        """Its local validation problems (errors and warnings)."""
        return validate_text(self.text)


@dataclass
class PushResult:
    """What one push did: a line per change, Meta's validation errors per Flow name."""

    changes: list[str] = field(default_factory=list)
    errors: dict[str, list[MetaValidationError]] = field(default_factory=dict)


def flow_file(config: Config, settings: FlowsConfig, name: str, file: str | None) -> Path:
    """The Flow JSON path of a declared Flow."""
    path = Path(file) if file is not None else Path(settings.flows_dir) / f"{name}.json"
    return path if path.is_absolute() else config.base_dir / path


def declared_flows(
    config: Config, settings: FlowsConfig, names: tuple[str, ...] = ()
) -> list[LocalFlow]:
    """The declared Flows (those of ``names`` when given), their files read; a file that
    cannot be read or a name not declared is a :class:`ConfigError` naming the key."""
    declared = {flow.name: index for index, flow in enumerate(settings.flows)}
    unknown = [name for name in names if name not in declared]
    if unknown:
        known = ", ".join(declared) or "none"
        raise ConfigError(
            config.source,
            "plugins.flows.flows",
            f"no Flow named {', '.join(unknown)} is declared (declared: {known})",
        )
    flows = []
    for index, flow in enumerate(settings.flows):
        if names and flow.name not in names:
            continue
        path = flow_file(config, settings, flow.name, flow.file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            key = "file" if flow.file is not None else "name"
            raise ConfigError(
                config.source,
                f"plugins.flows.flows[{index}].{key}",
                f"cannot read the Flow JSON {path}: {exc.strerror or exc}",
            ) from None
        flows.append(LocalFlow(flow.name, path, text, list(flow.categories), flow.endpoint_uri))
    return flows


async def push(
    api: FlowsApi,
    flows: list[LocalFlow],
    *,
    publish: bool = False,
    dry_run: bool = False,
    echo: Callable[[str], None] = lambda line: None,
) -> PushResult:
    """Make each of ``flows`` Meta's, changing only what differs (see the module
    docstring); ``echo`` hears a line per change. With ``dry_run`` nothing is changed, the
    lines say what would be."""
    result = PushResult()
    live = {info.name: info for info in await api.list_flows()}

    def said(line: str) -> None:
        result.changes.append(line)
        echo(("would " if dry_run else "") + line)

    for flow in flows:
        info = live.get(flow.name)
        if info is None:
            said(f"create {flow.name} ({', '.join(flow.categories)}) from {flow.path}")
            if dry_run:
                continue
            flow_id, errors = await api.create(
                flow.name, flow.categories, flow_json=flow.text, endpoint_uri=flow.endpoint_uri
            )
            info = FlowInfo(id=flow_id, name=flow.name, status="DRAFT")
            changed = True
        else:
            changed, errors = await _update(api, flow, info, dry_run, said)
        if errors:
            result.errors[flow.name] = errors
            continue
        if publish and not dry_run and (changed or info.status == "DRAFT"):
            await api.publish(info.id)
            said(f"publish {flow.name}")
    return result


async def _update(
    api: FlowsApi,
    flow: LocalFlow,
    info: FlowInfo,
    dry_run: bool,
    said: Callable[[str], None],
) -> tuple[bool, list[MetaValidationError]]:
    """Update an existing Flow where it differs; whether anything changed, and Meta's
    validation errors of its JSON."""
    changed = False
    metadata: dict[str, object] = {}
    if sorted(info.categories) != sorted(flow.categories):
        metadata["categories"] = flow.categories
    if flow.endpoint_uri is not None:
        current = (await api.get(info.id, "endpoint_uri")).get("endpoint_uri")
        if current != flow.endpoint_uri:
            metadata["endpoint_uri"] = flow.endpoint_uri
    if metadata:
        said(f"update {flow.name}: {', '.join(metadata)}")
        changed = True
        if not dry_run:
            await api.update_metadata(info.id, **metadata)
    errors: list[MetaValidationError] = []
    if not same_json(await api.download_json(info.id), flow.text):
        said(f"upload the Flow JSON of {flow.name} from {flow.path}")
        changed = True
        if not dry_run:
            errors = await api.upload_json(info.id, flow.text)
    elif info.validation_errors:
        errors = info.validation_errors
    return changed, errors
