"""Disk full: the SQLite store lives on a small tmpfs that a filler file then fills up. Every
webhook must get either 503 (Meta retries) or 200 for a durable write — every message answered
200 is handled once space returns — and service must resume by itself when the filler is
removed. Needs root (mounts a tmpfs); otherwise the scenario is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.reliability import Row
from wahost import hookimpl
from wahost.testing import BotHarness, make_text


class Recorder:
    __name__ = "disk-recorder"

    def __init__(self, filler: Path) -> None:
        self.filler = filler
        self.messages: list[str] = []
        #: Messages handled while the disk was full: their ack may fail to commit, and then
        #: they are handled again (at least once) — a repeat explained by the failure.
        self.while_full: set[str] = set()

    @hookimpl
    async def on_message(self, message: Any) -> bool:
        self.messages.append(message.id)
        if self.filler.exists():
            self.while_full.add(message.id)
        return True


#: Posts while full go on past ``full_posts`` until the first 503, up to this many times it.
FULL_POSTS_CAP = 20


def mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the file system is full."""
    block = b"\0" * 65536
    with open(path, "wb", buffering=0) as out:
        try:
            while True:
                out.write(block)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
        with contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 512)


async def run_disk_full(tmp: Path, *, full_posts: int = 100, size: str = "8m") -> Row | None:
    mount = tmp / "disk"
    if not mount_tmpfs(mount, size):
        return None
    row = Row(
        "disk full (tmpfs)", f"{size} tmpfs filled, {full_posts}+ posts while full (to a 503)"
    )
    recorder = Recorder(mount / "filler")
    acked: list[str] = []
    statuses: dict[int, int] = {}
    try:
        # A short lease: a unit whose ack or failure record could not commit is handed out
        # again when its lease expires.
        config = {"worker": {"lease_seconds": 2.0}}
        async with BotHarness(mount, plugins=[recorder], config=config) as bot:

            async def post(tag: str, n: int) -> int:
                wamid = f"wamid.disk.{tag}.{n}"
                response = await bot.post(make_text(f"{tag} {n}", wamid=wamid))
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 200:
                    acked.append(wamid)
                return int(response.status_code)

            for n in range(20):
                assert await post("before", n) == 200
            await bot.idle()
            filler = mount / "filler"
            fill(filler)
            # Writes fit in the room SQLite already holds (free pages, a WAL that restarted)
            # until they need a new block: how many depends on where the last checkpoint left
            # the WAL (0 to 33 of 60 in ten runs, all 60 once). So post at least
            # ``full_posts``, and on until the first 503 shows the file system refused.
            full_statuses: list[int] = []
            while len(full_statuses) < full_posts or (
                503 not in full_statuses and len(full_statuses) < FULL_POSTS_CAP * full_posts
            ):
                full_statuses.append(await post("full", len(full_statuses)))
            assert bot.http is not None
            ready_while_full = (await bot.http.get(bot.url + "/readyz")).status_code
            filler.unlink()
            started = time.monotonic()
            resumed = None
            for n in range(200):
                if await post("after", n) == 200:
                    resumed = time.monotonic() - started
                    break
                await asyncio.sleep(0.05)
            for n in range(20):
                await post("later", n)
            await bot.idle(timeout=60)
    finally:
        umount(mount)
    refused = sum(1 for status in full_statuses if status == 503)
    row.errors_5xx = refused
    handled = set(recorder.messages)
    row.lost = len(set(acked) - handled)
    row.duplicated = len(recorder.messages) - len(handled)
    counts: dict[str, int] = {}
    for wamid in recorder.messages:
        counts[wamid] = counts.get(wamid, 0) + 1
    unexplained = [w for w, n in counts.items() if n > 1 and w not in recorder.while_full]
    if refused == 0:
        row.fail("no 503 while the disk was full: the scenario did not reach ENOSPC")
    if any(status not in (200, 503) for status in full_statuses):
        row.fail(f"unexpected answers while full: {sorted(set(full_statuses))}")
    if resumed is None:
        row.fail("service did not resume after space returned")
    if row.lost or unexplained:
        row.fail(f"lost {row.lost}; repeats not explained by a failed ack: {unexplained[:5]}")
    row.notes.append(
        f"while full: {refused} x 503, {len(full_statuses) - refused} x 200 (all handled later); "
        f"/readyz {ready_while_full}; resumed after {resumed or 0:.2f}s; "
        f"{row.duplicated} re-handled (handled while full, ack could not commit)"
    )
    return row
