"""Shared fixtures of wahost's own tests."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def install(tmp_path: Path) -> Iterator[Callable[..., None]]:
    """Install a fake distribution: ``install(dist, version, {ep_name: module}, {module: src})``."""
    site = tmp_path / "site"
    site.mkdir()
    sys.path.insert(0, str(site))
    added: list[str] = []

    def add(dist: str, version: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = ["[wahost]"] + [f"{name} = {target}" for name, target in entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            added.append(module)
        importlib.invalidate_caches()

    yield add
    sys.path.remove(str(site))
    for module in added:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()
