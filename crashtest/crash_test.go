package crashtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/testdb"
)

// threeSteps performs three effects, each followed by a checkpoint, with an
// in-place sleep (≤ 1s) between the first two and a durable one (> 1s: the
// run checkpoints and suspends) between the last two. Its journal is
// http.request, sleep, http.request, sleep, http.request, now.
const threeSteps = `config := {"timeout": "60s"}

func main(input) {
  a := http.post(input.sink, {"json": {"k": input.k, "step": 1}})
  checkpoint()
  sleep("200ms")
  b := http.post(input.sink, {"json": {"k": input.k, "step": 2}})
  checkpoint()
  sleep("1500ms")
  c := http.post(input.sink, {"json": {"k": input.k, "step": 3}})
  checkpoint()
  return {"a": a.status_code, "b": b.status_code, "c": c.status_code, "t": now()}
}
`

// threeStepsJournal is the journal every invocation of threeSteps ends
// with, by entry name.
var threeStepsJournal = []string{"http.request", "sleep", "http.request", "sleep", "http.request", "now"}

// kill is one SIGKILL of a worker.
type kill struct {
	worker string
	at     time.Time // just before the signal was sent
}

// invoked is one invocation the test started.
type invoked struct {
	k  string
	id int64
}

// TestCrashResume SIGKILLs workers that run invocations, at least 50 times,
// while a stream of invocations of threeSteps runs on three workers; each
// killed worker is replaced at once by a new process with a new id (w4,
// w5, ...), and every tenth kill also kills and replaces the collector. A new id, because a worker restarted under its old id within
// the rescue delay would heartbeat for its dead predecessor (see
// TestRestartSameWorkerID). Then every invocation must succeed exactly once,
// with its journal intact, and no effect that a committed checkpoint
// recorded may be performed again.
//
// How the effects are checked. The sink records, for every call, which
// attempt of the invocation was current when the call arrived (the
// invocation row's attempts, read at that moment): only the run that owns
// the invocation performs effects (a SIGKILLed worker performs nothing
// more, and its invocation is only given a new attempt after it is dead),
// so that is the attempt that performed the call. For each (invocation k,
// step s), the journal says which checkpoint row stored the effect of step
// s: its attempt A and its commit time T. Then:
//
//   - exactly one call of (k, s) was made by attempt A (the run that
//     committed the effect performed it live: replayed effects are never
//     committed again);
//   - no call of (k, s) came from an attempt after A, nor arrived after T:
//     once the checkpoint committed, the effect was never performed again
//     (the property durable execution promises);
//   - every other call of (k, s) came from an attempt before A, each at
//     most once, and that attempt ended "lost" with its worker SIGKILLed by
//     this test before T: the only allowed duplicate is an effect performed
//     by a run that was killed between the effect and its checkpoint.
//
// It reports the kills and the time from a kill to the next attempt of each
// invocation the killed worker ran (the rescue delay plus a fetch).
func TestCrashResume(t *testing.T) {
	t.Parallel()
	const (
		wantKills      = 50
		minInvocations = 40
		maxInvocations = 120
		killPhase      = 150 * time.Second
		finishTimeout  = 90 * time.Second
		collectorEvery = 10 // every 10th kill also kills the collector
	)
	ctx := t.Context()
	pool, dsn := testdb.New(t)
	sink := NewSink(t, SinkConfig{MaxDelay: 200 * time.Millisecond, Lookup: LookupByKey(pool)})
	c := NewCluster(t, dsn)
	c.StartAPI()
	collector := c.StartCollector()
	live := map[string]*Process{}
	nextWorker := 1
	startWorker := func() {
		id := fmt.Sprintf("w%d", nextWorker)
		nextWorker++
		live[id] = c.StartWorker(id)
	}
	for range 3 {
		startWorker()
	}
	api := c.API()
	require.NoError(t, api.Deploy(ctx, "steps", threeSteps))

	// The stream of invocations: one every 300–700ms until the kills are
	// done (at least minInvocations, at most maxInvocations).
	var (
		mu        sync.Mutex
		started   []invoked
		invokeErr error
		stopped   = make(chan struct{})
		streamEnd = make(chan struct{})
	)
	go func() {
		defer close(streamEnd)
		for n := 0; n < maxInvocations; n++ {
			if n >= minInvocations {
				select {
				case <-stopped:
					return
				default:
				}
			}
			k := fmt.Sprintf("k%03d", n)
			id, err := api.Invoke(ctx, "steps", map[string]any{"k": k, "sink": sink.URL})
			mu.Lock()
			if err != nil {
				invokeErr = err
				mu.Unlock()
				return
			}
			started = append(started, invoked{k: k, id: id})
			mu.Unlock()
			time.Sleep(300*time.Millisecond + rand.N(400*time.Millisecond))
		}
	}()

	// The killer: pick a live worker that runs an unfinished invocation,
	// SIGKILL it, start a replacement; pace the kills randomly so that they
	// land before, during and after effects, checkpoints and sleeps.
	var kills []kill
	began := time.Now()
	for len(kills) < wantKills {
		require.Less(t, time.Since(began), killPhase, "only %d kills in %s", len(kills), killPhase)
		time.Sleep(100*time.Millisecond + rand.N(500*time.Millisecond))
		var running []string
		rows, err := pool.Query(ctx, `SELECT DISTINCT worker FROM powny_invocations WHERE function = 'steps' AND state = 'running'`)
		require.NoError(t, err)
		for rows.Next() {
			var w string
			require.NoError(t, rows.Scan(&w))
			if live[w] != nil {
				running = append(running, w)
			}
		}
		require.NoError(t, rows.Err())
		if len(running) == 0 {
			continue
		}
		victim := running[rand.N(len(running))]
		p := live[victim]
		kills = append(kills, kill{worker: victim, at: time.Now()})
		require.NoError(t, p.Kill()) // SIGKILL, and reaped: its connections are closed
		delete(live, victim)
		startWorker()
		if len(kills)%collectorEvery == 0 {
			// The collector dies too now and then: its successor's sweep
			// finds what was lost meanwhile.
			require.NoError(t, collector.Kill())
			collector = c.StartCollector()
		}
	}
	close(stopped)
	<-streamEnd
	mu.Lock()
	require.NoError(t, invokeErr)
	invs := slices.Clone(started)
	mu.Unlock()
	t.Logf("%d kills in %s over %d invocations; %d worker processes started; the collector was killed %d times",
		len(kills), time.Since(began).Round(time.Millisecond), len(invs), nextWorker-1, len(kills)/collectorEvery)

	// Every invocation finishes.
	WaitAllFinished(ctx, t, pool, "steps", len(invs), finishTimeout)

	killOf := map[string]kill{}
	for _, k := range kills {
		killOf[k.worker] = k
	}
	var (
		resume     []time.Duration
		duplicates int
		lostTotal  int
		lostHist   = map[string]int{}
	)
	byKey := sink.ByKey()
	for _, inv := range invs {
		what := fmt.Sprintf("invocation %d (%s)", inv.id, inv.k)
		got, err := api.Invocation(ctx, inv.id)
		require.NoError(t, err)
		require.Equal(t, "succeeded", got.State, "%s: %+v", what, got.Error)
		var result struct{ A, B, C int }
		require.NoError(t, json.Unmarshal(got.Result, &result), what)
		require.Equal(t, struct{ A, B, C int }{200, 200, 200}, result, "%s: result %s", what, got.Result)

		// Every attempt is accounted for, exactly one succeeded (the last),
		// and only killed workers lost any.
		attempts, err := Attempts(ctx, pool, inv.id)
		require.NoError(t, err)
		require.Len(t, attempts, got.Attempts, "%s: attempts %+v", what, attempts)
		require.Len(t, got.History, len(attempts), "%s: the API's history", what)
		outcomes := map[int]string{}
		for i, a := range attempts {
			require.Equal(t, i+1, a.Attempt, "%s: attempts %+v", what, attempts)
			outcomes[a.Attempt] = a.Outcome
			switch a.Outcome {
			case "succeeded":
				require.Equal(t, len(attempts), a.Attempt, "%s: a succeeded attempt that is not the last: %+v", what, attempts)
			case "suspended":
			case "lost":
				lostTotal++
				k, ok := killOf[a.Worker]
				require.True(t, ok, "%s: attempt %d lost on worker %s, which was never killed: %+v", what, a.Attempt, a.Worker, attempts)
				require.Less(t, a.Attempt, len(attempts), what)
				resume = append(resume, attempts[a.Attempt].StartedAt.Sub(k.at))
			default:
				require.Failf(t, "unexpected attempt outcome", "%s: attempt %d: %+v", what, a.Attempt, a)
			}
		}

		// The journal is whole: rows 1..n, entries 0..N-1, nothing twice.
		cps, err := Checkpoints(ctx, pool, inv.id)
		require.NoError(t, err)
		journal, err := CheckJournal(cps, got.JournalEntries)
		require.NoError(t, err, what)
		names := make([]string, len(journal))
		var httpEntries []Committed
		for i, e := range journal {
			names[i] = e.Name
			if e.Name == "http.request" {
				httpEntries = append(httpEntries, e)
			}
		}
		require.Equal(t, threeStepsJournal, names, what)

		// The effects (see the test's comment).
		calls := byKey[inv.k]
		require.Len(t, calls, 3, "%s: steps %v", what, sink.Steps(inv.k))
		for s := 1; s <= 3; s++ {
			cp := httpEntries[s-1].Checkpoint
			owners := map[int]bool{}
			for _, call := range calls[s] {
				w := fmt.Sprintf("%s step %d: call at %s by attempt %d (worker %s); committed by attempt %d at %s",
					what, s, call.At.Format(time.RFC3339Nano), call.Attempt, call.Worker, cp.Attempt, cp.CreatedAt.Format(time.RFC3339Nano))
				require.Empty(t, call.LookupErr, w)
				require.False(t, owners[call.Attempt], "%s: attempt %d performed it twice", w, call.Attempt)
				owners[call.Attempt] = true
				require.LessOrEqual(t, call.Attempt, cp.Attempt, "%s: performed again after its checkpoint committed", w)
				require.True(t, call.At.Before(cp.CreatedAt), "%s: performed after its checkpoint committed", w)
				if call.Attempt < cp.Attempt {
					duplicates++
					require.Equal(t, "lost", outcomes[call.Attempt], "%s: a duplicate by an attempt that was not lost", w)
					k := killOf[call.Worker]
					require.True(t, k.at.Before(cp.CreatedAt), "%s: its worker was killed at %s, after the commit", w, k.at)
				}
			}
			require.True(t, owners[cp.Attempt], "%s step %d: the committing attempt %d never performed it", what, s, cp.Attempt)
		}

		// How far each lost attempt got, for the report.
		for _, a := range attempts {
			if a.Outcome != "lost" {
				continue
			}
			committed := 0
			for _, cp := range cps {
				if cp.Attempt == a.Attempt {
					committed++
				}
			}
			uncommitted := false
			for s := 1; s <= 3; s++ {
				for _, call := range calls[s] {
					uncommitted = uncommitted || (call.Attempt == a.Attempt && httpEntries[s-1].Checkpoint.Attempt != a.Attempt)
				}
			}
			key := fmt.Sprintf("%d checkpoints", committed)
			if uncommitted {
				key += " + an uncommitted effect"
			}
			lostHist[key]++
		}
	}
	// River jobs that killed workers held when their invocation had already
	// ended (the worker died before River's completer finalized the job):
	// nothing rescues them (the invocation is finished), so they stay
	// "running" until River's own rescuer, after 25 hours, runs them again
	// (they then find their invocation finished and do nothing).
	var killedIDs []string
	for _, k := range kills {
		killedIDs = append(killedIDs, k.worker)
	}
	var orphans int
	require.NoError(t, pool.QueryRow(ctx, `
		SELECT count(*) FROM river_job WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = ANY($1)`,
		killedIDs).Scan(&orphans))

	require.NotEmpty(t, resume, "no kill interrupted a running attempt")
	slices.Sort(resume)
	t.Logf("kills: %d; lost attempts: %d; effects performed twice (killed between effect and checkpoint): %d",
		len(kills), lostTotal, duplicates)
	t.Logf("lost attempts by progress: %s", formatHist(lostHist))
	t.Logf("River jobs left running by killed workers (their invocations had ended): %d", orphans)
	t.Logf("kill → next attempt started: p50 %s, p90 %s, max %s (n=%d; rescue after %s of silence)",
		resume[len(resume)/2].Round(time.Millisecond), resume[len(resume)*9/10].Round(time.Millisecond),
		resume[len(resume)-1].Round(time.Millisecond), len(resume), RescueAfter)
}

// formatHist prints a histogram sorted by key.
func formatHist(h map[string]int) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, h[k])
	}
	return strings.Join(parts, ", ")
}
