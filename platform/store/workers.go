package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Worker is a live worker process, as its heartbeat says.
type Worker struct {
	ID          string    `json:"id"`
	Host        string    `json:"host"`
	PID         int       `json:"pid"`
	Version     string    `json:"version"`
	StartedAt   time.Time `json:"started_at"`
	HeartbeatAt time.Time `json:"heartbeat_at"`
}

// Heartbeat records that worker w is alive (registering it on its first beat).
func (s *Store) Heartbeat(ctx context.Context, w Worker) error {
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO powny.workers (id, host, pid, version) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`, w.ID, w.Host, w.PID, w.Version); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// RemoveWorker forgets a worker that stopped cleanly.
func (s *Store) RemoveWorker(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM powny.workers WHERE id = $1`, id); err != nil {
		return fmt.Errorf("remove worker: %w", err)
	}
	return nil
}

// Rescue is one invocation taken back from a lost worker.
type Rescue struct {
	InvocationID int64
	Worker       string
	OldJobID     int64
	NewJobID     int64
}

// RescueLost takes back up to limit invocations whose River job is running
// on a worker that has not heartbeated for after (or never did): in one
// transaction per invocation, the old job is finalized (cancelled, with an
// error naming the worker), a fresh job is inserted and made the
// invocation's owner, the lost attempt is recorded, and workers are woken.
// The old job row is never handed to another worker, so the lost worker's
// River completer, if it wakes up, finds it finalized; its fenced writes
// find the invocation owned by the new job. Collectors on several nodes skip
// each other's rows.
func (s *Store) RescueLost(ctx context.Context, after time.Duration, limit int) ([]Rescue, error) {
	var rescued []Rescue
	for range limit {
		var r Rescue
		err := s.InTx(ctx, func(tx pgx.Tx) error {
			var (
				fn        string
				attempt   int
				state     string
				startedAt *time.Time
			)
			err := tx.QueryRow(ctx, `
				SELECT i.id, j.id, j.attempted_by[array_length(j.attempted_by, 1)], f.name, i.attempts, i.state, i.attempt_started_at
				FROM river_job j
				JOIN powny.invocations i ON i.river_job_id = j.id
				JOIN powny.functions f ON f.id = i.function_id
				LEFT JOIN powny.workers w ON w.id = j.attempted_by[array_length(j.attempted_by, 1)]
				WHERE j.state = 'running' AND j.kind = $1 AND i.state IN ('queued', 'running')
				  AND (w.id IS NULL OR w.heartbeat_at < now() - make_interval(secs => $2))
				LIMIT 1
				FOR UPDATE OF i SKIP LOCKED`, JobKind, after.Seconds()).
				Scan(&r.InvocationID, &r.OldJobID, &r.Worker, &fn, &attempt, &state, &startedAt)
			if err != nil {
				return interpretError(err)
			}
			why := fmt.Sprintf("worker %s lost: no heartbeat for %s", r.Worker, after)
			// Only a run that claimed the invocation (state running) has an attempt to record.
			recordAttempt := state == StateRunning && startedAt != nil
			return tx.QueryRow(ctx, `
				WITH old AS (
					UPDATE river_job
					SET state = 'cancelled', finalized_at = now(),
					    errors = array_append(errors, jsonb_build_object('at', now(), 'attempt', attempt, 'error', $4::text, 'trace', ''))
					WHERE id = $2 AND state = 'running'
				), one AS (SELECT 1), job AS (`+insertJobSQL("$3", "one")+`
				), inv AS (
					UPDATE powny.invocations SET river_job_id = job.id, state = 'queued'
					FROM job WHERE powny.invocations.id = $1
					RETURNING job.id
				), att AS (
					INSERT INTO powny.attempts (invocation_id, attempt, worker, river_job_id, started_at, finished_at, outcome, error)
					SELECT $1, $5, $6, $2, $7, now(), 'lost', $4 WHERE $8
					ON CONFLICT (invocation_id, attempt) DO NOTHING
				), wake AS (`+wakeWorkersSQL("job")+`)
				SELECT inv.id FROM inv, (SELECT count(*) FROM wake) AS w`,
				r.InvocationID, r.OldJobID, fn, why, attempt, r.Worker, startedAt, recordAttempt).Scan(&r.NewJobID)
		})
		if errors.Is(err, ErrNotFound) {
			return rescued, nil
		}
		if err != nil {
			return rescued, fmt.Errorf("rescue lost invocations: %w", err)
		}
		rescued = append(rescued, r)
	}
	return rescued, nil
}

// WakeDue makes the invocation jobs due within ahead available to workers,
// and wakes them. River's own scheduler does this only every 5 seconds;
// durable sleeps promise to wake within a second. (Workers poll for
// available jobs whose time has come, so promoting a little early is safe.)
func (s *Store) WakeDue(ctx context.Context, ahead time.Duration) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `
		WITH due AS (
			UPDATE river_job SET state = 'available'
			WHERE state = 'scheduled' AND kind = $1 AND scheduled_at <= now() + make_interval(secs => $2)
			RETURNING id
		), wake AS (`+wakeWorkersSQL("due")+`)
		SELECT (SELECT count(*) FROM due) FROM (SELECT count(*) FROM wake) AS w`, JobKind, ahead.Seconds()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("wake due invocations: %w", err)
	}
	return n, nil
}

// ForgetWorkers deletes the records of workers silent for longer than
// after; a missing record reads as a lost worker, like a stale one.
func (s *Store) ForgetWorkers(ctx context.Context, after time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM powny.workers WHERE heartbeat_at < now() - make_interval(secs => $1)`, after.Seconds())
	if err != nil {
		return 0, fmt.Errorf("forget workers: %w", err)
	}
	return tag.RowsAffected(), nil
}
