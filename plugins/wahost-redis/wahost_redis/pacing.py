"""Meta's caps for the whole deployment: one pacer that every process sending on Redis shares.

Meta caps the messages a phone number sends per second (130429 over it) and the messages to
one user (131056), whatever number of processes send them. Each process's own limiter would
let W workers send W times the cap, so on Redis the slots live in Redis, granted by small Lua
scripts (atomic: two processes never take the last slot both).

Layout (``P`` is the prefix):

* ``P pace:rate:<phone_number_id>`` — sorted set of the slots held, scored by when each frees
  (ms, Redis's clock). A slot is granted with the score ``now + hold`` and, once its request
  is answered, rescored to ``now + period``: it is held from its grant until ``period`` after
  its answer, because Meta counts a request when it arrives, some time after it left. ``hold``
  (longer than a request may take) frees the slots of a process that died mid-request.
* ``P pace:pause:<phone_number_id>`` — present (``PX``) while the number is paused (130429).
* ``P pace:busy:<recipient>`` — present while a send to the user is in flight (``PX hold``).
* ``P pace:next:<recipient>`` — present until the next send to the user may leave: the
  spacing after the last answer, or a pause after a 131056 (``PX``).

Every key expires by itself, so a dead process leaves nothing behind for long.

Waiting: a send asks Redis at once unless another send of its process already waits for the
number; once the cap is reached, the sends of one process wait one after another (a local
lock), so only one of them asks Redis at a time; it sleeps until the first slot frees, or polls
every ``period / 20`` while every slot is a request in flight.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from wahost.pacing import SendPacer, Slot
from wahost_redis.connection import StoreUnavailable, connect, describe, guarded, ms

T = TypeVar("T")

log = structlog.get_logger("wahost_redis.pacing")

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

#: KEYS: slots, pause. ARGV: rate, hold_ms, token. Returns 0 (granted) or the ms to wait.
ACQUIRE = (
    _NOW
    + """
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local hold = tonumber(ARGV[2])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + hold, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], hold)
  return 0
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(first[2]) - now)
"""
)

#: KEYS: slots, pause, busy, next. ARGV: rate, hold_ms, token, interval_ms. Everything a send
#: waits for, checked and taken at once: returns 0 (a slot granted and the recipient claimed),
#: the ms to wait for the number (positive), or minus the ms to wait for the recipient.
ACQUIRE_FOR = (
    _NOW
    + """
local recipient = math.max(redis.call('PTTL', KEYS[3]), redis.call('PTTL', KEYS[4]))
if recipient > 0 then return -recipient end
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local hold = tonumber(ARGV[2])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + hold, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], hold)
  if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[3], '1', 'PX', hold) end
  return 0
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(first[2]) - now)
"""
)

#: KEYS: slots. ARGV: period_ms, token. The slot frees ``period`` from now. A slot whose hold
#: ran out is recorded again: its request arrived, and counts in this window.
RELEASE = (
    _NOW
    + """
local period = tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], now + period, ARGV[2])
if redis.call('PTTL', KEYS[1]) < period then redis.call('PEXPIRE', KEYS[1], period) end
return 0
"""
)

#: KEYS: key. ARGV: ms. The key lives at least ``ms`` more (a pause or a spacing).
EXTEND = """
local wanted = tonumber(ARGV[1])
if wanted > 0 and redis.call('PTTL', KEYS[1]) < wanted then
  redis.call('SET', KEYS[1], '1', 'PX', wanted)
end
return 0
"""

#: KEYS: busy, next. ARGV: interval_ms, hold_ms. Returns 0 (claimed) or the ms to wait.
CLAIM_RECIPIENT = """
local wait = math.max(redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2]))
if wait > 0 then return wait end
if tonumber(ARGV[1]) > 0 then redis.call('SET', KEYS[1], '1', 'PX', ARGV[2]) end
return 0
"""

#: KEYS: busy, next. ARGV: interval_ms. The next send may leave ``interval`` from now (or
#: after a pause set meanwhile, whichever is later).
RELEASE_RECIPIENT = """
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
local interval = tonumber(ARGV[1])
if interval > 0 and redis.call('PTTL', KEYS[2]) < interval then
  redis.call('SET', KEYS[2], '1', 'PX', interval)
end
return 0
"""

#: KEYS: busy, next. Returns the ms until a send to the recipient looks allowed (0: now).
PEEK_RECIPIENT = """
return math.max(0, redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2]))
"""


class RedisPacer(SendPacer):
    """The throughput cap per phone number and the spacing per recipient, shared through
    Redis by every process with the same server and ``prefix`` (see the module docstring).

    ``rate`` requests may arrive per ``period`` seconds per number; ``interval`` seconds
    between an answered send to a user and the next (0: only pauses); ``hold`` seconds at most
    that a slot stays held without an answer (a process died, or lost Redis, mid-request).
    """

    def __init__(
        self,
        url: str,
        *,
        rate: float,
        interval: float,
        hold: float,
        period: float = 1.0,
        prefix: str = "wahost:",
        client: Redis | None = None,
        socket_timeout: float = 5.0,
        connect_timeout: float = 2.0,
        max_connections: int = 100,
    ) -> None:
        self._owns_client = client is None
        self.client = client or connect(
            url,
            socket_timeout=socket_timeout,
            connect_timeout=connect_timeout,
            max_connections=max_connections,
        )
        self.rate = max(1, int(rate))
        self.period = period
        self.interval = interval
        self.hold = max(hold, period)
        self.prefix = prefix
        self._poll = period / 20
        self._tokens = (f"{os.getpid()}.{uuid.uuid4().hex[:8]}.{n}" for n in itertools.count())
        self._turns: dict[str, asyncio.Lock] = {}
        register = self.client.register_script
        self._acquire = register(ACQUIRE)
        self._acquire_for = register(ACQUIRE_FOR)
        self._release = register(RELEASE)
        self._extend = register(EXTEND)
        self._claim_recipient = register(CLAIM_RECIPIENT)
        self._release_recipient = register(RELEASE_RECIPIENT)
        self._peek_recipient = register(PEEK_RECIPIENT)

    def _keys(self, phone_number_id: str) -> list[str]:
        return [
            f"{self.prefix}pace:rate:{phone_number_id}",
            f"{self.prefix}pace:pause:{phone_number_id}",
        ]

    def _recipient_keys(self, recipient: str) -> list[str]:
        return [f"{self.prefix}pace:busy:{recipient}", f"{self.prefix}pace:next:{recipient}"]

    async def _call(self, awaitable: Awaitable[T]) -> T:
        return await guarded(self.client, awaitable, StoreUnavailable)

    async def acquire(self, phone_number_id: str) -> Slot:
        keys = self._keys(phone_number_id)
        token = next(self._tokens)
        args: list[int | str] = [self.rate, ms(self.hold), token]
        waited = await self._take(phone_number_id, lambda: self._acquire(keys=keys, args=args))
        return Slot(phone_number_id, token=token, waited=waited)

    async def acquire_for(
        self, phone_number_id: str | None, recipient: str | None
    ) -> tuple[Slot | None, float]:
        if phone_number_id is None or recipient is None:
            return await super().acquire_for(phone_number_id, recipient)
        # One script a send: the recipient's spacing, the number's pause and slots, and the
        # recipient's claim, where the general sequence takes three round trips.
        keys = [*self._keys(phone_number_id), *self._recipient_keys(recipient)]
        token = next(self._tokens)
        args: list[int | str] = [self.rate, ms(self.hold), token, ms(self.interval)]
        waited = await self._take(phone_number_id, lambda: self._acquire_for(keys=keys, args=args))
        return Slot(phone_number_id, token=token, waited=waited), waited

    async def _take(self, phone_number_id: str, ask: Callable[[], Awaitable[Any]]) -> float:
        """Run ``ask`` (a script granting a slot: 0, the ms to wait for the number, or minus
        the ms to wait for the recipient) until it grants; the seconds waited (0.0 when the
        first answer granted)."""
        turn = self._turns.get(phone_number_id)
        if turn is None:
            turn = self._turns[phone_number_id] = asyncio.Lock()
        began = time.monotonic()
        waited = False
        while True:
            wait_ms = 0
            if not turn.locked():
                # Nobody of this process waits for the number: ask at once. Under the cap
                # every concurrent send gets its slot in one round trip, instead of queueing
                # for its turn to ask.
                wait_ms = int(await self._call(ask()))
                if wait_ms == 0:
                    return time.monotonic() - began if waited else 0.0
            if wait_ms >= 0:  # the number's cap (or others of this process wait for it)
                async with turn:
                    while True:
                        wait_ms = int(await self._call(ask()))
                        if wait_ms <= 0:
                            break
                        waited = True
                        await asyncio.sleep(min(wait_ms / 1000, max(self._poll, 0.001)))
                if wait_ms == 0:
                    return time.monotonic() - began if waited else 0.0
            # The recipient's spacing or pause: waited out of the number's turn, so that the
            # sends to other users are not held behind it.
            waited = True
            await asyncio.sleep(min(-wait_ms / 1000, max(self._poll, 0.001)))

    async def release(self, slot: Slot) -> None:
        keys = self._keys(slot.phone_number_id)[:1]
        await self._quietly(self._release(keys=keys, args=[ms(self.period), slot.token]))

    async def cancel(self, slot: Slot) -> None:
        key = self._keys(slot.phone_number_id)[0]
        await self._quietly(self.client.zrem(key, slot.token))

    async def pause(self, phone_number_id: str, seconds: float) -> None:
        keys = self._keys(phone_number_id)[1:]
        await self._call(self._extend(keys=keys, args=[ms(seconds)]))

    async def wait_recipient(self, recipient: str) -> float:
        keys = self._recipient_keys(recipient)
        began = time.monotonic()
        waited = False
        while True:
            wait_ms = int(await self._call(self._peek_recipient(keys=keys)))
            if wait_ms == 0:
                return time.monotonic() - began if waited else 0.0
            waited = True
            await asyncio.sleep(min(wait_ms / 1000, max(self._poll, 0.001)))

    async def claim_recipient(self, recipient: str) -> bool:
        keys = self._recipient_keys(recipient)
        args = [ms(self.interval), ms(self.hold)]
        return int(await self._call(self._claim_recipient(keys=keys, args=args))) == 0

    async def release_recipient(self, recipient: str) -> None:
        if self.interval <= 0:  # nothing was claimed: only pauses apply
            return
        keys = self._recipient_keys(recipient)
        await self._quietly(self._release_recipient(keys=keys, args=[ms(self.interval)]))

    async def pause_recipient(self, recipient: str, seconds: float) -> None:
        keys = self._recipient_keys(recipient)[1:]
        await self._call(self._extend(keys=keys, args=[ms(seconds)]))

    async def _quietly(self, awaitable: Awaitable[object]) -> None:
        # Handing a slot back runs after the request, in a ``finally``: a Redis failure here
        # must not replace the request's own outcome. The slot then frees after ``hold``.
        try:
            await awaitable
        except RedisError as exc:
            log.warning(
                "could not hand a send slot back to Redis; it frees by itself",
                server=describe(self.client),
                seconds=self.hold,
                error=f"{type(exc).__name__}: {exc}",
            )

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()
