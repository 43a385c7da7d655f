"""Hostile input, coverage-guided (issue 13): each atheris target of
``bench/reliability/fuzz.py`` — the webhook decoder, the Flows request decryption and
decoding, the configuration loader — runs ~5 s in its own subprocess, seeded from the Cloud
API fixtures, and finds no input that raises anything but the target's documented error.
Optional: skipped when atheris is not installed. Long version:
``python -m bench.reliability fuzz --seconds 300``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("atheris")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.fuzz import TARGETS, fuzz


@pytest.mark.parametrize("target", TARGETS)
def test_atheris_finds_no_crash(target: str, tmp_path: Path) -> None:
    if target == "flows":
        pytest.importorskip("wahost_flows", reason="the wahost-flows plugin is not installed")
    result = fuzz(target, 5, tmp_path)
    print(result)
    assert result.executions > 0, (tmp_path / target / "output.txt").read_text()[-2000:]
    assert result.crashes == [], result.exception
    assert result.ok
