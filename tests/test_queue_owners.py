"""Lease owners: who holds a lease, when its process is known dead, and the SQLite queue
releasing a killed process's leases at once (real processes, ``kill -9``, a real file).
Every backend's share of it is in the contract suite (``wahost.testing.contracts``)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from wahost.queue.base import OWNER_CHECK_INTERVAL, Lease, LeaseLost
from wahost.queue.owner import Owner, known_dead, this_machine
from wahost.queue.sqlite import SQLiteQueue
from wahost.testing.contracts import dead_owner, make_unit

REPO = Path(__file__).resolve().parent.parent

needs_proc = pytest.mark.skipif(not this_machine(), reason="no /proc on this platform")


def test_an_owner_reads_back_from_its_text() -> None:
    owner = Owner.of_process()
    assert Owner.parse(str(owner)) == owner
    assert str(owner).startswith(f"w:{owner.host}:{os.getpid()}:")
    assert Owner.of_process() != owner  # two queues of one process: two owners
    for junk in ("", "consumer-1", "w:host:12:x:m:n", "w:host:-1:5:m:n", "x:h:1:2:m:n"):
        assert Owner.parse(junk) is None
        assert known_dead(junk) is False


@needs_proc
def test_this_process_is_alive_and_a_killed_one_is_dead() -> None:
    assert known_dead(Owner.of_process()) is False
    assert known_dead(str(Owner.of_process())) is False
    assert known_dead(dead_owner()) is True


@needs_proc
def test_a_killed_process_not_yet_reaped_is_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        owner = Owner.of_process(child.pid)
        assert known_dead(owner) is False
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not known_dead(owner):  # a zombie until its parent (this test) waits for it
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert child.poll() == -signal.SIGKILL  # reaped only now
    finally:
        child.kill()
        child.wait()


@needs_proc
def test_a_recycled_pid_is_not_taken_for_its_former_process() -> None:
    me = Owner.of_process()
    assert me.started > 0
    # Same pid, another start time: the process that held it is gone, another one has it.
    assert known_dead(Owner(me.host, me.pid, me.started - 1, me.machine, me.nonce)) is True
    # No start time recorded: a live pid is all it can check, so it counts as alive.
    assert known_dead(Owner(me.host, me.pid, 0, me.machine, me.nonce)) is False


@needs_proc
def test_an_owner_elsewhere_is_never_known_dead() -> None:
    gone = dead_owner()
    # Another machine, or another container of this one (another pid namespace): its pids
    # mean nothing here.
    for machine in ("", "another-boot-id.4026531836", this_machine() + "0"):
        assert known_dead(Owner(gone.host, gone.pid, gone.started, machine, gone.nonce)) is False


# -- SQLite: a worker process killed with its leases -------------------------------------------

HOLDER = """
import asyncio, json, sys
from wahost.queue.sqlite import SQLiteQueue

async def main():
    queue = SQLiteQueue(sys.argv[1])
    await queue.open()
    leases = await queue.lease(int(sys.argv[2]), lease_seconds=60)
    print(json.dumps([[l.unit.key, l.id, l.attempt, l.token, l.expires_at] for l in leases]),
          flush=True)
    await asyncio.sleep(120)  # holds them until killed

asyncio.run(main())
"""


class Holder:
    """A process that opens the queue, leases ``count`` units for 60 s and holds them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.process: asyncio.subprocess.Process | None = None

    async def lease(self, count: int) -> list[Lease]:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            HOLDER,
            str(self.path),
            str(count),
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 30)
        return [
            Lease(make_unit(key, f"p:{key[0]}"), id_, attempt, token, expires)
            for key, id_, attempt, token, expires in json.loads(line)
        ]

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.kill()


@pytest.fixture
async def holder(tmp_path: Path) -> AsyncIterator[Holder]:
    holder = Holder(tmp_path / "wahost.db")
    yield holder
    await holder.stop()


async def _enqueue(path: Path, keys: list[str]) -> None:
    queue = SQLiteQueue(path)
    await queue.open()
    await queue.enqueue([make_unit(key, f"p:{key[0]}") for key in keys])
    await queue.close()


def _keys(leases: list[Lease]) -> list[str]:
    return [lease.unit.key for lease in leases]


@needs_proc
async def test_a_restart_takes_back_the_killed_workers_units_at_once(
    holder: Holder, tmp_path: Path
) -> None:
    path = tmp_path / "wahost.db"
    await _enqueue(path, ["a1", "a2", "b1"])
    stale = await holder.lease(10)
    assert _keys(stale) == ["a1", "b1"]
    await holder.kill()

    queue = SQLiteQueue(path)  # the restarted process's queue
    await queue.open()
    try:
        fresh = await queue.lease(10, lease_seconds=60)  # at once, not after 60 s
        assert [(lease.unit.key, lease.attempt) for lease in fresh] == [("a1", 2), ("b1", 2)]
        for lease in stale:
            with pytest.raises(LeaseLost):
                await queue.ack(lease)
        for lease in fresh:
            await queue.ack(lease)
        assert _keys(await queue.lease(10, lease_seconds=60)) == ["a2"]
    finally:
        await queue.close()


@needs_proc
async def test_a_running_worker_takes_a_killed_workers_units_while_busy(
    holder: Holder, tmp_path: Path
) -> None:
    path = tmp_path / "wahost.db"
    await _enqueue(path, ["a1", "a2"])
    queue = SQLiteQueue(path)
    await queue.open()
    try:
        [a1] = await holder.lease(1)
        # A live process's lease is never taken, however often the others look.
        assert await queue.release_dead_owners() == 0
        await asyncio.sleep(OWNER_CHECK_INTERVAL + 0.1)
        assert await queue.lease(10, lease_seconds=60) == []
        await holder.kill()
        # Busy with other conversations (each lease finds work), it still looks at the owners.
        started = time.monotonic()
        taken: list[Lease] = []
        for n in range(200):
            await queue.enqueue([make_unit(f"z{n}", f"p:z{n}")])
            leases = await queue.lease(10, lease_seconds=60)
            assert leases
            taken += [lease for lease in leases if lease.unit.key == "a1"]
            if taken:
                break
            await asyncio.sleep(0.02)
        assert [lease.attempt for lease in taken] == [2]
        assert time.monotonic() - started < OWNER_CHECK_INTERVAL + 1
        with pytest.raises(LeaseLost):
            await queue.ack(a1)
    finally:
        await queue.close()
