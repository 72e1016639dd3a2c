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

// RegisterWorker records that a worker process starts under id w.ID, and
// returns its start time (the database's clock). A process that reuses the
// id of a dead one takes its record over: the River jobs attempted before
// the new start are its predecessor's, and RescueLost takes them back at once
// instead of trusting the new process's heartbeats for them.
func (s *Store) RegisterWorker(ctx context.Context, w Worker) (time.Time, error) {
	var started time.Time
	if err := s.pool.QueryRow(ctx, `
		INSERT INTO powny.workers (id, host, pid, version) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, version = excluded.version,
		    started_at = now(), heartbeat_at = now()
		RETURNING started_at`, w.ID, w.Host, w.PID, w.Version).Scan(&started); err != nil {
		return started, fmt.Errorf("register worker: %w", err)
	}
	return started, nil
}

// Heartbeat records that worker w, registered at w.StartedAt, is alive.
func (s *Store) Heartbeat(ctx context.Context, w Worker) error {
	if _, err := s.pool.Exec(ctx, `
		INSERT INTO powny.workers (id, host, pid, version, started_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()`, w.ID, w.Host, w.PID, w.Version, w.StartedAt); err != nil {
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

// LostWorkers says which workers are lost, and who acts on it.
type LostWorkers struct {
	// Members, when not nil, are the live worker members (ZooKeeper): any
	// other worker is lost, and so is a member that registered again after
	// it fetched a job (its session was lost meanwhile). When nil, a worker
	// is lost when its Postgres heartbeat is older than HeartbeatAfter (or
	// missing, or a new process took its id after it fetched the job).
	Members        []LiveMember
	HeartbeatAfter time.Duration
	// Term, when not 0, is the acting collector leader's term: the statement
	// does nothing unless it is still the current term.
	Term int64
}

// LiveMember is a live worker member and when it registered.
type LiveMember struct {
	ID           string
	RegisteredAt time.Time
}

// lostJobJoins and lostJobCond select the running invocation jobs j whose
// worker is lost, per LostWorkers (arguments $1 to $5, see args).
const (
	lostJobJoins = `
	LEFT JOIN powny.workers w ON w.id = j.attempted_by[array_length(j.attempted_by, 1)]
	LEFT JOIN unnest($3::text[], $4::timestamptz[]) AS m(id, registered_at) ON m.id = j.attempted_by[array_length(j.attempted_by, 1)]`
	lostJobCond = `j.state = 'running' AND j.kind = $1
	AND CASE WHEN $3::text[] IS NULL
	    THEN w.id IS NULL OR w.heartbeat_at < now() - make_interval(secs => $2) OR j.attempted_at < w.started_at
	    ELSE m.id IS NULL OR j.attempted_at < m.registered_at END
	AND ($5 = 0 OR $5 = (SELECT term FROM powny.collector_leader WHERE id = 1 FOR SHARE))`
)

func (l LostWorkers) args() []any {
	var ids []string
	var at []time.Time
	if l.Members != nil {
		ids, at = make([]string, len(l.Members)), make([]time.Time, len(l.Members))
		for i, m := range l.Members {
			ids[i], at[i] = m.ID, m.RegisteredAt
		}
	}
	return []any{JobKind, l.HeartbeatAfter.Seconds(), ids, at, l.Term}
}

// why says why worker's job is taken back.
func (l LostWorkers) why(worker string) string {
	if l.Members != nil {
		return fmt.Sprintf("worker %s lost: not a live member any more, or registered again since it took the job", worker)
	}
	return fmt.Sprintf("worker %s lost: no heartbeat for %s", worker, l.HeartbeatAfter)
}

// BecomeLeader records that member leads the collectors from now on and
// returns its term.
func (s *Store) BecomeLeader(ctx context.Context, member string) (int64, error) {
	var term int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO powny.collector_leader (id, term, member, since) VALUES (1, 1, $1, now())
		ON CONFLICT (id) DO UPDATE SET term = powny.collector_leader.term + 1, member = $1, since = now()
		RETURNING term`, member).Scan(&term)
	if err != nil {
		return 0, fmt.Errorf("become leader: %w", err)
	}
	return term, nil
}

// FinalizeLostJobs completes the running jobs of lost workers whose
// invocation finished anyway (the worker died after recording the end,
// before River's completer wrote it), so River's tables do not show them
// running until its own rescuer comes by.
func (s *Store) FinalizeLostJobs(ctx context.Context, lost LostWorkers) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE river_job SET state = 'completed', finalized_at = now()
		WHERE id IN (
			SELECT j.id FROM river_job j `+lostJobJoins+`
			WHERE `+lostJobCond+`
			  AND NOT EXISTS (SELECT 1 FROM powny.invocations i
			                  WHERE i.river_job_id = j.id AND i.state IN ('queued', 'running', 'waiting'))
			FOR UPDATE OF j SKIP LOCKED)`, lost.args()...)
	if err != nil {
		return 0, fmt.Errorf("finalize lost jobs: %w", err)
	}
	return tag.RowsAffected(), nil
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
func (s *Store) RescueLost(ctx context.Context, lost LostWorkers, limit int) ([]Rescue, error) {
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
				JOIN powny.functions f ON f.id = i.function_id `+lostJobJoins+`
				WHERE `+lostJobCond+` AND i.state IN ('queued', 'running', 'waiting')
				LIMIT 1
				FOR UPDATE OF i SKIP LOCKED`, lost.args()...).
				Scan(&r.InvocationID, &r.OldJobID, &r.Worker, &fn, &attempt, &state, &startedAt)
			if err != nil {
				return interpretError(err)
			}
			why := lost.why(r.Worker)
			// Only a run that claimed the invocation (state running) has an attempt to record.
			recordAttempt := state == StateRunning && startedAt != nil
			return tx.QueryRow(ctx, `
				WITH old AS (
					UPDATE river_job
					SET state = 'cancelled', finalized_at = now(),
					    errors = array_append(errors, jsonb_build_object('at', now(), 'attempt', attempt, 'error', $4::text, 'trace', ''))
					WHERE id = $2 AND state = 'running'
				), one AS (SELECT 1), job AS (`+insertJobSQL(nextJobID, "$3", "(SELECT wake_at FROM powny.invocations WHERE id = $1 AND state = 'waiting')", "one")+`
				), inv AS (
					-- A waiting invocation (its worker died after recording the
					-- suspension, before River snoozed the job) stays waiting; its
					-- new job is scheduled at wake_at, and WakeDue makes it
					-- available when it is due.
					UPDATE powny.invocations SET river_job_id = job.id,
					    state = CASE WHEN state = 'waiting' THEN 'waiting' ELSE 'queued' END
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

// ListWorkers lists the workers that heartbeat in Postgres, by id.
func (s *Store) ListWorkers(ctx context.Context) ([]Worker, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, host, pid, version, started_at, heartbeat_at FROM powny.workers ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	ws, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Worker])
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	return ws, nil
}

// QueueDepth counts the invocation jobs by River state.
type QueueDepth struct {
	Available int64 `json:"available"` // ready to run
	Scheduled int64 `json:"scheduled"` // sleeping, or waiting for a retry
	Running   int64 `json:"running"`
	Retryable int64 `json:"retryable"`
}

// QueueDepth counts the unfinished invocation jobs.
func (s *Store) QueueDepth(ctx context.Context) (QueueDepth, error) {
	var q QueueDepth
	err := s.pool.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE state = 'available'), count(*) FILTER (WHERE state = 'scheduled'),
		       count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE state = 'retryable')
		FROM river_job WHERE kind = $1 AND state IN ('available', 'scheduled', 'running', 'retryable')`, JobKind).
		Scan(&q.Available, &q.Scheduled, &q.Running, &q.Retryable)
	if err != nil {
		return q, fmt.Errorf("queue depth: %w", err)
	}
	return q, nil
}
