"""Lua for the queue: every change of a unit is one script, so it is atomic and ordered.

``ARGV[1]`` is the key prefix ``P``. Times are milliseconds of the Redis server's clock
(``TIME``), so the workers' clocks never decide when a lease expires. Layout:

* ``P q:arrivals`` — the stream of units in arrival order; entry id ``<seq>-0`` with fields
  ``k`` key, ``t`` kind, ``n`` phone number id, ``u`` user, ``c`` conversation, ``b`` body.
  Consumer group ``wahost``: every stored entry is pending (in the group's PEL) under the
  consumer that holds it — the worker that leased it, ``~waiting`` (not leased) or ``~dead``.
  ``ack`` is ``XACK`` + ``XDEL``; a lease moves the entry with ``XCLAIM``.
* ``P q:seq`` — the arrival counter (the stream ids, ordering scores and ``Lease.id``).
* ``P q:u:<seq>`` — hash: ``k`` key, ``c`` conversation, ``a`` attempts, while leased ``tok``,
  ``exp`` and ``own`` (the lease's owner, :class:`wahost.queue.owner.Owner` text); ``due``
  (retry time), ``err``, ``died`` (kept when the dead unit is replayed: its next lease is not
  its first handling).
* ``P q:alive:<owner>`` — an owner's liveness record: set with a short TTL by every lease that
  hands out units and renewed by the owner's process while it runs; once it expires, the owner
  is dead.
* ``P q:keys`` — hash unit key -> seq of every stored (unfinished or dead) unit.
* ``P q:lane:<conversation>`` — sorted set of the conversation's unfinished, not dead units
  (score = seq): its head is the only unit of the conversation that may be leased.
* ``P q:ready`` — conversations leasable now, scored by their head's seq (oldest first).
* ``P q:timers`` — conversations blocked until a time: a lease's expiry or a retry's due time.
* ``P q:holders`` — hash conversation -> seq of the unit leased (at most one per conversation).
* ``P q:retrying`` (seq -> due), ``P q:dead`` (seq -> died), ``P q:done`` (counter),
  ``P q:dedupe:<key>`` (``SET NX PX``), ``P q:quarantine`` (stream).

Invariant, restored by ``refresh`` after every change of a conversation: it is in ``ready``
when it has a head, no live lease and no pending retry; in ``timers`` when blocked; in neither
when it has no unfinished unit.
"""

from __future__ import annotations

QUEUE_HELPERS = r"""
local P = ARGV[1]
local STREAM = P .. 'q:arrivals'
local GROUP = 'wahost'
local WAITING = '~waiting'
local READY = P .. 'q:ready'
local TIMERS = P .. 'q:timers'
local HOLDERS = P .. 'q:holders'
local RETRYING = P .. 'q:retrying'
local DEAD = P .. 'q:dead'
local STORED = P .. 'q:keys'

local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function unit(seq) return P .. 'q:u:' .. seq end
local function lane(conversation) return P .. 'q:lane:' .. conversation end
local function entry(seq) return seq .. '-0' end
local function alive(owner) return P .. 'q:alive:' .. owner end

-- Hand the stream entry of a unit to a consumer of the group (no-op if not pending).
local function give(seq, consumer)
  redis.call('XCLAIM', STREAM, GROUP, consumer, 0, entry(seq), 'JUSTID')
end

-- Put a conversation in ready or timers (or neither) from its current head and lease.
local function refresh(conversation, now)
  local head = redis.call('ZRANGE', lane(conversation), 0, 0)[1]
  if not head then
    redis.call('ZREM', READY, conversation)
    redis.call('ZREM', TIMERS, conversation)
    redis.call('HDEL', HOLDERS, conversation)
    return
  end
  local at = 0
  local holder = redis.call('HGET', HOLDERS, conversation)
  if holder then at = tonumber(redis.call('HGET', unit(holder), 'exp') or 0) end
  local due = tonumber(redis.call('HGET', unit(head), 'due') or 0)
  if due > at then at = due end
  if at > now then
    redis.call('ZREM', READY, conversation)
    redis.call('ZADD', TIMERS, at, conversation)
  else
    redis.call('ZREM', TIMERS, conversation)
    redis.call('ZADD', READY, head, conversation)
  end
end

-- The conversation of a unit whose lease token is still ARGV token, or nil (lease lost).
local function held(seq, token)
  local fields = redis.call('HMGET', unit(seq), 'tok', 'c')
  if fields[1] ~= token then return nil end
  return fields[2]
end

-- End the lease of a unit: no token, not its lane's holder, its entry handed to consumer.
local function release(seq, conversation, consumer)
  redis.call('HDEL', unit(seq), 'tok', 'exp', 'own')
  if redis.call('HGET', HOLDERS, conversation) == seq then
    redis.call('HDEL', HOLDERS, conversation)
  end
  give(seq, consumer)
end
"""

#: ARGV: prefix, dedupe_ms, then 6 per unit: key, kind, phone_number_id, user, conversation,
#: body. Returns how many units were stored.
ENQUEUE = (
    "#!lua\n"
    + QUEUE_HELPERS
    + r"""
-- Before any write: the group must exist, or XREADGROUP below would fail half-way (open()
-- creates both; this covers a stream deleted since).
if redis.call('EXISTS', STREAM) == 0 then
  redis.call('XGROUP', 'CREATE', STREAM, GROUP, '$', 'MKSTREAM')
end
local dedupe_ms = ARGV[2]
local added = 0
for i = 3, #ARGV, 6 do
  local key, conversation = ARGV[i], ARGV[i + 4]
  -- A key remembered within the TTL is a duplicate (also a repeat within this batch); a
  -- key forgotten while its unit is still stored (dead, or waiting that long) is one too.
  if redis.call('SET', P .. 'q:dedupe:' .. key, 1, 'NX', 'PX', dedupe_ms)
      and redis.call('HEXISTS', STORED, key) == 0 then
    local seq = string.format('%d', redis.call('INCR', P .. 'q:seq'))
    redis.call('XADD', STREAM, entry(seq), 'k', key, 't', ARGV[i + 1], 'n', ARGV[i + 2],
      'u', ARGV[i + 3], 'c', conversation, 'b', ARGV[i + 5])
    redis.call('HSET', STORED, key, seq)
    redis.call('HSET', unit(seq), 'k', key, 'c', conversation, 'a', 0)
    redis.call('ZADD', lane(conversation), seq, seq)
    if redis.call('ZCARD', lane(conversation)) == 1 then
      redis.call('ZADD', READY, seq, conversation)
    end
    added = added + 1
  end
end
-- Deliver the new entries to the group: they are pending under ~waiting until leased.
if added > 0 then
  redis.call('XREADGROUP', 'GROUP', GROUP, WAITING, 'COUNT', added, 'STREAMS', STREAM, '>')
end
return added
"""
)

#: ARGV: prefix, limit, lease_ms, token, consumer, owner, owner_ttl_ms.
#: Returns {expires_ms, {{seq, attempt, {field, value, ...}}, ...}}.
LEASE = (
    "#!lua\n"
    + QUEUE_HELPERS
    + r"""
local now = clock()
local limit, token, consumer, owner = tonumber(ARGV[2]), ARGV[4], ARGV[5], ARGV[6]
local expires = now + tonumber(ARGV[3])
for _, conversation in ipairs(redis.call('ZRANGEBYSCORE', TIMERS, '-inf', now,
    'LIMIT', 0, 1000)) do
  refresh(conversation, now)
end
local out = {}
for _, conversation in ipairs(redis.call('ZRANGE', READY, 0, limit - 1)) do
  local head = redis.call('ZRANGE', lane(conversation), 0, 0)[1]
  local holder = redis.call('HGET', HOLDERS, conversation)
  if holder and holder ~= head then
    -- An expired lease on a later unit that a replayed older unit overtook: revoke it, so
    -- that its holder's ack is refused rather than running two units at once.
    release(holder, conversation, WAITING)
  end
  local u = unit(head)
  local attempt = redis.call('HINCRBY', u, 'a', 1)
  redis.call('HSET', u, 'tok', token, 'exp', expires, 'own', owner)
  redis.call('HDEL', u, 'due')
  redis.call('ZREM', RETRYING, head)
  redis.call('HSET', HOLDERS, conversation, head)
  redis.call('ZREM', READY, conversation)
  redis.call('ZADD', TIMERS, expires, conversation)
  local claimed = redis.call('XCLAIM', STREAM, GROUP, consumer, 0, entry(head))[1]
  if not claimed then  -- not pending (the group was recreated): read it directly
    claimed = redis.call('XRANGE', STREAM, entry(head), entry(head))[1]
  end
  -- A unit that died keeps 'died' when it is replayed: its next lease is not a first one.
  out[#out + 1] = {head, attempt, claimed[2], redis.call('HEXISTS', u, 'died')}
end
if #out > 0 then
  -- Whoever stamps a lease is alive at that moment, whatever its own refresher did. Only
  -- then: an idle poll writes nothing (no AOF append, no fsync).
  redis.call('SET', alive(owner), 1, 'PX', ARGV[7])
end
return {expires, out}
"""
)

#: ARGV: prefix. Returns {owner, 1 if its liveness record exists else 0, ...}: every owner
#: that holds a lease (leases taken before owners were stamped name none).
OWNERS = (
    "#!lua flags=no-writes\n"
    + QUEUE_HELPERS
    + r"""
local seen, out = {}, {}
for _, seq in ipairs(redis.call('HVALS', HOLDERS)) do
  local f = redis.call('HMGET', unit(seq), 'tok', 'own')
  if f[1] and f[2] and not seen[f[2]] then
    seen[f[2]] = true
    out[#out + 1] = f[2]
    out[#out + 1] = redis.call('EXISTS', alive(f[2]))
  end
end
return out
"""
)

#: ARGV: prefix, "1" to count an owner whose liveness record expired as dead (else "0"), the
#: caller's own owner (never released), then owners known dead. Releases their leases as if
#: they had expired (the unit leasable now, in place; attempts kept; the stale token refused).
#: Expiry is read here, not by the caller, so an owner that refreshed meanwhile keeps its
#: leases. Returns {owner, leases released, ...}.
RELEASE_OWNERS = (
    "#!lua\n"
    + QUEUE_HELPERS
    + r"""
local now = clock()
local expired_too, me = ARGV[2] == '1', ARGV[3]
local dead = {[me] = false}
for i = 4, #ARGV do dead[ARGV[i]] = true end
local counts = {}
local holders = redis.call('HGETALL', HOLDERS)
for i = 1, #holders, 2 do
  local conversation, seq = holders[i], holders[i + 1]
  local f = redis.call('HMGET', unit(seq), 'tok', 'own')
  local owner = f[2]
  if f[1] and owner then
    if dead[owner] == nil then
      dead[owner] = expired_too and redis.call('EXISTS', alive(owner)) == 0
    end
    if dead[owner] then
      release(seq, conversation, WAITING)
      refresh(conversation, now)
      counts[owner] = (counts[owner] or 0) + 1
    end
  end
end
local out = {}
for owner, count in pairs(counts) do
  out[#out + 1] = owner
  out[#out + 1] = count
end
return out
"""
)

#: ARGV: prefix, seq, token, lease_ms, consumer. Returns the new expiry, or 0 (lease lost).
EXTEND = (
    "#!lua\n"
    + QUEUE_HELPERS
    + r"""
local seq = ARGV[2]
local conversation = held(seq, ARGV[3])
if not conversation then return 0 end
local now = clock()
local expires = now + tonumber(ARGV[4])
redis.call('HSET', unit(seq), 'exp', expires)
give(seq, ARGV[5])  -- resets the entry's idle time: XPENDING shows the last heartbeat
refresh(conversation, now)
return expires
"""
)

#: ARGV: prefix, seq, token, has_changes ("1"|"0"), then the changes (see lua_state).
#: Returns 1, or 0 when the lease was lost (nothing is changed then).
ACK_HEAD = r"""
local seq = ARGV[2]
local conversation = held(seq, ARGV[3])
if not conversation then return 0 end
local now = clock()
redis.call('XACK', STREAM, GROUP, entry(seq))
redis.call('XDEL', STREAM, entry(seq))
redis.call('HDEL', STORED, redis.call('HGET', unit(seq), 'k'))
redis.call('DEL', unit(seq))
redis.call('ZREM', lane(conversation), seq)
if redis.call('HGET', HOLDERS, conversation) == seq then
  redis.call('HDEL', HOLDERS, conversation)
end
redis.call('INCR', P .. 'q:done')
refresh(conversation, now)
if ARGV[4] == '1' then apply_changes(5, now) end
return 1
"""

#: ARGV: prefix, seq, token, delay_ms, error. Returns 1, or 0 (lease lost).
RETRY = (
    "#!lua\n"
    + QUEUE_HELPERS
    + r"""
local seq = ARGV[2]
local conversation = held(seq, ARGV[3])
if not conversation then return 0 end
local now = clock()
local due = now + tonumber(ARGV[4])
release(seq, conversation, WAITING)
redis.call('HSET', unit(seq), 'due', due, 'err', ARGV[5])
if due > now then redis.call('ZADD', RETRYING, due, seq) end
refresh(conversation, now)
return 1
"""
)

#: ARGV: prefix, seq, token, error. Returns 1, or 0 (lease lost).
DEAD = (
    "#!lua\n"
    + QUEUE_HELPERS
    + r"""
local seq = ARGV[2]
local conversation = held(seq, ARGV[3])
if not conversation then return 0 end
local now = clock()
release(seq, conversation, '~dead')
redis.call('HDEL', unit(seq), 'due')
redis.call('HSET', unit(seq), 'err', ARGV[4], 'died', now)
redis.call('ZREM', RETRYING, seq)
redis.call('ZREM', lane(conversation), seq)
redis.call('ZADD', DEAD, now, seq)
refresh(conversation, now)
return 1
"""
)

#: ARGV: prefix, "key" and a unit key, or "all" and a batch size. Returns how many replayed.
#: A replayed unit goes back into its lane under its original seq: its original place.
REPLAY = (
    "#!lua\n"
    + QUEUE_HELPERS
    + r"""
local now = clock()
local seqs
if ARGV[2] == 'key' then
  local seq = redis.call('HGET', STORED, ARGV[3])
  if not seq or not redis.call('ZSCORE', DEAD, seq) then return 0 end
  seqs = {seq}
else
  seqs = redis.call('ZRANGE', DEAD, 0, tonumber(ARGV[3]) - 1)
end
for _, seq in ipairs(seqs) do
  local conversation = redis.call('HGET', unit(seq), 'c')
  redis.call('ZREM', DEAD, seq)
  redis.call('HDEL', unit(seq), 'err', 'due')
  redis.call('HSET', unit(seq), 'a', 0)
  redis.call('ZADD', lane(conversation), seq, seq)
  give(seq, WAITING)
  refresh(conversation, now)
end
return #seqs
"""
)

#: ARGV: prefix, limit. Returns {{seq, {fields}, attempts, error, died_ms}, ...}, oldest first.
LIST_DEAD = (
    "#!lua flags=no-writes\n"
    + QUEUE_HELPERS
    + r"""
local out = {}
for _, seq in ipairs(redis.call('ZRANGE', DEAD, 0, tonumber(ARGV[2]) - 1)) do
  local fields = redis.call('XRANGE', STREAM, entry(seq), entry(seq))[1]
  local meta = redis.call('HMGET', unit(seq), 'a', 'err', 'died')
  out[#out + 1] = {seq, fields[2], meta[1], meta[2] or '', meta[3]}
end
return out
"""
)

#: ARGV: prefix. Returns {stored, leased, waiting_retry, dead, done, quarantined}.
STATS = (
    "#!lua flags=no-writes\n"
    + QUEUE_HELPERS
    + r"""
local now = clock()
return {
  redis.call('XLEN', STREAM),
  redis.call('HLEN', HOLDERS),
  redis.call('ZCOUNT', RETRYING, '(' .. now, '+inf'),
  redis.call('ZCARD', DEAD),
  tonumber(redis.call('GET', P .. 'q:done') or 0),
  redis.call('XLEN', P .. 'q:quarantine'),
}
"""
)

#: ARGV: prefix, consumer, idle_ms ("-1": this consumer only). Deletes worker consumers of
#: the group that hold nothing (and idled that long); a consumer with pending entries stays.
FORGET_CONSUMERS = (
    "#!lua\n"
    + QUEUE_HELPERS
    + r"""
if redis.call('EXISTS', STREAM) == 0 then return 0 end
local ok, consumers = pcall(redis.call, 'XINFO', 'CONSUMERS', STREAM, GROUP)
if not ok then return 0 end
local deleted = 0
for _, info in ipairs(consumers) do
  local c = {}
  for i = 1, #info, 2 do c[info[i]] = info[i + 1] end
  local mine = c['name'] == ARGV[2]
  local stale = ARGV[3] ~= '-1' and string.sub(c['name'], 1, 2) == 'w:'
    and c['idle'] > tonumber(ARGV[3])
  if c['pending'] == 0 and (mine or stale) then
    redis.call('XGROUP', 'DELCONSUMER', STREAM, GROUP, c['name'])
    deleted = deleted + 1
  end
end
return deleted
"""
)
