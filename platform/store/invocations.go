package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Invocation states.
const (
	StateQueued    = "queued"
	StateRunning   = "running"
	StateWaiting   = "waiting"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// Finished reports whether state is final.
func Finished(state string) bool {
	return state == StateSucceeded || state == StateFailed || state == StateCancelled
}

// DoneChannel is the Postgres NOTIFY channel on which the id of every
// invocation that reaches a final state is sent.
const DoneChannel = "powny_invocation_done"

// Invocation is the audit record of one run of a function.
type Invocation struct {
	ID             int64           `json:"id"`
	Function       string          `json:"function"`
	Version        int             `json:"version"`
	VersionID      int64           `json:"-"`
	Trigger        string          `json:"trigger"`
	State          string          `json:"state"`
	Input          json.RawMessage `json:"input"`
	Result         json.RawMessage `json:"result,omitempty"`
	Error          *Failure        `json:"error,omitempty"`
	Attempts       int             `json:"attempts"`
	Failures       int             `json:"failures"`
	MaxAttempts    int             `json:"max_attempts"`
	Checkpoints    int             `json:"checkpoints"`
	JournalEntries int             `json:"journal_entries"`
	WakeAt         *time.Time      `json:"wake_at,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	EventID        int64           `json:"event_id,omitempty"` // the event that started it
	RiverJobID     int64           `json:"river_job_id,omitempty"`
	Worker         string          `json:"worker,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	StartedAt      *time.Time      `json:"started_at,omitempty"`
	FinishedAt     *time.Time      `json:"finished_at,omitempty"`
}

// Failure is why an attempt or an invocation failed.
type Failure struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
}

const invocationSelect = `
	SELECT i.id, f.name, v.number, i.version_id, i.trigger, i.state, i.input, i.result,
	       i.error_kind, i.error, i.error_line, i.attempts, i.failures, i.max_attempts,
	       (SELECT count(*) FROM powny.checkpoints c WHERE c.invocation_id = i.id),
	       (SELECT COALESCE(sum(c.entry_count), 0) FROM powny.checkpoints c WHERE c.invocation_id = i.id),
	       i.wake_at, i.idempotency_key, i.river_job_id, i.worker, i.created_at, i.started_at, i.finished_at, i.event_id
	FROM powny.invocations i
	JOIN powny.functions f ON f.id = i.function_id
	JOIN powny.versions v ON v.id = i.version_id`

func scanInvocation(row pgx.CollectableRow) (Invocation, error) {
	var (
		inv                       Invocation
		errKind, errMsg, key, wkr *string
		errLine                   *int
		jobID, eventID            *int64
	)
	err := row.Scan(&inv.ID, &inv.Function, &inv.Version, &inv.VersionID, &inv.Trigger, &inv.State, &inv.Input,
		&inv.Result, &errKind, &errMsg, &errLine, &inv.Attempts, &inv.Failures, &inv.MaxAttempts,
		&inv.Checkpoints, &inv.JournalEntries, &inv.WakeAt, &key, &jobID, &wkr, &inv.CreatedAt, &inv.StartedAt, &inv.FinishedAt,
		&eventID)
	if err != nil {
		return inv, err
	}
	if errMsg != nil {
		inv.Error = &Failure{Kind: deref(errKind), Message: *errMsg, Line: deref(errLine)}
	}
	inv.IdempotencyKey, inv.RiverJobID, inv.Worker, inv.EventID = deref(key), deref(jobID), deref(wkr), deref(eventID)
	return inv, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (s *Store) oneInvocation(ctx context.Context, db DB, where string, args ...any) (Invocation, error) {
	rows, err := db.Query(ctx, invocationSelect+" "+where, args...)
	if err != nil {
		return Invocation{}, fmt.Errorf("get invocation: %w", err)
	}
	inv, err := pgx.CollectExactlyOneRow(rows, scanInvocation)
	return inv, interpretError(err)
}

// GetInvocation returns one invocation.
func (s *Store) GetInvocation(ctx context.Context, id int64) (Invocation, error) {
	return s.oneInvocation(ctx, s.pool, `WHERE i.id = $1`, id)
}

// NewInvocation is what starting an invocation stores.
type NewInvocation struct {
	Function       string
	Trigger        string
	Input          json.RawMessage
	IdempotencyKey string // empty for none
	EventID        int64  // the event that started it, 0 for none
	// Notify says a caller waits for the result: the id is sent on
	// DoneChannel when the invocation finishes. (Notifications are not free:
	// Postgres serializes the commits that send one.)
	Notify bool
	// Wake sends River's insert notification, so an idle worker fetches the
	// job at once rather than at its next poll.
	Wake bool
}

// JobKind is the River job kind of invocation jobs.
const JobKind = "powny_invocation"

// JobMaxAttempts is every invocation job's River max_attempts. The worker
// stops retrying after the attempts the function's config allows (the
// invocation's max_attempts); River's limit is only a backstop.
const JobMaxAttempts = 101

// ErrDuplicateKey is returned by InsertInvocation when the idempotency key
// was used before for the function; read the earlier invocation with
// FindByIdempotencyKey.
var ErrDuplicateKey = errors.New("idempotency key already used")

// ErrIdempotencyMismatch is returned by FindByIdempotencyKey when the key was
// used with another input.
var ErrIdempotencyMismatch = fmt.Errorf("%w: idempotency key already used with a different input", ErrConflict)

// InsertInvocation stores a queued invocation of the function's active
// version together with the River job that will run it, and wakes River's
// workers if asked to, in one statement on db (the pool, or a transaction to start it
// with other writes). It writes River's job table directly, as River's own
// clients in other languages do: one round trip instead of River's insert
// plus ours. Its max_attempts is the version config's "retries" plus one.
//
// An unknown function gives ErrNotFound. A reused idempotency key gives
// ErrDuplicateKey, and inserts nothing only when db is a transaction that
// the caller rolls back; on the pool, the job inserted with it finds no
// invocation and does nothing.
func (s *Store) InsertInvocation(ctx context.Context, db DB, ni NewInvocation) (Invocation, error) {
	var key *string
	if ni.IdempotencyKey != "" {
		key = &ni.IdempotencyKey
	}
	inv := Invocation{
		Function: ni.Function, Trigger: ni.Trigger, State: StateQueued, Input: ni.Input,
		IdempotencyKey: ni.IdempotencyKey,
	}
	err := db.QueryRow(ctx, `
		WITH v AS (
			SELECT f.id AS function_id, v.id AS version_id, v.number,
			       COALESCE((v.config->>'retries')::int, 0) + 1 AS max_attempts
			FROM powny.functions f JOIN powny.versions v ON v.id = f.active_version
			WHERE f.name = $1
		), job AS (`+insertJobSQL(nextJobID, "$1", "NULL", "v")+`), ins AS (
			INSERT INTO powny.invocations (function_id, version_id, trigger, state, input, max_attempts, idempotency_key, notify, river_job_id)
			SELECT v.function_id, v.version_id, $2, 'queued', $3, v.max_attempts, $4, $5, job.id
			FROM v, job
			ON CONFLICT (function_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING id, version_id, max_attempts, river_job_id, created_at
		), wake AS (`+wakeWorkersSQL("ins WHERE $6")+`)
		SELECT ins.id, ins.version_id, v.number, ins.max_attempts, ins.river_job_id, ins.created_at
		FROM ins, v, (SELECT count(*) FROM wake) AS w`,
		ni.Function, ni.Trigger, ni.Input, key, ni.Notify, ni.Wake).
		Scan(&inv.ID, &inv.VersionID, &inv.Version, &inv.MaxAttempts, &inv.RiverJobID, &inv.CreatedAt)
	if err = interpretError(err); err == nil {
		return inv, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return inv, fmt.Errorf("insert invocation: %w", err)
	}
	// Nothing inserted: no such function, or the key was used before.
	if key != nil {
		var exists bool
		if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM powny.functions WHERE name = $1)`, ni.Function).
			Scan(&exists); err != nil {
			return inv, fmt.Errorf("insert invocation: %w", err)
		}
		if exists {
			return inv, ErrDuplicateKey
		}
	}
	return inv, fmt.Errorf("function %q: %w", ni.Function, ErrNotFound)
}

// nextJobID is the SQL expression of a new River job id.
const nextJobID = "nextval(pg_get_serial_sequence('river_job', 'id'))"

// insertJobSQL inserts the River job of an invocation, once per row of
// from: what River's insert would write, in our own statement. id, fn (the
// function's name) and at are SQL expressions; at is the time before which
// the job must not run (NULL: now): it is scheduled until then.
func insertJobSQL(id, fn, at, from string) string {
	return `
		INSERT INTO river_job (id, args, kind, max_attempts, priority, queue, state, scheduled_at, tags, metadata)
		SELECT ` + id + `, jsonb_build_object('function', ` + fn + `::text), '` + JobKind + `', ` + strconv.Itoa(JobMaxAttempts) + `, 1,
		       'default', CASE WHEN ` + at + ` > now() THEN 'scheduled' ELSE 'available' END::river_job_state,
		       GREATEST(now(), ` + at + `), '{}', '{}'
		FROM ` + from + `
		RETURNING id`
}

// wakeWorkersSQL sends River's insert notification, which wakes idle
// workers' fetch at once, when from has a row.
func wakeWorkersSQL(from string) string {
	return `SELECT pg_notify(current_schema() || '.river_insert', '{"queue": "default"}') FROM ` + from + ` LIMIT 1`
}

// FindByIdempotencyKey returns the invocation of function started with key,
// or ErrIdempotencyMismatch when its input differs from input.
func (s *Store) FindByIdempotencyKey(ctx context.Context, function, key string, input json.RawMessage) (Invocation, error) {
	inv, err := s.oneInvocation(ctx, s.pool, `WHERE f.name = $1 AND i.idempotency_key = $2`, function, key)
	if err != nil {
		return inv, err
	}
	var same bool
	// Compared as jsonb: the same value written differently is the same input.
	if err := s.pool.QueryRow(ctx, `SELECT input = $2::jsonb FROM powny.invocations WHERE id = $1`, inv.ID, input).
		Scan(&same); err != nil {
		return inv, fmt.Errorf("compare inputs: %w", interpretError(err))
	}
	if !same {
		return inv, ErrIdempotencyMismatch
	}
	return inv, nil
}

// ListFilter selects invocations; zero fields select everything.
type ListFilter struct {
	Function string
	State    string
	BeforeID int64 // keyset pagination: only ids below this
	Limit    int   // default 50, at most 1000
}

// ListInvocations lists invocations, newest first.
func (s *Store) ListInvocations(ctx context.Context, f ListFilter) ([]Invocation, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	rows, err := s.pool.Query(ctx, invocationSelect+`
		WHERE ($1 = '' OR f.name = $1) AND ($2 = '' OR i.state = $2) AND ($3 = 0 OR i.id < $3)
		ORDER BY i.id DESC LIMIT $4`, f.Function, f.State, f.BeforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("list invocations: %w", err)
	}
	invs, err := pgx.CollectRows(rows, scanInvocation)
	if err != nil {
		return nil, fmt.Errorf("list invocations: %w", err)
	}
	return invs, nil
}

// CancelTx marks an unfinished invocation cancelled and returns it as it was
// before; a finished one is returned unchanged with cancelled false.
func (s *Store) CancelTx(ctx context.Context, tx pgx.Tx, id int64) (inv Invocation, cancelled bool, err error) {
	inv, err = s.oneInvocation(ctx, tx, `WHERE i.id = $1 FOR UPDATE OF i`, id)
	if err != nil || Finished(inv.State) {
		return inv, false, err
	}
	if _, err := tx.Exec(ctx, `
		UPDATE powny.invocations SET state = 'cancelled', finished_at = now(),
		       error_kind = 'cancelled', error = 'cancelled by request'
		WHERE id = $1`, id); err != nil {
		return inv, false, fmt.Errorf("cancel invocation: %w", err)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify('`+DoneChannel+`', $1)`, strconv.FormatInt(id, 10)); err != nil {
		return inv, false, fmt.Errorf("notify done: %w", err)
	}
	return inv, true, nil
}

// InsertInvocations stores many queued invocations (without idempotency
// keys) with their River jobs, and wakes workers if any asks to, in one
// statement: what InsertInvocation does for one, for a whole batch. The
// result i answers reqs[i]: the invocation, or ErrNotFound for an unknown
// function (the others are stored all the same).
func (s *Store) InsertInvocations(ctx context.Context, reqs []NewInvocation) ([]Invocation, []error, error) {
	return insertInvocations(ctx, s.pool, reqs)
}

// insertInvocations is InsertInvocations on db.
func insertInvocations(ctx context.Context, db DB, reqs []NewInvocation) ([]Invocation, []error, error) {
	n := len(reqs)
	events := make([]*int64, n)
	functions, triggers, inputs := make([]string, n), make([]string, n), make([]string, n)
	notify := make([]bool, n)
	wake := false
	for i, r := range reqs {
		if r.IdempotencyKey != "" {
			return nil, nil, fmt.Errorf("insert invocations: request %d has an idempotency key: use InsertInvocation", i)
		}
		functions[i], triggers[i], inputs[i], notify[i] = r.Function, r.Trigger, string(r.Input), r.Notify
		if r.EventID != 0 {
			events[i] = &r.EventID
		}
		wake = wake || r.Wake
	}
	// Job ids come from River's sequence first, so that each invocation row
	// names its job (an INSERT's RETURNING order says nothing).
	rows, err := db.Query(ctx, `
		WITH v AS (
			SELECT r.n, r.function, r.trigger, r.input, r.notify, r.event_id, f.id AS function_id, ver.id AS version_id, ver.number,
			       COALESCE((ver.config->>'retries')::int, 0) + 1 AS max_attempts,
			       `+nextJobID+` AS job_id
			FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::bool[], $6::bigint[])
			     WITH ORDINALITY AS r(function, trigger, input, notify, event_id, n)
			JOIN powny.functions f ON f.name = r.function
			JOIN powny.versions ver ON ver.id = f.active_version
		), job AS (`+insertJobSQL("v.job_id", "v.function", "NULL", "v")+`), ins AS (
			INSERT INTO powny.invocations (function_id, version_id, trigger, state, input, max_attempts, notify, river_job_id, event_id)
			SELECT v.function_id, v.version_id, v.trigger, 'queued', v.input, v.max_attempts, v.notify, v.job_id, v.event_id
			FROM v
			RETURNING id, river_job_id, created_at
		), wake AS (`+wakeWorkersSQL("ins WHERE $5")+`)
		SELECT v.n, ins.id, v.version_id, v.number, v.max_attempts, ins.river_job_id, ins.created_at
		FROM ins JOIN v ON v.job_id = ins.river_job_id, (SELECT count(*) FROM wake) AS w`,
		functions, triggers, inputs, notify, wake, events)
	if err != nil {
		return nil, nil, fmt.Errorf("insert invocations: %w", err)
	}
	invs, errs := make([]Invocation, n), make([]error, n)
	for i := range errs {
		errs[i] = fmt.Errorf("function %q: %w", reqs[i].Function, ErrNotFound)
	}
	for rows.Next() {
		var row int
		var inv Invocation
		if err := rows.Scan(&row, &inv.ID, &inv.VersionID, &inv.Version, &inv.MaxAttempts, &inv.RiverJobID, &inv.CreatedAt); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("insert invocations: %w", err)
		}
		r := reqs[row-1]
		inv.Function, inv.Trigger, inv.State, inv.Input = r.Function, r.Trigger, StateQueued, r.Input
		invs[row-1], errs[row-1] = inv, nil
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("insert invocations: %w", err)
	}
	return invs, errs, nil
}
