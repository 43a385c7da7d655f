"""Lua for the state store: conversations, namespaced keys, applied-unit markers.

Every script gets the key prefix as ``ARGV[1]`` and builds its key names from it (the keys of a
conversation or a namespace are only known from the arguments). The helpers here are also
pasted into the queue's ack script, so a unit's state changes commit with its ack.

Layout (``P`` is the prefix):

* ``P s:conv:<conversation>`` — hash ``n`` (name, absent for none), ``d`` (JSON data),
  ``t`` (updated at); ``PEXPIRE`` with the store's TTL on every write.
* ``P s:kv:<ns>:<key>`` — the value, with ``PX`` when the write has a TTL. ``<ns>`` has ``%``
  and ``:`` escaped, so the first ``:`` after it ends the namespace.
* ``P s:kvi:<ns>`` — sorted set, every member at score 0: the key index that ``kv_scan`` reads
  in byte (= code point) order with ``ZRANGEBYLEX``.
* ``P s:kvx:<ns>`` — sorted set of the keys that have a TTL, scored by expiry (ms); writes use
  it to drop a few expired keys from the index each time.
* ``P s:applied:<unit key>`` — the marker of a unit whose changes were applied (``PX``).

The changes of one unit are passed flat, from ``ARGV[i]``::

    at, conversation_ttl_ms, applied_ttl_ms, unit_key,
    n, n x (conversation, "s"|"d", has_name "1"|"0", name, data),
    m, m x (ns, key, "s"|"d", value, ttl_ms)
"""

from __future__ import annotations

STATE_HELPERS = r"""
local P = ARGV[1]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function kv_key(ns, key) return P .. 's:kv:' .. ns .. ':' .. key end

-- Drop from the index a few keys whose TTL has passed (Redis expired their values).
local function kv_purge(ns, now)
  local expiry = P .. 's:kvx:' .. ns
  for _, key in ipairs(redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 16)) do
    if redis.call('EXISTS', kv_key(ns, key)) == 0 then
      redis.call('ZREM', P .. 's:kvi:' .. ns, key)
      redis.call('ZREM', expiry, key)
    end
  end
end

-- Index a key just written, with its TTL in ms (0: none).
local function kv_indexed(ns, key, ttl, now)
  redis.call('ZADD', P .. 's:kvi:' .. ns, 0, key)
  if ttl > 0 then
    redis.call('ZADD', P .. 's:kvx:' .. ns, now + ttl, key)
  else
    redis.call('ZREM', P .. 's:kvx:' .. ns, key)
  end
  kv_purge(ns, now)
end

-- Set (value) or delete (value == nil) a key.
local function kv_write(ns, key, value, ttl, now)
  if value == nil then
    redis.call('DEL', kv_key(ns, key))
    redis.call('ZREM', P .. 's:kvi:' .. ns, key)
    redis.call('ZREM', P .. 's:kvx:' .. ns, key)
    return
  end
  if ttl > 0 then
    redis.call('SET', kv_key(ns, key), value, 'PX', ttl)
  else
    redis.call('SET', kv_key(ns, key), value)
  end
  kv_indexed(ns, key, ttl, now)
end

-- Replace ("s") or clear ("d") a conversation's state.
local function conv_write(conversation, op, has_name, name, data, at, ttl)
  local key = P .. 's:conv:' .. conversation
  redis.call('DEL', key)
  if op ~= 's' then return end
  if has_name == '1' then
    redis.call('HSET', key, 'd', data, 't', at, 'n', name)
  else
    redis.call('HSET', key, 'd', data, 't', at)
  end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end

-- Apply the changes encoded from ARGV[i] once; 0 when the unit was applied before.
local function apply_changes(i, now)
  local at, ttl, applied_ttl, unit_key = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  if not redis.call('SET', P .. 's:applied:' .. unit_key, 1, 'NX', 'PX', applied_ttl) then
    return 0
  end
  i = i + 4
  for _ = 1, tonumber(ARGV[i]) do
    conv_write(ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], at, ttl)
    i = i + 5
  end
  i = i + 1
  for _ = 1, tonumber(ARGV[i]) do
    local value = nil
    if ARGV[i + 3] == 's' then value = ARGV[i + 4] end
    kv_write(ARGV[i + 1], ARGV[i + 2], value, tonumber(ARGV[i + 5]), now)
    i = i + 5
  end
  return 1
end
"""

#: ARGV: prefix, then the changes. Returns 1, or 0 when already applied.
APPLY = (
    "#!lua\n"
    + STATE_HELPERS
    + r"""
return apply_changes(2, now_ms())
"""
)

#: ARGV: prefix, conversation, "s"|"d", has_name, name, data, at, ttl_ms.
SET_CONVERSATION = (
    "#!lua\n"
    + STATE_HELPERS
    + r"""
conv_write(ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8]))
return 1
"""
)

#: ARGV: prefix, ns, key, value ("" with delete=1), ttl_ms, delete. Returns 1.
KV_SET = (
    "#!lua\n"
    + STATE_HELPERS
    + r"""
local value = ARGV[4]
if ARGV[6] == '1' then value = nil end
kv_write(ARGV[2], ARGV[3], value, tonumber(ARGV[5]), now_ms())
return 1
"""
)

#: ARGV: prefix, ns, key, value, ttl_ms. Returns 1 when this call set the key.
KV_ADD = (
    "#!lua\n"
    + STATE_HELPERS
    + r"""
local ns, key, ttl = ARGV[2], ARGV[3], tonumber(ARGV[5])
local set
if ttl > 0 then
  set = redis.call('SET', kv_key(ns, key), ARGV[4], 'NX', 'PX', ttl)
else
  set = redis.call('SET', kv_key(ns, key), ARGV[4], 'NX')
end
if not set then return 0 end
kv_indexed(ns, key, ttl, now_ms())
return 1
"""
)

#: ARGV: prefix, ns, min, max (ZRANGEBYLEX bounds), limit. Returns key, value, key, value...
KV_SCAN = r"""#!lua flags=no-writes
local P, ns, limit = ARGV[1], ARGV[2], tonumber(ARGV[5])
local index = P .. 's:kvi:' .. ns
local out, offset = {}, 0
while #out < 2 * limit do
  local keys = redis.call('ZRANGEBYLEX', index, ARGV[3], ARGV[4], 'LIMIT', offset, 256)
  if #keys == 0 then break end
  for _, key in ipairs(keys) do
    local value = redis.call('GET', P .. 's:kv:' .. ns .. ':' .. key)
    if value then
      out[#out + 1] = key
      out[#out + 1] = value
      if #out >= 2 * limit then break end
    end
  end
  offset = offset + #keys
end
return out
"""
