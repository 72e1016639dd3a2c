package collector_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/collector"
	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/store"
	"github.com/powny/powny/platform/testdb"
	"github.com/powny/powny/testcontainers"
)

func TestMain(m *testing.M) { testcontainers.Main(m) }

const (
	function  = "echo"
	source    = "func main(input) {\n  log.info(\"echo\", input)\n  return input\n}\n"
	workerID  = "test-worker"
	retention = time.Hour
)

// testBundle is a fresh database with one deployed function.
type testBundle struct {
	t     *testing.T
	pool  *pgxpool.Pool
	store *store.Store
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool, _ := testdb.New(t)
	b := &testBundle{t: t, pool: pool, store: store.New(pool)}
	compiled, err := fnrun.Compile(source)
	require.NoError(t, err)
	config, err := json.Marshal(compiled.Config)
	require.NoError(t, err)
	sum := sha256.Sum256([]byte(source))
	_, created, err := b.store.Deploy(t.Context(), store.NewVersion{
		Function: function, Source: source, Code: compiled.Code, Config: config,
		SHA256: hex.EncodeToString(sum[:]), Author: "test",
	})
	require.NoError(t, err)
	require.True(t, created)
	return b
}

// queued starts an invocation through the store, as the API does.
func (b *testBundle) queued() store.Invocation {
	b.t.Helper()
	inv, err := b.store.InsertInvocation(b.t.Context(), b.pool, store.NewInvocation{
		Function: function, Trigger: "http", Input: json.RawMessage(`{"n": 1}`),
	})
	require.NoError(b.t, err)
	return inv
}

// running starts an invocation and its first attempt, as a worker does.
func (b *testBundle) running() (store.Invocation, store.Run) {
	b.t.Helper()
	inv := b.queued()
	run, err := b.store.StartAttempt(b.t.Context(), inv.RiverJobID, workerID)
	require.NoError(b.t, err)
	return inv, run
}

// finished runs an invocation to the final state (succeeded or failed)
// through the store, with an attempt, a log line and a checkpoint, and
// returns its id.
func (b *testBundle) finished(state string) int64 {
	b.t.Helper()
	inv, run := b.running()
	require.NoError(b.t, b.store.Checkpoint(b.t.Context(), run.Fence, workerID,
		store.JournalRows{Count: 1, Entries: []byte(`[{"seq": 0}]`), Line: 2}, nil))
	end := store.AttemptEnd{
		Fence: run.Fence, Worker: workerID, StartedAt: run.StartedAt, State: state,
		Logs: []store.LogLine{{Level: "info", Message: "echo", LoggedAt: time.Now()}},
	}
	if state == store.StateSucceeded {
		end.Result = json.RawMessage(`{"n": 1}`)
	} else {
		end.Error = &store.Failure{Kind: "runtime", Message: "boom", Line: 2}
		end.Failed = true
	}
	require.NoError(b.t, b.store.EndAttempt(b.t.Context(), end))
	got, err := b.store.GetInvocation(b.t.Context(), inv.ID)
	require.NoError(b.t, err)
	require.Equal(b.t, state, got.State)
	require.NotNil(b.t, got.FinishedAt)
	return inv.ID
}

// cancelled cancels a queued invocation, as the API does, and returns its id.
func (b *testBundle) cancelled() int64 {
	b.t.Helper()
	inv := b.queued()
	require.NoError(b.t, b.store.InTx(b.t.Context(), func(tx pgx.Tx) error {
		_, ok, err := b.store.CancelTx(b.t.Context(), tx, inv.ID)
		require.True(b.t, ok)
		return err
	}))
	return inv.ID
}

// age moves every timestamp of invocation id back by d (finished_at only
// when it is set).
func (b *testBundle) age(id int64, d time.Duration) {
	b.t.Helper()
	tag, err := b.pool.Exec(b.t.Context(), `
		UPDATE powny.invocations
		SET created_at = created_at - $2 * interval '1 second',
		    started_at = started_at - $2 * interval '1 second',
		    attempt_started_at = attempt_started_at - $2 * interval '1 second',
		    finished_at = finished_at - $2 * interval '1 second'
		WHERE id = $1`, id, d.Seconds())
	require.NoError(b.t, err)
	require.EqualValues(b.t, 1, tag.RowsAffected())
}

// count returns how many rows of table (attempts, logs, checkpoints or
// invocations) belong to invocation id.
func (b *testBundle) count(table string, id int64) int {
	b.t.Helper()
	column := "invocation_id"
	if table == "invocations" {
		column = "id"
	}
	var n int
	require.NoError(b.t, b.pool.QueryRow(b.t.Context(),
		`SELECT count(*) FROM powny.`+table+` WHERE `+column+` = $1`, id).Scan(&n))
	return n
}

func (b *testBundle) requireGone(ids ...int64) {
	b.t.Helper()
	for _, id := range ids {
		for _, table := range []string{"invocations", "attempts", "logs", "checkpoints"} {
			require.Zero(b.t, b.count(table, id), "invocation %d: rows left in %s", id, table)
		}
	}
}

func (b *testBundle) requireKept(ids ...int64) {
	b.t.Helper()
	for _, id := range ids {
		require.Equal(b.t, 1, b.count("invocations", id), "invocation %d was deleted", id)
	}
}

func newCollector(t *testing.T, st *store.Store, cfg collector.Config) *collector.Collector {
	t.Helper()
	c, err := collector.New(st, cfg)
	require.NoError(t, err)
	return c
}

func TestCollectDeletesOnlyWhatFinishedBeforeRetention(t *testing.T) {
	t.Parallel()
	b := setup(t)

	oldSucceeded, oldFailed, oldCancelled := b.finished(store.StateSucceeded), b.finished(store.StateFailed), b.cancelled()
	for _, id := range []int64{oldSucceeded, oldFailed, oldCancelled} {
		b.age(id, 2*retention)
	}
	recent := b.finished(store.StateSucceeded)
	b.age(recent, retention/2)
	// Unfinished invocations stay however old they are.
	queued := b.queued()
	b.age(queued.ID, 100*retention)
	running, _ := b.running()
	b.age(running.ID, 100*retention)
	// A failed attempt with attempts left puts the invocation back in the
	// queue, unfinished: it stays too.
	retried, run := b.running()
	require.NoError(t, b.store.EndAttempt(t.Context(), store.AttemptEnd{
		Fence: run.Fence, Worker: workerID, StartedAt: run.StartedAt, State: store.StateQueued, Failed: true,
		Error: &store.Failure{Kind: "runtime", Message: "again"},
	}))
	b.age(retried.ID, 100*retention)

	c := newCollector(t, b.store, collector.Config{Retention: retention})
	n, err := c.Collect(t.Context())
	require.NoError(t, err)
	require.EqualValues(t, 3, n)
	b.requireGone(oldSucceeded, oldFailed, oldCancelled)
	b.requireKept(recent, queued.ID, running.ID, retried.ID)
	require.Equal(t, 1, b.count("attempts", recent))
	require.Equal(t, 1, b.count("logs", recent))
	require.Equal(t, 1, b.count("checkpoints", recent))
	require.Equal(t, 1, b.count("attempts", retried.ID))

	// Nothing more to do: a second collection deletes nothing.
	n, err = c.Collect(t.Context())
	require.NoError(t, err)
	require.Zero(t, n)
	b.requireKept(recent, queued.ID, running.ID, retried.ID)
}

func TestCollectInBatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		old      int
		batch    int
		expected int
	}{
		{"partial last batch", 5, 2, 5},
		{"full last batch", 4, 2, 4},
		{"one batch", 3, 10, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var old []int64
			for range tc.old {
				id := b.finished(store.StateSucceeded)
				b.age(id, 2*retention)
				old = append(old, id)
			}
			recent := b.finished(store.StateFailed)

			c := newCollector(t, b.store, collector.Config{Retention: retention, BatchSize: tc.batch})
			n, err := c.Collect(t.Context())
			require.NoError(t, err)
			require.EqualValues(t, tc.expected, n)
			b.requireGone(old...)
			b.requireKept(recent)
		})
	}
}

// signalHandler is a slog.Handler that sends the message of every record.
type signalHandler struct{ messages chan<- string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	h.messages <- r.Message
	return nil
}

func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

func TestRunCollectsAtOnceAndStopsWithContext(t *testing.T) {
	t.Parallel()
	b := setup(t)
	old := b.finished(store.StateSucceeded)
	b.age(old, 2*retention)

	messages := make(chan string, 10)
	c := newCollector(t, b.store, collector.Config{
		Retention: retention,
		Interval:  time.Hour, // only the collection at start can happen in this test
		Logger:    slog.New(signalHandler{messages: messages}),
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	// It leads (alone), then collects at once.
	for _, want := range []string{"leading the collectors", "deleted finished invocations"} {
		select {
		case msg := <-messages:
			require.Equal(t, want, msg)
		case <-time.After(10 * time.Second):
			t.Fatalf("Run did not log %q", want)
		}
	}
	b.requireGone(old)

	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	c, err := collector.New(nil, collector.Config{})
	require.NoError(t, err)
	require.Equal(t, 7*24*time.Hour, c.Retention())

	for _, cfg := range []collector.Config{
		{Retention: -time.Second},
		{Interval: -time.Second},
		{BatchSize: -1},
	} {
		_, err := collector.New(nil, cfg)
		require.Error(t, err)
	}
}
