package zk

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/crashtest"
	"github.com/powny/powny/testcontainers"
)

// TestSessionExpiryCancelsRuns pauses (SIGSTOP) the worker running an
// invocation for longer than its 2 s ZooKeeper session, so that the server
// expires the session, the member disappears and the collector hands the
// invocation to the other worker; once the new run has checkpointed, the
// paused worker resumes (SIGCONT). POWNY_RESCUE_AFTER is a minute, so its
// Postgres lease still holds when it wakes: only the session's loss can stop
// it. It must then cancel its run (and say so), write nothing (its
// checkpoints all precede the rescue), perform no effect after waking, and
// register again as a new member (GET /v1/system lists it, registered after
// it woke) that runs invocations again. The invocation succeeds, with a
// whole journal and no committed effect performed again.
func TestSessionExpiryCancelsRuns(t *testing.T) {
	t.Parallel()
	const (
		session = 2 * time.Second
		steps   = 40
		pause   = 100 * time.Millisecond
	)
	ctx := t.Context()
	zk := testcontainers.ZooKeeper(t) + testcontainers.ZooKeeperChroot(t)
	c := newCluster(t, zk, session)
	c.startAPI(t)
	c.StartCollector()
	workers := map[string]*crashtest.Process{"w1": c.StartWorker("w1"), "w2": c.StartWorker("w2")}
	const k = "paused"
	id := c.invoke(t, k, steps, pause)
	keys := map[int64]string{id: k}

	r := c.waitRunning(t, id, 3, 20*time.Second)
	stale := workers[r.Worker]
	require.NotNil(t, stale, "runs on %q", r.Worker)
	require.NoError(t, stale.Signal(syscall.SIGSTOP))
	stoppedAt := time.Now()
	t.Cleanup(func() { _ = stale.Signal(syscall.SIGCONT) })

	// The collector hands it over once the session expires.
	var lost lostAttempt
	crashtest.Eventually(t, session+5*time.Second, 20*time.Millisecond, "the paused worker's attempt is rescued", func() (bool, string) {
		ls, err := c.lostAttempts(ctx, "loop")
		if err != nil {
			return false, err.Error()
		}
		for _, l := range ls {
			if l.Invocation == id && l.Attempt == r.Attempts {
				lost = l
				return true, ""
			}
		}
		return false, fmt.Sprintf("lost attempts %+v", ls)
	})
	require.Equal(t, stale.WorkerID, lost.Worker)
	require.Contains(t, lost.Error, stale.WorkerID)
	crashtest.Eventually(t, 15*time.Second, 20*time.Millisecond, "the new run checkpoints three times", func() (bool, string) {
		cps, err := crashtest.Checkpoints(ctx, c.pool, id)
		if err != nil {
			return false, err.Error()
		}
		n := 0
		for _, cp := range cps {
			if cp.Attempt > r.Attempts {
				n++
			}
		}
		return n >= 3, fmt.Sprintf("%d checkpoints by the new run", n)
	})

	// Wake it.
	require.NoError(t, stale.Signal(syscall.SIGCONT))
	contAt := time.Now()
	require.NoError(t, stale.WaitLog("lost the coordinator session", 10*time.Second))
	cancelled := stale.LogLines("lost the coordinator session")[0]
	t.Logf("paused %s (attempt %d) for %s; rescued %s after the pause; it cancelled its runs (%s) %s after it woke",
		stale.Name, r.Attempts, contAt.Sub(stoppedAt).Round(time.Millisecond), lost.FinishedAt.Sub(stoppedAt).Round(time.Millisecond),
		cancelled.Attrs["runs"], cancelled.At.Sub(contAt).Round(time.Millisecond))
	crashtest.Eventually(t, 15*time.Second, 50*time.Millisecond, "the worker is a member again", func() (bool, string) {
		sys, err := c.api.System(ctx)
		if err != nil {
			return false, err.Error()
		}
		m, ok := sys.Member("worker", stale.WorkerID)
		return ok && m.RegisteredAt.After(stoppedAt) && m.PID == stale.PID(), fmt.Sprintf("%+v", sys.Members["worker"])
	})
	require.NoError(t, stale.WaitLog("registered again with the coordinator", 10*time.Second))

	audits := c.auditAll(t, keys, true, 30*time.Second)
	a := audits[0]
	require.Len(t, a.Attempts, r.Attempts+1, "%+v", a.Attempts)
	require.NotEqual(t, stale.WorkerID, a.Attempts[r.Attempts].Worker)

	// Nothing written by the stale run after the rescue.
	cps, err := crashtest.Checkpoints(ctx, c.pool, id)
	require.NoError(t, err)
	for _, cp := range cps {
		if cp.Attempt <= r.Attempts {
			require.True(t, cp.CreatedAt.Before(lost.FinishedAt), "checkpoint %d of the stale attempt %d at %s, after the rescue at %s",
				cp.Seq, cp.Attempt, cp.CreatedAt, lost.FinishedAt)
		} else {
			require.NotEqual(t, stale.WorkerID, cp.Worker, "checkpoint %d", cp.Seq)
		}
	}
	// No effect after it woke: since the pause, the new run performed each
	// step once; a second call since the pause can only be the stale run's.
	var afterWake []string
	for s := 1; s <= steps; s++ {
		var since []crashtest.SinkCall
		for _, call := range a.Calls[s] {
			if call.At.After(stoppedAt) {
				since = append(since, call)
			}
		}
		if len(since) > 1 {
			last := since[len(since)-1]
			afterWake = append(afterWake, fmt.Sprintf("step %d again %s after the wake", s, last.At.Sub(contAt).Round(time.Millisecond)))
		}
	}
	require.Empty(t, afterWake, "the paused worker performed effects after it woke")
	require.True(t, stale.Alive(), "the paused worker exited: %v", stale.Err())
	require.Zero(t, strings.Count(stale.Logs(), "level=ERROR"), "the paused worker logged errors")

	// It runs invocations again.
	ranOnIt := false
	for i := 0; i < 10 && !ranOnIt; i++ {
		id := c.invoke(t, fmt.Sprintf("after%d", i), 2, pause)
		keys[id] = fmt.Sprintf("after%d", i)
		ranOnIt = c.waitRunning(t, id, 1, 20*time.Second).Worker == stale.WorkerID
	}
	require.True(t, ranOnIt, "the resumed worker runs nothing")
	c.auditAll(t, keys, true, 30*time.Second)
}
