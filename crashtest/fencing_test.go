package crashtest

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/testdb"
)

// loop20 posts 20 effects, each followed by a checkpoint and an in-place
// sleep. Its journal is (http.request, sleep) × 20.
const loop20 = `config := {"timeout": "120s"}

func main(input) {
  for i := 1; i <= 20; i++ {
    http.post(input.sink, {"json": {"k": input.k, "step": i}})
    checkpoint()
    sleep("300ms")
  }
  return {"steps": 20}
}
`

// TestFencing pauses (SIGSTOP) the worker that runs an invocation, lets the
// collector rescue the invocation onto the other worker and the new run
// progress, then resumes (SIGCONT) the paused worker: its stale run must
// write nothing more (its next checkpoint is refused, and it says so in its
// log), and the journal must stay one contiguous sequence. The worker is
// paused in two places: while the effect of step 3 waits for its answer
// (the sink answers after 100ms), and in the in-place sleep after it.
func TestFencing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// pauseAfter is the time from the arrival of step 3 at the sink to
		// the pause: the sink answers at 100ms, the run checkpoints and
		// sleeps 300ms.
		pauseAfter time.Duration
	}{
		{"in an effect", 0},
		{"in a sleep", 250 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			pool, dsn := testdb.New(t)
			sink := NewSink(t, SinkConfig{MinDelay: 100 * time.Millisecond})
			c := NewCluster(t, dsn)
			c.StartAPI()
			c.StartCollector()
			workers := map[string]*Process{"w1": c.StartWorker("w1"), "w2": c.StartWorker("w2")}
			api := c.API()
			require.NoError(t, api.Deploy(ctx, "loop", loop20))
			const k = "fence"
			id, err := api.Invoke(ctx, "loop", map[string]any{"k": k, "sink": sink.URL})
			require.NoError(t, err)

			// Pause the worker that runs it once three steps are done.
			require.True(t, sink.Wait(20*time.Second, func(calls []SinkCall) bool { return len(calls) >= 3 }), "the run did not reach step 3")
			time.Sleep(tc.pauseAfter) // where the pause lands, see TestFencing
			inv, err := api.Invocation(ctx, id)
			require.NoError(t, err)
			require.Equal(t, "running", inv.State)
			stale := workers[inv.Worker]
			require.NotNil(t, stale, "worker %q", inv.Worker)
			staleAttempt := inv.Attempts
			require.NoError(t, stale.Signal(syscall.SIGSTOP))
			stoppedAt := time.Now()
			stepsBeforeStop := len(sink.Calls())
			t.Logf("paused %s (attempt %d) after %d effects", stale.Name, staleAttempt, stepsBeforeStop)

			// The collector rescues it, and another worker makes progress.
			var lost AttemptRow
			Eventually(t, 15*time.Second, 50*time.Millisecond, "the paused worker's attempt is rescued", func() (bool, string) {
				as, err := Attempts(ctx, pool, id)
				if err != nil {
					return false, err.Error()
				}
				for _, a := range as {
					if a.Attempt == staleAttempt {
						lost = a
						return true, ""
					}
				}
				return false, fmt.Sprintf("attempts %+v", as)
			})
			require.Equal(t, "lost", lost.Outcome, "%+v", lost)
			require.Equal(t, stale.WorkerID, lost.Worker)
			rescuedAt := lost.FinishedAt
			Eventually(t, 15*time.Second, 50*time.Millisecond, "the new run checkpoints three times", func() (bool, string) {
				cps, err := Checkpoints(ctx, pool, id)
				if err != nil {
					return false, err.Error()
				}
				n := 0
				for _, cp := range cps {
					if cp.Attempt > staleAttempt {
						n++
					}
				}
				return n >= 3, fmt.Sprintf("%d checkpoints by the new run", n)
			})
			require.NoError(t, stale.Signal(syscall.SIGCONT))
			contAt := time.Now()
			t.Logf("rescued %s after the pause; resumed the paused worker %s after the pause",
				rescuedAt.Sub(stoppedAt).Round(time.Millisecond), contAt.Sub(stoppedAt).Round(time.Millisecond))

			// The stale run finds out at its next write, and says so.
			require.NoError(t, stale.WaitLog("stale run", 15*time.Second))
			Eventually(t, 30*time.Second, 100*time.Millisecond, "the invocation succeeds", func() (bool, string) {
				inv, err = api.Invocation(ctx, id)
				if err != nil {
					return false, err.Error()
				}
				return inv.Finished(), inv.State
			})
			require.Equal(t, "succeeded", inv.State, "%+v", inv.Error)
			require.JSONEq(t, `{"steps": 20}`, string(inv.Result))
			require.True(t, stale.Alive(), "the paused worker exited: %v", stale.Err())

			// Nothing written by the stale run after the rescue: its checkpoints
			// all precede the rescue, every later one is the new run's; the journal
			// is one contiguous sequence.
			cps, err := Checkpoints(ctx, pool, id)
			require.NoError(t, err)
			for _, cp := range cps {
				if cp.Attempt <= staleAttempt {
					require.True(t, cp.CreatedAt.Before(rescuedAt), "checkpoint %d of attempt %d at %s, after the rescue at %s",
						cp.Seq, cp.Attempt, cp.CreatedAt, rescuedAt)
					continue
				}
				require.NotEqual(t, stale.WorkerID, cp.Worker, "checkpoint %d", cp.Seq)
				require.True(t, cp.CreatedAt.After(rescuedAt), "checkpoint %d", cp.Seq)
			}
			journal, err := CheckJournal(cps, inv.JournalEntries)
			require.NoError(t, err)
			require.Len(t, journal, 40)
			for i, e := range journal {
				require.Equal(t, []string{"http.request", "sleep"}[i%2], e.Name, "entry %d", i)
			}
			attempts, err := Attempts(ctx, pool, id)
			require.NoError(t, err)
			require.Len(t, attempts, staleAttempt+1, "%+v", attempts)
			require.Equal(t, "succeeded", attempts[staleAttempt].Outcome)
			require.NotEqual(t, stale.WorkerID, attempts[staleAttempt].Worker)
			logs := stale.Logs()
			require.Equal(t, 0, countLines(logs, "level=ERROR"), "the stale worker logged errors:\n%s", tail(logs, 40))

			// Effects: every step at least once. Without kills, the new run performs
			// each step once; the stale run performed steps before the pause. The
			// step in flight at the pause (performed, not yet checkpointed) is
			// redone by the new run: at most one extra call. A stale run performs
			// nothing after it wakes: its lease (heartbeats) expired, so it stops
			// before any effect (fencing alone would stop only its writes).
			byStep := sink.ByKey()[k]
			committedAt := map[int]CheckpointRow{} // step -> the row that stored its effect
			for _, e := range journal {
				if e.Name == "http.request" {
					committedAt[e.Seq/2+1] = e.Checkpoint
				}
			}
			extra, afterWake := 0, 0
			for s := 1; s <= 20; s++ {
				calls := byStep[s]
				require.NotEmpty(t, calls, "step %d never performed", s)
				require.LessOrEqual(t, len(calls), 2, "step %d: %+v", s, calls)
				extra += len(calls) - 1
				sinceStop := 0
				for _, call := range calls {
					if call.At.After(stoppedAt) {
						sinceStop++
					}
				}
				// The new run performs a step once; a second call since the pause
				// can only be the stale run's, after it woke.
				if sinceStop > 1 {
					afterWake += sinceStop - 1
					last, cp := calls[len(calls)-1], committedAt[s]
					t.Logf("the stale run performed step %d again %s after it woke, %s after attempt %d had committed it",
						s, last.At.Sub(contAt).Round(time.Millisecond), last.At.Sub(cp.CreatedAt).Round(time.Millisecond), cp.Attempt)
				}
			}
			require.LessOrEqual(t, extra, 1)
			require.Zero(t, afterWake, "the stale run performed effects after it woke")
			t.Logf("effects: 20 steps, %d performed twice (the one in flight at the pause)", extra)
		})
	}
}
