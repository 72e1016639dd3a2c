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

// ErrFenced is returned by the writes of a run that no longer owns its
// invocation: the invocation moved to another River job (it was rescued) or
// another run of the same job claimed it since. Nothing was written; the run
// must stop.
var ErrFenced = errors.New("this run no longer owns the invocation")

// Fence identifies one run of an invocation: the River job that owns the
// invocation and the attempt number the run claimed. Every write a worker
// makes for the invocation checks both in the same statement.
type Fence struct {
	InvocationID int64
	RiverJobID   int64
	Attempt      int
}

// Run is what a worker needs to run one attempt of an invocation.
type Run struct {
	Fence
	VersionID   int64
	Input       json.RawMessage
	MaxAttempts int
	Failures    int      // failed attempts before this one
	Journal     [][]byte // its checkpoint rows, in order: each a JSON array of entries
	StartedAt   time.Time
}

// StartAttempt claims the invocation that River job jobID owns for a new run
// by worker: it becomes running, and its attempt counter, the fence, moves
// on, so any earlier run of it is fenced off. One statement, no index
// written; it also returns the invocation's journal. ErrNotRunnable says it
// is finished, or that the job owns no invocation any more (it was rescued
// onto another job).
func (s *Store) StartAttempt(ctx context.Context, jobID int64, worker string) (Run, error) {
	runs, errs, err := s.StartAttempts(ctx, []Claim{{JobID: jobID, Worker: worker}})
	if err != nil {
		return Run{}, err
	}
	return runs[0], errs[0]
}

// Claim asks to start an attempt of the invocation River job JobID owns.
type Claim struct {
	JobID  int64
	Worker string
}

// StartAttempts is StartAttempt for many claims in one statement: result i
// answers claims[i].
func (s *Store) StartAttempts(ctx context.Context, claims []Claim) ([]Run, []error, error) {
	jobs, workers := make([]int64, len(claims)), make([]string, len(claims))
	for i, c := range claims {
		jobs[i], workers[i] = c.JobID, c.Worker
	}
	rows, err := s.pool.Query(ctx, `
		UPDATE powny.invocations i
		SET state = 'running', attempts = i.attempts + 1, worker = c.worker, wake_at = NULL,
		    attempt_started_at = now(), started_at = COALESCE(i.started_at, now())
		FROM unnest($1::bigint[], $2::text[]) AS c(job, worker)
		WHERE i.river_job_id = c.job AND i.state IN ('queued', 'running', 'waiting')
		RETURNING i.river_job_id, i.id, i.attempts, i.version_id, i.input, i.max_attempts, i.failures, i.attempt_started_at,
		          (SELECT array_agg(cp.entries ORDER BY cp.first_entry) FROM powny.checkpoints cp
		           WHERE cp.invocation_id = i.id)`, jobs, workers)
	if err != nil {
		return nil, nil, fmt.Errorf("start attempt: %w", err)
	}
	byJob := make(map[int64]Run, len(claims))
	for rows.Next() {
		var r Run
		if err := rows.Scan(&r.RiverJobID, &r.InvocationID, &r.Attempt, &r.VersionID, &r.Input, &r.MaxAttempts,
			&r.Failures, &r.StartedAt, &r.Journal); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("start attempt: %w", err)
		}
		byJob[r.RiverJobID] = r
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("start attempt: %w", err)
	}
	runs, errs := make([]Run, len(claims)), make([]error, len(claims))
	for i, c := range claims {
		r, ok := byJob[c.JobID]
		if !ok {
			errs[i] = ErrNotRunnable
		}
		runs[i] = r
	}
	return runs, errs, nil
}

// LoadJournal returns the checkpoint rows of an invocation's journal, in
// order: each is a JSON array of entries.
func (s *Store) LoadJournal(ctx context.Context, invocationID int64) ([][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT entries FROM powny.checkpoints WHERE invocation_id = $1 ORDER BY first_entry`, invocationID)
	if err != nil {
		return nil, fmt.Errorf("load journal: %w", err)
	}
	entries, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("load journal: %w", err)
	}
	return entries, nil
}

// JournalRows are journal entries to store as one checkpoint row.
type JournalRows struct {
	FirstEntry int    // seq of the first entry: must follow the entries stored before
	Count      int    // how many entries
	Entries    []byte // their JSON array
	Line       int    // source line of the checkpoint() call, 0 when implicit
}

// Checkpoint stores entries as the invocation's next checkpoint row, with
// the lines logged since the last one, in one statement that checks the
// fence (ErrFenced when it fails; nothing is written then). It writes no
// invocation row: the fence is read under a share lock, which a rescue (or a
// new run claiming the invocation) waits for, so no stale row lands after
// them. Only the owner writes, one checkpoint after the other, so rows follow
// each other; journal.DecodeAll checks that they do when they are loaded.
func (s *Store) Checkpoint(ctx context.Context, f Fence, worker string, j JournalRows, logs []LogLine) error {
	_, errs, err := s.Checkpoints(ctx, []CheckpointRow{{Fence: f, Worker: worker, Rows: j, Logs: logs}})
	if err != nil {
		return err
	}
	return errs[0]
}

// CheckpointRow is one checkpoint to store: the run's fence, its worker,
// the journal entries and the lines logged since the last checkpoint.
type CheckpointRow struct {
	Fence
	Worker string
	Rows   JournalRows
	Logs   []LogLine
}

// Checkpoints is Checkpoint for the checkpoints of many runs, in one
// statement: errs[i] answers cps[i] (nil, or ErrFenced). The results are
// empty: the type only fits platform/groupcommit.
func (s *Store) Checkpoints(ctx context.Context, cps []CheckpointRow) ([]struct{}, []error, error) {
	n := len(cps)
	stored := make([]bool, n)
	if n == 1 {
		ok, err := s.checkpointOne(ctx, cps[0])
		if err != nil {
			return nil, nil, err
		}
		stored[0] = ok
		return s.checkStored(ctx, cps, stored)
	}
	ids, jobs := make([]int64, n), make([]int64, n)
	attempts, firsts, counts := make([]int32, n), make([]int32, n), make([]int32, n)
	workers, entries, lines := make([]string, n), make([][]byte, n), make([]*int32, n)
	var (
		logRows                []int32
		logLevels, logMessages []string
		logTimes               []time.Time
	)
	for i, c := range cps {
		ids[i], jobs[i], attempts[i] = c.InvocationID, c.RiverJobID, int32(c.Attempt)
		firsts[i], counts[i], workers[i], entries[i] = int32(c.Rows.FirstEntry), int32(c.Rows.Count), c.Worker, c.Rows.Entries
		if c.Rows.Line > 0 {
			l := int32(c.Rows.Line)
			lines[i] = &l
		}
		for _, l := range c.Logs {
			logRows = append(logRows, int32(i+1))
			logLevels, logMessages, logTimes = append(logLevels, l.Level), append(logMessages, l.Message), append(logTimes, l.LoggedAt)
		}
	}
	rows, err := s.pool.Query(ctx, `
		WITH c AS (
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::int[], $6::int[], $7::bytea[], $8::int[])
			WITH ORDINALITY AS c(id, job, attempt, worker, first, count, entries, line, n)
		), owner AS (
			SELECT c.n FROM powny.invocations i
			JOIN c ON i.id = c.id AND i.river_job_id = c.job AND i.attempts = c.attempt AND i.state = 'running'
			FOR SHARE OF i
		), logs AS (
			INSERT INTO powny.logs (invocation_id, attempt, level, message, logged_at)
			SELECT c.id, c.attempt, l.level, l.message, l.at
			FROM unnest($9::int[], $10::text[], $11::text[], $12::timestamptz[]) WITH ORDINALITY AS l(n, level, message, at, ord)
			JOIN c ON c.n = l.n JOIN owner o ON o.n = l.n
			ORDER BY l.ord
		), ins AS (
			INSERT INTO powny.checkpoints (invocation_id, attempt, worker, first_entry, entry_count, entries, line)
			SELECT c.id, c.attempt, c.worker, c.first, c.count, c.entries, c.line FROM c JOIN owner o ON o.n = c.n
			ON CONFLICT (invocation_id, first_entry) DO NOTHING
			RETURNING invocation_id, first_entry
		)
		SELECT c.n FROM c JOIN ins ON ins.invocation_id = c.id AND ins.first_entry = c.first`,
		ids, jobs, attempts, workers, firsts, counts, entries, lines, logRows, logLevels, logMessages, logTimes)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	for rows.Next() {
		var row int
		if err := rows.Scan(&row); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("checkpoint: %w", err)
		}
		stored[row-1] = true
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	return s.checkStored(ctx, cps, stored)
}

// checkStored answers each checkpoint: stored, or else ErrFenced unless it
// was stored by an earlier try.
func (s *Store) checkStored(ctx context.Context, cps []CheckpointRow, stored []bool) ([]struct{}, []error, error) {
	errs := make([]error, len(cps))
	for i, c := range cps {
		if stored[i] {
			continue
		}
		// Refused. If this very checkpoint is stored (a retry whose first
		// try committed, but whose answer was lost) and the run still owns
		// the invocation, it is done; else the run is fenced off.
		var done bool
		if err := s.pool.QueryRow(ctx, `
			SELECT EXISTS (
				SELECT 1 FROM powny.invocations i JOIN powny.checkpoints c ON c.invocation_id = i.id
				WHERE i.id = $1 AND i.river_job_id = $2 AND i.attempts = $3 AND i.state = 'running'
				  AND c.attempt = $3 AND c.first_entry = $4 AND c.entry_count = $5)`,
			c.InvocationID, c.RiverJobID, c.Attempt, c.Rows.FirstEntry, c.Rows.Count).Scan(&done); err != nil {
			return nil, nil, fmt.Errorf("checkpoint: %w", err)
		}
		if !done {
			errs[i] = ErrFenced
		}
	}
	return make([]struct{}, len(cps)), errs, nil
}

// checkpointOne stores one checkpoint with the leanest statement (no
// unnest), which keeps a lone checkpoint about as cheap as a bare INSERT.
// It reports whether the row was inserted.
func (s *Store) checkpointOne(ctx context.Context, c CheckpointRow) (bool, error) {
	f, worker, j, logs := c.Fence, c.Worker, c.Rows, c.Logs
	// The fence and the continuity check; the logs go along only if there
	// are any (most checkpoints have none: a leaner statement).
	const owner = `
		WITH owner AS (
			SELECT i.id FROM powny.invocations i
			WHERE i.id = $1 AND i.river_job_id = $2 AND i.attempts = $3 AND i.state = 'running'
			FOR SHARE OF i
		)`
	const insert = `
		INSERT INTO powny.checkpoints (invocation_id, attempt, worker, first_entry, entry_count, entries, line)
		SELECT $1, $3, $6, $4, $5, $7, $8 FROM owner`
	args := []any{f.InvocationID, f.RiverJobID, f.Attempt, j.FirstEntry, j.Count, worker, j.Entries, nullInt(j.Line)}
	sql := owner + insert
	if len(logs) > 0 {
		levels, messages, times := logColumns(logs)
		args = append(args, levels, messages, times)
		sql = owner + `, logs AS (
			INSERT INTO powny.logs (invocation_id, attempt, level, message, logged_at)
			SELECT $1, $3, l, m, t FROM owner, unnest($9::text[], $10::text[], $11::timestamptz[]) AS x(l, m, t)
		)` + insert
	}
	tag, err := s.pool.Exec(ctx, sql, args...)
	err = interpretError(err)
	if err != nil && !errors.Is(err, ErrConflict) {
		return false, fmt.Errorf("checkpoint: %w", err)
	}
	return err == nil && tag.RowsAffected() > 0, nil
}

// logColumns turns lines into the three arrays an unnest inserts.
func logColumns(logs []LogLine) (levels, messages []string, times []time.Time) {
	levels, messages, times = make([]string, len(logs)), make([]string, len(logs)), make([]time.Time, len(logs))
	for i, l := range logs {
		levels[i], messages[i], times[i] = l.Level, l.Message, l.LoggedAt
	}
	return levels, messages, times
}

func nullInt(n int) *int {
	if n == 0 {
		return nil
	}
	return &n
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
// it: final (succeeded, failed, cancelled), queued when it runs again (a
// retry after a failure, or a resume after its worker stopped), or waiting
// when it sleeps until WakeAt. Failed counts the attempt as a failure.
type AttemptEnd struct {
	Fence
	Worker    string
	StartedAt time.Time
	State     string
	Failed    bool
	WakeAt    time.Time       // for waiting
	Result    json.RawMessage // for succeeded
	Error     *Failure        // for failed, cancelled and queued
	Logs      []LogLine
	Journal   *JournalRows // entries not yet stored, if any
	// Wait registers the wait_event() call the run suspended at (state
	// waiting; WakeAt is its deadline), nil for none. It is stored in the
	// statement that records the suspension: an event either comes before
	// both (and is not for this wait) or finds the invocation waiting.
	Wait *NewWait
}

// NewWait is a wait_event() call to register.
type NewWait struct {
	Seq     int             // the call's effect seq in the journal
	Filter  json.RawMessage // the filter's source
	Anchors []string        // see platform/match Filter.Anchors
}

// outcome is what the attempts table says of an attempt.
func (e AttemptEnd) outcome() string {
	switch {
	case e.Failed:
		return StateFailed
	case e.State == StateWaiting:
		return "suspended"
	case e.State == StateQueued:
		return "interrupted"
	}
	return e.State
}

// EndAttempt records how an attempt ended, the lines it logged and the rest
// of its journal, in one statement that first checks the fence (ErrFenced:
// nothing written). An invocation cancelled meanwhile keeps its state. When
// the state is final and a caller waits (NewInvocation.Notify), the id is
// sent on DoneChannel.
func (s *Store) EndAttempt(ctx context.Context, e AttemptEnd) error {
	_, errs, err := s.EndAttempts(ctx, []AttemptEnd{e})
	if err != nil {
		return err
	}
	return errs[0]
}

// EndAttempts is EndAttempt for many attempts in one statement: errs[i]
// answers ends[i] (nil, or ErrFenced). The results are empty: the type only
// fits platform/groupcommit.
func (s *Store) EndAttempts(ctx context.Context, ends []AttemptEnd) ([]struct{}, []error, error) {
	n := len(ends)
	var (
		ids, jobs                  = make([]int64, n), make([]int64, n)
		attempts, jcounts, jfirsts = make([]int32, n), make([]int32, n), make([]int32, n)
		states, workers, outcomes  = make([]string, n), make([]string, n), make([]string, n)
		results, msgs, kinds       = make([]*string, n), make([]*string, n), make([]*string, n)
		lines                      = make([]*int32, n)
		started                    = make([]time.Time, n)
		wakes                      = make([]*time.Time, n)
		entries                    = make([][]byte, n)
		failed                     = make([]bool, n)
		logRows                    []int32
		logLevels, logMessages     []string
		logTimes                   []time.Time
		waitRows, waitSeqs         []int32
		waitFilters, waitAnchors   []string
	)
	for i, e := range ends {
		ids[i], jobs[i], attempts[i] = e.InvocationID, e.RiverJobID, int32(e.Attempt)
		states[i], workers[i], outcomes[i], started[i], failed[i] = e.State, e.Worker, e.outcome(), e.StartedAt, e.Failed
		if e.Result != nil {
			r := string(e.Result)
			results[i] = &r
		}
		if e.Error != nil {
			msgs[i], kinds[i] = &e.Error.Message, &e.Error.Kind
			if e.Error.Line > 0 {
				l := int32(e.Error.Line)
				lines[i] = &l
			}
		}
		if e.State == StateWaiting {
			wakes[i] = &e.WakeAt
		}
		if e.Journal != nil {
			jcounts[i], jfirsts[i], entries[i] = int32(e.Journal.Count), int32(e.Journal.FirstEntry), e.Journal.Entries
		}
		if w := e.Wait; w != nil && e.State == StateWaiting {
			anchors, err := json.Marshal(w.Anchors)
			if err != nil {
				return nil, nil, fmt.Errorf("end attempt: %w", err)
			}
			waitRows, waitSeqs = append(waitRows, int32(i+1)), append(waitSeqs, int32(w.Seq))
			waitFilters, waitAnchors = append(waitFilters, string(w.Filter)), append(waitAnchors, string(anchors))
		}
		for _, l := range e.Logs {
			logRows = append(logRows, int32(i+1))
			logLevels, logMessages, logTimes = append(logLevels, l.Level), append(logMessages, l.Message), append(logTimes, l.LoggedAt)
		}
	}
	rows, err := s.pool.Query(ctx, `
		WITH e AS (
			SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[],
			                     $8::int[], $9::text[], $10::timestamptz[], $11::text[], $12::int[], $13::bytea[],
			                     $14::timestamptz[], $15::bool[], $16::int[])
			WITH ORDINALITY AS e(id, job, attempt, state, result, msg, kind, line, worker, started, outcome,
			                     jcount, jentries, wake, failed, jfirst, n)
		), owner AS (
			SELECT i.id, i.state, e.n FROM powny.invocations i
			JOIN e ON i.id = e.id AND i.river_job_id = e.job AND i.attempts = e.attempt
			FOR UPDATE OF i
		), cp AS (
			INSERT INTO powny.checkpoints (invocation_id, attempt, worker, first_entry, entry_count, entries)
			SELECT e.id, e.attempt, e.worker, e.jfirst, e.jcount, e.jentries
			FROM e JOIN owner o ON o.n = e.n WHERE e.jcount > 0 AND o.state = 'running'
			ON CONFLICT (invocation_id, first_entry) DO NOTHING
		), inv AS (
			UPDATE powny.invocations i
			SET state = e.state, result = e.result::jsonb, error_kind = e.kind, error = e.msg, error_line = e.line,
			    wake_at = e.wake, failures = i.failures + CASE WHEN e.failed THEN 1 ELSE 0 END,
			    finished_at = CASE WHEN e.state IN ('succeeded', 'failed', 'cancelled') THEN now() END
			FROM e JOIN owner o ON o.n = e.n
			WHERE i.id = e.id AND o.state = 'running'
			RETURNING i.id, i.state, i.notify
		), att AS (
			INSERT INTO powny.attempts (invocation_id, attempt, worker, river_job_id, started_at, finished_at, outcome, error)
			SELECT e.id, e.attempt, e.worker, e.job, e.started, now(), e.outcome, e.msg
			FROM e JOIN owner o ON o.n = e.n
			ON CONFLICT (invocation_id, attempt) DO NOTHING
			RETURNING invocation_id, attempt
		), logs AS (
			-- Only with a new attempt row: a retry after a lost commit logs nothing twice.
			INSERT INTO powny.logs (invocation_id, attempt, level, message, logged_at)
			SELECT e.id, e.attempt, l.level, l.message, l.at
			FROM unnest($17::int[], $18::text[], $19::text[], $20::timestamptz[]) WITH ORDINALITY AS l(n, level, message, at, ord)
			JOIN e ON e.n = l.n
			JOIN att ON att.invocation_id = e.id AND att.attempt = e.attempt
			ORDER BY l.ord
		), waits AS (
			INSERT INTO powny.waits (invocation_id, seq, filter, anchors, deadline)
			SELECT e.id, w.seq, w.filter, ARRAY(SELECT jsonb_array_elements_text(COALESCE(w.anchors, '[]'))), e.wake
			FROM unnest($21::int[], $22::int[], $23::jsonb[], $24::jsonb[]) AS w(n, seq, filter, anchors)
			JOIN e ON e.n = w.n JOIN owner o ON o.n = e.n
			WHERE o.state = 'running'
			ON CONFLICT (invocation_id, seq) DO NOTHING
		), done AS (
			SELECT pg_notify('`+DoneChannel+`', id::text) FROM inv WHERE notify AND state IN ('succeeded', 'failed', 'cancelled')
		)
		SELECT o.n FROM owner o, (SELECT count(*) FROM done) AS d`,
		ids, jobs, attempts, states, results, msgs, kinds, lines, workers, started, outcomes, jcounts, entries,
		wakes, failed, jfirsts, logRows, logLevels, logMessages, logTimes, waitRows, waitSeqs, waitFilters, waitAnchors)
	if err != nil {
		return nil, nil, fmt.Errorf("end attempt: %w", err)
	}
	owned := make([]bool, n)
	for rows.Next() {
		var row int
		if err := rows.Scan(&row); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("end attempt: %w", err)
		}
		owned[row-1] = true
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("end attempt: %w", err)
	}
	errs := make([]error, n)
	for i := range errs {
		if !owned[i] {
			errs[i] = ErrFenced
		}
	}
	return make([]struct{}, n), errs, nil
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

// CheckpointInfo describes one checkpoint row of an invocation's journal;
// Seq numbers them from 1.
type CheckpointInfo struct {
	Seq        int       `json:"seq"`
	Attempt    int       `json:"attempt"`
	Worker     string    `json:"worker"`
	FirstEntry int       `json:"first_entry"`
	EntryCount int       `json:"entry_count"`
	Line       int       `json:"line,omitempty"`
	Bytes      int       `json:"bytes"`
	CreatedAt  time.Time `json:"created_at"`
}

// ListCheckpoints lists the checkpoint rows of an invocation, first first.
func (s *Store) ListCheckpoints(ctx context.Context, invocationID int64) ([]CheckpointInfo, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT row_number() OVER (ORDER BY first_entry), attempt, worker, first_entry, entry_count,
		       COALESCE(line, 0), length(entries), created_at
		FROM powny.checkpoints WHERE invocation_id = $1 ORDER BY first_entry`, invocationID)
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	cs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[CheckpointInfo])
	if err != nil {
		return nil, fmt.Errorf("list checkpoints: %w", err)
	}
	return cs, nil
}
