"""``/readyz`` reflects whether the store can commit (issue 13): 503 while a real tmpfs is
full, 200 again once space returns; cheap (a one-row probe at most once a second when idle).
The tmpfs test needs root to mount; it is skipped otherwise."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.reliability.disk_full import fill, mount_tmpfs, umount
from wahost.queue.sqlite import SQLiteQueue
from wahost.sqlite_db import PROBE_INTERVAL, SQLiteDatabase
from wahost.testing import BotHarness, make_text, make_webhook
from wahost.units import split


async def test_an_idle_ping_probes_once_per_interval(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "q.sqlite3")
    queue = SQLiteQueue(database=database)
    await queue.open()
    try:
        await asyncio.sleep(PROBE_INTERVAL)  # the schema's commit no longer answers
        before = database.commits
        for _ in range(20):
            await queue.ping()
        assert database.commits == before + 1  # one probe, then its outcome answers
    finally:
        await queue.close()


async def test_a_busy_store_answers_ping_without_probing(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "q.sqlite3")
    queue = SQLiteQueue(database=database)
    await queue.open()
    try:
        units = split(json.dumps(make_webhook(make_text("hi", wamid="wamid.busy"))).encode())
        await queue.enqueue(units)
        before = database.commits
        await queue.ping()
        assert database.commits == before  # the enqueue's commit is the evidence
    finally:
        await queue.close()


async def test_readyz_is_503_while_the_disk_is_full_and_200_once_space_returns(
    tmp_path: Path,
) -> None:
    mount = tmp_path / "disk"
    if not mount_tmpfs(mount, "8m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        async with BotHarness(mount) as bot:
            assert bot.http is not None
            readyz = bot.url + "/readyz"
            for n in range(10):
                assert (
                    await bot.post(make_text("before", wamid=f"wamid.r.{n}"))
                ).status_code == 200
            await bot.idle()
            assert (await bot.http.get(readyz)).status_code == 200
            filler = mount / "filler"
            fill(filler)
            # Commits may still land in WAL space allocated before the disk filled; post until
            # one cannot (ingress answers 503), as a load balancer's traffic would.
            for n in range(500):
                if (await bot.post(make_text("full", wamid=f"wamid.f.{n}"))).status_code == 503:
                    break
            else:
                pytest.fail("the disk never refused a commit")
            answer = await bot.http.get(readyz)
            assert answer.status_code == 503, answer.text
            # Still 503 once the failure is older than the probe interval: the probe fails.
            await asyncio.sleep(PROBE_INTERVAL * 1.5)
            assert (await bot.http.get(readyz)).status_code == 503
            filler.unlink()
            started = time.monotonic()
            while (await bot.http.get(readyz)).status_code != 200:
                assert time.monotonic() - started < 5 * PROBE_INTERVAL, "never ready again"
                await asyncio.sleep(0.05)
            assert (await bot.post(make_text("after", wamid="wamid.after"))).status_code == 200
            await bot.idle(timeout=30)
    finally:
        umount(mount)
