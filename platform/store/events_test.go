package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/store"
)

// waitFor starts an invocation of function and ends its first attempt
// suspended at a wait_event() call (seq 0) anchored on anchor, with
// deadline; it returns the invocation's id.
func (b *storeBundle) waitFor(function, anchor string, deadline time.Time) int64 {
	b.t.Helper()
	ctx := b.t.Context()
	inv, err := b.store.InsertInvocation(ctx, b.pool, store.NewInvocation{Function: function, Trigger: "http", Input: json.RawMessage("null")})
	require.NoError(b.t, err)
	run, err := b.store.StartAttempt(ctx, inv.RiverJobID, "w1")
	require.NoError(b.t, err)
	require.NoError(b.t, b.store.EndAttempt(ctx, store.AttemptEnd{
		Fence: run.Fence, Worker: "w1", StartedAt: run.StartedAt, State: store.StateWaiting, WakeAt: deadline,
		Wait: &store.NewWait{Seq: 0, Filter: json.RawMessage(`{"k": 1}`), Anchors: []string{anchor}},
	}))
	return inv.ID
}

// accept accepts one event whose match keys are keys; every wait read is
// routed to it.
func (b *storeBundle) accept(body string, keys ...string) store.AcceptedEvent {
	b.t.Helper()
	out, err := b.store.AcceptEvents(b.t.Context(), []store.NewEvent{{Body: json.RawMessage(body)}}, keys,
		func(waits []store.Wait, _ []bool) ([]int, error) { return make([]int, len(waits)), nil })
	require.NoError(b.t, err)
	return out[0]
}

func (b *storeBundle) jobState(invocation int64) string {
	b.t.Helper()
	var state string
	require.NoError(b.t, b.pool.QueryRow(b.t.Context(), `
		SELECT j.state::text FROM river_job j JOIN powny.invocations i ON i.river_job_id = j.id WHERE i.id = $1`,
		invocation).Scan(&state))
	return state
}

func (b *storeBundle) setJobState(invocation int64, state string) {
	b.t.Helper()
	_, err := b.pool.Exec(b.t.Context(), `
		UPDATE river_job SET state = $2::river_job_state, scheduled_at = now() + interval '1 hour'
		FROM powny.invocations i WHERE i.river_job_id = river_job.id AND i.id = $1`, invocation, state)
	require.NoError(b.t, err)
}

func (b *storeBundle) wakeups() int {
	b.t.Helper()
	var n int
	require.NoError(b.t, b.pool.QueryRow(b.t.Context(), `SELECT count(*) FROM powny.wakeups`).Scan(&n))
	return n
}

// The wait row decides between an event and the timeout: whichever ends
// it first wins, and the other changes nothing.
func TestWaitEndsOnceByEventOrTimeout(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := t.Context()
	b.deploy("f", "")
	deadline := time.Now().Add(time.Hour)

	delivered := b.waitFor("f", "k=1", deadline)
	w, err := b.store.GetWait(ctx, delivered, 0)
	require.NoError(t, err)
	require.Equal(t, "waiting", w.State)
	require.WithinDuration(t, deadline, w.Deadline, time.Millisecond)
	_, err = b.store.GetWait(ctx, delivered, 1)
	require.ErrorIs(t, err, store.ErrNotFound)

	require.Empty(t, b.accept(`{"k": 2}`, "k=2").Woke, "an event anchored elsewhere reads no wait")
	a := b.accept(`{"k": 1, "n": 7}`, "k=1")
	require.Equal(t, []store.Started{{Function: "f", Invocation: delivered}}, a.Woke)
	w, err = b.store.TimeoutWait(ctx, delivered, 0, deadline.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, "delivered", w.State, "the timeout comes too late")
	require.JSONEq(t, `{"k": 1, "n": 7}`, string(w.Event))
	require.Empty(t, b.accept(`{"k": 1}`, "k=1").Woke, "a wait ends once")

	timedOut := b.waitFor("f", "k=1", deadline)
	w, err = b.store.TimeoutWait(ctx, timedOut, 0, deadline.Add(-time.Minute))
	require.NoError(t, err)
	require.Equal(t, "waiting", w.State, "not due yet")
	w, err = b.store.TimeoutWait(ctx, timedOut, 0, deadline)
	require.NoError(t, err)
	require.Equal(t, "timeout", w.State)
	require.Empty(t, b.accept(`{"k": 1}`, "k=1").Woke, "an event comes too late")
}

// An event that finds its invocation suspended makes its job available at
// once; one that comes before River snoozed the job leaves a wake-up, which
// the sweep acts on once River has.
func TestEventWakesSuspendedAndSuspendingInvocations(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := t.Context()
	b.deploy("f", "")

	suspended := b.waitFor("f", "k=1", time.Now().Add(time.Hour))
	b.setJobState(suspended, "scheduled") // River snoozed it
	require.Len(t, b.accept(`{"k": 1}`, "k=1").Woke, 1)
	require.Equal(t, "available", b.jobState(suspended))
	require.Zero(t, b.wakeups())

	suspending := b.waitFor("f", "k=1", time.Now().Add(time.Hour))
	b.setJobState(suspending, "running") // River's completer has not snoozed it yet
	require.Len(t, b.accept(`{"k": 1}`, "k=1").Woke, 1)
	require.Equal(t, 1, b.wakeups())
	n, err := b.store.WakeEventWaiters(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "still running: nothing to wake yet")
	require.Equal(t, 1, b.wakeups())

	b.setJobState(suspending, "scheduled") // now River has
	n, err = b.store.WakeEventWaiters(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.Equal(t, "available", b.jobState(suspending))
	require.Zero(t, b.wakeups(), "done wake-ups are forgotten")
}

// Old events are collected, except one a waiting invocation has not read
// yet.
func TestDeleteEventsBeforeKeepsUnreadDeliveries(t *testing.T) {
	t.Parallel()
	b := setupStore(t)
	ctx := t.Context()
	b.deploy("f", "")
	waiting := b.waitFor("f", "k=1", time.Now().Add(time.Hour))
	unread := b.accept(`{"k": 1}`, "k=1")
	require.Len(t, unread.Woke, 1)
	b.accept(`{"k": 3}`, "k=3")
	b.accept(`{"k": 4}`, "k=4")

	n, err := b.store.DeleteEventsBefore(ctx, time.Now().Add(-time.Minute), 10)
	require.NoError(t, err)
	require.Zero(t, n, "nothing is old yet")
	n, err = b.store.DeleteEventsBefore(ctx, time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.EqualValues(t, 2, n)
	w, err := b.store.GetWait(ctx, waiting, 0)
	require.NoError(t, err)
	require.Equal(t, "delivered", w.State)
	require.JSONEq(t, `{"k": 1}`, string(w.Event), "the delivered event is still there to read")
}
