"""The fake Graph API in its own process, so its CPU does not count against the bot.

    python -m bench.fake_graph_proc OUT.jsonl

Prints its URL on the first line of stdout; on SIGUSR1 writes how many messages it accepted
so far to ``OUT.count``; on SIGTERM writes one JSON line per accepted
message to ``OUT.jsonl``: ``[text body, arrival time]`` on ``time.monotonic()``'s clock, which on
Linux is the same in every process, so the load generator subtracts its own stamps; then exits.
(The wall clock is not used: a virtual machine's wall clock may be stepped during a run, and
an offset between the two clocks taken once at the start then moves every arrival by the
step, which is how a run printed a negative median latency.)
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from wahost.testing.fake_graph import FakeGraph

TOKEN = "bench-token-0123456789"


async def main(out: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with FakeGraph(token=TOKEN) as graph:
        counter = out.removesuffix(".jsonl") + ".count"

        def count() -> None:
            with open(counter + ".tmp", "w") as f:
                f.write(str(len(graph.sent)))
            os.replace(counter + ".tmp", counter)

        loop.add_signal_handler(signal.SIGUSR1, count)
        print(graph.url, flush=True)
        await stop.wait()
        lines = [
            json.dumps([sent.get("text", {}).get("body", ""), sent.at]) + "\n"
            for sent in graph.sent
        ]
        Path(out).write_text("".join(lines))  # noqa: ASYNC240


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(main(sys.argv[1]))
