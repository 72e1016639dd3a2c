package crashtest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/testdb"
)

// sleeper posts, sleeps 4s durably (the run checkpoints and suspends), and
// posts again.
const sleeper = `config := {"timeout": "30s"}

func main(input) {
  a := http.post(input.sink, {"json": {"k": input.k, "step": 1}})
  sleep("4s")
  b := http.post(input.sink, {"json": {"k": input.k, "step": 2}})
  return {"a": a.status_code, "b": b.status_code}
}
`

// wakeSlack is how late after its wake time a durable sleep may resume: the
// promise is within a second (the collector makes due jobs available a
// second ahead, workers poll every 100ms); the rest is room for a loaded
// machine.
const wakeSlack = 1500 * time.Millisecond

// TestDurableSleepSurvivesFullRestart stops every process (SIGTERM) while an
// invocation sleeps durably, and starts new ones (new worker ids, a new API
// port): the invocation wakes on time on the new workers, and its first
// effect is not performed again.
func TestDurableSleepSurvivesFullRestart(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, dsn := testdb.New(t)
	sink := NewSink(t, SinkConfig{})
	c := NewCluster(t, dsn)
	first := []*Process{c.StartAPI(), c.StartCollector(), c.StartWorker("w1"), c.StartWorker("w2")}
	api := c.API()
	require.NoError(t, api.Deploy(ctx, "sleeper", sleeper))
	const k = "sleep"
	id, err := api.Invoke(ctx, "sleeper", map[string]any{"k": k, "sink": sink.URL})
	require.NoError(t, err)

	var inv Invocation
	Eventually(t, 10*time.Second, 20*time.Millisecond, "the invocation sleeps", func() (bool, string) {
		inv, err = api.Invocation(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		return inv.State == "waiting", inv.State
	})
	require.NotNil(t, inv.WakeAt)
	wakeAt := *inv.WakeAt
	require.Equal(t, 1, sink.Count(k, 1))

	// Stop everything at once, as a deploy of new processes would.
	began := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(first))
	for i, p := range first {
		wg.Go(func() { errs[i] = p.Terminate() })
	}
	wg.Wait()
	for i, p := range first {
		require.NoError(t, errs[i], "%s exit", p.Name)
	}
	stopped := time.Since(began)
	require.Less(t, time.Now(), wakeAt.Add(-500*time.Millisecond), "the stop took %s: too long for the test", stopped)
	inv2, err := Invocations(ctx, pool, "sleeper")
	require.NoError(t, err)
	require.Equal(t, "waiting", inv2[0].State, "the invocation's state after the stop")

	c.StartAPI()
	c.StartCollector()
	c.StartWorker("w3")
	c.StartWorker("w4")
	api = c.API()
	t.Logf("stopped every process in %s and started new ones %s before the wake time",
		stopped.Round(time.Millisecond), time.Until(wakeAt).Round(time.Millisecond))

	Eventually(t, 20*time.Second, 50*time.Millisecond, "the invocation finishes", func() (bool, string) {
		inv, err = api.Invocation(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		return inv.Finished(), inv.State
	})
	require.Equal(t, "succeeded", inv.State, "%+v", inv.Error)
	require.JSONEq(t, `{"a": 200, "b": 200}`, string(inv.Result))
	require.Equal(t, 1, sink.Count(k, 1), "the effect before the sleep was performed again")
	require.Equal(t, 1, sink.Count(k, 2))

	attempts, err := Attempts(ctx, pool, id)
	require.NoError(t, err)
	require.Len(t, attempts, 2, "%+v", attempts)
	require.Equal(t, "suspended", attempts[0].Outcome)
	require.Equal(t, "succeeded", attempts[1].Outcome)
	require.Contains(t, []string{"w3", "w4"}, attempts[1].Worker)
	woke := attempts[1].StartedAt.Sub(wakeAt)
	second := sink.ByKey()[k][2][0]
	require.False(t, second.At.Before(wakeAt), "the effect after the sleep ran %s before the wake time", wakeAt.Sub(second.At))
	require.Less(t, woke, wakeSlack, "woke %s after the wake time", woke)
	t.Logf("wake delay: the next attempt started %s after the wake time; the effect after the sleep %s after it",
		woke.Round(time.Millisecond), second.At.Sub(wakeAt).Round(time.Millisecond))

	cps, err := Checkpoints(ctx, pool, id)
	require.NoError(t, err)
	journal, err := CheckJournal(cps, inv.JournalEntries)
	require.NoError(t, err)
	names := make([]string, len(journal))
	for i, e := range journal {
		names[i] = e.Name
	}
	require.Equal(t, []string{"http.request", "sleep", "http.request"}, names)
}
