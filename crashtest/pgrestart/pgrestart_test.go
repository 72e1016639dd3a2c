package pgrestart

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/crashtest"
	"github.com/powny/powny/platform/testdb"
	"github.com/powny/powny/testcontainers"
)

// threeCheckpoints posts three effects, each followed by a checkpoint and a
// short in-place sleep, so that many runs are between two steps when the
// server restarts. Its journal is (http.request, sleep) × 3.
const threeCheckpoints = `config := {"timeout": "120s"}

func main(input) {
  for s := 1; s <= 3; s++ {
    http.post(input.sink, {"json": {"k": input.k, "step": s}})
    checkpoint()
    sleep("300ms")
  }
  return {"k": input.k}
}
`

const echo = `func main(input) { return input }`

// onEvent is started by the events the test sends across the restart.
const onEvent = `config := {"on": [{"kind": "across-restart"}]}
func main(e) { return e.k }`

// sendEvents sends n events, each with its own dedup key, one after the
// other, retrying each until the API accepts it (or reports it a
// duplicate: its first send committed but the answer was lost).
func sendEvents(t *testing.T, api *crashtest.API, n int) (retries int) {
	t.Helper()
	for i := range n {
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, err := api.SendEvents(t.Context(), map[string]any{"kind": "across-restart", "k": i, "dedup_key": fmt.Sprintf("e%03d", i)})
			if err == nil {
				break
			}
			retries++
			if time.Now().After(deadline) {
				t.Errorf("event %d not accepted in 60s: %v", i, err)
				return retries
			}
			time.Sleep(50 * time.Millisecond) // the server is restarting: nothing to await
		}
		time.Sleep(10 * time.Millisecond) // spread the events over the restart
	}
	return retries
}

// TestPostgresRestart restarts the PostgreSQL server while 200 invocations
// run on two workers: every session of every process ends, checkpoints and
// the records of attempts' ends fail until the server is back. All 200 must
// then succeed, with whole journals, and each effect performed once, except
// that an invocation whose run was interrupted may repeat the effect that
// run performed after its last checkpoint (never more often than it had
// attempts). Events sent across the restart, each retried until accepted,
// must be stored once and start one invocation each (a retry of a send whose
// commit got through is a duplicate). The API must answer ?wait= calls
// again at once.
func TestPostgresRestart(t *testing.T) {
	t.Parallel() // alone in its binary: the restart ends every session on the server
	const n = 200
	ctx := t.Context()
	server := testcontainers.PostgresServer(t)
	pool, dsn := testdb.New(t)
	sink := crashtest.NewSink(t, crashtest.SinkConfig{MaxDelay: 50 * time.Millisecond})
	c := crashtest.NewCluster(t, dsn)
	c.StartAPI()
	c.StartCollector()
	c.StartWorker("w1")
	c.StartWorker("w2")
	api := c.API()
	require.NoError(t, api.Deploy(ctx, "three", threeCheckpoints))
	require.NoError(t, api.Deploy(ctx, "echo", echo))
	require.NoError(t, api.Deploy(ctx, "on-event", onEvent))

	// 200 invocations, from 8 clients at once.
	keys := make([]string, n)
	ids := make([]int64, n)
	var (
		wg   sync.WaitGroup
		errs = make([]error, n)
	)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				keys[i] = fmt.Sprintf("k%03d", i)
				ids[i], errs[i] = api.Invoke(ctx, "three", map[string]any{"k": keys[i], "sink": sink.URL})
			}
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], keys[i])
	}

	// Restart once a third of the effects are done: most runs are between
	// two steps then.
	require.True(t, sink.Wait(60*time.Second, func(calls []crashtest.SinkCall) bool { return len(calls) >= n }),
		"only %d effects", len(sink.Calls()))
	before := len(sink.Calls())
	// Events keep coming through the restart, each retried until accepted.
	const events = 150
	eventRetries := make(chan int, 1)
	go func() { eventRetries <- sendEvents(t, api, events) }()
	time.Sleep(300 * time.Millisecond) // some events before the restart
	began := time.Now()
	require.NoError(t, server.Restart(ctx))
	restarted := time.Now()
	pool.Reset() // the test's own connections died with the server
	t.Logf("restarted PostgreSQL in %s, after %d of %d effects", restarted.Sub(began).Round(time.Millisecond), before, 3*n)

	crashtest.WaitAllFinished(ctx, t, pool, "three", n, 90*time.Second)
	t.Logf("all %d invocations finished %s after the restart", n, time.Since(restarted).Round(time.Millisecond))

	byKey := sink.ByKey()
	var (
		retried    int
		duplicates int
		outcomes   = map[string]int{}
	)
	for i, id := range ids {
		k := keys[i]
		what := fmt.Sprintf("invocation %d (%s)", id, k)
		inv, err := api.Invocation(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "succeeded", inv.State, "%s: %+v", what, inv.Error)
		var result struct{ K string }
		require.NoError(t, json.Unmarshal(inv.Result, &result), what)
		require.Equal(t, k, result.K, what)

		attempts, err := crashtest.Attempts(ctx, pool, id)
		require.NoError(t, err)
		require.Len(t, attempts, inv.Attempts, "%s: %+v", what, attempts)
		for j, a := range attempts {
			require.Equal(t, j+1, a.Attempt, "%s: %+v", what, attempts)
			if j < len(attempts)-1 {
				require.Contains(t, []string{"interrupted", "lost"}, a.Outcome, "%s: %+v", what, attempts)
				outcomes[a.Outcome]++
			}
		}
		require.Equal(t, "succeeded", attempts[len(attempts)-1].Outcome, what)
		if len(attempts) > 1 {
			retried++
		}

		cps, err := crashtest.Checkpoints(ctx, pool, id)
		require.NoError(t, err)
		journal, err := crashtest.CheckJournal(cps, inv.JournalEntries)
		require.NoError(t, err, what)
		names := make([]string, len(journal))
		for j, e := range journal {
			names[j] = e.Name
		}
		require.Equal(t, []string{"http.request", "sleep", "http.request", "sleep", "http.request", "sleep"}, names, what)

		// Each attempt performs a step at most once; a step is performed
		// again only by a run that replaced an interrupted one.
		for s := 1; s <= 3; s++ {
			count := len(byKey[k][s])
			require.GreaterOrEqual(t, count, 1, "%s step %d never performed", what, s)
			if count > 1 {
				require.LessOrEqual(t, count, len(attempts), "%s step %d performed %d times in %d attempts: %+v",
					what, s, count, len(attempts), attempts)
				duplicates += count - 1
			}
		}
		require.Len(t, byKey[k], 3, "%s: steps %v", what, sink.Steps(k))
	}
	t.Logf("%d of %d invocations needed more than one attempt; earlier attempts ended: %s; effects performed again: %d",
		retried, n, formatCounts(outcomes), duplicates)

	// River's side is consistent too: the job of every invocation is
	// finalized (the workers' completers got through the restart).
	crashtest.Eventually(t, 15*time.Second, 100*time.Millisecond, "every invocation's River job is completed", func() (bool, string) {
		var states []string
		err := pool.QueryRow(ctx, `
			SELECT coalesce(array_agg(DISTINCT j.state::text || ' ' || j.id), '{}')
			FROM powny_invocations i JOIN river_job j ON j.id = i.river_job_id
			WHERE i.function = 'three' AND j.state <> 'completed'`).Scan(&states)
		if err != nil {
			return false, err.Error()
		}
		return len(states) == 0, strings.Join(states, ", ")
	})

	// Every event sent across the restart is stored once and started one
	// invocation, whatever became of the sends that failed.
	t.Logf("events across the restart: %d sends failed and were retried", <-eventRetries)
	crashtest.WaitAllFinished(ctx, t, pool, "on-event", events, 30*time.Second)
	var stored, distinct, invocations, wrong int
	require.NoError(t, pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM powny_events WHERE body->>'kind' = 'across-restart'),
		       (SELECT count(DISTINCT dedup_key) FROM powny_events WHERE body->>'kind' = 'across-restart'),
		       (SELECT count(*) FROM powny_invocations WHERE function = 'on-event'),
		       (SELECT count(*) FROM powny_invocations i JOIN powny_events e ON e.id = i.event_id
		        WHERE i.function = 'on-event' AND (i.state <> 'succeeded' OR i.result <> e.body->'k'))`).
		Scan(&stored, &distinct, &invocations, &wrong))
	require.Equal(t, events, stored, "each event stored once")
	require.Equal(t, events, distinct)
	require.Equal(t, events, invocations, "each event started one invocation")
	require.Zero(t, wrong, "each invocation ran its own event")

	// The API's listener is back: ?wait= answers as soon as the run ends.
	began = time.Now()
	inv, err := api.InvokeWait(ctx, "echo", map[string]any{"x": 1}, 20*time.Second)
	require.NoError(t, err)
	require.Equal(t, "succeeded", inv.State)
	require.JSONEq(t, `{"x": 1}`, string(inv.Result))
	require.Less(t, time.Since(began), 5*time.Second, "?wait= answered late: is the API still listening?")
	t.Logf("an invocation with ?wait= after the restart answered in %s", time.Since(began).Round(time.Millisecond))
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
