package crashtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/testdb"
)

// alert is started by a "crit" event, records that in the sink, commits
// it, and waits for the "ok" event of its key.
const alert = `config := {"timeout": "30s", "on": [{"kind": "crit"}]}

func main(e) {
  http.post(e.sink, {"json": {"k": e.k, "step": 1}})
  checkpoint()
  ok := wait_event({"kind": "ok", "k": e.k}, "2m")
  http.post(e.sink, {"json": {"k": e.k, "step": 2}})
  return ok.n
}
`

// TestWaitsSurviveWorkerKills SIGKILLs every worker while invocations wait
// for events, sends the events while no worker is alive, and starts a new
// worker: every event reaches its invocation (delivered in the event's
// transaction, not in a worker's memory), each resumes with its own event,
// and no effect committed before the wait is performed again.
func TestWaitsSurviveWorkerKills(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, dsn := testdb.New(t)
	sink := NewSink(t, SinkConfig{})
	c := NewCluster(t, dsn)
	c.StartAPI()
	c.StartCollector()
	workers := []*Process{c.StartWorker("w1"), c.StartWorker("w2")}
	api := c.API()
	require.NoError(t, api.Deploy(ctx, "alert", alert))

	const n = 30
	crit := make([]any, n)
	for i := range crit {
		crit[i] = map[string]any{"kind": "crit", "k": fmt.Sprint(i), "sink": sink.URL}
	}
	accepted, err := api.SendEvents(ctx, crit...)
	require.NoError(t, err)
	ids := map[int64]int{}
	for i, a := range accepted {
		require.Len(t, a.Started, 1, "crit event %d", i)
		ids[a.Started[0].Invocation] = i
	}
	Eventually(t, 20*time.Second, 20*time.Millisecond, "every invocation waits", func() (bool, string) {
		var waiting int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM powny.invocations WHERE state = 'waiting'`).Scan(&waiting)
		return err == nil && waiting == n, fmt.Sprintf("%d waiting (%v)", waiting, err)
	})

	for _, w := range workers {
		require.NoError(t, w.Kill())
	}
	ok := make([]any, n)
	for i := range ok {
		ok[i] = map[string]any{"kind": "ok", "k": fmt.Sprint(i), "n": i}
	}
	accepted, err = api.SendEvents(ctx, ok...)
	require.NoError(t, err)
	for i, a := range accepted {
		require.Len(t, a.Woke, 1, "ok event %d woke its invocation, with no worker alive", i)
		require.Equal(t, i, ids[a.Woke[0].Invocation])
	}

	c.StartWorker("w3")
	WaitAllFinished(ctx, t, pool, "alert", n, 30*time.Second)
	for id, i := range ids {
		inv, err := api.Invocation(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "succeeded", inv.State, "invocation %d: %+v", id, inv.Error)
		require.JSONEq(t, fmt.Sprint(i), string(inv.Result), "invocation %d got its own event", id)
		k := fmt.Sprint(i)
		require.Equal(t, 1, sink.Count(k, 1), "the effect committed before the wait happened once (key %s)", k)
		require.GreaterOrEqual(t, sink.Count(k, 2), 1)
	}
}
