"""Guessing the console's secrets is throttled per client address and per account, on every
way in, and logged with the address; a client that has not failed always gets in.

Over real loopback HTTP: each client binds its own source address (127.0.0.x), so the
server sees distinct socket peers.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import wahost_console
from structlog.testing import capture_logs
from wahost_console.throttle import (
    ADDRESS_DRAIN,
    ADDRESS_LIMIT,
    LOG_EVERY,
    LoginThrottle,
    address_key,
)
from wahost_console.web import console_of

from wahost.testing import BotHarness
from wahost.testing.loopback import loopback_client

TOKEN = "console-token-0123456789"
USERNAME, PASSWORD = "admin", "console-password-9876"
ENABLED = {"console": {"enabled": True, "token": TOKEN, "username": USERNAME, "password": PASSWORD}}
OVERVIEW = "/-/console/api/overview"
WRONG = "wrong-password-guess"


def basic(username: str, password: str) -> dict[str, str]:
    value = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {value}"}


@asynccontextmanager
async def client_from(bot: BotHarness, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose connections leave from ``address`` (any 127.0.0.0/8 address works)."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    async with loopback_client(base_url=bot.url, transport=transport) as http:
        yield http


def refusals(logs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in logs if e["event"] == f"console login refused: {kind}"]


async def test_basic_auth_guessing_is_throttled_and_logged_and_other_addresses_get_in(
    tmp_path: Path,
) -> None:
    async with BotHarness(tmp_path, plugins=[wahost_console], config=ENABLED, worker=False) as bot:
        with capture_logs() as logs:
            async with client_from(bot, "127.0.0.2") as guesser:
                for n in range(ADDRESS_LIMIT):
                    wrong = await guesser.get(OVERVIEW, headers=basic(USERNAME, f"{WRONG}{n}"))
                    assert wrong.status_code == 401
                # Throttled: even the right password is not looked at.
                for headers in (basic(USERNAME, f"{WRONG}x"), basic(USERNAME, PASSWORD)):
                    refused = await guesser.get(OVERVIEW, headers=headers)
                    assert refused.status_code == 429
                    assert 1 <= int(refused.headers["retry-after"]) <= ADDRESS_DRAIN + 1
                    assert refused.headers["x-content-type-options"] == "nosniff"
                # The bearer token and a malformed header go through the same throttle.
                bearer = {"Authorization": f"Bearer {TOKEN}"}
                assert (await guesser.get(OVERVIEW, headers=bearer)).status_code == 429
                # The form too.
                form = {"username": USERNAME, "password": PASSWORD}
                page = await guesser.post("/-/console/login", data=form)
                assert page.status_code == 429 and "Too many failed logins" in page.text

            # Another address, with no failures, gets in at once with each secret.
            async with client_from(bot, "127.0.0.3") as operator:
                ok = await operator.get(OVERVIEW, headers=basic(USERNAME, PASSWORD))
                assert ok.status_code == 200
                bearer_ok = await operator.get(
                    OVERVIEW, headers={"Authorization": f"Bearer {TOKEN}"}
                )
                assert bearer_ok.status_code == 200
            async with client_from(bot, "127.0.0.4") as browser:
                form = {"username": USERNAME, "password": PASSWORD}
                assert (await browser.post("/-/console/login", data=form)).status_code == 303

    wrong_lines = refusals(logs, "wrong credentials")
    assert len(wrong_lines) == ADDRESS_LIMIT
    assert {e["client"] for e in wrong_lines} == {"127.0.0.2"}
    assert {e["way"] for e in wrong_lines} == {"basic"}
    assert [e["failures"] for e in wrong_lines] == list(range(1, ADDRESS_LIMIT + 1))
    assert wrong_lines[0]["path"] == OVERVIEW and wrong_lines[0]["log_level"] == "warning"
    throttled = refusals(logs, "too many failed attempts")
    assert throttled and {e["client"] for e in throttled} == {"127.0.0.2"}
    assert throttled[0]["retry_after"] >= 1
    # Never a secret in the log.
    text = repr(logs)
    assert PASSWORD not in text and WRONG not in text and TOKEN not in text


async def test_bad_form_logins_from_one_address_never_keep_another_out(tmp_path: Path) -> None:
    async with (
        BotHarness(tmp_path, plugins=[wahost_console], config=ENABLED, worker=False) as bot,
        client_from(bot, "127.0.0.2") as attacker,
        client_from(bot, "127.0.0.3") as operator,
    ):
        for _ in range(3 * ADDRESS_LIMIT):
            wrong = await attacker.post("/-/console/login", data={"token": "guess"})
            assert wrong.status_code in (401, 429)
        assert wrong.status_code == 429
        right = await operator.post("/-/console/login", data={"token": TOKEN})
        assert right.status_code == 303
        assert (await operator.get("/-/console/dead")).status_code == 200


async def test_an_account_under_attack_refuses_addresses_that_failed_but_never_fresh_ones(
    tmp_path: Path,
) -> None:
    async with BotHarness(tmp_path, plugins=[wahost_console], config=ENABLED, worker=False) as bot:
        console = console_of(bot.host)
        console.throttle = LoginThrottle(account_limit=5)
        # Five addresses guess the password once each: the user name is now under attack.
        for n in range(10, 15):
            async with client_from(bot, f"127.0.0.{n}") as guesser:
                wrong = await guesser.get(OVERVIEW, headers=basic(USERNAME, WRONG))
                assert wrong.status_code == 401
        # An address that failed is refused, even with the right password...
        async with client_from(bot, "127.0.0.10") as failed_before:
            refused = await failed_before.get(OVERVIEW, headers=basic(USERNAME, PASSWORD))
            assert refused.status_code == 429
            # ...for that account only: the token is not under attack.
            bearer = {"Authorization": f"Bearer {TOKEN}"}
            assert (await failed_before.get(OVERVIEW, headers=bearer)).status_code == 200
        # An address that never failed gets in.
        async with client_from(bot, "127.0.0.20") as fresh:
            ok = await fresh.get(OVERVIEW, headers=basic(USERNAME, PASSWORD))
            assert ok.status_code == 200


async def test_the_address_is_the_one_a_trusted_proxy_forwards(tmp_path: Path) -> None:
    # uvicorn trusts X-Forwarded-For from loopback (FORWARDED_ALLOW_IPS) and from nothing else.
    async with BotHarness(tmp_path, plugins=[wahost_console], config=ENABLED, worker=False) as bot:
        with capture_logs() as logs:
            async with client_from(bot, "127.0.0.1") as proxy:
                first = {"X-Forwarded-For": "203.0.113.7"}
                for _ in range(ADDRESS_LIMIT + 1):
                    response = await proxy.post(
                        "/-/console/login", data={"token": "guess"}, headers=first
                    )
                assert response.status_code == 429
                second = {"X-Forwarded-For": "203.0.113.7, 198.51.100.9"}
                ok = await proxy.post("/-/console/login", data={"token": TOKEN}, headers=second)
                assert ok.status_code == 303
            async with client_from(bot, "127.0.0.2") as untrusted:
                spoofed = {"X-Forwarded-For": "192.0.2.1"}
                await untrusted.post("/-/console/login", data={"token": "guess"}, headers=spoofed)
    clients = [e["client"] for e in refusals(logs, "wrong credentials")]
    assert clients == ["203.0.113.7"] * ADDRESS_LIMIT + ["127.0.0.2"]


# -- the throttle itself ---------------------------------------------------------------------


def test_an_address_drains_one_failure_per_period() -> None:
    throttle = LoginThrottle()
    for n in range(ADDRESS_LIMIT):
        assert throttle.wait("192.0.2.1", "user", now=100.0) is None
        assert throttle.failed("192.0.2.1", "user", now=100.0) == n + 1
    refusal = throttle.wait("192.0.2.1", "user", now=100.0)
    assert refusal is not None and refusal.retry_after == ADDRESS_DRAIN
    assert throttle.wait("192.0.2.2", "user", now=100.0) is None  # another address
    # One failure forgiven after a period: one more guess, then refused again.
    assert throttle.wait("192.0.2.1", "user", now=100.0 + ADDRESS_DRAIN) is None
    throttle.failed("192.0.2.1", "user", now=100.0 + ADDRESS_DRAIN)
    assert throttle.wait("192.0.2.1", "user", now=101.0 + ADDRESS_DRAIN) is not None
    # The right secret forgets the address's failures.
    throttle.succeeded("192.0.2.1")
    assert throttle.wait("192.0.2.1", "user", now=101.0 + ADDRESS_DRAIN) is None


def test_ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert (
        address_key("2001:db8:1:2:aaaa::1")
        == address_key("2001:db8:1:2::ffff")
        == ("2001:db8:1:2::/64")
    )
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("not an address" * 20) == ("not an address" * 20)[:100]
    throttle = LoginThrottle(address_limit=2)
    throttle.failed("2001:db8::1", "token", now=0.0)
    throttle.failed("2001:db8::2", "token", now=0.0)
    assert throttle.wait("2001:db8::3", "token", now=0.0) is not None


def test_the_table_of_addresses_is_bounded() -> None:
    throttle = LoginThrottle(max_addresses=100, address_limit=1)
    for n in range(5000):
        throttle.failed(f"10.0.{n // 256}.{n % 256}", "other", now=0.0)
    assert len(throttle) == 100
    # The latest to fail are the ones kept.
    assert throttle.wait("10.0.19.135", "other", now=0.0) is not None  # n = 4999
    assert throttle.wait("10.0.0.0", "other", now=0.0) is None  # forgotten


def test_a_throttled_address_is_logged_at_most_once_per_period_with_a_count() -> None:
    throttle = LoginThrottle(address_limit=1)
    throttle.failed("192.0.2.1", "token", now=0.0)
    first = throttle.wait("192.0.2.1", "token", now=0.0)
    assert first is not None and first.log and first.count == 1
    quiet = [throttle.wait("192.0.2.1", "token", now=1.0) for _ in range(50)]
    assert all(r is not None and not r.log for r in quiet)
    again = throttle.wait("192.0.2.1", "token", now=LOG_EVERY + 1.0)
    assert again is not None and again.log and again.count == 51
