package zk

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/crashtest"
	"github.com/powny/powny/testcontainers"
)

// TestKillWorkerResumesWithinSessionTimeout SIGKILLs, 20 times, the worker
// running a checkpointing invocation (among three workers, two collectors
// and an API, with a 2 s ZooKeeper session), and starts a replacement under
// a new id. With POWNY_RESCUE_AFTER at a minute, only the ZooKeeper
// membership can tell the collector that the worker is gone. Each killed
// attempt must be resumed by a new attempt on another worker within the
// session timeout plus one second of the kill; every invocation must
// succeed, with its journal whole, and no effect that a committed checkpoint
// recorded may be performed again (crashtest.CheckEffects). It reports the
// time from a kill to the next attempt (p50, max).
func TestKillWorkerResumesWithinSessionTimeout(t *testing.T) {
	t.Parallel()
	const (
		kills   = 20
		session = 2 * time.Second
		target  = session + time.Second
		steps   = 20
		pause   = 100 * time.Millisecond
	)
	zk := testcontainers.ZooKeeper(t) + testcontainers.ZooKeeperChroot(t)
	c := newCluster(t, zk, session)
	c.startAPI(t)
	c.StartCollector()
	c.StartCollector()
	live := map[string]*crashtest.Process{}
	next := 1
	startWorker := func() {
		id := fmt.Sprintf("w%d", next)
		next++
		live[id] = c.StartWorker(id)
	}
	for range 3 {
		startWorker()
	}
	ctx := t.Context()

	type kill struct {
		worker string
		at     time.Time
	}
	var (
		killed = map[string]kill{}
		keys   = map[int64]string{}
	)
	for i := range kills {
		k := fmt.Sprintf("kill%02d", i)
		id := c.invoke(t, k, steps, pause)
		keys[id] = k
		// Kill anywhere between its first checkpoint and its fourth step:
		// in an effect, a checkpoint or a sleep.
		c.waitRunning(t, id, 1, 20*time.Second)
		time.Sleep(rand.N(300 * time.Millisecond))
		r, err := c.running(ctx, id)
		require.NoError(t, err)
		require.Equal(t, "running", r.State, "invocation %d (%s)", id, k)
		victim := live[r.Worker]
		require.NotNil(t, victim, "invocation %d runs on %q, not a live worker", id, r.Worker)
		killed[r.Worker] = kill{worker: r.Worker, at: time.Now()}
		require.NoError(t, victim.Kill())
		delete(live, r.Worker)
		startWorker()
		// The next kill once this one is resumed: one loss at a time.
		crashtest.Eventually(t, 20*time.Second, 10*time.Millisecond, fmt.Sprintf("invocation %d (%s) resumes after the kill of %s", id, k, r.Worker),
			func() (bool, string) {
				now, err := c.running(ctx, id)
				if err != nil {
					return false, err.Error()
				}
				return now.Attempts > r.Attempts, fmt.Sprintf("%+v", now)
			})
	}

	audits := c.auditAll(t, keys, true, 60*time.Second)

	// Every lost attempt was on a killed worker, was taken back with an
	// error naming it, and was followed by an attempt on another worker
	// within target of the kill.
	var (
		resume []time.Duration
		late   []string
	)
	for _, a := range audits {
		for i, at := range a.Attempts {
			if at.Outcome != "lost" {
				continue
			}
			what := fmt.Sprintf("invocation %d (%s) attempt %d on %s", a.ID, a.K, at.Attempt, at.Worker)
			kl, ok := killed[at.Worker]
			require.True(t, ok, "%s: lost, but its worker was never killed", what)
			require.Contains(t, at.Error, at.Worker, "%s: the error does not name the worker", what)
			require.Less(t, i+1, len(a.Attempts), what)
			nextAttempt := a.Attempts[i+1]
			require.NotEqual(t, at.Worker, nextAttempt.Worker, "%s: resumed on the killed worker", what)
			d := nextAttempt.StartedAt.Sub(kl.at)
			resume = append(resume, d)
			if d > target {
				late = append(late, fmt.Sprintf("%s: resumed on %s %s after the kill", what, nextAttempt.Worker, d.Round(time.Millisecond)))
			}
		}
	}
	// Each kill interrupted at least its target invocation.
	require.GreaterOrEqual(t, len(resume), kills)
	slices.Sort(resume)
	t.Logf("%d kills, %d lost attempts resumed; kill → next attempt: p50 %s, p90 %s, max %s (session timeout %s, target ≤ %s)",
		kills, len(resume), percentile(resume, 50).Round(time.Millisecond), percentile(resume, 90).Round(time.Millisecond),
		resume[len(resume)-1].Round(time.Millisecond), session, target)
	t.Logf("attempts: %s", outcomes(audits))
	require.Empty(t, late, "resumed later than the session timeout + 1s:\n%s", strings.Join(late, "\n"))
}
