"""Latency of the Flows endpoint for data_exchange requests, through a real loopback server.

    python plugins/wahost-flows/bench/latency.py [--requests 200] [--engine uvicorn]

Logging as ``wahost serve`` sets it up by default (info, JSON). A BotHarness host (SQLite in a
temporary directory, uvicorn on 127.0.0.1) with wahost-flows
and a router answering the next screen; each request has its own AES key and IV, as WhatsApp
sends them, and is signed. Requests are sent one after another over one keep-alive
connection; the figure is the time from sending to the whole answer, per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import types
from pathlib import Path

import wahost_flows
from cryptography.hazmat.primitives import serialization
from wahost_flows import FlowResponse, FlowRouter, encrypt_request
from wahost_flows.endpoint import ENDPOINTS
from wahost_flows.keys import generate_private_key, write_private_key

from wahost.logs import configure_logging
from wahost.testing import BotHarness, sign


async def measure(requests: int, engine: str) -> tuple[list[float], list[float]]:
    """Per request: (over HTTP, inside the endpoint's ``handle``), in seconds."""
    router = FlowRouter()

    @router.on("APPOINTMENT")
    async def appointment(request: wahost_flows.FlowRequest, ctx: object) -> FlowResponse:
        return FlowResponse("DETAILS", request.data)

    plugin = types.ModuleType("bench_flows")
    plugin.on_flow_request = router.on_flow_request  # type: ignore[attr-defined]
    with tempfile.TemporaryDirectory() as tmp:
        key = generate_private_key()
        write_private_key(Path(tmp) / "flows.pem", key)
        config = {
            "server": {"engine": engine},
            "plugins": {"flows": {"endpoints": [{"key_file": str(Path(tmp) / "flows.pem")}]}},
        }
        payload = {
            "version": "3.0",
            "action": "data_exchange",
            "screen": "APPOINTMENT",
            "flow_token": "AQAAAAACS5FpgQ_cAAAAAD0QI3s.",
            "data": {"department": "beauty", "location": "1", "date": "2024-01-01"},
        }
        public = serialization.load_pem_public_key(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        bodies = []
        for _ in range(requests + 10):
            body, _, _ = encrypt_request(public, payload)  # type: ignore[arg-type]
            raw = json.dumps(body).encode()
            bodies.append((raw, {"x-hub-signature-256": sign(raw)}))
        harness = BotHarness(Path(tmp), plugins=[wahost_flows, plugin], config=config, worker=False)
        async with harness:
            assert harness.http is not None
            url = harness.url + "/flows"
            timings = []
            endpoint = harness.host.slots[ENDPOINTS]["/flows"]
            handled = []
            for raw, headers in bodies:
                started = time.perf_counter()
                answer = await endpoint.handle(harness.host, raw, headers)
                handled.append(time.perf_counter() - started)
                assert answer.status == 200
            for index, (raw, headers) in enumerate(bodies):
                started = time.perf_counter()
                response = await harness.http.post(url, content=raw, headers=headers)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.status_code
                if index >= 10:  # the first requests warm up connections and caches
                    timings.append(elapsed)
    return timings, handled[10:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--engine", choices=["uvicorn", "hypercorn"], default="uvicorn")
    args = parser.parse_args()
    configure_logging(level="info", format="json")  # as `wahost serve` with the default config
    over_http, handled = asyncio.run(measure(args.requests, args.engine))
    for label, timings in ((f"over HTTP ({args.engine})", over_http), ("in handle()", handled)):
        ms = sorted(t * 1000 for t in timings)
        print(
            f"{len(ms)} data_exchange requests {label}: median {statistics.median(ms):.2f} ms,"
            f" p90 {ms[int(len(ms) * 0.9)]:.2f} ms, p99 {ms[int(len(ms) * 0.99)]:.2f} ms,"
            f" max {ms[-1]:.2f} ms"
        )


if __name__ == "__main__":
    main()
