"""Chaos on PostgreSQL, the long run: workers and ``serve`` killed with SIGKILL, the server
stopped as by a crash (``pg_ctl stop -m immediate``) and started again, while Meta-like clients
post numbered messages, each until answered 200. Afterwards: nothing answered 200 is lost,
each user's messages were handled in order and never two at once, ``ctx.state`` shows every
message exactly once, and every message got its reply exactly once. See
:mod:`wahost_postgres.chaos`.

    python plugins/wahost-postgres/bench/crash.py [--users 40] [--per-user 50] [--kills 30]

(The quick version runs in the suite: tests/test_postgres_crash.py.)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import tempfile
from pathlib import Path

from wahost_postgres.chaos import VICTIMS, run_chaos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--per-user", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    kills = rng.choices(VICTIMS, weights=[5, 3, 2], k=args.kills)
    work = Path(tempfile.mkdtemp(prefix="wahost-pg-crash-"))
    try:
        outcome = asyncio.run(
            run_chaos(
                work,
                users=args.users,
                per_user=args.per_user,
                clients=args.clients,
                workers=args.workers,
                concurrency=args.concurrency,
                kills=kills,
                seed=args.seed,
                seconds=900,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(outcome.report())
    raise SystemExit(0 if outcome.ok else 1)


if __name__ == "__main__":
    main()
