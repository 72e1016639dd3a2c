package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/store"
	"github.com/powny/powny/platform/testdb"
)

// storeBundle is a fresh database and a store on it.
type storeBundle struct {
	t     *testing.T
	pool  *pgxpool.Pool
	store *store.Store
	n     int // versions deployed, to make each source new
}

func setupStore(t *testing.T) *storeBundle {
	t.Helper()
	pool, _ := testdb.New(t)
	return &storeBundle{t: t, pool: pool, store: store.New(pool)}
}

// deploy deploys a version of function whose config has spec as its
// schedule ("" for none). The store does not look at the code.
func (b *storeBundle) deploy(function, spec string) store.Version {
	b.t.Helper()
	config := map[string]any{"timeout": "1m0s", "retries": 0}
	if spec != "" {
		config["schedule"] = spec
	}
	raw, err := json.Marshal(config)
	require.NoError(b.t, err)
	b.n++
	source := fmt.Sprintf("// %d\nconfig := %s\nfunc main(event) { return event }\n", b.n, raw)
	sum := sha256.Sum256([]byte(source))
	v, _, err := b.store.Deploy(b.t.Context(), store.NewVersion{
		Function: function, Source: source, Code: []byte("code"), Config: raw,
		SHA256: hex.EncodeToString(sum[:]), Author: "test",
	})
	require.NoError(b.t, err)
	return v
}

// scheduleRow is function's row of the powny_schedules view.
type scheduleRow struct {
	Spec             string
	NextAt           time.Time
	LastAt           *time.Time
	LastInvocationID *int64
}

// row returns function's schedule, or nil when it has none.
func (b *storeBundle) row(function string) *scheduleRow {
	b.t.Helper()
	rows, err := b.pool.Query(b.t.Context(),
		`SELECT spec, next_at, last_at, last_invocation_id FROM powny_schedules WHERE function = $1`, function)
	require.NoError(b.t, err)
	defer rows.Close()
	if !rows.Next() {
		require.NoError(b.t, rows.Err())
		return nil
	}
	var r scheduleRow
	require.NoError(b.t, rows.Scan(&r.Spec, &r.NextAt, &r.LastAt, &r.LastInvocationID))
	return &r
}

// setNext moves function's next tick.
func (b *storeBundle) setNext(function string, next time.Time) {
	b.t.Helper()
	tag, err := b.pool.Exec(b.t.Context(), `
		UPDATE powny.schedules SET next_at = $2
		WHERE function_id = (SELECT id FROM powny.functions WHERE name = $1)`, function, next)
	require.NoError(b.t, err)
	require.EqualValues(b.t, 1, tag.RowsAffected())
}

// dbNow is the database's clock.
func (b *storeBundle) dbNow() time.Time {
	b.t.Helper()
	var now time.Time
	require.NoError(b.t, b.pool.QueryRow(b.t.Context(), `SELECT now()`).Scan(&now))
	return now.UTC()
}

// scheduled returns the ticks (input.tick) of function's invocations
// started by its schedule, in order of id, and checks the rest of each.
func (b *storeBundle) scheduled(function, spec string) []string {
	b.t.Helper()
	rows, err := b.pool.Query(b.t.Context(), `
		SELECT input->>'schedule', input->>'tick', idempotency_key, state, trigger
		FROM powny_invocations WHERE function = $1 ORDER BY id`, function)
	require.NoError(b.t, err)
	defer rows.Close()
	var ticks []string
	for rows.Next() {
		var gotSpec, tick, key, state, trigger string
		require.NoError(b.t, rows.Scan(&gotSpec, &tick, &key, &state, &trigger))
		require.Equal(b.t, spec, gotSpec)
		require.Equal(b.t, "schedule:"+tick, key)
		require.Equal(b.t, store.StateQueued, state)
		require.Equal(b.t, store.TriggerSchedule, trigger)
		ticks = append(ticks, tick)
	}
	require.NoError(b.t, rows.Err())
	return ticks
}

// firstTickAfter is the first whole second after t, for "* * * * * *".
func firstTickAfter(t time.Time) time.Time {
	return t.Truncate(time.Second).Add(time.Second)
}

func TestScheduleFollowsDeploys(t *testing.T) {
	t.Parallel()
	b := setupStore(t)

	before := b.dbNow()
	b.deploy("tick", "*/5 * * * *")
	r := b.row("tick")
	require.NotNil(t, r)
	require.Equal(t, "*/5 * * * *", r.Spec)
	// The first multiple of 5 minutes after the deploy.
	want := before.Truncate(5 * time.Minute).Add(5 * time.Minute)
	require.WithinDuration(t, want, r.NextAt, 5*time.Minute)
	require.True(t, r.NextAt.After(before))
	require.Zero(t, r.NextAt.Minute()%5)
	require.Zero(t, r.NextAt.Second())
	require.Nil(t, r.LastAt)

	// Another version with the same spec keeps the next tick, whatever the
	// clock says now.
	b.setNext("tick", want.Add(time.Hour))
	v2 := b.deploy("tick", "*/5 * * * *")
	require.Equal(t, 2, v2.Number)
	require.Equal(t, want.Add(time.Hour), b.row("tick").NextAt.UTC())

	// A new spec starts from now.
	b.deploy("tick", "@hourly")
	r = b.row("tick")
	require.Equal(t, "@hourly", r.Spec)
	require.Equal(t, b.dbNow().Truncate(time.Hour).Add(time.Hour), r.NextAt.UTC())

	// No schedule: no row.
	b.deploy("tick", "")
	require.Nil(t, b.row("tick"))

	// A rollback to a version with a schedule brings it back.
	_, err := b.store.Rollback(t.Context(), "tick", 1)
	require.NoError(t, err)
	r = b.row("tick")
	require.NotNil(t, r)
	require.Equal(t, "*/5 * * * *", r.Spec)

	// Another function is not touched.
	b.deploy("other", "")
	require.Nil(t, b.row("other"))
	require.NotNil(t, b.row("tick"))
}

func TestFireSchedules(t *testing.T) {
	t.Parallel()

	t.Run("FiresADueTickOnce", func(t *testing.T) {
		t.Parallel()
		b := setupStore(t)
		b.deploy("tick", "* * * * * *")
		now := b.dbNow()
		// Not due yet.
		fired, err := b.store.FireSchedules(t.Context(), 0, now.Add(-2*time.Second))
		require.NoError(t, err)
		require.Empty(t, fired)

		tick := firstTickAfter(now)
		b.setNext("tick", tick)
		at := tick.Add(300 * time.Millisecond)
		fired, err = b.store.FireSchedules(t.Context(), 0, at)
		require.NoError(t, err)
		require.Len(t, fired, 1)
		f := fired[0]
		require.Equal(t, "tick", f.Function)
		require.Equal(t, "* * * * * *", f.Spec)
		require.Equal(t, tick, f.Tick)
		require.Equal(t, tick, f.Due)
		require.Equal(t, tick.Add(time.Second), f.Next)
		require.NotZero(t, f.InvocationID)

		// The same moment again: nothing is due.
		fired, err = b.store.FireSchedules(t.Context(), 0, at)
		require.NoError(t, err)
		require.Empty(t, fired)

		r := b.row("tick")
		require.Equal(t, tick.Add(time.Second), r.NextAt.UTC())
		require.NotNil(t, r.LastAt)
		require.Equal(t, tick, r.LastAt.UTC())
		require.Equal(t, f.InvocationID, *r.LastInvocationID)
		require.Equal(t, []string{tick.Format(time.RFC3339)}, b.scheduled("tick", "* * * * * *"))

		// Its River job is there, ready to run.
		var state string
		require.NoError(t, b.pool.QueryRow(t.Context(), `
			SELECT j.state FROM river_job j JOIN powny.invocations i ON i.river_job_id = j.id WHERE i.id = $1`,
			f.InvocationID).Scan(&state))
		require.Equal(t, "available", state)
	})

	t.Run("ConcurrentCallsFireOnce", func(t *testing.T) {
		t.Parallel()
		b := setupStore(t)
		const functions = 20
		for i := range functions {
			b.deploy("tick"+string(rune('a'+i)), "@hourly")
		}
		_, err := b.pool.Exec(t.Context(), `UPDATE powny.schedules SET next_at = now() - interval '1 second'`)
		require.NoError(t, err)
		const callers = 8
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			total []store.Fired
			errs  []error
		)
		start := make(chan struct{})
		for range callers {
			wg.Go(func() {
				<-start
				fired, err := b.store.FireSchedules(t.Context(), 0, time.Time{})
				mu.Lock()
				defer mu.Unlock()
				total = append(total, fired...)
				errs = append(errs, err)
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, total, functions)
		seen := map[string]bool{}
		for _, f := range total {
			require.False(t, seen[f.Function], "%s fired twice", f.Function)
			seen[f.Function] = true
			require.Len(t, b.scheduled(f.Function, "@hourly"), 1)
		}
	})

	t.Run("StaleTermFiresNothing", func(t *testing.T) {
		t.Parallel()
		b := setupStore(t)
		b.deploy("tick", "* * * * * *")
		b.setNext("tick", b.dbNow().Add(-time.Second))
		old, err := b.store.BecomeLeader(t.Context(), "c1")
		require.NoError(t, err)
		current, err := b.store.BecomeLeader(t.Context(), "c2")
		require.NoError(t, err)

		fired, err := b.store.FireSchedules(t.Context(), old, time.Time{})
		require.NoError(t, err)
		require.Empty(t, fired)
		require.Empty(t, b.scheduled("tick", "* * * * * *"))

		fired, err = b.store.FireSchedules(t.Context(), current, time.Time{})
		require.NoError(t, err)
		require.Len(t, fired, 1)
		require.Len(t, b.scheduled("tick", "* * * * * *"), 1)
	})

	t.Run("NoLeaderRowFiresNothingWithATerm", func(t *testing.T) {
		t.Parallel()
		b := setupStore(t)
		b.deploy("tick", "* * * * * *")
		b.setNext("tick", b.dbNow().Add(-time.Second))
		fired, err := b.store.FireSchedules(t.Context(), 7, time.Time{})
		require.NoError(t, err)
		require.Empty(t, fired)
	})

	t.Run("MissedTicksFireOnceForTheLatest", func(t *testing.T) {
		t.Parallel()
		b := setupStore(t)
		b.deploy("tick", "*/5 * * * *")
		// The collector was away for a day and a bit.
		due := time.Date(2025, 3, 1, 10, 5, 0, 0, time.UTC)
		b.setNext("tick", due)
		now := due.Add(26*time.Hour + 7*time.Minute)
		fired, err := b.store.FireSchedules(t.Context(), 0, now)
		require.NoError(t, err)
		require.Len(t, fired, 1)
		latest := time.Date(2025, 3, 2, 12, 10, 0, 0, time.UTC)
		require.Equal(t, due, fired[0].Due)
		require.Equal(t, latest, fired[0].Tick)
		require.Equal(t, latest.Add(5*time.Minute), fired[0].Next)

		fired, err = b.store.FireSchedules(t.Context(), 0, now)
		require.NoError(t, err)
		require.Empty(t, fired)
		// Then the next tick, as usual.
		fired, err = b.store.FireSchedules(t.Context(), 0, latest.Add(5*time.Minute))
		require.NoError(t, err)
		require.Len(t, fired, 1)
		require.Equal(t, []string{"2025-03-02T12:10:00Z", "2025-03-02T12:15:00Z"}, b.scheduled("tick", "*/5 * * * *"))
	})

	t.Run("ATickFiredBeforeIsNotFiredAgain", func(t *testing.T) {
		t.Parallel()
		b := setupStore(t)
		b.deploy("tick", "* * * * * *")
		tick := firstTickAfter(b.dbNow())
		b.setNext("tick", tick)
		fired, err := b.store.FireSchedules(t.Context(), 0, tick)
		require.NoError(t, err)
		require.Len(t, fired, 1)
		// As if a second leader had read the row before the first moved it.
		b.setNext("tick", tick)
		fired, err = b.store.FireSchedules(t.Context(), 0, tick)
		require.NoError(t, err)
		require.Empty(t, fired)
		r := b.row("tick")
		require.Equal(t, tick.Add(time.Second), r.NextAt.UTC(), "next_at moves on")
		require.Len(t, b.scheduled("tick", "* * * * * *"), 1)
		// No River job was left without its invocation.
		var orphans int
		require.NoError(t, b.pool.QueryRow(t.Context(), `
			SELECT count(*) FROM river_job j
			WHERE NOT EXISTS (SELECT 1 FROM powny.invocations i WHERE i.river_job_id = j.id)`).Scan(&orphans))
		require.Zero(t, orphans)
	})

	t.Run("DeletedFunctionNeverFires", func(t *testing.T) {
		t.Parallel()
		b := setupStore(t)
		b.deploy("tick", "* * * * * *")
		b.setNext("tick", b.dbNow().Add(-time.Second))
		b.deploy("tick", "")
		fired, err := b.store.FireSchedules(t.Context(), 0, time.Time{})
		require.NoError(t, err)
		require.Empty(t, fired)
	})
}
