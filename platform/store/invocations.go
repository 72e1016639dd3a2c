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
	MaxAttempts    int             `json:"max_attempts"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
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
	       i.error_kind, i.error, i.error_line, i.attempts, i.max_attempts,
	       i.idempotency_key, i.river_job_id, i.worker, i.created_at, i.started_at, i.finished_at
	FROM powny.invocations i
	JOIN powny.functions f ON f.id = i.function_id
	JOIN powny.versions v ON v.id = i.version_id`

func scanInvocation(row pgx.CollectableRow) (Invocation, error) {
	var (
		inv                       Invocation
		errKind, errMsg, key, wkr *string
		errLine                   *int
		jobID                     *int64
	)
	err := row.Scan(&inv.ID, &inv.Function, &inv.Version, &inv.VersionID, &inv.Trigger, &inv.State, &inv.Input,
		&inv.Result, &errKind, &errMsg, &errLine, &inv.Attempts, &inv.MaxAttempts,
		&key, &jobID, &wkr, &inv.CreatedAt, &inv.StartedAt, &inv.FinishedAt)
	if err != nil {
		return inv, err
	}
	if errMsg != nil {
		inv.Error = &Failure{Kind: deref(errKind), Message: *errMsg, Line: deref(errLine)}
	}
	inv.IdempotencyKey, inv.RiverJobID, inv.Worker = deref(key), deref(jobID), deref(wkr)
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

// ActiveVersion is the version new invocations of a function run.
type ActiveVersion struct {
	FunctionID int64
	VersionID  int64
	Config     json.RawMessage
}

// ActiveVersionTx returns the active version of a function.
func (s *Store) ActiveVersionTx(ctx context.Context, tx pgx.Tx, function string) (ActiveVersion, error) {
	var av ActiveVersion
	err := tx.QueryRow(ctx, `
		SELECT f.id, v.id, v.config FROM powny.functions f JOIN powny.versions v ON v.id = f.active_version
		WHERE f.name = $1`, function).Scan(&av.FunctionID, &av.VersionID, &av.Config)
	return av, interpretError(err)
}

// NewInvocation is what starting an invocation stores.
type NewInvocation struct {
	Version        ActiveVersion
	Trigger        string
	Input          json.RawMessage
	MaxAttempts    int
	IdempotencyKey string // empty for none
}

// ErrIdempotencyMismatch is returned by InsertInvocationTx when an
// idempotency key is reused with another input.
var ErrIdempotencyMismatch = fmt.Errorf("%w: idempotency key already used with a different input", ErrConflict)

// InsertInvocationTx stores a queued invocation. When the idempotency key was
// used before for this function, it returns that invocation and existing is
// true (or ErrIdempotencyMismatch when the input differs).
func (s *Store) InsertInvocationTx(ctx context.Context, tx pgx.Tx, ni NewInvocation) (inv Invocation, existing bool, err error) {
	var key *string
	if ni.IdempotencyKey != "" {
		key = &ni.IdempotencyKey
	}
	var id int64
	err = tx.QueryRow(ctx, `
		INSERT INTO powny.invocations (function_id, version_id, trigger, state, input, max_attempts, idempotency_key)
		VALUES ($1, $2, $3, 'queued', $4, $5, $6)
		ON CONFLICT (function_id, idempotency_key) DO NOTHING
		RETURNING id`,
		ni.Version.FunctionID, ni.Version.VersionID, ni.Trigger, ni.Input, ni.MaxAttempts, key).Scan(&id)
	if err = interpretError(err); err == nil {
		inv, err = s.oneInvocation(ctx, tx, `WHERE i.id = $1`, id)
		return inv, false, err
	} else if key == nil || !errors.Is(err, ErrNotFound) {
		return inv, false, fmt.Errorf("insert invocation: %w", err)
	}
	var sameInput bool
	if err := tx.QueryRow(ctx, `SELECT id, input = $3::jsonb FROM powny.invocations WHERE function_id = $1 AND idempotency_key = $2`,
		ni.Version.FunctionID, key, ni.Input).Scan(&id, &sameInput); err != nil {
		return inv, false, fmt.Errorf("find invocation by idempotency key: %w", interpretError(err))
	}
	if !sameInput {
		return inv, true, ErrIdempotencyMismatch
	}
	inv, err = s.oneInvocation(ctx, tx, `WHERE i.id = $1`, id)
	return inv, true, err
}

// SetRiverJobTx records which River job runs an invocation.
func (s *Store) SetRiverJobTx(ctx context.Context, tx pgx.Tx, invocationID, jobID int64) error {
	if _, err := tx.Exec(ctx, `UPDATE powny.invocations SET river_job_id = $2 WHERE id = $1`, invocationID, jobID); err != nil {
		return fmt.Errorf("set river job: %w", err)
	}
	return nil
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
	if err := notifyDone(ctx, tx, id); err != nil {
		return inv, false, err
	}
	return inv, true, nil
}

func notifyDone(ctx context.Context, db DB, id int64) error {
	if _, err := db.Exec(ctx, `SELECT pg_notify($1, $2)`, DoneChannel, strconv.FormatInt(id, 10)); err != nil {
		return fmt.Errorf("notify done: %w", err)
	}
	return nil
}
