"""The pywa side of the benchmark: pywa's own FastAPI webhook route, as its users run it
(``uvicorn bench.pywa_app:app``), with ``pywa_async`` (installed from PyPI in the benchmark's
own virtual environment, never imported by wahost).

Environment: ``PYWA_BENCH_SECRET`` (app secret; signatures are validated, pywa's default
``validate_updates=True``), ``PYWA_BENCH_GRAPH`` (the fake Graph API's URL; empty: no sends),
``PYWA_BENCH_ECHO`` (``1``: every text is answered with the same text, else a no-op handler),
``PYWA_BENCH_TOKEN`` (the token the fake expects), ``PYWA_BENCH_SLOW`` (seconds: every text
waits that long, as for an upstream, then is answered ``done``; ``bench.slow_handlers --pywa``).

pywa has no setting for the Graph API's base URL (``pywa/api.py`` hard-codes
``https://graph.facebook.com/v{api_version}`` on its httpx client): after constructing the
client we set that httpx client's ``base_url`` to the fake — the only change, and not one to
pywa's logic.

pywa is given its Graph API client the way its documentation and its own warning ("You may
want to provide your own `httpx.Client` instance") tell a user to: ``session=`` an
``httpx.AsyncClient`` with wahost's ``[graph]`` defaults (100 connections, 15 s for an answer,
5 s to connect) and no limit on the wait for a free connection, as wahost waits. With httpx's
defaults (a 5 s pool timeout) a burst of 256 replies timed out waiting for one of the 100
connections, and pywa, having answered the webhooks already, lost those replies: 611 to 707 of
756 arrived, in runs of 2026-12-08, and the end-to-end comparison compared nothing.
"""

from __future__ import annotations

import asyncio
import os

import httpx
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pywa_async import WhatsApp, types
from pywa_async.utils import UserIdentifier

API_VERSION = "24.0"

app = FastAPI()
wa = WhatsApp(
    phone_id="106540352242922",
    token=os.environ.get("PYWA_BENCH_TOKEN", "bench-token-0123456789"),
    server=app,
    webhook_endpoint="/webhook",
    verify_token="bench-verify",
    app_secret=os.environ["PYWA_BENCH_SECRET"],
    api_version=API_VERSION,
    session=httpx.AsyncClient(
        limits=httpx.Limits(max_connections=100),
        timeout=httpx.Timeout(15.0, connect=5.0, pool=None),
    ),
    # The fake Graph API (like most numbers today) is addressed by phone number ("to"); pywa
    # 4.x prefers the 2026 business-scoped user id, so put wa_id first (a documented option).
    user_identifier_priority=(
        UserIdentifier.WA_ID,
        UserIdentifier.BSUID,
        UserIdentifier.PARENT_BSUID,
    ),
)
graph = os.environ.get("PYWA_BENCH_GRAPH", "")
if graph:
    wa._api._session.base_url = f"{graph}/v{API_VERSION}"  # type: ignore[union-attr]

ECHO = os.environ.get("PYWA_BENCH_ECHO") == "1"
SLOW = float(os.environ.get("PYWA_BENCH_SLOW") or 0)


@wa.on_message
async def echo(client: WhatsApp, message: types.Message) -> None:
    if SLOW and message.text is not None:
        await asyncio.sleep(SLOW)
        await message.reply_text("done")
    elif ECHO and message.text is not None:
        await message.reply_text(message.text)


@app.get("/healthz")
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok")
