package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// NewEvent is an event to accept: its body, its dedup key ("" for none) and
// the functions whose triggers it matches.
type NewEvent struct {
	Body      json.RawMessage
	DedupKey  string
	Functions []string
}

// AcceptedEvent says what accepting an event did.
type AcceptedEvent struct {
	ID int64 `json:"id"`
	// Duplicate: the dedup key was used before (ID is that event's): nothing
	// was started or woken.
	Duplicate bool      `json:"duplicate"`
	Started   []Started `json:"started"`
	Woke      []Started `json:"woke"`
}

// Started names an invocation an event started or woke.
type Started struct {
	Function   string `json:"function"`
	Invocation int64  `json:"invocation"`
}

// Wait is a wait_event() call of an invocation that is still waiting.
type Wait struct {
	InvocationID int64
	Seq          int
	Filter       json.RawMessage
}

// RouteWaits decides which event ends which wait: for each wait, the index
// of the first event that matches its filter, or -1. Only events with
// live[i] true may take a wait (the others are duplicates).
type RouteWaits func(waits []Wait, live []bool) ([]int, error)

// AcceptEvents stores events, starts the invocations of the functions each
// one matches, and delivers them to the waiting invocations whose filters
// they match, in one transaction: an accepted event is never half-processed.
// keys are the match keys of all the events (see platform/match.Keys): the
// waits anchored on none of them cannot match and are not read. An event
// whose dedup key was used before (earlier, or earlier in the batch) is
// acknowledged as a duplicate and does nothing.
func (s *Store) AcceptEvents(ctx context.Context, events []NewEvent, keys []string, route RouteWaits) ([]AcceptedEvent, error) {
	out := make([]AcceptedEvent, len(events))
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		live, err := insertEvents(ctx, tx, events, out)
		if err != nil {
			return err
		}
		if err := startFromEvents(ctx, tx, events, live, out); err != nil {
			return err
		}
		return deliverEvents(ctx, tx, keys, live, out, route)
	})
	if err != nil {
		return nil, fmt.Errorf("accept events: %w", err)
	}
	return out, nil
}

// insertEvents stores the events, skipping those whose dedup key exists,
// and fills in out[i].ID and Duplicate; live[i] says events[i] was stored.
func insertEvents(ctx context.Context, tx pgx.Tx, events []NewEvent, out []AcceptedEvent) ([]bool, error) {
	var (
		bodies   []string
		keys     []*string
		started  []int32
		rowOf    []int // rowOf[k] is the event of row k+1
		seen     = make(map[string]int, len(events))
		repeatOf = make(map[int]int)
	)
	for i, e := range events {
		if e.DedupKey != "" {
			if first, ok := seen[e.DedupKey]; ok {
				repeatOf[i] = first // repeated within the batch
				continue
			}
			seen[e.DedupKey] = i
			keys = append(keys, &e.DedupKey)
		} else {
			keys = append(keys, nil)
		}
		bodies, started, rowOf = append(bodies, string(e.Body)), append(started, int32(len(e.Functions))), append(rowOf, i)
	}
	// Ids come from the sequence first, so that each row is known by its
	// position (an INSERT's RETURNING order says nothing).
	rows, err := tx.Query(ctx, `
		WITH r AS (
			SELECT r.n, r.body, r.dedup_key, r.started, nextval(pg_get_serial_sequence('powny.events', 'id')) AS id
			FROM unnest($1::jsonb[], $2::text[], $3::int[]) WITH ORDINALITY AS r(body, dedup_key, started, n)
		), ins AS (
			INSERT INTO powny.events (id, dedup_key, body, started)
			OVERRIDING SYSTEM VALUE
			SELECT id, dedup_key, body, started FROM r
			ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
			RETURNING id
		)
		SELECT r.n, COALESCE(ins.id, e.id), ins.id IS NOT NULL
		FROM r LEFT JOIN ins ON ins.id = r.id
		LEFT JOIN powny.events e ON ins.id IS NULL AND e.dedup_key = r.dedup_key`,
		bodies, keys, started)
	if err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	live := make([]bool, len(events))
	for rows.Next() {
		var (
			row      int
			id       *int64
			inserted bool
		)
		if err := rows.Scan(&row, &id, &inserted); err != nil {
			rows.Close()
			return nil, fmt.Errorf("insert events: %w", err)
		}
		i := rowOf[row-1]
		out[i].ID, live[i], out[i].Duplicate = deref(id), inserted, !inserted
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert events: %w", err)
	}
	for i := range out {
		if first, ok := repeatOf[i]; ok {
			out[i].ID, out[i].Duplicate = out[first].ID, true
		}
		if out[i].Duplicate && out[i].ID == 0 {
			// The first event with the key committed while this statement
			// ran, after its snapshot: read it now.
			if err := tx.QueryRow(ctx, `SELECT id FROM powny.events WHERE dedup_key = $1`, events[i].DedupKey).
				Scan(&out[i].ID); err != nil {
				return nil, fmt.Errorf("find the event with dedup key %q: %w", events[i].DedupKey, err)
			}
		}
	}
	return live, nil
}

// startFromEvents inserts the invocations the live events start, with their
// River jobs, and names them in out.
func startFromEvents(ctx context.Context, tx pgx.Tx, events []NewEvent, live []bool, out []AcceptedEvent) error {
	var (
		reqs  []NewInvocation
		owner []int
	)
	for i, e := range events {
		out[i].Started, out[i].Woke = []Started{}, []Started{}
		if !live[i] {
			continue
		}
		for _, fn := range e.Functions {
			reqs = append(reqs, NewInvocation{Function: fn, Trigger: "event", Input: e.Body, EventID: out[i].ID, Wake: true})
			owner = append(owner, i)
		}
	}
	if len(reqs) == 0 {
		return nil
	}
	invs, errs, err := insertInvocations(ctx, tx, reqs)
	if err != nil {
		return err
	}
	for k, inv := range invs {
		if errs[k] != nil {
			continue // the function was removed since the triggers were read
		}
		i := owner[k]
		out[i].Started = append(out[i].Started, Started{Function: inv.Function, Invocation: inv.ID})
	}
	return nil
}

// deliverEvents ends the waits the live events match: each wait takes the
// first event that matches it, and its invocation is woken.
func deliverEvents(ctx context.Context, tx pgx.Tx, keys []string, live []bool, out []AcceptedEvent, route RouteWaits) error {
	rows, err := tx.Query(ctx, `
		SELECT w.invocation_id, w.seq, w.filter FROM powny.waits w
		JOIN powny.invocations i ON i.id = w.invocation_id
		WHERE w.state = 'waiting' AND (w.anchors && $1::text[] OR w.anchors = '{}')
		  AND i.state NOT IN ('succeeded', 'failed', 'cancelled')`, keys)
	if err != nil {
		return fmt.Errorf("find waits: %w", err)
	}
	waits, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Wait])
	if err != nil || len(waits) == 0 {
		return err
	}
	takers, err := route(waits, live)
	if err != nil {
		return err
	}
	var (
		invs, events []int64
		seqs         []int32
	)
	for k, i := range takers {
		if i >= 0 && live[i] {
			invs, seqs, events = append(invs, waits[k].InvocationID), append(seqs, int32(waits[k].Seq)), append(events, out[i].ID)
		}
	}
	if len(invs) == 0 {
		return nil
	}
	// A wait that a concurrent event or its timeout ended meanwhile is not
	// 'waiting' any more when the UPDATE gets its row lock: skipped.
	rows, err = tx.Query(ctx, `
		WITH d AS (
			SELECT * FROM unnest($1::bigint[], $2::int[], $3::bigint[]) AS d(invocation_id, seq, event_id)
		), delivered AS (
			UPDATE powny.waits w SET state = 'delivered', event_id = d.event_id, resolved_at = now()
			FROM d WHERE w.invocation_id = d.invocation_id AND w.seq = d.seq AND w.state = 'waiting'
			RETURNING w.invocation_id, w.event_id
		), inv AS (
			SELECT i.id, i.river_job_id, i.state, f.name, delivered.event_id
			FROM delivered JOIN powny.invocations i ON i.id = delivered.invocation_id
			JOIN powny.functions f ON f.id = i.function_id
		), available AS (
			-- Suspended: its job waits for its deadline; it runs now.
			UPDATE river_job j SET state = 'available', scheduled_at = now()
			FROM inv WHERE j.id = inv.river_job_id AND inv.state = 'waiting' AND j.state = 'scheduled'
			RETURNING j.id
		), later AS (
			-- Its worker recorded the suspension but River has not yet
			-- snoozed the job, or it is running and may suspend again at
			-- this wait: the collector's sweep wakes it once River has
			-- snoozed it (a run that took the event meanwhile is woken
			-- once for nothing, and suspends again).
			INSERT INTO powny.wakeups (invocation_id)
			SELECT inv.id FROM inv JOIN river_job j ON j.id = inv.river_job_id
			WHERE inv.state IN ('waiting', 'running') AND j.state <> 'scheduled'
			ON CONFLICT DO NOTHING
		), counted AS (
			UPDATE powny.events e SET woke = c.n
			FROM (SELECT event_id, count(*) AS n FROM inv GROUP BY event_id) c WHERE e.id = c.event_id
		), wake AS (`+wakeWorkersSQL("available")+`)
		SELECT inv.event_id, inv.name, inv.id FROM inv, (SELECT count(*) FROM wake) AS w ORDER BY inv.id`,
		invs, seqs, events)
	if err != nil {
		return fmt.Errorf("deliver events: %w", err)
	}
	byID := make(map[int64]int, len(out))
	for i := range out {
		if live[i] {
			byID[out[i].ID] = i
		}
	}
	for rows.Next() {
		var (
			event int64
			woke  Started
		)
		if err := rows.Scan(&event, &woke.Function, &woke.Invocation); err != nil {
			rows.Close()
			return fmt.Errorf("deliver events: %w", err)
		}
		i := byID[event]
		out[i].Woke = append(out[i].Woke, woke)
	}
	return rows.Err()
}

// TriggerRevision is bumped by every deploy and rollback: the triggers read
// with a revision are current as long as it stays the same.
func (s *Store) TriggerRevision(ctx context.Context) (int64, error) {
	var rev int64
	err := s.pool.QueryRow(ctx, `SELECT revision FROM powny.trigger_revision`).Scan(&rev)
	if err != nil {
		return 0, fmt.Errorf("read the trigger revision: %w", err)
	}
	return rev, nil
}

// Trigger is the "on" list of a function's active version.
type Trigger struct {
	Function string
	On       json.RawMessage
}

// ListTriggers returns the triggers of every function whose active version
// has some, and the revision they are current at.
func (s *Store) ListTriggers(ctx context.Context) ([]Trigger, int64, error) {
	var (
		triggers []Trigger
		rev      int64
	)
	err := s.InTx(ctx, func(tx pgx.Tx) error {
		// One snapshot for the revision and the triggers.
		if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT revision FROM powny.trigger_revision`).Scan(&rev); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			SELECT f.name, v.config->'on' FROM powny.functions f
			JOIN powny.versions v ON v.id = f.active_version
			WHERE jsonb_typeof(v.config->'on') = 'array' AND jsonb_array_length(v.config->'on') > 0
			ORDER BY f.name`)
		if err != nil {
			return err
		}
		triggers, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Trigger])
		return err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list triggers: %w", err)
	}
	return triggers, rev, nil
}

// WaitState is where a wait_event() call stands.
type WaitState struct {
	State    string // "waiting", "delivered" or "timeout"
	Deadline time.Time
	Event    json.RawMessage // the body of the event delivered
}

// GetWait returns the wait of invocation made by its effect seq, or
// ErrNotFound if it has not been registered.
func (s *Store) GetWait(ctx context.Context, invocation int64, seq int) (WaitState, error) {
	var w WaitState
	err := s.pool.QueryRow(ctx, `
		SELECT w.state, w.deadline, e.body FROM powny.waits w
		LEFT JOIN powny.events e ON e.id = w.event_id
		WHERE w.invocation_id = $1 AND w.seq = $2`, invocation, seq).Scan(&w.State, &w.Deadline, &w.Event)
	return w, interpretError(err)
}

// TimeoutWait ends a wait whose deadline has passed: unless an event ended
// it first, it becomes "timeout". It returns where the wait stands after.
// now is the caller's clock, the one that set the deadline.
func (s *Store) TimeoutWait(ctx context.Context, invocation int64, seq int, now time.Time) (WaitState, error) {
	if _, err := s.pool.Exec(ctx, `
		UPDATE powny.waits SET state = 'timeout', resolved_at = now()
		WHERE invocation_id = $1 AND seq = $2 AND state = 'waiting' AND deadline <= $3`,
		invocation, seq, now); err != nil {
		return WaitState{}, fmt.Errorf("time out wait: %w", err)
	}
	return s.GetWait(ctx, invocation, seq)
}

// WakeEventWaiters makes available the jobs of invocations an event woke
// while their job was running (see AcceptEvents), once River has snoozed
// it, and forgets the wake-ups that are done: the job is neither running nor
// snoozed, or the invocation is neither running nor waiting.
func (s *Store) WakeEventWaiters(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `
		WITH w AS (
			SELECT w.invocation_id, i.state, i.river_job_id, j.state AS job_state
			FROM powny.wakeups w JOIN powny.invocations i ON i.id = w.invocation_id
			LEFT JOIN river_job j ON j.id = i.river_job_id
		), available AS (
			UPDATE river_job j SET state = 'available', scheduled_at = now()
			FROM w WHERE j.id = w.river_job_id AND w.state = 'waiting' AND w.job_state = 'scheduled'
			RETURNING j.id
		), done AS (
			DELETE FROM powny.wakeups x USING w
			WHERE x.invocation_id = w.invocation_id
			  AND (w.state NOT IN ('waiting', 'running') OR w.job_state IS DISTINCT FROM 'running')
		), wake AS (`+wakeWorkersSQL("available")+`)
		SELECT (SELECT count(*) FROM available) FROM (SELECT count(*) FROM wake) AS x`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("wake event waiters: %w", err)
	}
	return n, nil
}

// WaitInfo is a wait_event() call of an invocation, for its audit.
type WaitInfo struct {
	Seq        int             `json:"seq"`
	Filter     json.RawMessage `json:"filter"`
	Deadline   time.Time       `json:"deadline"`
	State      string          `json:"state"`
	EventID    *int64          `json:"event_id,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	ResolvedAt *time.Time      `json:"resolved_at,omitempty"`
}

// ListWaits lists the wait_event() calls of an invocation, first first.
func (s *Store) ListWaits(ctx context.Context, invocation int64) ([]WaitInfo, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT seq, filter, deadline, state, event_id, created_at, resolved_at
		FROM powny.waits WHERE invocation_id = $1 ORDER BY seq`, invocation)
	if err != nil {
		return nil, fmt.Errorf("list waits: %w", err)
	}
	waits, err := pgx.CollectRows(rows, pgx.RowToStructByPos[WaitInfo])
	if err != nil {
		return nil, fmt.Errorf("list waits: %w", err)
	}
	return waits, nil
}

// Event is a stored event.
type Event struct {
	ID         int64           `json:"id"`
	DedupKey   string          `json:"dedup_key,omitempty"`
	Body       json.RawMessage `json:"body"`
	Started    int             `json:"started"` // how many invocations it started
	Woke       int             `json:"woke"`    // how many waiting invocations it woke
	ReceivedAt time.Time       `json:"received_at"`
}

const eventSelect = `SELECT id, COALESCE(dedup_key, ''), body, started, woke, received_at FROM powny.events`

// ListEvents lists events, newest first: at most limit (default 50, at most
// 1,000), with ids below before when it is not 0.
func (s *Store) ListEvents(ctx context.Context, before int64, limit int) ([]Event, error) {
	limit = min(cmp.Or(limit, 50), 1000)
	rows, err := s.pool.Query(ctx, eventSelect+` WHERE $1 = 0 OR id < $1 ORDER BY id DESC LIMIT $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	events, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Event])
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return events, nil
}

// GetEvent returns an event with the invocations it started and those it
// woke.
func (s *Store) GetEvent(ctx context.Context, id int64) (e Event, started, woke []Started, err error) {
	rows, err := s.pool.Query(ctx, eventSelect+` WHERE id = $1`, id)
	if err != nil {
		return e, nil, nil, fmt.Errorf("get event: %w", err)
	}
	if e, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[Event]); err != nil {
		return e, nil, nil, interpretError(err)
	}
	if started, err = s.eventInvocations(ctx, `
		SELECT f.name, i.id FROM powny.invocations i JOIN powny.functions f ON f.id = i.function_id
		WHERE i.event_id = $1 ORDER BY i.id`, id); err != nil {
		return e, nil, nil, err
	}
	woke, err = s.eventInvocations(ctx, `
		SELECT f.name, i.id FROM powny.waits w JOIN powny.invocations i ON i.id = w.invocation_id
		JOIN powny.functions f ON f.id = i.function_id
		WHERE w.event_id = $1 ORDER BY i.id`, id)
	return e, started, woke, err
}

func (s *Store) eventInvocations(ctx context.Context, query string, id int64) ([]Started, error) {
	rows, err := s.pool.Query(ctx, query, id)
	if err != nil {
		return nil, fmt.Errorf("get event: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Started])
	if err != nil {
		return nil, fmt.Errorf("get event: %w", err)
	}
	return list, nil
}
