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
	Function     string
	VersionID    int64
	Input        json.RawMessage
}

// StartAttempt marks an invocation running under attempt by worker (job is
// its River job) and records the attempt, in one statement.
func (s *Store) StartAttempt(ctx context.Context, invocationID, jobID int64, attempt int, worker string) (Run, error) {
	r := Run{InvocationID: invocationID}
	err := s.pool.QueryRow(ctx, `
		WITH inv AS (
			UPDATE powny.invocations
			SET state = 'running', attempts = $3, worker = $4, river_job_id = $2,
			    started_at = COALESCE(started_at, now())
			WHERE id = $1 AND state IN ('queued', 'running')
			RETURNING id, function_id, version_id, input
		), att AS (
			INSERT INTO powny.attempts (invocation_id, attempt, worker, river_job_id)
			SELECT id, $3, $4, $2 FROM inv
			ON CONFLICT (invocation_id, attempt) DO UPDATE
			SET worker = excluded.worker, river_job_id = excluded.river_job_id, started_at = now(),
			    finished_at = NULL, outcome = NULL, error = NULL
		)
		SELECT f.name, inv.version_id, inv.input FROM inv JOIN powny.functions f ON f.id = inv.function_id`,
		invocationID, jobID, attempt, worker).Scan(&r.Function, &r.VersionID, &r.Input)
	if err = interpretError(err); err == nil {
		return r, nil
	}
	if errors.Is(err, ErrNotFound) {
		// Either no such invocation, or it is finished: tell them apart.
		if _, gerr := s.GetInvocation(ctx, invocationID); gerr == nil {
			return r, ErrNotRunnable
		}
	}
	return r, fmt.Errorf("start attempt: %w", err)
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
	State        string
	Result       json.RawMessage // for succeeded
	Error        *Failure        // for everything else
	Logs         []LogLine
}

// EndAttemptTx records how an attempt ended and the lines it logged. An
// invocation that was cancelled meanwhile keeps its state. When the state is
// final, the id is sent on DoneChannel at commit.
func (s *Store) EndAttemptTx(ctx context.Context, tx pgx.Tx, e AttemptEnd) error {
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
	var changed bool
	err := tx.QueryRow(ctx, `
		WITH att AS (
			UPDATE powny.attempts SET finished_at = now(), outcome = $6, error = $4
			WHERE invocation_id = $1 AND attempt = $7
		), inv AS (
			UPDATE powny.invocations
			SET state = $2, result = $3, error_kind = $5, error = $4, error_line = $8,
			    finished_at = CASE WHEN $2 IN ('succeeded', 'failed', 'cancelled') THEN now() END
			WHERE id = $1 AND state = 'running'
			RETURNING id
		)
		SELECT EXISTS (SELECT 1 FROM inv)`,
		e.InvocationID, e.State, nullJSON(e.Result), msg, kind, outcome, e.Attempt, line).Scan(&changed)
	if err != nil {
		return fmt.Errorf("end attempt: %w", err)
	}
	if len(e.Logs) > 0 {
		levels, messages, times := make([]string, len(e.Logs)), make([]string, len(e.Logs)), make([]time.Time, len(e.Logs))
		for i, l := range e.Logs {
			levels[i], messages[i], times[i] = l.Level, l.Message, l.LoggedAt
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO powny.logs (invocation_id, attempt, level, message, logged_at)
			SELECT $1, $2, l, m, t FROM unnest($3::text[], $4::text[], $5::timestamptz[]) AS x(l, m, t)`,
			e.InvocationID, e.Attempt, levels, messages, times); err != nil {
			return fmt.Errorf("insert logs: %w", err)
		}
	}
	if changed && Finished(e.State) {
		return notifyDone(ctx, tx, e.InvocationID)
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

// ListAttempts lists the attempts of an invocation, first first.
func (s *Store) ListAttempts(ctx context.Context, invocationID int64) ([]Attempt, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT attempt, worker, river_job_id, started_at, finished_at, COALESCE(outcome, ''), COALESCE(error, '')
		FROM powny.attempts WHERE invocation_id = $1 ORDER BY attempt`, invocationID)
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
