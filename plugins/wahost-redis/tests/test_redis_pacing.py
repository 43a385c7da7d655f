"""Meta's throughput cap holds for the whole deployment: three real ``wahost worker`` processes
on one Redis reply to a burst through the fake Graph API, which answers 130429 to a message
beyond ``messages_per_second`` in any second. Each process alone would send up to the cap;
sharing it through Redis keeps all three together within it."""

from __future__ import annotations

import asyncio
import collections
import json
import time
from collections.abc import Callable
from pathlib import Path

from wahost_redis import RedisPacer, RedisQueue
from wahost_redis.testing import install_plugin, spawn, write_config

from wahost.testing.fake_graph import FakeGraph
from wahost.testing.payloads import make_text, make_webhook
from wahost.units import split

BOT = '''
"""Replies to every text and notes which process handled it."""
import json, os
from wahost import hookimpl

def note(**record):
    path = os.path.join(os.environ["RECORD_DIR"], f"{os.getpid()}.jsonl")
    with open(path, "a") as out:
        out.write(json.dumps({**record, "pid": os.getpid()}) + "\\n")

@hookimpl
def wahost_startup(host):
    note(event="ready")

@hookimpl
async def on_message(message, ctx):
    await ctx.reply(text="ok " + message.text.body)
    note(event="replied")
    return True
'''

RATE = 40
USERS = [f"1650557{n:04d}" for n in range(120)]
WORKERS = 3


def records(directory: Path, event: str) -> list[dict[str, object]]:
    found = []
    for path in directory.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["event"] == event:
                found.append(record)
    return found


def busiest_second(times: list[float]) -> int:
    """The most arrivals in any window of one second."""
    times = sorted(times)
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


async def wait_for(condition: Callable[[], bool], seconds: float, what: str, logs: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            output = " | ".join(p.read_text()[-2000:] for p in logs.glob("*.log"))
            raise AssertionError(f"timed out waiting for {what}: {output}")
        await asyncio.sleep(0.05)


async def test_three_workers_share_the_numbers_cap(redis_url: str, tmp_path: Path) -> None:
    site, record_dir = tmp_path / "site", tmp_path / "records"
    record_dir.mkdir()
    install_plugin(site, "pacing_bot", BOT)
    processes = []
    async with FakeGraph(messages_per_second=RATE) as graph:
        path = write_config(
            tmp_path / "wahost.toml",
            redis_url,
            graph_url=graph.url,
            sections={
                "worker": {"concurrency": 32, "poll_interval": 0.01},
                "graph": {"messages_per_second": RATE},
            },
        )
        try:
            for n in range(WORKERS):
                processes.append(
                    spawn(
                        "worker",
                        path,
                        site=site,
                        plugins=["pacing_bot"],
                        env={"RECORD_DIR": str(record_dir)},
                        log=tmp_path / f"worker{n}.log",
                    )
                )
            await wait_for(
                lambda: len(records(record_dir, "ready")) == WORKERS, 30, "workers", tmp_path
            )
            queue = RedisQueue(redis_url)
            try:
                for first in range(0, len(USERS), 10):
                    texts = [
                        make_text(str(n), sender=user, wamid=f"wamid.pace.{user}")
                        for n, user in enumerate(USERS[first : first + 10], first)
                    ]
                    await queue.enqueue(split(json.dumps(make_webhook(*texts)).encode()))
            finally:
                await queue.close()
            await wait_for(lambda: len(graph.sent) >= len(USERS), 60, "every reply", tmp_path)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(15)

    replied = collections.Counter(r["pid"] for r in records(record_dir, "replied"))
    assert len(replied) == WORKERS, f"every worker took a share: {replied}"
    assert graph.throttled == 0, f"{graph.throttled} sends over Meta's cap (130429)"
    assert busiest_second([sent.at for sent in graph.sent]) <= RATE
    assert len({sent.wa_id for sent in graph.sent}) == len(USERS)


async def test_slots_and_spacing_are_shared_between_pacers(redis_url: str) -> None:
    """Two pacers (two processes) on one Redis: a slot granted to one that never hands it
    back (its process died) frees after ``hold``; one handed back frees ``period`` after its
    answer; a pause holds both; a send in flight to a user holds the other's, then its
    spacing does."""
    pacer = RedisPacer(redis_url, rate=1, interval=0.2, hold=0.3, period=0.2)
    other = RedisPacer(redis_url, rate=1, interval=0.2, hold=0.3, period=0.2)
    try:
        began = time.monotonic()
        await pacer.acquire("pn")  # never handed back
        slot = await other.acquire("pn")
        assert time.monotonic() - began >= 0.25
        began = time.monotonic()
        await other.release(slot)
        await pacer.cancel(await pacer.acquire("pn"))
        assert time.monotonic() - began >= 0.15
        began = time.monotonic()
        await other.pause("pn", 0.3)
        await pacer.cancel(await pacer.acquire("pn"))
        assert time.monotonic() - began >= 0.25

        assert await pacer.claim_recipient("16505550000")
        assert not await other.claim_recipient("16505550000")  # in flight elsewhere
        assert await other.claim_recipient("16505550001")  # another user is free
        await pacer.release_recipient("16505550000")
        assert not await other.claim_recipient("16505550000")  # the spacing runs
        assert await other.wait_recipient("16505550000") >= 0.15
        assert await other.claim_recipient("16505550000")
    finally:
        await pacer.aclose()
        await other.aclose()


async def test_under_the_cap_a_process_s_sends_ask_for_slots_at_once(redis_url: str) -> None:
    """Concurrent sends of one process ask Redis for their slots together while the cap has
    room (one at a time only once they must wait), and every one of them gets a slot."""
    pacer = RedisPacer(redis_url, rate=1000, interval=0.0, hold=5.0)
    asking = most = 0
    script = pacer._acquire

    async def counted(**arguments: object) -> object:
        nonlocal asking, most
        asking += 1
        most = max(most, asking)
        try:
            await asyncio.sleep(0.01)  # a round trip that takes a while
            return await script(**arguments)
        finally:
            asking -= 1

    pacer._acquire = counted  # type: ignore[assignment]
    try:
        slots = await asyncio.gather(*(pacer.acquire("pn-burst") for _ in range(20)))
        assert len({slot.token for slot in slots}) == 20
        assert most == 20  # none queued behind another's question
    finally:
        await pacer.aclose()


async def test_acquire_for_checks_and_takes_everything_in_one_script(redis_url: str) -> None:
    """A send's spacing, the number's pause and slots, and the recipient's claim are one script
    a send while nothing has to wait; what must wait waits for the right thing: a busy
    recipient holds only the sends to that user, a pause the whole number."""
    pacer = RedisPacer(redis_url, rate=1000, interval=0.3, hold=5.0, period=0.2)
    other = RedisPacer(redis_url, rate=1000, interval=0.3, hold=5.0, period=0.2)
    calls = 0
    script = pacer._acquire_for

    async def counted(**arguments: object) -> object:
        nonlocal calls
        calls += 1
        return await script(**arguments)

    pacer._acquire_for = counted  # type: ignore[assignment]
    try:
        found = await asyncio.gather(
            *(pacer.acquire_for("pn-for", f"1650558{n:04d}") for n in range(10))
        )
        assert calls == 10 and all(slot is not None and waited == 0 for slot, waited in found)

        # A send in flight to a user (claimed by another process) holds that user only.
        busy, _ = await other.acquire_for("pn-for", "16505589999")
        began = time.monotonic()
        waiting = asyncio.create_task(pacer.acquire_for("pn-for", "16505589999"))
        free, free_waited = await pacer.acquire_for("pn-for", "16505588888")
        assert free is not None and free_waited == 0 and not waiting.done()
        assert busy is not None
        await other.release(busy)
        await other.release_recipient("16505589999")  # the spacing runs from here
        slot, waited = await waiting
        assert slot is not None and waited >= 0.25 and time.monotonic() - began >= 0.25

        # A pause of the number holds every user.
        await other.pause("pn-for", 0.3)
        began = time.monotonic()
        slot, waited = await pacer.acquire_for("pn-for", "16505587777")
        assert slot is not None and waited >= 0.25 and time.monotonic() - began >= 0.25
    finally:
        await pacer.aclose()
        await other.aclose()
