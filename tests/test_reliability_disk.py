"""Reliability, disk full (issue 13): the store on a tmpfs that fills up answers 503, never a
200 without a durable write, and resumes when space returns. Needs root to mount the tmpfs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.disk_full import run_disk_full


async def test_disk_full_answers_503_and_resumes(tmp_path: Path) -> None:
    row = await run_disk_full(tmp_path, full_posts=60)
    if row is None:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    print(row)
    assert row.ok, row.notes
