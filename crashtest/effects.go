package crashtest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// CheckEffects checks the effects of one finished invocation of a function
// that posts {"k": k, "step": s} to the sink for s = 1, 2, ... in order, each
// post being an http.request entry of its journal (other entries may come
// between). journal is the invocation's whole journal (CheckJournal) and
// calls its sink calls by step (Sink.ByKey()[k]). It returns how many calls
// were duplicates.
//
// The property checked is the one durable execution promises: once the
// checkpoint that stored an effect committed, the effect is never performed
// again. For each step s, stored by the checkpoint row of attempt A committed
// at T:
//
//   - s was performed, and every call of s arrived before T;
//   - with owners, when the sink knew the attempt current at each call (a
//     Lookup), no call came from an attempt after A, each attempt made at
//     most one, and A made one (it performed the effect live: a replayed
//     effect is never committed again). Calls by attempts before A are the
//     allowed duplicates: a run that stopped (killed, paused, cut off)
//     between the effect and its checkpoint. A call whose lookup failed is
//     checked by its arrival time only.
//
// owners says that only the run that owns the invocation performs effects,
// so that the attempt current when a call arrives is the one that made it.
// It holds when the runs that lose their invocation are dead, or stop
// before their next effect; not when a live run's invocation may be handed
// to another run while it goes on (its calls would be counted as the new
// attempt's).
//
// Every call must be of a step the journal holds.
func CheckEffects(journal []Committed, calls map[int][]SinkCall, owners bool) (duplicates int, err error) {
	var (
		errs      []error
		committed = map[int]CheckpointRow{}
	)
	for _, e := range journal {
		if e.Name == "http.request" {
			committed[len(committed)+1] = e.Checkpoint
		}
	}
	for s, cs := range calls {
		if _, ok := committed[s]; !ok {
			errs = append(errs, fmt.Errorf("step %d: %d calls, but the journal holds %d effects", s, len(cs), len(committed)))
		}
	}
	for s := 1; s <= len(committed); s++ {
		cp := committed[s]
		cs := calls[s]
		if len(cs) == 0 {
			errs = append(errs, fmt.Errorf("step %d: committed by attempt %d, never performed", s, cp.Attempt))
			continue
		}
		duplicates += len(cs) - 1
		by := map[int]int{}
		known := true
		for _, c := range cs {
			what := fmt.Sprintf("step %d: call at %s (attempt %d, worker %q); committed by attempt %d (worker %s) at %s",
				s, c.At.Format(time.RFC3339Nano), c.Attempt, c.Worker, cp.Attempt, cp.Worker, cp.CreatedAt.Format(time.RFC3339Nano))
			if !c.At.Before(cp.CreatedAt) {
				errs = append(errs, fmt.Errorf("%s: performed again after its checkpoint committed", what))
			}
			if !owners || c.LookupErr != "" || c.Attempt == 0 {
				known = false
				continue
			}
			by[c.Attempt]++
			if by[c.Attempt] == 2 {
				errs = append(errs, fmt.Errorf("%s: attempt %d performed it twice", what, c.Attempt))
			}
			if c.Attempt > cp.Attempt {
				errs = append(errs, fmt.Errorf("%s: performed by a later attempt than the one that committed it", what))
			}
		}
		if known && by[cp.Attempt] == 0 {
			errs = append(errs, fmt.Errorf("step %d: the committing attempt %d never performed it (calls %+v)", s, cp.Attempt, cs))
		}
	}
	return duplicates, errors.Join(errs...)
}

// Audited is what AuditInvocation read of one invocation.
type Audited struct {
	ID    int64
	K     string
	State string
	// Attempts are its ended attempts, in order.
	Attempts []AttemptRow
	Journal  []Committed
	// Calls are its sink calls by step.
	Calls map[int][]SinkCall
	// Duplicates counts the calls beyond one per step.
	Duplicates int
}

// AuditInvocation reads invocation id, whose input has "k": k, of a function
// as CheckEffects describes, and checks that it succeeded, that its attempts
// are numbered 1..n and only the last succeeded, that its journal is whole
// (CheckJournal) and that its effects pass CheckEffects (with owners).
// byKey is Sink.ByKey(). It returns what it read, with the errors it found.
func AuditInvocation(ctx context.Context, pool *pgxpool.Pool, byKey map[string]map[int][]SinkCall, id int64, k string, owners bool) (Audited, error) {
	a := Audited{ID: id, K: k, Calls: byKey[k]}
	var attempts, entries int
	if err := pool.QueryRow(ctx, `SELECT state, attempts, journal_entries FROM powny_invocations WHERE id = $1`, id).
		Scan(&a.State, &attempts, &entries); err != nil {
		return a, fmt.Errorf("invocation %d (%s): %w", id, k, err)
	}
	var errs []error
	if a.State != "succeeded" {
		errs = append(errs, fmt.Errorf("state %s", a.State))
	}
	var err error
	if a.Attempts, err = Attempts(ctx, pool, id); err != nil {
		return a, err
	}
	if len(a.Attempts) != attempts {
		errs = append(errs, fmt.Errorf("%d attempt rows, the invocation counts %d", len(a.Attempts), attempts))
	}
	for i, at := range a.Attempts {
		if at.Attempt != i+1 {
			errs = append(errs, fmt.Errorf("attempt rows %+v are not numbered 1..n", a.Attempts))
			break
		}
		if (at.Outcome == "succeeded") != (i == len(a.Attempts)-1 && a.State == "succeeded") {
			errs = append(errs, fmt.Errorf("attempt %d ended %s (of %d)", at.Attempt, at.Outcome, len(a.Attempts)))
		}
	}
	cps, err := Checkpoints(ctx, pool, id)
	if err != nil {
		return a, err
	}
	a.Journal, err = CheckJournal(cps, entries)
	errs = append(errs, err)
	a.Duplicates, err = CheckEffects(a.Journal, a.Calls, owners)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return a, fmt.Errorf("invocation %d (%s): %w", id, k, err)
	}
	return a, nil
}
