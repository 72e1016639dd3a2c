package crashtest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/testdb"
)

// twoSteps posts, checkpoints, sleeps 800ms in place, posts and checkpoints.
const twoSteps = `config := {"timeout": "30s"}

func main(input) {
  http.post(input.sink, {"json": {"k": input.k, "step": 1}})
  checkpoint()
  sleep("800ms")
  http.post(input.sink, {"json": {"k": input.k, "step": 2}})
  checkpoint()
  return "done"
}
`

// TestRestartSameWorkerID SIGKILLs the only worker while it runs an
// invocation and starts it again at once under the same POWNY_WORKER_ID, as
// a supervisor with a stable member id does (a StatefulSet, systemd with a
// fixed id). The new process must not hide the invocations its dead
// predecessor was running: they are resumed within seconds, not left
// "running" for River's 25-hour backstop.
func TestRestartSameWorkerID(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, dsn := testdb.New(t)
	sink := NewSink(t, SinkConfig{})
	c := NewCluster(t, dsn)
	c.StartAPI()
	c.StartCollector()
	w := c.StartWorker("w1")
	api := c.API()
	require.NoError(t, api.Deploy(ctx, "two", twoSteps))
	const k = "same"
	id, err := api.Invoke(ctx, "two", map[string]any{"k": k, "sink": sink.URL})
	require.NoError(t, err)
	// Kill it in its sleep, once step 1 is checkpointed.
	Eventually(t, 20*time.Second, 20*time.Millisecond, "step 1 is checkpointed", func() (bool, string) {
		cps, err := Checkpoints(ctx, pool, id)
		if err != nil {
			return false, err.Error()
		}
		return len(cps) >= 1, "no checkpoint"
	})
	require.NoError(t, w.Kill())
	killedAt := time.Now()
	c.StartWorker("w1")

	var inv Invocation
	Eventually(t, 15*time.Second, 50*time.Millisecond, "the invocation of the dead process finishes", func() (bool, string) {
		inv, err = api.Invocation(ctx, id)
		if err != nil {
			return false, err.Error()
		}
		return inv.Finished(), inv.State + " on " + inv.Worker
	})
	require.Equal(t, "succeeded", inv.State, "%+v", inv.Error)
	attempts, err := Attempts(ctx, pool, id)
	require.NoError(t, err)
	require.Len(t, attempts, 2, "%+v", attempts)
	require.Equal(t, "lost", attempts[0].Outcome)
	require.Equal(t, 1, sink.Count(k, 1), "the checkpointed effect was performed again")
	t.Logf("kill → resume under the same worker id: %s", attempts[1].StartedAt.Sub(killedAt).Round(time.Millisecond))
}
