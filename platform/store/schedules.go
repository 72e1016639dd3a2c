package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/powny/powny/platform/schedule"
)

// TriggerSchedule is the trigger of the invocations a schedule starts.
const TriggerSchedule = "schedule"

// fireBatch bounds how many schedules one FireSchedules call fires; the
// rest fire at the next call.
const fireBatch = 1000

// syncSchedule makes function's row of powny.schedules follow the
// "schedule" of version's config, in activate's transaction: it is deleted
// when the version has none; it is created, or its spec replaced, with
// next_at the first tick after now. The same spec keeps its next_at, so
// redeploying or rolling back to a version with the same spec does not
// move the next tick.
func syncSchedule(ctx context.Context, tx pgx.Tx, function, version int64) error {
	var (
		spec *string
		now  time.Time
	)
	if err := tx.QueryRow(ctx, `SELECT NULLIF(config->>'schedule', ''), now() FROM powny.versions WHERE id = $1`,
		version).Scan(&spec, &now); err != nil {
		return fmt.Errorf("read the version's schedule: %w", interpretError(err))
	}
	if spec == nil {
		if _, err := tx.Exec(ctx, `DELETE FROM powny.schedules WHERE function_id = $1`, function); err != nil {
			return fmt.Errorf("delete the schedule: %w", err)
		}
		return nil
	}
	sched, err := schedule.Parse(*spec)
	if err != nil {
		return fmt.Errorf("schedule %q: %w", *spec, err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO powny.schedules (function_id, spec, next_at) VALUES ($1, $2, $3)
		ON CONFLICT (function_id) DO UPDATE SET spec = EXCLUDED.spec, next_at = EXCLUDED.next_at
		WHERE powny.schedules.spec <> EXCLUDED.spec`,
		function, *spec, sched.Next(now)); err != nil {
		return fmt.Errorf("upsert the schedule: %w", err)
	}
	return nil
}

// Fired is one tick that FireSchedules fired.
type Fired struct {
	Function string
	Spec     string
	// Tick is the tick fired: the latest one due.
	Tick time.Time
	// Due is the first tick that was due (next_at): Tick, unless ticks
	// were missed (no leader for a while), which are skipped.
	Due          time.Time
	InvocationID int64
	// Next is the next tick to fire.
	Next time.Time
}

// ScheduleInput is the input of an invocation a schedule starts.
type ScheduleInput struct {
	Schedule string `json:"schedule"`
	Tick     string `json:"tick"` // RFC 3339, UTC
}

// FireSchedules starts the functions whose schedule is due, in one
// transaction: each due row (next_at <= now) is locked, skipping those
// another call holds; the function is invoked once (trigger "schedule",
// input ScheduleInput, idempotency key "schedule:" + tick) for the latest
// tick at or before now, and next_at moves to the tick after it. Ticks
// missed meanwhile (no collector leader for a while) are coalesced: they
// never fire, the latest one fires once.
//
// now is the time to compare with; the zero time means the database's
// clock (what the collectors use, so that their clocks do not matter).
// term, when not 0, is the calling collector leader's term: nothing fires
// unless it is still the current term (checked in the same transaction,
// which holds the leader row until it commits). The idempotency key makes a
// second firing of a tick impossible, even by two processes that both
// believe they lead: the second finds the key used and only moves next_at.
//
// A row whose spec no longer parses is left as it is and reported in the
// error; the others fire.
func (s *Store) FireSchedules(ctx context.Context, term int64, now time.Time) ([]Fired, error) {
	var (
		fired []Fired
		bad   []error
	)
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		fired, bad = nil, nil
		if term != 0 {
			// FOR SHARE: a new leader's BecomeLeader waits for this commit.
			var current int64
			err := tx.QueryRow(ctx, `SELECT term FROM powny.collector_leader WHERE id = 1 FOR SHARE`).Scan(&current)
			if err = interpretError(err); errors.Is(err, ErrNotFound) || (err == nil && current != term) {
				return nil // a stale leader: another one acts now
			}
			if err != nil {
				return fmt.Errorf("read the leader's term: %w", err)
			}
		}
		if now.IsZero() {
			if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
				return fmt.Errorf("read the time: %w", err)
			}
		}
		rows, err := tx.Query(ctx, `
			SELECT s.function_id, f.name, s.spec, s.next_at
			FROM powny.schedules s JOIN powny.functions f ON f.id = s.function_id
			WHERE s.next_at <= $1
			ORDER BY s.next_at
			LIMIT $2
			FOR UPDATE OF s SKIP LOCKED`, now, fireBatch)
		if err != nil {
			return fmt.Errorf("select due schedules: %w", err)
		}
		type due struct {
			functionID int64
			fired      Fired
		}
		dues, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (due, error) {
			var d due
			err := row.Scan(&d.functionID, &d.fired.Function, &d.fired.Spec, &d.fired.Due)
			return d, err
		})
		if err != nil {
			return fmt.Errorf("select due schedules: %w", err)
		}
		for _, d := range dues {
			f, ok, err := s.fire(ctx, tx, d.functionID, d.fired, now)
			switch {
			case errors.As(err, new(scheduleError)):
				bad = append(bad, err)
			case err != nil:
				return err
			case ok:
				fired = append(fired, f)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("fire schedules: %w", err)
	}
	return fired, errors.Join(bad...)
}

// scheduleError is a stored spec that does not parse.
type scheduleError struct{ err error }

func (e scheduleError) Error() string { return e.err.Error() }
func (e scheduleError) Unwrap() error { return e.err }

// fire fires f's latest due tick, in tx, and moves the schedule to the
// next; ok is false when the tick had been fired already.
func (s *Store) fire(ctx context.Context, tx pgx.Tx, functionID int64, f Fired, now time.Time) (Fired, bool, error) {
	sched, err := schedule.Parse(f.Spec)
	if err != nil {
		return f, false, scheduleError{fmt.Errorf("schedule of %s %q: %w", f.Function, f.Spec, err)}
	}
	f.Due = f.Due.UTC()
	f.Tick = sched.Last(f.Due, now)
	f.Next = sched.Next(f.Tick)
	if f.Next.IsZero() {
		// No tick within five years: look again in a day.
		f.Next = now.Add(24 * time.Hour)
	}
	tick := f.Tick.Format(time.RFC3339)
	input, err := json.Marshal(ScheduleInput{Schedule: f.Spec, Tick: tick})
	if err != nil {
		return f, false, fmt.Errorf("encode the schedule's input: %w", err)
	}
	// A savepoint: a used key (this tick fired already) must undo the River
	// job the insert wrote, and only that.
	sp, err := tx.Begin(ctx)
	if err != nil {
		return f, false, fmt.Errorf("savepoint: %w", err)
	}
	inv, err := s.InsertInvocation(ctx, sp, NewInvocation{
		Function: f.Function, Trigger: TriggerSchedule, Input: input, IdempotencyKey: "schedule:" + tick, Wake: true,
	})
	ok := err == nil
	switch {
	case ok:
		err = sp.Commit(ctx)
	case errors.Is(err, ErrDuplicateKey):
		err = sp.Rollback(ctx)
	default:
		_ = sp.Rollback(ctx)
	}
	if err != nil {
		return f, false, fmt.Errorf("fire the schedule of %s: %w", f.Function, err)
	}
	f.InvocationID = inv.ID
	if _, err := tx.Exec(ctx, `
		UPDATE powny.schedules
		SET next_at = $2,
		    last_at = CASE WHEN $4 THEN $3 ELSE last_at END,
		    last_invocation_id = CASE WHEN $4 THEN $5 ELSE last_invocation_id END
		WHERE function_id = $1`, functionID, f.Next, f.Tick, ok, inv.ID); err != nil {
		return f, false, fmt.Errorf("advance the schedule of %s: %w", f.Function, err)
	}
	return f, ok, nil
}
