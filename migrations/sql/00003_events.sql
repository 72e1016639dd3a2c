-- Events, waits for events, schedules, key-value state and the operator's
-- settings (env and secrets).

-- +goose Up

-- Every event accepted by POST /v1/events, kept for audit. Invocations the
-- event started name it (invocations.event_id); waits it ended name it too.
CREATE TABLE powny.events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedup_key    text,
    body         jsonb       NOT NULL,
    started      integer     NOT NULL DEFAULT 0, -- invocations it started
    woke         integer     NOT NULL DEFAULT 0, -- waiting invocations it woke
    received_at  timestamptz NOT NULL DEFAULT now()
);
-- A repeated dedup key is acknowledged and starts or wakes nothing.
CREATE UNIQUE INDEX events_dedup_key ON powny.events (dedup_key) WHERE dedup_key IS NOT NULL;
CREATE INDEX events_received_at ON powny.events (received_at);

-- No foreign key, for the reason invocations have none to functions. The
-- column never changes once set, so its index keeps the updates of a run HOT.
ALTER TABLE powny.invocations ADD COLUMN event_id bigint;
CREATE INDEX invocations_event ON powny.invocations (event_id) WHERE event_id IS NOT NULL;

-- Bumped by every deploy and rollback, in its transaction: API processes
-- keep the trigger filters of all functions in memory and reload them when
-- this changes.
CREATE TABLE powny.trigger_revision (
    id        integer PRIMARY KEY CHECK (id = 1),
    revision  bigint  NOT NULL
);
INSERT INTO powny.trigger_revision VALUES (1, 0);

-- wait_event() calls: one row per call (the effect seq in the invocation's
-- journal). The row is the arbiter between an event and the timeout: an
-- event sets state 'delivered' only where it is still 'waiting', and so does
-- a timeout set 'timeout'. Rows are kept with their invocation, for audit.
CREATE TABLE powny.waits (
    invocation_id  bigint      NOT NULL REFERENCES powny.invocations (id) ON DELETE CASCADE,
    seq            integer     NOT NULL,
    filter         jsonb       NOT NULL,
    -- "path=value" keys of the filter's exact fields (any one must be in the
    -- event); empty when the filter has none, and then every event is a candidate.
    anchors        text[]      NOT NULL,
    deadline       timestamptz NOT NULL,
    state          text        NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'delivered', 'timeout')),
    event_id       bigint,
    created_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    PRIMARY KEY (invocation_id, seq)
);
CREATE INDEX waits_anchors ON powny.waits USING gin (anchors) WHERE state = 'waiting';
CREATE INDEX waits_unanchored ON powny.waits (invocation_id) WHERE state = 'waiting' AND anchors = '{}';
CREATE INDEX waits_event ON powny.waits (event_id) WHERE event_id IS NOT NULL;

-- Invocations an event woke while their worker was still ending the attempt
-- that registered the wait (River had not yet snoozed the job): the
-- collector's sweep makes their job available once River has.
CREATE TABLE powny.wakeups (
    invocation_id  bigint      PRIMARY KEY REFERENCES powny.invocations (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- config.schedule of the active versions: the collector leader starts the
-- function at each tick. next_at is the next tick to fire.
CREATE TABLE powny.schedules (
    function_id         bigint      PRIMARY KEY REFERENCES powny.functions (id) ON DELETE CASCADE,
    spec                text        NOT NULL,
    next_at             timestamptz NOT NULL,
    last_at             timestamptz, -- the last tick fired
    last_invocation_id  bigint
);
CREATE INDEX schedules_next_at ON powny.schedules (next_at);

-- kv: durable key-value state of functions, namespaced (by default, the
-- function's name).
CREATE TABLE powny.kv (
    namespace   text        NOT NULL,
    key         text        NOT NULL,
    value       jsonb       NOT NULL,
    version     bigint      NOT NULL DEFAULT 1, -- bumped by every write
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  bigint, -- the invocation that wrote it last
    PRIMARY KEY (namespace, key)
);

-- The operator's settings: env(name) reads kind 'env', secret(name) kind
-- 'secret'. Secret values are never shown by the API or the audit views.
CREATE TABLE powny.settings (
    kind        text        NOT NULL CHECK (kind IN ('env', 'secret')),
    name        text        NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,127}$'),
    value       text        NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, name)
);

CREATE VIEW public.powny_events AS
SELECT e.id,
       e.dedup_key,
       e.body,
       e.started,
       e.woke,
       e.received_at
FROM powny.events e;

CREATE VIEW public.powny_waits AS
SELECT w.invocation_id,
       f.name          AS function,
       w.seq,
       w.filter,
       w.deadline,
       w.state,
       w.event_id,
       w.created_at,
       w.resolved_at
FROM powny.waits w
JOIN powny.invocations i ON i.id = w.invocation_id
JOIN powny.functions f ON f.id = i.function_id;

CREATE VIEW public.powny_schedules AS
SELECT f.name          AS function,
       s.spec,
       s.next_at,
       s.last_at,
       s.last_invocation_id
FROM powny.schedules s
JOIN powny.functions f ON f.id = s.function_id;

CREATE VIEW public.powny_kv AS
SELECT namespace, key, value, version, updated_at, updated_by
FROM powny.kv;

-- Names only for secrets.
CREATE VIEW public.powny_settings AS
SELECT kind,
       name,
       CASE WHEN kind = 'secret' THEN NULL ELSE value END AS value,
       updated_at
FROM powny.settings;

-- The audit view of invocations gains the event that started each.
CREATE OR REPLACE VIEW public.powny_invocations AS
SELECT i.id,
       f.name                       AS function,
       v.number                     AS version,
       i.trigger,
       i.state,
       i.attempts,
       i.failures,
       i.max_attempts,
       (SELECT count(*) FROM powny.checkpoints c WHERE c.invocation_id = i.id) AS checkpoints,
       (SELECT COALESCE(sum(c.entry_count), 0) FROM powny.checkpoints c WHERE c.invocation_id = i.id) AS journal_entries,
       i.wake_at,
       i.worker,
       i.river_job_id,
       i.created_at,
       i.started_at,
       i.finished_at,
       i.finished_at - i.started_at AS run_time,
       i.error_kind,
       i.error,
       i.error_line,
       i.idempotency_key,
       i.input,
       i.result,
       i.event_id
FROM powny.invocations i
JOIN powny.functions f ON f.id = i.function_id
JOIN powny.versions v ON v.id = i.version_id;

-- +goose Down
DROP VIEW public.powny_invocations;
CREATE VIEW public.powny_invocations AS
SELECT i.id,
       f.name                       AS function,
       v.number                     AS version,
       i.trigger,
       i.state,
       i.attempts,
       i.failures,
       i.max_attempts,
       (SELECT count(*) FROM powny.checkpoints c WHERE c.invocation_id = i.id) AS checkpoints,
       (SELECT COALESCE(sum(c.entry_count), 0) FROM powny.checkpoints c WHERE c.invocation_id = i.id) AS journal_entries,
       i.wake_at,
       i.worker,
       i.river_job_id,
       i.created_at,
       i.started_at,
       i.finished_at,
       i.finished_at - i.started_at AS run_time,
       i.error_kind,
       i.error,
       i.error_line,
       i.idempotency_key,
       i.input,
       i.result
FROM powny.invocations i
JOIN powny.functions f ON f.id = i.function_id
JOIN powny.versions v ON v.id = i.version_id;
DROP VIEW public.powny_settings;
DROP VIEW public.powny_kv;
DROP VIEW public.powny_schedules;
DROP VIEW public.powny_waits;
DROP VIEW public.powny_events;
DROP TABLE powny.settings;
DROP TABLE powny.kv;
DROP TABLE powny.schedules;
DROP TABLE powny.wakeups;
DROP TABLE powny.waits;
DROP TABLE powny.trigger_revision;
ALTER TABLE powny.invocations DROP COLUMN event_id;
DROP TABLE powny.events;
