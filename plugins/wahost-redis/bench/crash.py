"""Chaos on Redis, the long run: web processes, workers and redis-server killed with SIGKILL.

N ``wahost serve`` (ingress only) and M ``wahost worker`` processes share one redis-server
(AOF, ``appendfsync always``) while Meta-like clients post numbered messages to the web
processes, each until answered 200. At random moments a worker, a web process or Redis itself
is killed with SIGKILL and started again. Afterwards: every message answered 200 was handled;
each user's messages in order and never two at once; each conversation's ``ctx.state`` shows
every message exactly once; repeats (handled again after a kill) only for units in flight.

    python plugins/wahost-redis/bench/crash.py [--messages 4000] [--users 40] [--kills 30]

(The quick version runs in the test suite: tests/test_redis_workers.py and
tests/test_redis_restart.py.)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from wahost_redis.recording import MetaClient, Recorded
from wahost_redis.testing import RedisServer, free_port, write_config


async def chaos(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="wahost-redis-crash-"))
    redis = RedisServer(work / "redis")
    redis.start()
    recorded = Recorded(work / "run")
    worker = {"enabled": False, "concurrency": args.concurrency, "lease_seconds": 3.0}
    ports = [free_port() for _ in range(args.web)]
    web_configs = [
        write_config(work / f"web-{port}.toml", redis.url, port=port, sections={"worker": worker})
        for port in ports
    ]
    webs = [recorded.spawn("serve", config, delay=0.002) for config in web_configs]
    workers = [recorded.spawn("worker", web_configs[0], delay=0.002) for _ in range(args.workers)]
    processes = args.web + args.workers
    await recorded.wait(lambda: len(recorded.read("ready")) >= processes, 60, "processes")

    users = [f"1650888{n:04d}" for n in range(args.users)]
    per_user = max(1, args.messages // args.users)
    total = per_user * len(users)
    urls = [f"http://127.0.0.1:{port}/webhook" for port in ports]
    clients = [MetaClient(urls, users[i :: args.clients], per_user) for i in range(args.clients)]
    started = time.monotonic()
    posting = asyncio.gather(*(c.run(started + args.timeout) for c in clients))
    kills: Counter[str] = Counter()

    def kill(processes: list[subprocess.Popen[bytes]], index: int, command: str) -> None:
        processes[index].kill()
        processes[index].wait()
        config = web_configs[index] if command == "serve" else web_configs[0]
        processes[index] = recorded.spawn(command, config, delay=0.002)

    while not posting.done() and sum(kills.values()) < args.kills:
        await asyncio.sleep(rng.uniform(0.2, 1.5))
        victim = rng.choices(["worker", "web", "redis"], weights=[5, 3, 2])[0]
        kills[victim] += 1
        if victim == "worker":
            kill(workers, rng.randrange(len(workers)), "worker")
        elif victim == "web":
            kill(webs, rng.randrange(len(webs)), "serve")
        else:
            redis.kill()
            await asyncio.sleep(rng.uniform(0.1, 1.0))
            redis.start()
    await posting
    acked = set().union(*(c.acked for c in clients))
    refused = sum(c.refused for c in clients)
    try:
        await recorded.wait(lambda: acked <= recorded.handled_keys(), 120, "every message")
        await recorded.drained(redis.url, 120)
        handled = recorded.read()
        recorded.check_order(per_user)
        seen = await recorded.seen(redis.url, users)
        wrong = [user for user in users if seen[user] != list(range(per_user))]
    finally:
        recorded.stop()
        redis.stop()
    repeats = len(handled) - len({r["wamid"] for r in handled})
    bound = kills["worker"] * args.concurrency + kills["redis"] * args.workers * args.concurrency
    print(
        f"messages={total} acked={len(acked)} refused(503)={refused} kills={dict(kills)} "
        f"handled={len(handled)} repeats={repeats} (bound {bound}) wrong_state={len(wrong)} "
        f"seconds={time.monotonic() - started:.1f}"
    )
    ok = len(acked) == total and not wrong and repeats <= bound
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--seed", type=int, default=1)
    raise SystemExit(asyncio.run(chaos(parser.parse_args())))


if __name__ == "__main__":
    main()
