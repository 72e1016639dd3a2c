-- Powny's own tables. They live in the "powny" schema and may change between
-- releases; the views at the end (public schema) are the stable audit contract.

-- +goose Up
CREATE SCHEMA powny;

CREATE TABLE powny.functions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text        NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_-]{1,128}$'),
    active_version  bigint,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Versions are immutable: an invocation stays pinned to the version it started with.
CREATE TABLE powny.versions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    function_id  bigint      NOT NULL REFERENCES powny.functions (id) ON DELETE CASCADE,
    number       integer     NOT NULL CHECK (number > 0),
    source       text        NOT NULL,
    code         bytea       NOT NULL, -- compiled once at deploy; workers never recompile
    config       jsonb       NOT NULL,
    sha256       text        NOT NULL,
    author       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (function_id, number),
    UNIQUE (function_id, sha256)
);

ALTER TABLE powny.functions
    ADD FOREIGN KEY (active_version) REFERENCES powny.versions (id) DEFERRABLE INITIALLY DEFERRED;

-- No foreign keys to functions and versions: every invocation of a function
-- would take a share lock on the same two rows, and under load Postgres then
-- builds multixacts for them, which made starting an invocation six times
-- slower. Invocations are inserted from those rows (store.InsertInvocation),
-- and functions and versions are never deleted.
CREATE TABLE powny.invocations (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    function_id      bigint      NOT NULL,
    version_id       bigint      NOT NULL,
    trigger          text        NOT NULL CHECK (trigger IN ('http', 'event', 'schedule')),
    state            text        NOT NULL CHECK (state IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled')),
    input            jsonb       NOT NULL,
    result           jsonb,
    error_kind       text,
    error            text,
    error_line       integer,
    attempts         integer     NOT NULL DEFAULT 0, -- runs started, rescues and wake-ups included: the fence
    failures         integer     NOT NULL DEFAULT 0, -- runs that failed; retries stop at max_attempts
    max_attempts     integer     NOT NULL CHECK (max_attempts > 0),
    wake_at          timestamptz, -- when a waiting invocation resumes
    idempotency_key  text,
    notify           boolean     NOT NULL DEFAULT false, -- a caller waits: NOTIFY when it finishes
    river_job_id     bigint      NOT NULL, -- the River job that owns the invocation now
    worker           text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz, -- of the first attempt
    attempt_started_at timestamptz, -- of the current (or last) attempt
    finished_at      timestamptz
) WITH (fillfactor = 70);
-- Few indexes, none on a column that changes while an invocation runs, and
-- room left in each page: the updates of a run stay HOT (no index writes).
-- Lists go by id (newest first), so the primary key serves them.
CREATE UNIQUE INDEX invocations_idempotency_key ON powny.invocations (function_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX invocations_function ON powny.invocations (function_id, id DESC);
-- Workers find the invocation of the job they fetched by the job's id.
CREATE UNIQUE INDEX invocations_river_job ON powny.invocations (river_job_id);

-- One row per ended attempt (a run of the invocation on one worker): which
-- worker ran it, when, and how it ended; "suspended" ends a run at a durable
-- sleep, "interrupted" one whose worker stopped, "lost" one whose worker died. The attempt in progress is on the
-- invocation row (worker, attempts).
CREATE TABLE powny.attempts (
    invocation_id  bigint      NOT NULL REFERENCES powny.invocations (id) ON DELETE CASCADE,
    attempt        integer     NOT NULL,
    worker         text        NOT NULL,
    river_job_id   bigint      NOT NULL,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz NOT NULL,
    outcome        text        NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'cancelled', 'suspended', 'interrupted', 'lost')),
    error          text,
    PRIMARY KEY (invocation_id, attempt)
);

-- The journal of an invocation, one row per checkpoint: entries (a JSON
-- array) first_entry .. first_entry + entry_count - 1 of its effects. A row
-- is written by one statement that checks the writer's fence and that the
-- row follows the last one, so the journal has no gap and no overlap.
CREATE TABLE powny.checkpoints (
    invocation_id  bigint      NOT NULL REFERENCES powny.invocations (id) ON DELETE CASCADE,
    attempt        integer     NOT NULL,
    worker         text        NOT NULL,
    first_entry    integer     NOT NULL,
    entry_count    integer     NOT NULL,
    entries        bytea       NOT NULL,
    line           integer,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (invocation_id, first_entry)
);

-- Live worker processes: each heartbeats here; the collector takes back the
-- invocations of a worker whose heartbeat is older than the rescue delay.
CREATE TABLE powny.workers (
    id            text        PRIMARY KEY,
    host          text        NOT NULL,
    pid           integer     NOT NULL,
    version       text        NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now()
);

-- The collectors' leader: each new leader takes the next term, and its
-- rescues check, in the same statement, that its term is still the current
-- one, so two leaders never act at once even if one has not heard yet that
-- it lost its ZooKeeper session.
CREATE TABLE powny.collector_leader (
    id      integer     PRIMARY KEY CHECK (id = 1),
    term    bigint      NOT NULL,
    member  text        NOT NULL,
    since   timestamptz NOT NULL
);

CREATE TABLE powny.logs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    invocation_id  bigint      NOT NULL REFERENCES powny.invocations (id) ON DELETE CASCADE,
    attempt        integer     NOT NULL,
    level          text        NOT NULL CHECK (level IN ('info', 'warn', 'error')),
    message        text        NOT NULL,
    logged_at      timestamptz NOT NULL
);
CREATE INDEX logs_invocation ON powny.logs (invocation_id, id);

-- The audit views: stable columns, documented in the README.
CREATE VIEW public.powny_functions AS
SELECT f.name                AS function,
       v.number              AS active_version,
       (SELECT count(*) FROM powny.versions x WHERE x.function_id = f.id) AS versions,
       f.created_at,
       f.updated_at
FROM powny.functions f
LEFT JOIN powny.versions v ON v.id = f.active_version;

CREATE VIEW public.powny_versions AS
SELECT f.name                     AS function,
       v.number                   AS version,
       v.sha256,
       v.author,
       v.created_at,
       v.id = f.active_version    AS active,
       v.config
FROM powny.versions v
JOIN powny.functions f ON f.id = v.function_id;

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

CREATE VIEW public.powny_attempts AS
SELECT a.invocation_id,
       f.name                       AS function,
       a.attempt,
       a.worker,
       a.river_job_id,
       a.started_at,
       a.finished_at,
       a.outcome,
       a.error
FROM powny.attempts a
JOIN powny.invocations i ON i.id = a.invocation_id
JOIN powny.functions f ON f.id = i.function_id;

CREATE VIEW public.powny_checkpoints AS
SELECT c.invocation_id,
       f.name                       AS function,
       row_number() OVER (PARTITION BY c.invocation_id ORDER BY c.first_entry) AS seq,
       c.attempt,
       c.worker,
       c.first_entry,
       c.entry_count,
       c.line,
       length(c.entries)            AS bytes,
       c.created_at
FROM powny.checkpoints c
JOIN powny.invocations i ON i.id = c.invocation_id
JOIN powny.functions f ON f.id = i.function_id;

CREATE VIEW public.powny_workers AS
SELECT id AS worker, host, pid, version, started_at, heartbeat_at
FROM powny.workers;

CREATE VIEW public.powny_logs AS
SELECT l.invocation_id,
       f.name                       AS function,
       l.attempt,
       l.level,
       l.message,
       l.logged_at
FROM powny.logs l
JOIN powny.invocations i ON i.id = l.invocation_id
JOIN powny.functions f ON f.id = i.function_id;

-- +goose Down
DROP VIEW public.powny_logs;
DROP VIEW public.powny_workers;
DROP VIEW public.powny_checkpoints;
DROP VIEW public.powny_attempts;
DROP VIEW public.powny_invocations;
DROP VIEW public.powny_versions;
DROP VIEW public.powny_functions;
DROP SCHEMA powny CASCADE;
