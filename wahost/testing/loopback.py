"""HTTP clients of the test helpers, which talk plain HTTP to servers on the loopback.

``httpx.AsyncClient()`` loads the CA bundle into a new SSL context each time it is made (tens
of milliseconds, paid again by every harness, every status post of the fake Graph API); these
clients share one context made on first use, so a test suite pays it once.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any

import httpx


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


def loopback_client(**options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` with ``options``, on the process's shared SSL context."""
    return httpx.AsyncClient(verify=_ssl_context(), **options)
