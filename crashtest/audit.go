package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/powny/powny/platform/journal"
)

// The audit helpers read what the README documents: the powny_* views, and
// the journal rows behind powny_checkpoints (the view has no entries).

// AttemptRow is a row of powny_attempts.
type AttemptRow struct {
	Attempt    int
	Worker     string
	RiverJobID int64
	StartedAt  time.Time
	FinishedAt time.Time
	Outcome    string
	Error      string
}

// Attempts returns the ended attempts of invocation id, in order.
func Attempts(ctx context.Context, db *pgxpool.Pool, id int64) ([]AttemptRow, error) {
	rows, err := db.Query(ctx, `
		SELECT attempt, worker, river_job_id, started_at, finished_at, outcome, COALESCE(error, '')
		FROM powny_attempts WHERE invocation_id = $1 ORDER BY attempt`, id)
	if err != nil {
		return nil, fmt.Errorf("attempts of %d: %w", id, err)
	}
	as, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AttemptRow])
	if err != nil {
		return nil, fmt.Errorf("attempts of %d: %w", id, err)
	}
	return as, nil
}

// CheckpointRow is a row of powny_checkpoints with its journal entries.
type CheckpointRow struct {
	Seq        int
	Attempt    int
	Worker     string
	FirstEntry int
	EntryCount int
	Line       *int
	CreatedAt  time.Time
	Entries    []byte
}

// Checkpoints returns the checkpoint rows of invocation id, by seq.
func Checkpoints(ctx context.Context, db *pgxpool.Pool, id int64) ([]CheckpointRow, error) {
	rows, err := db.Query(ctx, `
		SELECT v.seq, v.attempt, v.worker, v.first_entry, v.entry_count, v.line, v.created_at, c.entries
		FROM powny_checkpoints v
		JOIN powny.checkpoints c ON c.invocation_id = v.invocation_id AND c.first_entry = v.first_entry
		WHERE v.invocation_id = $1 ORDER BY v.first_entry`, id)
	if err != nil {
		return nil, fmt.Errorf("checkpoints of %d: %w", id, err)
	}
	cs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[CheckpointRow])
	if err != nil {
		return nil, fmt.Errorf("checkpoints of %d: %w", id, err)
	}
	return cs, nil
}

// Committed is a journal entry and the checkpoint row that stored it.
type Committed struct {
	journal.Entry
	Checkpoint CheckpointRow
}

// CheckJournal checks an invocation's checkpoint rows (in first_entry order)
// and returns its journal: seqs run 1..n; each row's first_entry follows the
// entries of the rows before it (no gap, no overlap) and entry_count is the
// number of entries it holds, at least one; the entries' own seqs are
// first_entry, first_entry+1, ... and journal.DecodeAll accepts the whole.
// wantEntries is the invocation's journal_entries.
func CheckJournal(rows []CheckpointRow, wantEntries int) ([]Committed, error) {
	var (
		out  []Committed
		errs []error
		raw  [][]byte
	)
	for i, r := range rows {
		raw = append(raw, r.Entries)
		if r.Seq != i+1 {
			errs = append(errs, fmt.Errorf("checkpoint row %d has seq %d: seqs are not 1..n", i, r.Seq))
		}
		if r.FirstEntry != len(out) {
			errs = append(errs, fmt.Errorf("checkpoint seq %d starts at entry %d, but the rows before it hold %d entries (gap or overlap)",
				r.Seq, r.FirstEntry, len(out)))
		}
		var batch []journal.Entry
		if err := json.Unmarshal(r.Entries, &batch); err != nil {
			errs = append(errs, fmt.Errorf("checkpoint seq %d: entries: %w", r.Seq, err))
			continue
		}
		if len(batch) != r.EntryCount || len(batch) == 0 {
			errs = append(errs, fmt.Errorf("checkpoint seq %d: entry_count %d, holds %d entries", r.Seq, r.EntryCount, len(batch)))
		}
		for j, e := range batch {
			if e.Seq != r.FirstEntry+j {
				errs = append(errs, fmt.Errorf("checkpoint seq %d: entry %d has seq %d, want %d", r.Seq, j, e.Seq, r.FirstEntry+j))
			}
			out = append(out, Committed{Entry: e, Checkpoint: r})
		}
	}
	if _, err := journal.DecodeAll(raw); err != nil {
		errs = append(errs, err)
	}
	if len(out) != wantEntries {
		errs = append(errs, fmt.Errorf("the rows hold %d entries, the invocation counts %d", len(out), wantEntries))
	}
	return out, errors.Join(errs...)
}

// InvocationRow is a row of powny_invocations.
type InvocationRow struct {
	ID             int64
	State          string
	Attempts       int
	Failures       int
	Checkpoints    int
	JournalEntries int
	Worker         *string
	WakeAt         *time.Time
	StartedAt      *time.Time
	FinishedAt     *time.Time
	ErrorKind      *string
	Error          *string
	Input          json.RawMessage
	Result         json.RawMessage
}

// Invocations returns every invocation of function, by id.
func Invocations(ctx context.Context, db *pgxpool.Pool, function string) ([]InvocationRow, error) {
	rows, err := db.Query(ctx, `
		SELECT id, state, attempts, failures, checkpoints, journal_entries, worker, wake_at, started_at, finished_at,
		       error_kind, error, input, result
		FROM powny_invocations WHERE function = $1 ORDER BY id`, function)
	if err != nil {
		return nil, fmt.Errorf("invocations of %s: %w", function, err)
	}
	is, err := pgx.CollectRows(rows, pgx.RowToStructByPos[InvocationRow])
	if err != nil {
		return nil, fmt.Errorf("invocations of %s: %w", function, err)
	}
	return is, nil
}

// LookupByKey returns a Sink lookup that finds the invocation whose input
// has "k": k, and says its current attempt and worker.
func LookupByKey(db *pgxpool.Pool) func(ctx context.Context, k string) (int, string, error) {
	return func(ctx context.Context, k string) (int, string, error) {
		var (
			attempt int
			worker  *string
		)
		err := db.QueryRow(ctx, `SELECT attempts, worker FROM powny_invocations WHERE input->>'k' = $1`, k).Scan(&attempt, &worker)
		if err != nil {
			return 0, "", err
		}
		if worker == nil {
			return attempt, "", nil
		}
		return attempt, *worker, nil
	}
}

// WaitAllFinished waits until there are n invocations of function and all
// are finished; when they are not in time it fails the test with the ones
// left and the state of their River jobs.
func WaitAllFinished(ctx context.Context, tb testing.TB, pool *pgxpool.Pool, function string, n int, timeout time.Duration) {
	tb.Helper()
	Eventually(tb, timeout, 200*time.Millisecond, "every invocation finishes", func() (bool, string) {
		var left []string
		rows, err := pool.Query(ctx, `
			SELECT i.id, i.state, i.attempts, coalesce(i.worker, ''), j.state, coalesce(j.attempted_by[array_length(j.attempted_by, 1)], ''),
			       coalesce(i.wake_at::text, '')
			FROM powny_invocations i LEFT JOIN river_job j ON j.id = i.river_job_id
			WHERE i.function = $1 AND i.state NOT IN ('succeeded', 'failed', 'cancelled') ORDER BY i.id`, function)
		if err != nil {
			return false, err.Error()
		}
		for rows.Next() {
			var (
				id                                         int64
				state, worker, jobState, attemptedBy, wake string
				attempts                                   int
			)
			if err := rows.Scan(&id, &state, &attempts, &worker, &jobState, &attemptedBy, &wake); err != nil {
				return false, err.Error()
			}
			left = append(left, fmt.Sprintf("%d %s (attempt %d, worker %q, wake_at %q; job %s by %q)",
				id, state, attempts, worker, wake, jobState, attemptedBy))
		}
		if err := rows.Err(); err != nil {
			return false, err.Error()
		}
		var total int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM powny_invocations WHERE function = $1`, function).Scan(&total); err != nil {
			return false, err.Error()
		}
		if total != n {
			return false, fmt.Sprintf("%d invocations, want %d", total, n)
		}
		return len(left) == 0, fmt.Sprintf("%d left: %s", len(left), strings.Join(left, "; "))
	})
}
