"""Slowing down password and token guessing, per client address and per account.

Every way of presenting a secret to the console (the login form, an ``Authorization`` header
with a bearer token or basic auth) asks :meth:`LoginThrottle.wait` before its answer counts,
and reports a wrong secret with :meth:`LoginThrottle.failed`. Two rules:

* **Per client address** — each failure fills the address's bucket by one and the bucket
  drains by one every :data:`ADDRESS_DRAIN` seconds; at :data:`ADDRESS_LIMIT` the address is
  refused until it drains (a burst of 10 guesses, then one every 30 s).
* **Per account** (the token; the configured user name; anything else, which cannot be
  right) — the same bucket with :data:`ACCOUNT_LIMIT` and :data:`ACCOUNT_DRAIN`. While an
  account is under attack, every address that failed within the last :data:`FAILURE_MEMORY`
  seconds is refused too, which slows a guesser spread over many addresses to one guess per
  address per period.

An address with no failure on record is never refused, whatever other addresses do: the
right secret from a client that has not failed always gets in. IPv6 addresses count per /64
network (one site's, which a single host can rotate through at will). The table of addresses
is bounded (:data:`MAX_ADDRESSES`, least recently failed forgotten first), so a flood of
addresses costs a bounded amount of memory. Everything is kept in the process.
"""

from __future__ import annotations

import ipaddress
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Literal

Account = Literal["token", "user", "other"]

#: Failures an address may pile up before it is refused.
ADDRESS_LIMIT = 10
#: Seconds after which one failure of an address is forgiven.
ADDRESS_DRAIN = 30.0
#: Failures of one account, from any address, that mean it is under attack.
ACCOUNT_LIMIT = 50
#: Seconds after which one failure of an account is forgiven.
ACCOUNT_DRAIN = 6.0
#: While its account is under attack, an address that failed this recently is refused.
FAILURE_MEMORY = 900.0
#: Addresses remembered at most.
MAX_ADDRESSES = 10_000
#: While an address is refused, at most one log line per this many seconds (with a count).
LOG_EVERY = 10.0


@dataclass
class _Bucket:
    """Failures that drain over time: ``level`` as of ``at``."""

    drain: float
    level: float = 0.0
    at: float = 0.0
    last_failure: float = -math.inf

    def current(self, now: float) -> float:
        return max(0.0, self.level - (now - self.at) / self.drain)

    def add(self, now: float) -> float:
        self.level = self.current(now) + 1.0
        self.at = self.last_failure = now
        return self.level

    def excess_wait(self, limit: int, now: float) -> float:
        """Seconds until the bucket is below ``limit`` again (0 when it is)."""
        over = self.current(now) - (limit - 1)
        return over * self.drain if over > 0 else 0.0


@dataclass
class _Address(_Bucket):
    drain: float = ADDRESS_DRAIN
    #: Refusals not yet written to the log, and when the last line was written.
    unlogged: int = 0
    logged_at: float = -math.inf


@dataclass(frozen=True)
class Refusal:
    """A throttled attempt: wait ``retry_after`` seconds; ``log`` says whether to log it now
    (``count`` refusals, this one included, since the last line)."""

    retry_after: int
    log: bool
    count: int


def address_key(address: str) -> str:
    """The key an address is counted under: itself, or its /64 network for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        # Not an IP (a Unix socket, a proxy's odd header): counted as given, bounded in size.
        return address[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass
class LoginThrottle:
    """Failed logins per client address and per account; see the module's docstring."""

    address_limit: int = ADDRESS_LIMIT
    address_drain: float = ADDRESS_DRAIN
    account_limit: int = ACCOUNT_LIMIT
    account_drain: float = ACCOUNT_DRAIN
    failure_memory: float = FAILURE_MEMORY
    max_addresses: int = MAX_ADDRESSES
    _addresses: OrderedDict[str, _Address] = field(default_factory=OrderedDict)
    _accounts: dict[Account, _Bucket] = field(default_factory=dict)

    def wait(self, address: str, account: Account, now: float) -> Refusal | None:
        """``None`` when an attempt from ``address`` on ``account`` may be checked now."""
        entry = self._addresses.get(address_key(address))
        if entry is None:
            return None  # never failed (or forgotten): always let through
        wait = entry.excess_wait(self.address_limit, now)
        bucket = self._accounts.get(account)
        if bucket is not None and now - entry.last_failure < self.failure_memory:
            under_attack = bucket.excess_wait(self.account_limit, now)
            if under_attack > 0:
                forgotten = entry.last_failure + self.failure_memory - now
                wait = max(wait, min(under_attack, forgotten))
        if wait <= 0:
            return None
        entry.unlogged += 1
        log = now - entry.logged_at >= LOG_EVERY
        count = entry.unlogged
        if log:
            entry.unlogged = 0
            entry.logged_at = now
        return Refusal(retry_after=max(1, math.ceil(wait)), log=log, count=count)

    def failed(self, address: str, account: Account, now: float) -> int:
        """Record a wrong secret; returns the address's failures still counted."""
        key = address_key(address)
        entry = self._addresses.pop(key, None)
        if entry is None:
            entry = _Address(drain=self.address_drain)
            while len(self._addresses) >= self.max_addresses:
                self._addresses.popitem(last=False)
        self._addresses[key] = entry  # most recently failed last
        bucket = self._accounts.setdefault(account, _Bucket(drain=self.account_drain))
        bucket.add(now)
        return math.ceil(entry.add(now))

    def succeeded(self, address: str) -> None:
        """The right secret came from ``address``: forget its failures."""
        self._addresses.pop(address_key(address), None)

    def __len__(self) -> int:
        """Addresses on record."""
        return len(self._addresses)
