package collector_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/collector"
	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/store"
)

const scheduled = `config := {"schedule": "* * * * * *"}

func main(event) {
  log.info("tick", event.tick)
}
`

// deployScheduled deploys scheduled as "ticker" through the store, as the
// API does.
func (b *testBundle) deployScheduled() {
	b.t.Helper()
	compiled, err := fnrun.Compile(scheduled)
	require.NoError(b.t, err)
	require.Equal(b.t, "* * * * * *", compiled.Config.Schedule)
	config, err := json.Marshal(compiled.Config)
	require.NoError(b.t, err)
	sum := sha256.Sum256([]byte(scheduled))
	_, _, err = b.store.Deploy(b.t.Context(), store.NewVersion{
		Function: "ticker", Source: scheduled, Code: compiled.Code, Config: config,
		SHA256: hex.EncodeToString(sum[:]), Author: "test",
	})
	require.NoError(b.t, err)
}

// makeDue moves ticker's next tick to a second ago.
func (b *testBundle) makeDue() {
	b.t.Helper()
	_, err := b.pool.Exec(b.t.Context(), `UPDATE powny.schedules SET next_at = date_trunc('second', now()) - interval '1 second'`)
	require.NoError(b.t, err)
}

// tickerRuns counts ticker's invocations started by its schedule.
func (b *testBundle) tickerRuns() int {
	b.t.Helper()
	var n int
	require.NoError(b.t, b.pool.QueryRow(b.t.Context(),
		`SELECT count(*) FROM powny_invocations WHERE function = 'ticker' AND trigger = 'schedule'`).Scan(&n))
	return n
}

// recordHandler is a slog.Handler that sends every record.
type recordHandler struct{ records chan<- slog.Record }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordHandler) Handle(ctx context.Context, r slog.Record) error {
	select {
	case h.records <- r.Clone():
	case <-ctx.Done():
	}
	return nil
}

func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

func attrs(r slog.Record) map[string]slog.Value {
	m := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value
		return true
	})
	return m
}

func TestSweepFiresSchedulesUnderTheCurrentTermOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deployScheduled()
	b.makeDue()
	records := make(chan slog.Record, 100)
	c := newCollector(t, b.store, collector.Config{Logger: slog.New(recordHandler{records: records})})

	stale, err := b.store.BecomeLeader(t.Context(), "old")
	require.NoError(t, err)
	current, err := b.store.BecomeLeader(t.Context(), "new")
	require.NoError(t, err)
	c.Sweep(t.Context(), store.LostWorkers{HeartbeatAfter: time.Minute, Term: stale})
	require.Zero(t, b.tickerRuns(), "a stale leader fired")

	c.Sweep(t.Context(), store.LostWorkers{HeartbeatAfter: time.Minute, Term: current})
	require.Equal(t, 1, b.tickerRuns())
	var fired []slog.Record
	for len(records) > 0 {
		if r := <-records; r.Message == "fired a schedule" {
			fired = append(fired, r)
		}
	}
	require.Len(t, fired, 1)
	a := attrs(fired[0])
	require.Equal(t, "ticker", a["function"].String())
	require.Equal(t, "* * * * * *", a["spec"].String())
	require.NotZero(t, a["invocation"].Int64())
}

func TestRunFiresEachTickOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.deployScheduled()
	records := make(chan slog.Record, 1000)
	c := newCollector(t, b.store, collector.Config{
		Interval: time.Hour, SweepInterval: 100 * time.Millisecond, Logger: slog.New(recordHandler{records: records}),
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	var ticks []time.Time
	timeout := time.After(10 * time.Second)
	for len(ticks) < 3 {
		select {
		case r := <-records:
			if r.Message == "fired a schedule" {
				ticks = append(ticks, attrs(r)["tick"].Time())
			}
		case <-timeout:
			t.Fatalf("fired %d ticks in 10s, want 3", len(ticks))
		}
	}
	cancel()
	<-done
	// Every second, one after the other, at whole seconds.
	for i, tick := range ticks {
		require.Zero(t, tick.Nanosecond())
		if i > 0 {
			require.Equal(t, ticks[i-1].Add(time.Second), tick)
		}
	}
	// What it fired after the third is in the table too: one run per tick.
	var runs, distinct int
	require.NoError(t, b.pool.QueryRow(t.Context(), `
		SELECT count(*), count(DISTINCT input->>'tick') FROM powny_invocations WHERE function = 'ticker'`).Scan(&runs, &distinct))
	require.GreaterOrEqual(t, runs, len(ticks))
	require.Equal(t, runs, distinct)
}
