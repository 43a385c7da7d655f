"""Run the reliability battery and print the summary table.

python -m bench.reliability                 # every scenario, long versions (~25 min)
python -m bench.reliability --quick         # the test-suite sizes (~2 min)
python -m bench.reliability graph ordering  # only these scenarios (names: see SCENARIOS)
python -m bench.reliability fuzz --seconds 60  # atheris only (optional: skipped when not installed)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.crash import Outcome, run_crash
from bench.reliability import Row, table
from bench.reliability.crash_redis import Kill, run_crash_redis
from bench.reliability.disk_full import run_disk_full
from bench.reliability.fuzz import TARGETS, run_fuzz
from bench.reliability.graph_faults import run_graph_faults
from bench.reliability.graph_outage import run_duplicate_replies, run_graph_outage
from bench.reliability.kill_before_200 import run_kill_before_200
from bench.reliability.ordering import run_ordering
from bench.reliability.restart import run_restart
from bench.reliability.soak import run_soak
from wahost.logs import configure_logging

ROOT = Path(__file__).resolve().parents[2]


def _tmp(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"wahost-rel-{name}-"))


def crash(quick: bool) -> list[Row]:
    messages, kills = (240, 3) if quick else (10_000, 50)
    outcome = run_crash(
        messages=messages,
        kills=kills,
        clients=6 if quick else 16,
        concurrency=8 if quick else 32,
        seed=11,
        workdir=_tmp("crash"),
        timeout=1800,
        replies=True,
        secrets=True,
    )
    row = _crash_row("kill -9 under load, replies via ctx.reply", outcome)
    secrets = Row(
        "secrets in logs / answers",
        "canary token, app secret, passphrase; info-level JSON log of the crash run",
        ok=not outcome.leaked,
    )
    if outcome.leaked:
        secrets.notes.append("leaked: " + ", ".join(outcome.leaked))
    return [row, secrets]


def _crash_row(scenario: str, outcome: Outcome) -> Row:
    row = Row(
        scenario,
        f"{outcome.messages} webhooks, {outcome.kills} x kill -9",
        lost=len(outcome.lost) + len(outcome.replies_missing),
        duplicated=outcome.repeats,
        errors_5xx=outcome.errors_5xx,
        ok=outcome.ok(),
    )
    row.notes.append(
        f"{outcome.repeats} units re-handled (bound {outcome.repeat_bound}, "
        f"{len(outcome.repeats_unexplained)} without a kill between their handlings); "
        f"{len(outcome.replies_duplicated)} replies repeated, "
        f"{len(outcome.replies_unexplained)} unexplained"
    )
    return row


def _redis_crash(kill: Kill) -> Callable[[bool], list[Row]]:
    """The crash run on Redis (queue and state), killing the server or redis-server."""

    def scenario(quick: bool) -> list[Row]:
        messages, kills = (240, 3) if quick else (10_000, 50)
        try:
            outcome = run_crash_redis(
                kill=kill,
                messages=messages,
                kills=kills,
                clients=6 if quick else 16,
                concurrency=8 if quick else 32,
                seed=13,
                workdir=_tmp(f"crash-redis-{kill}"),
                timeout=1800,
                replies=True,
            )
        except FileNotFoundError as exc:  # no redis-server
            return [Row(f"Redis: kill -9 of {kill}", "", ok=False, notes=[f"skipped: {exc}"])]
        victim = "wahost serve" if kill == "server" else "redis-server (AOF always, restarted)"
        row = _crash_row(f"Redis: kill -9 of {victim} under load, replies via ctx.reply", outcome)
        if kill == "redis":
            row.notes.append("the 5xx are 503s while Redis was down, posted again")
        return [row]

    return scenario


def kill200(quick: bool) -> list[Row]:
    return [run_kill_before_200(_tmp("kill200"), kills=2 if quick else 30)]


def graph(quick: bool) -> list[Row]:
    users, per_user = (10, 8) if quick else (12, 40)
    return [asyncio.run(run_graph_faults(_tmp("graph"), users=users, per_user=per_user))]


def outage(quick: bool) -> list[Row]:
    if quick:
        config = {"worker": {"backoff_base": 0.01, "backoff_cap": 0.05}}
        config["graph"] = {"breaker_reset": 0.5}
        row = run_graph_outage(_tmp("outage"), outage=2.0, interval=0.5, config=config)
    else:  # the defaults, as users run them
        row = run_graph_outage(_tmp("outage"), users=10, outage=60.0, interval=2.0)
    return [asyncio.run(row)]


def duplicates(quick: bool) -> list[Row]:
    users, per_user = (4, 3) if quick else (10, 10)
    return [
        asyncio.run(
            run_duplicate_replies(
                _tmp(f"dup-{policy}"), users=users, per_user=per_user, ambiguous=policy
            )
        )
        for policy in ("confirm", "resend")
    ]


def restart(quick: bool) -> list[Row]:
    """Restart after kill -9 with units in flight: on SQLite, then on Redis."""
    users, rounds = (8, 1) if quick else (32, 5)
    rows = [
        run_restart(backend="sqlite", users=users, rounds=rounds, workdir=_tmp("restart")).row()
    ]
    try:
        redis = run_restart(backend="redis", users=users, rounds=rounds, workdir=_tmp("restart-r"))
    except (FileNotFoundError, ImportError) as exc:  # no redis-server, no wahost-redis
        return [*rows, Row("restart (Redis)", "", ok=False, notes=[f"skipped: {exc}"])]
    return [*rows, redis.row()]


def hostile(quick: bool) -> list[Row]:
    # The hypothesis tests are the scenario (same sizes in both modes).
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    started = time.monotonic()
    done = subprocess.run(
        [*args, str(ROOT / "tests" / "test_reliability_hostile.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    last = (done.stdout.strip().splitlines() or ["?"])[-1]
    row = Row(
        "hostile input (fuzzed forged requests, 413, slow client, 1001-update batch, "
        "nested JSON, config fuzz)",
        "120 forged requests + 300 config texts (hypothesis), fixed cases",
        ok=done.returncode == 0,
    )
    row.notes.append(f"{last} in {time.monotonic() - started:.0f}s")
    return [row]


def ordering(quick: bool) -> list[Row]:
    conversations, per = (200, 10) if quick else (1000, 20)
    return [
        asyncio.run(
            run_ordering(_tmp("ordering"), conversations=conversations, per_conversation=per)
        )
    ]


def disk(quick: bool) -> list[Row]:
    row = asyncio.run(run_disk_full(_tmp("disk"), full_posts=60 if quick else 500))
    if row is None:
        return [Row("disk full", "tmpfs", ok=False, notes=["skipped: cannot mount a tmpfs"])]
    return [row]


def soak(quick: bool) -> list[Row]:
    return [run_soak(_tmp("soak"), seconds=20 if quick else 600)]


def fuzz(quick: bool, seconds: int | None = None) -> list[Row]:
    """Coverage-guided fuzzing (atheris): each target ``seconds`` (5 quick, 120 long)."""
    if importlib.util.find_spec("atheris") is None:
        return [Row("atheris fuzzing", "", ok=False, notes=["not run: pip install atheris"])]
    return run_fuzz(seconds or (5 if quick else 120), list(TARGETS), _tmp("fuzz"))


SCENARIOS: dict[str, Callable[[bool], list[Row]]] = {
    "crash": crash,
    "redis-crash": _redis_crash("server"),
    "redis-kill": _redis_crash("redis"),
    "kill200": kill200,
    "graph": graph,
    "outage": outage,
    "duplicates": duplicates,
    "restart": restart,
    "hostile": hostile,
    "ordering": ordering,
    "disk": disk,
    "soak": soak,
    "fuzz": fuzz,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)}")
    parser.add_argument("--quick", action="store_true", help="the test-suite sizes")
    parser.add_argument("--seconds", type=int, help="fuzz: seconds per target")
    args = parser.parse_args()
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    # In-process scenarios log through structlog: keep stdout for the table.
    configure_logging(level="error", format="console", stream=sys.stderr)
    rows: list[Row] = []
    names = args.scenarios or list(SCENARIOS)
    if not args.scenarios and importlib.util.find_spec("atheris") is None:
        names.remove("fuzz")  # optional: run it by name to see the row say why not
        print("fuzz: not run (pip install atheris)", file=sys.stderr)
    for name in names:
        started = time.monotonic()
        try:
            got = fuzz(args.quick, args.seconds) if name == "fuzz" else SCENARIOS[name](args.quick)
        except Exception as exc:  # a crashed scenario is a failed row, the others still run
            got = [Row(name, "", ok=False, notes=[f"crashed: {exc!r}"])]
        for row in got:
            row.notes.append(f"{time.monotonic() - started:.0f}s")
        rows.extend(got)
        print(f"{name}: {'PASS' if all(r.ok for r in got) else 'FAIL'}", file=sys.stderr)
    print(table(rows))
    sys.exit(0 if all(row.ok for row in rows) else 1)


if __name__ == "__main__":
    main()
