"""Reliability and security battery (issue 13): long versions of the scenarios whose quick
versions run in ``tests/test_reliability_*.py``.

    python -m bench.reliability            # every scenario, long versions, summary table
    python -m bench.reliability ordering   # only the named scenarios

Each scenario returns :class:`Row` objects; :func:`table` prints them as the summary table of
``docs/reliability.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Row:
    """One line of the summary table."""

    scenario: str
    inputs: str
    lost: int = 0
    duplicated: int = 0
    errors_5xx: int = 0
    ok: bool = True
    notes: list[str] = field(default_factory=list)

    def fail(self, note: str) -> None:
        self.ok = False
        self.notes.append(note)

    @property
    def result(self) -> str:
        text = "PASS" if self.ok else "FAIL"
        return f"{text} ({'; '.join(self.notes)})" if self.notes else text


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table: scenario, inputs, lost, duplicated, 5xx, result."""
    lines = [
        "| scenario | inputs | lost | duplicated | 5xx | result |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.scenario} | {row.inputs} | {row.lost} | {row.duplicated} "
            f"| {row.errors_5xx} | {row.result} |"
        )
    return "\n".join(lines)
