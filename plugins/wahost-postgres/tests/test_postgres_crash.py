"""The crash battery, quick: one ``kill -9`` of a worker, one of ``serve`` and one crash-like
stop of the server mid-load (the long run: ``bench/crash.py``). Nothing answered 200 is lost,
order holds per user, ``ctx.state`` is exact, and a reply is repeated only for a message
handled twice (none in most runs)."""

from __future__ import annotations

from pathlib import Path

from wahost_postgres.chaos import run_chaos


async def test_kill_9_and_a_server_crash_lose_nothing_and_repeat_replies_only_of_rehandled_units(
    server_binaries: None, tmp_path: Path
) -> None:
    outcome = await run_chaos(
        tmp_path,
        users=6,
        per_user=8,
        clients=3,
        gap=0.3,  # posting lasts about 5 s, the three kills come within it
        kills=["worker", "serve", "postgres"],
        seconds=60,
    )
    assert outcome.ok, outcome.report()
    assert sum(outcome.kills.values()) == 3, outcome.report()
