"""No first-party module imports another package's private names (issue 29).

A name (or module) starting with ``_`` is private to the package that holds it: its own modules
and those of its subpackages may import it, nobody else — not a plugin from the core, not the
simulator from ``wahost.testing``. What another package needs is made public (``wahost.commands``
for what commands need, ``wahost.slots`` for what plugins share).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _first_party() -> Iterator[tuple[str, Path]]:
    """``(module name, file)`` of every module of ``wahost`` and of each plugin's package."""
    roots = [ROOT / "wahost"]
    roots += [p for p in sorted((ROOT / "plugins").glob("*/wahost_*")) if p.is_dir()]
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root.parent).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _imported(module: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line, dotted parts)`` of each name or module ``path`` imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = node.module.split(".") if node.module else []
            if node.level:
                anchor = package.split(".")
                base = anchor[: len(anchor) - node.level + 1] + base
            for alias in node.names:
                yield node.lineno, [*base, alias.name]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")


def violations(modules: list[tuple[str, Path]]) -> list[str]:
    """Each import of ``modules`` that reaches a private name outside its package."""
    names = {module for module, _ in modules}
    packages = {module for module, path in modules if path.name == "__init__.py"}
    found = []
    for module, path in modules:
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for line, parts in _imported(module, path):
            index = next((i for i, part in enumerate(parts) if _private(part)), None)
            if index is None:
                continue
            holder = ".".join(parts[:index])
            if ".".join(parts[: index + 1]) in names or holder in packages:
                owner = holder  # a private module, or a private name of a package
            else:
                owner = holder.rpartition(".")[0]  # a private name of a module: its package
            if package != owner and not package.startswith(owner + "."):
                depth = len(module.split(".")) - (path.name != "__init__.py")
                where = path.relative_to(path.parents[depth])
                found.append(f"{where}:{line} imports {'.'.join(parts)} (private to {owner})")
    return found


def test_no_first_party_module_imports_a_private_name_of_another_package() -> None:
    assert violations(list(_first_party())) == []


def test_the_check_finds_what_this_rule_removed(tmp_path: Path) -> None:
    (tmp_path / "wahost" / "testing").mkdir(parents=True)
    (tmp_path / "wahost_profile").mkdir()
    files = {
        "wahost/__init__.py": "",
        "wahost/cli.py": "def _run(): ...\n",
        "wahost/meta_setup.py": "from wahost.cli import _run\n",  # its own package: allowed
        "wahost/testing/__init__.py": "",
        "wahost/testing/harness.py": "def _free_socket(): ...\n",
        "wahost/simulator.py": "from wahost.testing.harness import _free_socket\n",
        "wahost_profile/__init__.py": "",
        "wahost_profile/cli.py": "from wahost.cli import _run\nfrom wahost import cli\n",
    }
    modules = []
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        module = name.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        modules.append((module, path))
    assert violations(modules) == [
        "wahost/simulator.py:1 imports wahost.testing.harness._free_socket "
        "(private to wahost.testing)",
        "wahost_profile/cli.py:1 imports wahost.cli._run (private to wahost)",
    ]
