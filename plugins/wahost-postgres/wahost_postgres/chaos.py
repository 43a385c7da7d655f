"""A crash battery on PostgreSQL: ``kill -9`` of workers and of ``serve``, and the server
restarted as after a crash, while Meta-like clients post numbered messages.

``serve`` (ingress only) and workers with the recording plugin (:data:`testing.RECORDER`, with
replies) run on a throwaway cluster (``fsync = on``); the replies go to a fake Graph API in
this process, which posts a ``sent`` status for each, as Meta does. Afterwards: every message
answered 200 was handled; each user's messages in order and never two at once; each
conversation's ``ctx.state`` shows every message exactly once; every handled message was
replied to, and a reply was repeated only for a message handled twice (a worker killed between
Meta accepting the reply and the outbox's record of it: the core's promise, whatever the
backend).

Used by ``bench/crash.py`` (the long run) and the quick test in the plugin's tests.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from wahost.testing.fake_graph import FakeGraph
from wahost_postgres.testing import (
    Cluster,
    Recorded,
    free_port,
    post_in_order,
    seen,
    wait_for_port,
    write_config,
)

#: What may be killed: a worker (SIGKILL), ``serve`` (SIGKILL), the server (an immediate
#: stop, as a crash: no checkpoint, the WAL replayed at start).
VICTIMS = ("worker", "serve", "postgres")


@dataclass
class Outcome:
    messages: int
    acked: int = 0
    refused: int = 0
    handled: int = 0
    repeats: int = 0
    #: Messages whose handling started more than once (a kill interrupted the first).
    rehandled: int = 0
    replies: int = 0
    duplicate_replies: int = 0
    missing_replies: int = 0
    wrong_state: list[str] = field(default_factory=list)
    kills: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.acked == self.messages
            and not self.wrong_state
            and self.duplicate_replies <= self.rehandled
            and not self.missing_replies
        )

    def report(self) -> str:
        return (
            f"messages={self.messages} acked={self.acked} refused(503)={self.refused}"
            f" kills={dict(self.kills)} handled={self.handled} repeats={self.repeats}"
            f" rehandled={self.rehandled}"
            f" replies={self.replies} duplicate_replies={self.duplicate_replies}"
            f" missing_replies={self.missing_replies} wrong_state={len(self.wrong_state)}"
            f" seconds={self.seconds:.1f} -> {'OK' if self.ok else 'FAILED'}"
        )


async def run_chaos(
    work: Path,
    *,
    users: int = 20,
    per_user: int = 20,
    clients: int = 4,
    workers: int = 2,
    concurrency: int = 8,
    kills: list[str] | None = None,
    pause: tuple[float, float] = (0.3, 1.2),
    gap: float = 0.05,
    seed: int = 1,
    seconds: float = 300.0,
) -> Outcome:
    """Run the battery; ``kills`` is the sequence of victims (default: one of each), one every
    ``pause`` seconds (a random duration in that range); each client posts ``gap`` seconds
    apart, for at most ``seconds``."""
    rng = random.Random(seed)
    schedule = list(VICTIMS) if kills is None else list(kills)
    cluster = Cluster(fsync=True)
    cluster.start()
    recorded = Recorded(work / "run")
    outcome = Outcome(messages=users * per_user)
    started = time.monotonic()
    try:
        async with FakeGraph() as graph:
            port = free_port()
            sections = {
                # Leases long enough that only the owners' liveness hands a unit on.
                "worker": {"enabled": False, "concurrency": concurrency, "lease_seconds": 30.0},
                "graph": {"messages_per_second": 1_000_000.0, "recipient_interval": 0.0},
            }
            config = write_config(
                work / "wahost.toml",
                cluster.url,
                "chaos",
                port=port,
                graph_url=graph.url,
                sections=sections,
            )
            serve = recorded.spawn("serve", config)
            pool = [recorded.spawn("worker", config, reply=True) for _ in range(workers)]
            await recorded.wait(lambda: len(recorded.read("ready")) >= workers + 1, 60, "start")
            await wait_for_port(port)

            names = [f"1650777{n:04d}" for n in range(users)]
            url = f"http://127.0.0.1:{port}/webhook"
            # As Meta does: a "sent" status for each accepted reply (the outbox's receipt).
            graph.send_statuses(url)
            deadline = time.monotonic() + seconds
            posting = asyncio.gather(
                *(
                    post_in_order(url, names[i::clients], per_user, deadline=deadline, gap=gap)
                    for i in range(clients)
                )
            )

            def respawn(process: subprocess.Popen[bytes], command: str) -> subprocess.Popen[bytes]:
                process.kill()
                process.wait()
                return recorded.spawn(command, config, reply=command == "worker")

            for victim in schedule:
                if posting.done():
                    break
                await asyncio.sleep(rng.uniform(*pause))
                outcome.kills[victim] += 1
                # Each kill waits for the process it restarts to be up, as a supervisor would
                # see to it: a process started while the server is down stops at once.
                if victim == "worker":
                    index = rng.randrange(len(pool))
                    ready = len(recorded.read("ready"))
                    pool[index] = respawn(pool[index], "worker")
                    await recorded.wait(
                        lambda ready=ready: len(recorded.read("ready")) > ready,  # type: ignore[misc]
                        60,
                        "the new worker",
                    )
                elif victim == "serve":
                    serve = respawn(serve, "serve")
                    await wait_for_port(port)
                else:
                    await asyncio.to_thread(cluster.stop, "immediate")
                    await asyncio.sleep(rng.uniform(0.1, 0.8))
                    await asyncio.to_thread(cluster.start)
            results = await posting
            acked = set().union(*(done for done, _ in results))
            outcome.acked = len(acked)
            outcome.refused = sum(refused for _, refused in results)
            await recorded.wait(lambda: acked <= recorded.handled_keys(), 120, "every message")
            # Replies of the last units: sent before their acks, so wait for the state too.
            expected = list(range(per_user))
            wait_until = time.monotonic() + 60
            while True:
                state = await seen(cluster.url, "chaos", names)
                if all(state[user] == expected for user in names):
                    break
                if time.monotonic() > wait_until:
                    break
                await asyncio.sleep(0.2)
            outcome.wrong_state = [user for user in names if state[user] != expected]
            handled = recorded.read()
            outcome.handled = len(handled)
            outcome.repeats = len(handled) - len({r["wamid"] for r in handled})
            starts = Counter(r["wamid"] for r in recorded.read("started"))
            outcome.rehandled = sum(1 for n in starts.values() if n > 1)
            recorded.check_order(per_user)
            texts = Counter(str(sent.body.get("text", {}).get("body", "")) for sent in graph.sent)
            outcome.replies = sum(texts.values())
            outcome.duplicate_replies = sum(n - 1 for n in texts.values() if n > 1)
            wanted = {f"{user}:{seq}" for user in names for seq in expected}
            outcome.missing_replies = len(wanted - set(texts))
    finally:
        outcome.seconds = time.monotonic() - started
        recorded.stop()
        cluster.remove()
    return outcome
