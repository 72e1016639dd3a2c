package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotRunnable is returned by StartAttempt when the invocation is already
// finished (cancelled while queued, say), so there is nothing to run.
var ErrNotRunnable = errors.New("invocation is finished")

// Run is what a worker needs to run one attempt of an invocation.
type Run struct {
	InvocationID int64
	VersionID    int64
	Input        json.RawMessage
	MaxAttempts  int
	StartedAt    time.Time
}

// StartAttempt marks the invocation that River job jobID owns running under
// attempt by worker, in one statement that touches no index. ErrNotRunnable
// says it is finished (or that the job owns no invocation any more).
func (s *Store) StartAttempt(ctx context.Context, jobID int64, attempt int, worker string) (Run, error) {
	var r Run
	err := s.pool.QueryRow(ctx, `
		UPDATE powny.invocations
		SET state = 'running', attempts = $2, worker = $3,
		    attempt_started_at = now(), started_at = COALESCE(started_at, now())
		WHERE river_job_id = $1 AND state IN ('queued', 'running')
		RETURNING id, version_id, input, max_attempts, attempt_started_at`,
		jobID, attempt, worker).Scan(&r.InvocationID, &r.VersionID, &r.Input, &r.MaxAttempts, &r.StartedAt)
	if err = interpretError(err); errors.Is(err, ErrNotFound) {
		return r, ErrNotRunnable
	}
	if err != nil {
		return r, fmt.Errorf("start attempt: %w", err)
	}
	return r, nil
}

// LogLine is one line a function logged.
type LogLine struct {
	ID       int64     `json:"id"`
	Attempt  int       `json:"attempt"`
	Level    string    `json:"level"`
	Message  string    `json:"message"`
	LoggedAt time.Time `json:"logged_at"`
}

// AttemptEnd is how an attempt ended. State is the invocation's state after
// it: final (succeeded, failed, cancelled) or queued when it will be retried.
type AttemptEnd struct {
	InvocationID int64
	Attempt      int
	Worker       string
	RiverJobID   int64
	StartedAt    time.Time
	State        string
	Result       json.RawMessage // for succeeded
	Error        *Failure        // for everything else
	Logs         []LogLine
}

// EndAttempt records how an attempt ended, and the lines it logged, in one
// statement. An invocation that was cancelled meanwhile keeps its state.
// When the state is final, the id is sent on DoneChannel.
func (s *Store) EndAttempt(ctx context.Context, e AttemptEnd) error {
	var kind, msg *string
	var line *int
	if e.Error != nil {
		kind, msg = &e.Error.Kind, &e.Error.Message
		if e.Error.Line > 0 {
			line = &e.Error.Line
		}
	}
	outcome := e.State
	if outcome == StateQueued {
		outcome = StateFailed
	}
	levels, messages, times := make([]string, len(e.Logs)), make([]string, len(e.Logs)), make([]time.Time, len(e.Logs))
	for i, l := range e.Logs {
		levels[i], messages[i], times[i] = l.Level, l.Message, l.LoggedAt
	}
	if _, err := s.pool.Exec(ctx, `
		WITH inv AS (
			UPDATE powny.invocations
			SET state = $2, result = $3, error_kind = $5, error = $4, error_line = $7,
			    finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'cancelled') THEN now() END
			WHERE id = $1 AND state = 'running'
			RETURNING id, state
		), att AS (
			INSERT INTO powny.attempts (invocation_id, attempt, worker, river_job_id, started_at, finished_at, outcome, error)
			VALUES ($1, $8, $9, $10, $11, now(), $6, $4)
			ON CONFLICT (invocation_id, attempt) DO NOTHING
		), logs AS (
			INSERT INTO powny.logs (invocation_id, attempt, level, message, logged_at)
			SELECT $1, $8, l, m, t FROM unnest($12::text[], $13::text[], $14::timestamptz[]) AS x(l, m, t)
		)
		SELECT pg_notify('`+DoneChannel+`', id::text) FROM inv WHERE state <> 'queued'`,
		e.InvocationID, e.State, nullJSON(e.Result), msg, kind, outcome, line,
		e.Attempt, e.Worker, e.RiverJobID, e.StartedAt, levels, messages, times); err != nil {
		return fmt.Errorf("end attempt: %w", err)
	}
	return nil
}

func nullJSON(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return b
}

// Attempt is one attempt of an invocation.
type Attempt struct {
	Attempt    int        `json:"attempt"`
	Worker     string     `json:"worker"`
	RiverJobID int64      `json:"river_job_id"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Outcome    string     `json:"outcome,omitempty"`
	Error      string     `json:"error,omitempty"`
}

// ListAttempts lists the attempts of an invocation, first first; an attempt
// in progress comes last, without finished_at and outcome.
func (s *Store) ListAttempts(ctx context.Context, invocationID int64) ([]Attempt, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT attempt, worker, river_job_id, started_at, finished_at, outcome, COALESCE(error, '')
		FROM powny.attempts WHERE invocation_id = $1
		UNION ALL
		SELECT attempts, worker, river_job_id, attempt_started_at, NULL, '', ''
		FROM powny.invocations WHERE id = $1 AND state = 'running'
		ORDER BY 1`, invocationID)
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	as, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Attempt, error) {
		var a Attempt
		err := row.Scan(&a.Attempt, &a.Worker, &a.RiverJobID, &a.StartedAt, &a.FinishedAt, &a.Outcome, &a.Error)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
	return as, nil
}

// ListLogs lists the lines an invocation logged after the line afterID, oldest first.
func (s *Store) ListLogs(ctx context.Context, invocationID, afterID int64, limit int) ([]LogLine, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, attempt, level, message, logged_at FROM powny.logs
		WHERE invocation_id = $1 AND id > $2 ORDER BY id LIMIT $3`, invocationID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	ls, err := pgx.CollectRows(rows, pgx.RowToStructByPos[LogLine])
	if err != nil {
		return nil, fmt.Errorf("list logs: %w", err)
	}
	return ls, nil
}
