"""The crash run (:mod:`bench.crash`) on Redis: queue and ``ctx.state`` in a ``redis-server``
this run starts itself (a free port, AOF with ``appendfsync always`` in its own directory;
never the machine's Redis).

Two victims: ``server`` — ``kill -9`` of the ``wahost serve`` process, as the SQLite run;
``redis`` — ``kill -9`` of ``redis-server``, down for 0.1 to 1 s, then started again on the same
port and directory (its AOF replays). While Redis is down ingress answers 503 and the clients
post again, as Meta does; the worker backs off and reconnects. The checks are the SQLite
run's: every webhook answered 200 handled, in order per user; repeats only for units with a
kill between their handlings; the ``ctx.state`` counter exact; each reply delivered, repeated
only for a unit handled more than once.

    python -m bench.reliability.crash_redis --kill redis --messages 10000 --kills 50
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from bench.crash import (
    Outcome,
    Server,
    Storage,
    Victim,
    arguments,
    finish,
    kill_server,
    options,
    run_crash,
)

if TYPE_CHECKING:
    from wahost_redis.testing import RedisServer

Kill = Literal["server", "redis"]

SECTIONS = """
[queue]
backend = "redis"
url = "{url}"

[state]
backend = "redis"
"""


def _victim(kill: Kill, redis_server: RedisServer, seed: int) -> Victim:
    if kill == "server":
        return kill_server
    rng = random.Random(seed)

    async def kill_redis(_server: Server) -> None:
        redis_server.kill()
        await asyncio.sleep(rng.uniform(0.1, 1.0))  # ingress answers 503 meanwhile
        await asyncio.to_thread(redis_server.start)

    return kill_redis


def run_crash_redis(
    *,
    kill: Kill = "server",
    workdir: Path | None = None,
    seed: int = 1,
    **options: object,
) -> Outcome:
    """:func:`bench.crash.run_crash` on a fresh ``redis-server``; ``kill`` says what each kill
    kills. Other keyword arguments go to ``run_crash``. Raises ``FileNotFoundError`` when
    ``redis-server`` is not installed."""
    from wahost_redis import RedisStateStore
    from wahost_redis.testing import RedisServer

    tmp = Path(workdir or tempfile.mkdtemp(prefix=f"wahost-crash-redis-{kill}-"))
    redis_server = RedisServer(tmp / "redis")
    redis_server.start()
    url = redis_server.url
    storage = Storage(
        sections=SECTIONS.format(url=url),
        plugins=("wahost-redis",),
        open_store=lambda _tmp: RedisStateStore(url),
    )
    try:
        return run_crash(
            workdir=tmp,
            seed=seed,
            storage=storage,
            victim=_victim(kill, redis_server, seed),
            **options,  # type: ignore[arg-type]
        )
    finally:
        redis_server.stop()


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--kill", choices=["server", "redis"], default="server")
    args = parser.parse_args()
    finish(run_crash_redis(kill=args.kill, **options(args)))


if __name__ == "__main__":
    main()
