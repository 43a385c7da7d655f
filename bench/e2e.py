"""End-to-end benchmark: an echo bot (every text answered with the same text), webhook in,
handler, reply out to a fake Graph API over loopback, for wahost and for pywa.

Processes: the bot on CPU 1 (``taskset -c 1``), the load generator (this process) and the fake
Graph API (its own process, :mod:`bench.fake_graph_proc`) on CPU 0, so the bot's CPU is one
core for both. Latency is the fake's ``time.monotonic()`` at the reply's arrival minus this
process's ``time.monotonic()`` at the POST's send (the intended send time in the fixed-rate run),
matched by the message text, which carries the message number.

Phases, per bot: warm-up; **peak** (``n`` messages from 1,000 users over 64 keep-alive
connections as fast as they are answered: units/s = messages / (last reply - first POST));
**fixed rate** (half of wahost's peak, open loop); **batch** (one POST with 100 messages from
100 users: how many replies arrive).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wahost.testing.harness import TEST_APP_SECRET, sign
from wahost.testing.payloads import make_text

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOKEN = "bench-token-0123456789"
PHONE_NUMBER_ID = "106540352242922"
USERS = 1000
PAD = "x" * 520


def pinned(cpu: int) -> list[str]:
    """``taskset -c cpu`` where there are two CPUs or more (else nothing)."""
    return ["taskset", "-c", str(cpu)] if (os.cpu_count() or 1) >= 2 else []


def text_of(tag: str, n: int) -> str:
    return f"{tag}:{n}: Does it come in another color? {PAD}"


def wamid(phone: str, n: int | str) -> str:
    """A wamid shaped like Meta's: the sender's number, then a message id that looks random.

    Meta's ids do not grow in sequence, so neither do these: in the store each lands at a
    random place in the key indexes, as in production (sequential ids only ever append, which
    flattered the storage by about a third in a micro-benchmark of the enqueue).
    """
    message_id = hashlib.sha1(f"{phone}:{n}".encode()).hexdigest()[:20].upper()
    return (
        "wamid.HBgL"
        + base64.b64encode(phone.encode()).decode().rstrip("=")
        + "FQIAEhgU"
        + base64.b64encode(message_id.encode()).decode()
    )


def message(tag: str, n: int, users: int = USERS) -> dict[str, object]:
    """A ~1 KB text webhook; the contact carries Meta's 2026 ``user_id`` (BSUID) too, which
    pywa 4.x requires (reference/cloudapi.md §3)."""
    sender = f"1650555{n % users:04d}"
    payload = make_text(
        text_of(tag, n),
        sender=sender,
        wamid=wamid(sender, f"{tag}{n}"),
        timestamp="1749416383",
        phone_number_id=PHONE_NUMBER_ID,
    )
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["user_id"] = f"US.1349120865530{n % users:07d}"
    return payload


def signed(payload: dict[str, object]) -> tuple[bytes, str]:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return body, sign(body, TEST_APP_SECRET)


def batch(tag: str, count: int = 100) -> dict[str, object]:
    """One webhook carrying ``count`` text messages from ``count`` users (one change)."""
    first = message(tag, 0, count)
    value = first["entry"][0]["changes"][0]["value"]  # type: ignore[index]
    for n in range(1, count):
        other = message(tag, n, count)["entry"][0]["changes"][0]["value"]  # type: ignore[index]
        value["contacts"].extend(other["contacts"])
        value["messages"].extend(other["messages"])
    return first


# -- a minimal keep-alive HTTP/1.1 client (the load generator) ------------------------------


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def post(self, path: str, body: bytes, signature: str) -> int:
        await self.connect()
        assert self.reader is not None and self.writer is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-Hub-Signature-256: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readuntil(b"\r\n\r\n")
        lines = status_line.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        chunked = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class Sent:
    at: dict[str, float] = field(default_factory=dict)  # text -> time.monotonic() of the POST
    non_200: int = 0
    first: float = 0.0
    last: float = 0.0


async def closed_loop(
    port: int, items: Sequence[tuple[str, bytes, str]], connections: int = 64
) -> Sent:
    """POST every item as fast as answered over ``connections`` keep-alive connections."""
    sent = Sent()
    queue = iter(items)
    sent.first = time.monotonic()

    async def run() -> None:
        conn = Connection(port)
        try:
            for text, body, sig in queue:
                sent.at[text] = time.monotonic()
                if await conn.post("/webhook", body, sig) != 200:
                    sent.non_200 += 1
        finally:
            conn.close()

    await asyncio.gather(*(run() for _ in range(connections)))
    sent.last = time.monotonic()
    return sent


async def open_loop(
    port: int, items: Sequence[tuple[str, bytes, str]], rate: float, connections: int = 256
) -> Sent:
    """POST item ``i`` at ``start + i / rate`` (its intended time is its send time) on the
    first free connection of a pool of ``connections``.

    The pool connects before the clock starts, as Meta's keep-alive connections are open before
    a message arrives: the latencies are those of the steady state, not of 256 TCP handshakes
    (which, taken in turn from the pool, fell on the first 256 messages).
    """
    sent = Sent()
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    opened = [Connection(port) for _ in range(connections)]
    await asyncio.gather(*(conn.connect() for conn in opened))
    for conn in opened:
        pool.put_nowait(conn)
    start = time.monotonic() + 0.05
    sent.first = start
    tasks = []

    async def one(conn: Connection, body: bytes, sig: str) -> None:
        try:
            if await conn.post("/webhook", body, sig) != 200:
                sent.non_200 += 1
        finally:
            pool.put_nowait(conn)

    for i, (text, body, sig) in enumerate(items):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        conn = await pool.get()
        sent.at[text] = due
        tasks.append(asyncio.create_task(one(conn, body, sig)))
    await asyncio.gather(*tasks)
    sent.last = time.monotonic()
    while not pool.empty():
        pool.get_nowait().close()
    return sent


# -- processes ------------------------------------------------------------------------------


class FakeGraphProcess:
    """The fake Graph API in its own process on CPU 0."""

    def __init__(self, workdir: Path) -> None:
        self.out = workdir / f"graph-{time.monotonic_ns()}.jsonl"
        self.process = subprocess.Popen(
            [*pinned(0), sys.executable, "-m", "bench.fake_graph_proc", str(self.out)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()

    def count(self) -> int:
        """How many messages it accepted so far (SIGUSR1 writes the count)."""
        counter = self.out.with_suffix(".count")
        counter.unlink(missing_ok=True)
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                return int(counter.read_text())
            except (FileNotFoundError, ValueError):
                time.sleep(0.01)
        raise TimeoutError("fake Graph API did not answer SIGUSR1")

    def wait_for(self, total: int, timeout: float, stall: float = 5.0, poll: float = 0.1) -> int:
        """Wait until ``total`` messages arrived, ``timeout`` passed, or none for ``stall`` s."""
        deadline = time.monotonic() + timeout
        seen = self.count()
        moved = time.monotonic()
        while seen < total and time.monotonic() < deadline and time.monotonic() - moved < stall:
            time.sleep(poll)
            now = self.count()
            if now != seen:
                seen, moved = now, time.monotonic()
        return seen

    def stop(self) -> dict[str, float]:
        """Stop it; every accepted reply's text and wall-clock arrival time."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(30)
        arrivals: dict[str, float] = {}
        with self.out.open() as f:
            for line in f:
                text, at = json.loads(line)
                arrivals.setdefault(text, at)
        return arrivals


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """User + system CPU seconds of a process so far, or of its thread ``tid`` (Linux /proc)."""
    stat = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class E2EResult:
    name: str
    units_per_s: float = 0.0
    peak_p50_ms: float = 0.0
    peak_p99_ms: float = 0.0
    units_per_cpu_s: float = 0.0
    peak_replied: str = ""
    rate: float = 0.0
    rate_p50_ms: float = 0.0
    rate_p99_ms: float = 0.0
    rate_replied: str = ""
    batch_replies: int = 0
    non_200: int = 0
    notes: list[str] = field(default_factory=list)


def items(tag: str, count: int) -> list[tuple[str, bytes, str]]:
    out = []
    for n in range(count):
        body, sig = signed(message(tag, n))
        out.append((text_of(tag, n), body, sig))
    return out


def run_bot(
    name: str,
    start_bot: object,
    workdir: Path,
    *,
    n: int,
    rate: float | None,
    rate_seconds: float,
    warmup: int = 500,
    window: int = 256,
) -> E2EResult:
    """Run the phases against one bot; ``start_bot(graph_url) -> (process, port)``."""
    result = E2EResult(name)
    graph = FakeGraphProcess(workdir)
    process, port = start_bot(graph.url)  # type: ignore[operator]
    expected = 0
    try:
        asyncio.run(closed_loop(port, items("w", warmup)))
        expected += warmup
        graph.wait_for(expected, 30)

        peak_items = items("p", n)
        cpu_before = cpu_seconds(process.pid)
        # At most ``window`` messages without a reply: a bot that acks before handling (pywa)
        # would otherwise pile up unbounded work and its peak would measure its collapse.
        peak = Sent(first=time.monotonic())
        for start in range(0, n, window):
            chunk = asyncio.run(closed_loop(port, peak_items[start : start + window]))
            peak.at.update(chunk.at)
            peak.non_200 += chunk.non_200
            expected += len(chunk.at)
            got = graph.wait_for(expected, 60, poll=0.005)
            if got < expected:
                break
        got = graph.wait_for(expected, 60)
        cpu_used = cpu_seconds(process.pid) - cpu_before
        if got < expected:
            result.notes.append(f"peak: stopped, {got} of {expected} replies arrived")

        if rate is None:
            rate = 0.0
        fixed: Sent | None = None
        if rate > 0:
            count = int(rate * rate_seconds)
            fixed = asyncio.run(open_loop(port, items("r", count), rate))
            expected += count
            graph.wait_for(expected, 60)

        body, sig = signed(batch("b"))

        async def post_batch() -> int:
            conn = Connection(port)
            try:
                return await conn.post("/webhook", body, sig)
            finally:
                conn.close()

        batch_status = asyncio.run(post_batch())
        graph.wait_for(expected + 100, 5)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        arrivals = graph.stop()

    latencies = [arrivals[t] - peak.at[t] for t in peak.at if t in arrivals]
    replied = [arrivals[t] for t in peak.at if t in arrivals]
    if replied:
        result.units_per_s = len(replied) / (max(replied) - peak.first)
    result.units_per_cpu_s = len(replied) / cpu_used if cpu_used else 0.0
    result.peak_replied = f"{len(replied)}/{n}"
    result.peak_p50_ms = percentile(latencies, 0.5) * 1000
    result.peak_p99_ms = percentile(latencies, 0.99) * 1000
    result.non_200 = peak.non_200
    if fixed is not None:
        lat = [arrivals[t] - fixed.at[t] for t in fixed.at if t in arrivals]
        result.rate = rate
        result.rate_p50_ms = percentile(lat, 0.5) * 1000
        result.rate_p99_ms = percentile(lat, 0.99) * 1000
        result.rate_replied = f"{len(lat)}/{len(fixed.at)}"
        result.non_200 += fixed.non_200
    result.batch_replies = sum(1 for text in arrivals if text.startswith("b:"))
    if batch_status != 200:
        result.notes.append(f"batch POST answered {batch_status}")
    return result


def wait_http(port: int, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise TimeoutError(f"server on {port} did not start")


WAHOST_CONFIG = """
[whatsapp]
phone_number_id = "{pnid}"
token = "{token}"
app_secret = "{secret}"
verify_token = "bench-verify"
graph_url = "{graph}"

[server]
port = {port}

[queue]
path = "{db}"

[worker]
enabled = {worker}

[graph]
# Meta's default cap (80/s per number) is wahost's default; pywa has none. Lifted here (Meta
# raises it to 1,000/s on request) so the bot, not the pacing, is measured.
messages_per_second = 100000

[logging]
level = "warning"
"""


def wahost_config(workdir: Path, port: int, db: Path, graph: str, worker: bool = True) -> Path:
    config = workdir / f"wahost-{port}.toml"
    config.write_text(
        WAHOST_CONFIG.format(
            pnid=PHONE_NUMBER_ID,
            token=TOKEN,
            secret=TEST_APP_SECRET,
            graph=graph or "http://127.0.0.1:9",
            port=port,
            db=db,
            worker=str(worker).lower(),
        )
    )
    return config


def start_wahost_echo(workdir: Path, port: int, db: Path, graph: str) -> subprocess.Popen[bytes]:
    config = wahost_config(workdir, port, db, graph)
    # Every installed first-party plugin, as users run it, with the echo plugin.
    env = {k: v for k, v in os.environ.items() if k != "WAHOST_PLUGINS"}
    process = subprocess.Popen(
        [*pinned(1), sys.executable, "-m", "bench.wahost_echo", str(config)], cwd=ROOT, env=env
    )
    wait_http(port)
    return process


def start_pywa(
    python: str, port: int, graph: str, *, echo: bool, log: object = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYWA_BENCH_SECRET": TEST_APP_SECRET,
        "PYWA_BENCH_GRAPH": graph,
        "PYWA_BENCH_ECHO": "1" if echo else "0",
    }
    process = subprocess.Popen(
        [
            *pinned(1),
            python,
            "-m",
            "uvicorn",
            "bench.pywa_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stderr=log,
    )
    wait_http(port)
    return process
