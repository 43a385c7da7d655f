"""The tables and functions of one bot, in a PostgreSQL schema of its own (``wahost`` by default).

Queue tables:

* ``units`` — every unfinished or dead unit; ``id`` is the arrival order. A unit is leased while
  it has a ``token`` (until ``available_at``), else leasable from ``available_at`` (0: now; a
  later time while it waits for a retry). Done units are deleted; dead ones have ``dead``.
* ``lanes`` — one row per conversation with unfinished units: ``head_id`` its oldest, when the
  lane may be leased next (``available_at``: 0, a retry time or a lease's expiry) and the unit
  leased (``leased_id``). Leasing locks lanes with ``FOR UPDATE SKIP LOCKED``, so two workers
  never take one conversation; every change of a lane locks its row first, then its units.
* ``dedupe`` — every key enqueued within the dedupe TTL, with the id of the unit stored under it
  (a key whose unit is still stored is renewed, never purged).
* ``quarantine``, ``owners`` (the queues that lease, with ``alive_until``), ``counters``
  (``done``: units done, in shards so that acks do not queue on one row; ``waiting``: 1 under
  the owner's id while it waits for work), ``meta`` (the schema version).

State tables: ``conversations`` (``data`` is ``jsonb``), ``kv``, ``applied`` (unit keys whose
state changes were applied). Times are seconds since the epoch by the *server's* clock
(:func:`epoch`), so processes on machines whose clocks differ agree on leases and expiries.

Each operation of the queue is one function call (one round trip, one transaction): the
statements below are the whole of the queue's logic.
"""

from __future__ import annotations

#: The advisory lock (with ``hashtext`` of the channel) of the enqueues under way, taken shared
#: by each and exclusive by a worker that starts waiting for work.
WAITING_LOCK = 0x77616877

#: The version of the tables; ``meta`` holds it under ``schema``. Version 1 had no ``counters``
#: (``done`` was a row of ``meta``, a lock every ack queued on) nor ``owners.alive_until``.
SCHEMA_VERSION = 2

#: Version 2, idempotent: run at every start (after any migration).
TABLES = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.meta (name text PRIMARY KEY, value bigint NOT NULL);
CREATE SEQUENCE IF NOT EXISTS {s}.units_id_seq;
CREATE TABLE IF NOT EXISTS {s}.units (
    id bigint PRIMARY KEY DEFAULT nextval('{s}.units_id_seq'),
    key text COLLATE "C" NOT NULL,
    kind text NOT NULL,
    phone_number_id text NOT NULL,
    user_id text NOT NULL,
    conversation text COLLATE "C" NOT NULL,
    body bytea NOT NULL,
    dead boolean NOT NULL DEFAULT false,
    available_at double precision NOT NULL DEFAULT 0,
    attempts integer NOT NULL DEFAULT 0,
    token text,
    owner bigint,
    error text,
    died_at double precision
);
CREATE INDEX IF NOT EXISTS units_lane ON {s}.units (conversation, id) WHERE NOT dead;
CREATE INDEX IF NOT EXISTS units_dead ON {s}.units (died_at, id) WHERE dead;
CREATE INDEX IF NOT EXISTS units_dead_key ON {s}.units (key) WHERE dead;
CREATE TABLE IF NOT EXISTS {s}.lanes (
    conversation text COLLATE "C" PRIMARY KEY,
    head_id bigint NOT NULL,
    available_at double precision NOT NULL,
    leased_id bigint
);
CREATE INDEX IF NOT EXISTS lanes_ready ON {s}.lanes (head_id) WHERE available_at = 0;
CREATE INDEX IF NOT EXISTS lanes_waiting ON {s}.lanes (available_at, head_id)
    WHERE available_at > 0;
CREATE TABLE IF NOT EXISTS {s}.dedupe (
    key text COLLATE "C" PRIMARY KEY,
    expires_at double precision NOT NULL,
    unit_id bigint
);
CREATE INDEX IF NOT EXISTS dedupe_expires ON {s}.dedupe (expires_at);
CREATE TABLE IF NOT EXISTS {s}.quarantine (
    id bigserial PRIMARY KEY,
    received_at double precision NOT NULL,
    reason text NOT NULL,
    body bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.owners (
    id bigserial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    alive_until double precision NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS {s}.counters (
    name text NOT NULL,
    shard integer NOT NULL,
    value bigint NOT NULL,
    PRIMARY KEY (name, shard)
);
CREATE TABLE IF NOT EXISTS {s}.conversations (
    conversation text COLLATE "C" PRIMARY KEY,
    name text,
    data jsonb NOT NULL,
    updated_at double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_updated ON {s}.conversations (updated_at);
CREATE TABLE IF NOT EXISTS {s}.kv (
    namespace text COLLATE "C" NOT NULL,
    key text COLLATE "C" NOT NULL,
    value bytea NOT NULL,
    expires_at double precision,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS kv_expires ON {s}.kv (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.applied (
    unit_key text COLLATE "C" PRIMARY KEY,
    applied_at double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS applied_at ON {s}.applied (applied_at);
"""

#: The queue's operations. ``CREATE OR REPLACE``: every start installs this release's.
FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION {s}.epoch() RETURNS double precision
LANGUAGE sql VOLATILE AS $$ SELECT extract(epoch FROM clock_timestamp())::double precision $$;

-- Recompute a lane's head and availability after one of its units changed (its row locked).
CREATE OR REPLACE FUNCTION {s}.refresh_lane(p_conversation text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    head record;
    leased record;
    avail double precision;
BEGIN
    SELECT id, available_at INTO head FROM {s}.units
        WHERE conversation = p_conversation AND NOT dead ORDER BY id LIMIT 1;
    IF NOT FOUND THEN
        DELETE FROM {s}.lanes WHERE conversation = p_conversation;
        RETURN;
    END IF;
    avail := head.available_at;
    SELECT u.id, u.available_at INTO leased FROM {s}.lanes l JOIN {s}.units u ON u.id = l.leased_id
        WHERE l.conversation = p_conversation AND u.token IS NOT NULL;
    IF FOUND THEN
        -- A lane stays blocked while any of its units is leased (a replayed older unit waits).
        avail := greatest(avail, leased.available_at);
    END IF;
    INSERT INTO {s}.lanes (conversation, head_id, available_at, leased_id)
        VALUES (p_conversation, head.id, avail, leased.id)
        ON CONFLICT (conversation) DO UPDATE SET head_id = excluded.head_id,
            available_at = excluded.available_at, leased_id = excluded.leased_id;
END $$;

-- Store the units of one or more webhooks, deduplicated; returns which were new. Ids are
-- taken in arrival order, but keys and lanes are locked in sorted order, the same in every
-- transaction, so that two webhooks sharing keys or conversations in another order never
-- deadlock. The lane's row is
-- written (not only inserted) so that an ack finishing the lane's last unit waits for this
-- transaction, and does not drop a lane this transaction is adding a unit to.
CREATE OR REPLACE FUNCTION {s}.enqueue_claimed(
    p_keys text[], p_kinds text[], p_numbers text[], p_users text[], p_conversations text[],
    p_bodies bytea[], p_ttl double precision, p_channel text
) RETURNS boolean[]
LANGUAGE plpgsql AS $$
DECLARE
    t double precision := {s}.epoch();
    n integer := coalesce(array_length(p_keys, 1), 0);
    uids bigint[];
    claimed boolean[];
    added integer := 0;
    rows integer;
    i integer;
BEGIN
    IF n = 0 THEN
        RETURN ARRAY[]::boolean[];
    END IF;
    IF p_channel <> '' THEN
        -- Held until the commit: a worker starting to wait waits for this enqueue first.
        PERFORM pg_advisory_xact_lock_shared({waiting_lock}, hashtext(p_channel));
    END IF;
    uids := ARRAY(SELECT nextval('{s}.units_id_seq') FROM generate_series(1, n));
    claimed := array_fill(false, ARRAY[n]);
    -- Claim each key unless it is remembered and not expired, or its unit is still stored
    -- (dead, or waiting) past the expiry. A copy within the batch finds its first's claim.
    FOR i IN SELECT k.o FROM unnest(p_keys) WITH ORDINALITY AS k (key, o) ORDER BY k.key, k.o
    LOOP
        INSERT INTO {s}.dedupe AS d (key, expires_at, unit_id)
            VALUES (p_keys[i], t + p_ttl, uids[i])
            ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at,
                unit_id = excluded.unit_id
            WHERE d.expires_at <= t
                AND NOT EXISTS (SELECT 1 FROM {s}.units WHERE id = d.unit_id);
        GET DIAGNOSTICS rows = ROW_COUNT;
        claimed[i] := rows > 0;
    END LOOP;
    FOR i IN 1 .. n LOOP
        CONTINUE WHEN NOT claimed[i];
        INSERT INTO {s}.units (id, key, kind, phone_number_id, user_id, conversation, body)
            VALUES (uids[i], p_keys[i], p_kinds[i], p_numbers[i], p_users[i],
                    p_conversations[i], p_bodies[i]);
        added := added + 1;
    END LOOP;
    FOR i IN
        SELECT c.o FROM unnest(p_conversations) WITH ORDINALITY AS c (conversation, o)
        ORDER BY c.conversation, c.o
    LOOP
        CONTINUE WHEN NOT claimed[i];
        INSERT INTO {s}.lanes AS l (conversation, head_id, available_at)
            VALUES (p_conversations[i], uids[i], 0)
            ON CONFLICT (conversation) DO UPDATE SET head_id = least(l.head_id, excluded.head_id);
    END LOOP;
    -- Only a worker waiting for work needs a notification (a busy one leases again as it
    -- finishes a unit): one per enqueue would serialize the commits on the server's lock of
    -- notifications and wake every worker for every unit.
    IF added > 0 AND p_channel <> '' AND EXISTS (
        SELECT 1 FROM {s}.counters WHERE name = 'waiting' AND value > 0
    ) THEN
        PERFORM pg_notify(p_channel, '');
    END IF;
    RETURN claimed;
END $$;

-- How many of one webhook's units were new (the call of earlier releases).
CREATE OR REPLACE FUNCTION {s}.enqueue(
    p_keys text[], p_kinds text[], p_numbers text[], p_users text[], p_conversations text[],
    p_bodies bytea[], p_ttl double precision, p_channel text
) RETURNS integer
LANGUAGE sql AS $$
    SELECT count(*)::integer FROM unnest({s}.enqueue_claimed(p_keys, p_kinds, p_numbers,
        p_users, p_conversations, p_bodies, p_ttl, p_channel)) AS c (new) WHERE c.new
$$;

-- A worker starts (p_waiting) or stops waiting for work. Starting, it waits for the enqueues
-- under way (their shared lock): those that did not see it waiting commit before it looks for
-- work, and those that come after see it, and notify. Committed asynchronously: a crash ends
-- the waiting (the LISTEN connection) with it.
CREATE OR REPLACE FUNCTION {s}.set_waiting(p_owner bigint, p_waiting boolean, p_channel text)
RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    IF NOT p_waiting THEN
        DELETE FROM {s}.counters WHERE name = 'waiting' AND shard = p_owner;
        RETURN;
    END IF;
    INSERT INTO {s}.counters (name, shard, value) VALUES ('waiting', p_owner, 1)
        ON CONFLICT (name, shard) DO NOTHING;
    PERFORM pg_advisory_xact_lock({waiting_lock}, hashtext(p_channel));
END $$;

-- Lease up to p_limit lanes' heads, oldest first; lanes another transaction is leasing are
-- skipped, never waited for nor shared. ``first``: the unit's first handling ever (its first
-- lease, and it never died: a replayed unit keeps its died_at), whose sends need no look in
-- the outbox.
CREATE OR REPLACE FUNCTION {s}.lease_units(
    p_owner bigint, p_limit integer, p_seconds double precision, p_token text
) RETURNS TABLE (
    id bigint, key text, kind text, phone_number_id text, user_id text, conversation text,
    body bytea, attempts integer, expires_at double precision, first boolean
)
LANGUAGE plpgsql AS $$
DECLARE
    t double precision := {s}.epoch();
    expires double precision := t + p_seconds;
    lane record;
BEGIN
    FOR lane IN
        WITH ready AS (
            SELECT l.conversation, l.head_id, l.leased_id FROM {s}.lanes l
            WHERE l.available_at = 0 ORDER BY l.head_id LIMIT p_limit FOR UPDATE SKIP LOCKED
        ), due AS (
            SELECT l.conversation, l.head_id, l.leased_id FROM {s}.lanes l
            WHERE l.available_at > 0 AND l.available_at <= t ORDER BY l.head_id LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        )
        SELECT * FROM (SELECT * FROM ready UNION ALL SELECT * FROM due) picked
        ORDER BY picked.head_id LIMIT p_limit
    LOOP
        IF lane.leased_id IS NOT NULL AND lane.leased_id <> lane.head_id THEN
            -- An expired lease on a later unit that a replay overtook: revoke it so that its
            -- holder's ack fails instead of running concurrently.
            UPDATE {s}.units u SET token = NULL, available_at = 0, owner = NULL
                WHERE u.id = lane.leased_id;
        END IF;
        UPDATE {s}.units u SET attempts = u.attempts + 1, token = p_token,
                available_at = expires, owner = p_owner
            WHERE u.id = lane.head_id
            RETURNING u.id, u.key, u.kind, u.phone_number_id, u.user_id, u.conversation, u.body,
                u.attempts, expires, u.attempts = 1 AND u.died_at IS NULL
            INTO id, key, kind, phone_number_id, user_id, conversation, body, attempts,
                expires_at, first;
        UPDATE {s}.lanes l SET available_at = expires, leased_id = lane.head_id
            WHERE l.conversation = lane.conversation;
        RETURN NEXT;
    END LOOP;
END $$;

-- lease_units without ``first`` (the call of earlier releases).
CREATE OR REPLACE FUNCTION {s}.lease(
    p_owner bigint, p_limit integer, p_seconds double precision, p_token text
) RETURNS TABLE (
    id bigint, key text, kind text, phone_number_id text, user_id text, conversation text,
    body bytea, attempts integer, expires_at double precision
)
LANGUAGE sql AS $$
    SELECT l.id, l.key, l.kind, l.phone_number_id, l.user_id, l.conversation, l.body,
        l.attempts, l.expires_at
    FROM {s}.lease_units(p_owner, p_limit, p_seconds, p_token) AS l
$$;

-- The conversation of a lease still held, its lane locked; NULL when the lease was lost.
CREATE OR REPLACE FUNCTION {s}.take(p_id bigint, p_token text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    c text;
BEGIN
    SELECT conversation INTO c FROM {s}.units WHERE id = p_id AND token = p_token;
    IF c IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM {s}.lanes WHERE conversation = c FOR UPDATE;
    -- Again under the lane's lock: a lease may have taken the unit meanwhile.
    PERFORM 1 FROM {s}.units WHERE id = p_id AND token = p_token;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN c;
END $$;

-- Finish a lease: 'ack', 'retry' (after p_seconds), 'dead' or 'extend' (by p_seconds).
-- False when the lease was lost (nothing changed).
CREATE OR REPLACE FUNCTION {s}.finish(
    p_id bigint, p_token text, p_action text, p_seconds double precision, p_error text
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    c text := {s}.take(p_id, p_token);
    t double precision := {s}.epoch();
BEGIN
    IF c IS NULL THEN
        RETURN false;
    END IF;
    IF p_action = 'ack' THEN
        DELETE FROM {s}.units WHERE id = p_id;
        -- One row per connection's shard: acks of different connections take different locks
        -- (each holds its row until its commit is on disk; with 8 shards the acks of two
        -- workers' pools waited for each other's commits).
        INSERT INTO {s}.counters AS k (name, shard, value)
            VALUES ('done', pg_backend_pid() % 1024, 1)
            ON CONFLICT (name, shard) DO UPDATE SET value = k.value + 1;
    ELSIF p_action = 'retry' THEN
        UPDATE {s}.units SET token = NULL, owner = NULL, error = p_error,
            available_at = t + greatest(p_seconds, 0) WHERE id = p_id;
    ELSIF p_action = 'dead' THEN
        UPDATE {s}.units SET dead = true, token = NULL, owner = NULL, error = p_error,
            died_at = t WHERE id = p_id;
    ELSE
        UPDATE {s}.units SET available_at = t + p_seconds WHERE id = p_id;
    END IF;
    PERFORM {s}.refresh_lane(c);
    RETURN true;
END $$;

-- Ack several leases in one transaction; which were still held. The caller gives them in the
-- order of their conversations, the order in which every transaction locks lanes.
CREATE OR REPLACE FUNCTION {s}.ack_many(p_ids bigint[], p_tokens text[]) RETURNS boolean[]
LANGUAGE plpgsql AS $$
DECLARE
    held boolean[] := ARRAY[]::boolean[];
BEGIN
    FOR i IN 1 .. coalesce(array_length(p_ids, 1), 0) LOOP
        held := held || {s}.finish(p_ids[i], p_tokens[i], 'ack', 0, NULL);
    END LOOP;
    RETURN held;
END $$;

-- Put dead units back under their original ids; returns how many.
CREATE OR REPLACE FUNCTION {s}.replay(p_key text, p_channel text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    c text;
    n integer := 0;
BEGIN
    FOR c IN
        SELECT DISTINCT u.conversation FROM {s}.units u
        WHERE u.dead AND (p_key IS NULL OR u.key = p_key) ORDER BY 1
    LOOP
        -- The lane's lock first (it may not exist: a dead unit's lane may be gone).
        PERFORM 1 FROM {s}.lanes WHERE conversation = c FOR UPDATE;
        WITH back AS (
            -- died_at stays: it tells the unit's next lease that it was handled before.
            UPDATE {s}.units SET dead = false, attempts = 0, available_at = 0, error = NULL
            WHERE conversation = c AND dead AND (p_key IS NULL OR key = p_key) RETURNING 1
        ) SELECT n + count(*) INTO n FROM back;
        PERFORM {s}.refresh_lane(c);
    END LOOP;
    IF n > 0 AND p_channel <> '' THEN
        PERFORM pg_notify(p_channel, '');
    END IF;
    RETURN n;
END $$;

-- Release every lease of an owner known dead, as if it had expired, and forget the owner.
CREATE OR REPLACE FUNCTION {s}.release_owner(p_owner bigint, p_channel text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    lane record;
    n integer := 0;
BEGIN
    FOR lane IN
        SELECT l.conversation, l.leased_id FROM {s}.lanes l JOIN {s}.units u ON u.id = l.leased_id
        WHERE l.available_at > 0 AND u.owner = p_owner AND u.token IS NOT NULL
        ORDER BY l.conversation  -- lanes are locked in one order by every transaction
        FOR UPDATE OF l
    LOOP
        UPDATE {s}.units SET token = NULL, available_at = 0, owner = NULL
            WHERE id = lane.leased_id AND owner = p_owner AND token IS NOT NULL;
        IF FOUND THEN
            n := n + 1;
            PERFORM {s}.refresh_lane(lane.conversation);
        END IF;
    END LOOP;
    DELETE FROM {s}.owners WHERE id = p_owner;
    DELETE FROM {s}.counters WHERE name = 'waiting' AND shard = p_owner;
    IF n > 0 AND p_channel <> '' THEN
        PERFORM pg_notify(p_channel, '');
    END IF;
    RETURN n;
END $$;

-- Apply a unit's buffered state changes once; false (nothing written) when its key was
-- applied before. A conversation whose data is NULL is cleared; a key whose value is NULL is
-- deleted; a key's ttl NULL keeps it forever.
CREATE OR REPLACE FUNCTION {s}.apply_changes(
    p_unit_key text, p_conversations text[], p_names text[], p_datas text[],
    p_namespaces text[], p_keys text[], p_values bytea[], p_ttls double precision[]
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    t double precision := {s}.epoch();
    n integer;
BEGIN
    INSERT INTO {s}.applied (unit_key, applied_at) VALUES (p_unit_key, t)
        ON CONFLICT (unit_key) DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        RETURN false;
    END IF;
    FOR i IN 1 .. coalesce(array_length(p_conversations, 1), 0) LOOP
        IF p_datas[i] IS NULL THEN
            DELETE FROM {s}.conversations WHERE conversation = p_conversations[i];
        ELSE
            INSERT INTO {s}.conversations (conversation, name, data, updated_at)
                VALUES (p_conversations[i], p_names[i], p_datas[i]::jsonb, t)
                ON CONFLICT (conversation) DO UPDATE SET name = excluded.name,
                    data = excluded.data, updated_at = excluded.updated_at;
        END IF;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(p_keys, 1), 0) LOOP
        IF p_values[i] IS NULL THEN
            DELETE FROM {s}.kv WHERE namespace = p_namespaces[i] AND key = p_keys[i];
        ELSE
            INSERT INTO {s}.kv (namespace, key, value, expires_at)
                VALUES (p_namespaces[i], p_keys[i], p_values[i], t + p_ttls[i])
                ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value,
                    expires_at = excluded.expires_at;
        END IF;
    END LOOP;
    RETURN true;
END $$;

-- Delete up to p_batch expired dedupe keys (all with NULL); renew those whose unit is stored.
CREATE OR REPLACE FUNCTION {s}.purge_dedupe(p_batch integer, p_ttl double precision)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    t double precision := {s}.epoch();
    n integer;
BEGIN
    UPDATE {s}.dedupe d SET expires_at = t + p_ttl
        WHERE d.key IN (SELECT key FROM {s}.dedupe WHERE expires_at <= t LIMIT p_batch)
        AND EXISTS (SELECT 1 FROM {s}.units WHERE id = d.unit_id);
    DELETE FROM {s}.dedupe d
        WHERE d.key IN (SELECT key FROM {s}.dedupe WHERE expires_at <= t LIMIT p_batch)
        AND NOT EXISTS (SELECT 1 FROM {s}.units WHERE id = d.unit_id);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
"""

FUNCTIONS = FUNCTIONS.replace("{waiting_lock}", str(WAITING_LOCK))

#: Statements moving version 1 to version 2 (inside the migration's transaction).
MIGRATE_FROM_1 = """
CREATE TABLE {s}.counters (
    name text NOT NULL, shard integer NOT NULL, value bigint NOT NULL, PRIMARY KEY (name, shard)
);
INSERT INTO {s}.counters (name, shard, value)
    SELECT 'done', 0, value FROM {s}.meta WHERE name = 'done';
DELETE FROM {s}.meta WHERE name = 'done';
ALTER TABLE {s}.owners ADD COLUMN alive_until double precision NOT NULL DEFAULT 0;
UPDATE {s}.meta SET value = 2 WHERE name = 'schema';
"""

MIGRATIONS = {1: MIGRATE_FROM_1}

_COUNTERS = """CREATE TABLE IF NOT EXISTS {s}.counters (
    name text NOT NULL,
    shard integer NOT NULL,
    value bigint NOT NULL,
    PRIMARY KEY (name, shard)
);
"""
_ALIVE_UNTIL = """,
    alive_until double precision NOT NULL DEFAULT 0
);"""

#: The tables of version 1 (to test the upgrade; never created by a start).
SCHEMA_1 = (
    TABLES.replace(_COUNTERS, "").replace(_ALIVE_UNTIL, "\n);")
    + "INSERT INTO {s}.meta VALUES ('schema', 1), ('done', 0);"
)
assert SCHEMA_1.count("counters") == 0 and SCHEMA_1.count("alive_until") == 0
