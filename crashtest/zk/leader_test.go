package zk

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/crashtest"
	"github.com/powny/powny/testcontainers"
)

// TestCollectorLeaderFailover checks the election of the collectors and the
// fencing of their rescues, with two collectors (later three), three
// workers and a 2 s ZooKeeper session:
//
//  1. GET /v1/system names the leader (its member id, host and pid), and
//     powny.collector_leader records its term.
//  2. The leader is SIGKILLed: the other one leads, per GET /v1/system
//     and with the next term in powny.collector_leader, within the session
//     timeout plus one second. A worker killed right after is rescued by the
//     new leader, after its term began, with an error naming the worker.
//  3. A third collector joins; the leader is paused (SIGSTOP) past its
//     session: the third one leads with the next term. Meanwhile two workers
//     the paused leader never saw join, and every worker it knew is killed:
//     the new leader rescues their runs, which the newcomers resume (to the
//     paused leader's stale list of members, the newcomers are lost workers).
//     Then the paused leader resumes (SIGCONT) while the newcomers run: it
//     must take back nothing (no attempt of theirs ends lost), say that it
//     no longer leads, not lead again, and register again as a member.
//
// Throughout, two leaders never act at once: every rescue a collector logged
// came while its own term was the latest begun (the collectors' logs give
// each term's start and each rescue), each lost attempt was rescued once,
// and every invocation succeeds with no committed effect performed again.
func TestCollectorLeaderFailover(t *testing.T) {
	t.Parallel()
	const (
		session = 2 * time.Second
		target  = session + time.Second
		steps   = 40
		pause   = 100 * time.Millisecond
	)
	ctx := t.Context()
	zk := testcontainers.ZooKeeper(t) + testcontainers.ZooKeeperChroot(t)
	c := newCluster(t, zk, session)
	c.startAPI(t)
	collectors := []*crashtest.Process{c.StartCollector(), c.StartCollector()}
	workers := map[string]*crashtest.Process{}
	next := 1
	startWorker := func() string {
		id := fmt.Sprintf("w%d", next)
		next++
		workers[id] = c.StartWorker(id)
		return id
	}
	for range 3 {
		startWorker()
	}
	byPID := func(pid int) *crashtest.Process {
		for _, p := range collectors {
			if p.PID() == pid {
				return p
			}
		}
		return nil
	}
	keys := map[int64]string{}
	invokeSteps := func(k string, steps int) int64 {
		id := c.invoke(t, k, steps, pause)
		keys[id] = k
		return id
	}
	// waitLeader polls GET /v1/system until a collector other than not leads,
	// and returns it and the leader as listed.
	waitLeader := func(not *crashtest.Process, timeout time.Duration) (*crashtest.Process, crashtest.Member) {
		t.Helper()
		var (
			p *crashtest.Process
			m crashtest.Member
		)
		crashtest.Eventually(t, timeout, 20*time.Millisecond, "a collector leads", func() (bool, string) {
			sys, err := c.api.System(ctx)
			if err != nil {
				return false, err.Error()
			}
			if sys.CollectorLeader == nil {
				return false, "no leader"
			}
			m = *sys.CollectorLeader
			p = byPID(m.PID)
			return p != nil && p != not && p.Alive(), fmt.Sprintf("leader %+v", m)
		})
		return p, m
	}
	// waitTerm waits until powny.collector_leader has a term after prev, of
	// member.
	waitTerm := func(prev int64, member string) leaderRow {
		t.Helper()
		var l leaderRow
		crashtest.Eventually(t, 10*time.Second, 20*time.Millisecond, "the new leader records its term", func() (bool, string) {
			var err error
			if l, err = c.leader(ctx); err != nil {
				return false, err.Error()
			}
			return l.Term > prev && l.Member == member, fmt.Sprintf("%+v", l)
		})
		return l
	}
	// killRunning SIGKILLs the worker running an unfinished invocation,
	// and returns the invocation, its attempt then, the worker and when.
	killRunning := func() (int64, int, string, time.Time) {
		t.Helper()
		for id := range keys {
			r, err := c.running(ctx, id)
			require.NoError(t, err)
			if r.State != "running" || workers[r.Worker] == nil {
				continue
			}
			at := time.Now()
			require.NoError(t, workers[r.Worker].Kill())
			delete(workers, r.Worker)
			return id, r.Attempts, r.Worker, at
		}
		require.FailNow(t, "no invocation runs on a worker that may be killed")
		return 0, 0, "", time.Time{}
	}
	// waitLost waits until attempt of invocation id ends lost.
	waitLost := func(id int64, attempt int) lostAttempt {
		t.Helper()
		var got lostAttempt
		crashtest.Eventually(t, target+5*time.Second, 20*time.Millisecond, fmt.Sprintf("attempt %d of invocation %d is rescued", attempt, id),
			func() (bool, string) {
				lost, err := c.lostAttempts(ctx, "loop")
				if err != nil {
					return false, err.Error()
				}
				for _, l := range lost {
					if l.Invocation == id && l.Attempt == attempt {
						got = l
						return true, ""
					}
				}
				return false, fmt.Sprintf("lost attempts %+v", lost)
			})
		return got
	}

	// 1. GET /v1/system names the leader.
	first, m1 := waitLeader(nil, 10*time.Second)
	host, _ := os.Hostname()
	require.Equal(t, host, m1.Host)
	require.Equal(t, "collector", m1.Role)
	sys := c.system(t)
	require.Equal(t, "zookeeper", sys.Coordinator)
	require.Len(t, sys.Members["collector"], 2, "%+v", sys.Members)
	require.Len(t, sys.Members["api"], 1, "%+v", sys.Members)
	for id, p := range workers {
		m, ok := sys.Member("worker", id)
		require.True(t, ok, "worker %s is not listed: %+v", id, sys.Members["worker"])
		require.Equal(t, p.PID(), m.PID)
	}
	l1 := waitTerm(0, m1.ID)
	t.Logf("leader: %s (pid %d), term %d", m1.ID, m1.PID, l1.Term)
	for i := range 4 {
		id := invokeSteps(fmt.Sprintf("a%d", i), steps)
		c.waitRunning(t, id, 1, 20*time.Second)
	}

	// 2. SIGKILL the leader: the other leads within the session timeout.
	killedAt := time.Now()
	require.NoError(t, first.Kill())
	second, m2 := waitLeader(first, target+5*time.Second)
	failover := time.Since(killedAt)
	l2 := waitTerm(l1.Term, m2.ID)
	t.Logf("leader SIGKILLed: %s (pid %d) leads after %s (GET /v1/system), term %d recorded %s after the kill",
		m2.ID, m2.PID, failover.Round(time.Millisecond), l2.Term, l2.Since.Sub(killedAt).Round(time.Millisecond))
	require.LessOrEqual(t, failover, target, "the new leader took longer than the session timeout + 1s")
	// The new leader rescues a worker killed right after.
	id, attempt, victim, _ := killRunning()
	lost := waitLost(id, attempt)
	require.Equal(t, victim, lost.Worker)
	require.Contains(t, lost.Error, victim)
	require.True(t, lost.FinishedAt.After(l2.Since), "rescued at %s, before the new term began at %s", lost.FinishedAt, l2.Since)
	startWorker()

	// 3. A third collector; the leader is paused past its session.
	third := c.StartCollector()
	collectors = append(collectors, third)
	stoppedAt := time.Now()
	require.NoError(t, second.Signal(syscall.SIGSTOP))
	t.Cleanup(func() { _ = second.Signal(syscall.SIGCONT) })
	leader3, m3 := waitLeader(second, target+5*time.Second)
	require.Same(t, third, leader3)
	l3 := waitTerm(l2.Term, m3.ID)
	t.Logf("leader SIGSTOPped: %s (pid %d) leads after %s, term %d", m3.ID, m3.PID, time.Since(stoppedAt).Round(time.Millisecond), l3.Term)
	// Workers the paused leader never saw take over: two join, and every
	// worker it knew is killed; the new leader rescues their runs, which the
	// newcomers resume.
	newcomers := map[string]bool{startWorker(): true, startWorker(): true}
	for i := range 4 {
		c.waitRunning(t, invokeSteps(fmt.Sprintf("b%d", i), 2*steps), 1, 20*time.Second)
	}
	type run struct {
		id      int64
		attempt int
		worker  string
	}
	var victims []run
	for w, p := range workers {
		if newcomers[w] {
			continue
		}
		for id := range keys {
			r, err := c.running(ctx, id)
			require.NoError(t, err)
			if r.State == "running" && r.Worker == w {
				victims = append(victims, run{id, r.Attempts, w})
			}
		}
		require.NoError(t, p.Kill())
		delete(workers, w)
	}
	require.NotEmpty(t, victims, "the workers killed ran nothing")
	for _, v := range victims {
		lost = waitLost(v.id, v.attempt)
		require.Equal(t, v.worker, lost.Worker)
		require.True(t, lost.FinishedAt.After(l3.Since), "rescued at %s, before the term of %s began at %s", lost.FinishedAt, m3.ID, l3.Since)
	}
	// Wake the stale leader while the newcomers run invocations: its stale
	// list of members would have it take them back, but for its term.
	var newcomerRuns int
	crashtest.Eventually(t, 10*time.Second, 20*time.Millisecond, "the newcomers run the invocations", func() (bool, string) {
		newcomerRuns = 0
		var elsewhere []string
		for id := range keys {
			r, err := c.running(ctx, id)
			if err != nil {
				return false, err.Error()
			}
			switch {
			case r.State == "running" && newcomers[r.Worker]:
				newcomerRuns++
			case r.State == "running" || r.State == "queued":
				elsewhere = append(elsewhere, fmt.Sprintf("%d %s on %q", id, r.State, r.Worker))
			}
		}
		return newcomerRuns > 0 && len(elsewhere) == 0, fmt.Sprintf("%d on the newcomers; %v", newcomerRuns, elsewhere)
	})
	contAt := time.Now()
	require.NoError(t, second.Signal(syscall.SIGCONT))
	require.NoError(t, second.WaitLog("no longer leading the collectors", 10*time.Second))
	// It registers again (a new registration), and campaigns behind the new
	// leader.
	crashtest.Eventually(t, 10*time.Second, 50*time.Millisecond, "the resumed collector is a member again", func() (bool, string) {
		sys, err := c.api.System(ctx)
		if err != nil {
			return false, err.Error()
		}
		m, ok := sys.Member("collector", m2.ID)
		return ok && m.RegisteredAt.After(stoppedAt) && m.PID == second.PID(), fmt.Sprintf("%+v", sys.Members["collector"])
	})
	// Leave it time to act on its stale view if it would: one more sweep
	// interval than its waking took.
	time.Sleep(time.Second)
	t.Logf("paused leader resumed after %s, while the newcomers ran %d invocations; it knew it no longer led %s later",
		contAt.Sub(stoppedAt).Round(time.Millisecond), newcomerRuns,
		logTime(t, second, "no longer leading the collectors").Sub(contAt).Round(time.Millisecond))

	// The resumed collector took back nothing, and does not lead.
	for _, l := range second.LogLines("rescued the invocation") {
		require.True(t, l.At.Before(stoppedAt), "the paused leader rescued invocation %s of %s at %s, after its pause",
			l.Attrs["invocation"], l.Attrs["worker"], l.At)
	}
	now, err := c.leader(ctx)
	require.NoError(t, err)
	require.Equal(t, l3.Term, now.Term, "another term began: %+v", now)
	require.Equal(t, m3.ID, now.Member)
	sys = c.system(t)
	require.Equal(t, third.PID(), sys.CollectorLeader.PID)

	audits := c.auditAll(t, keys, true, 60*time.Second)
	for _, a := range audits {
		for _, at := range a.Attempts {
			require.False(t, at.Outcome == "lost" && newcomers[at.Worker],
				"invocation %d attempt %d on the live worker %s was taken back: %+v", a.ID, at.Attempt, at.Worker, at)
		}
	}

	// Two leaders never acted at once: each rescue came from the collector
	// whose term began last, and each lost attempt was rescued once.
	type event struct {
		at     time.Time
		who    *crashtest.Process
		term   int64
		rescue string // the invocation, for a rescue
	}
	var events []event
	for _, p := range collectors {
		for _, l := range p.LogLines("leading the collectors") {
			if l.Msg != "leading the collectors" {
				continue
			}
			term, err := strconv.ParseInt(l.Attrs["term"], 10, 64)
			require.NoError(t, err, "%+v", l)
			events = append(events, event{at: l.At, who: p, term: term})
		}
		for _, l := range p.LogLines("rescued the invocation") {
			events = append(events, event{at: l.At, who: p, rescue: l.Attrs["invocation"]})
		}
	}
	slices.SortStableFunc(events, func(a, b event) int { return a.at.Compare(b.at) })
	var (
		current  event
		rescues  = map[string]int{}
		timeline []string
	)
	for _, e := range events {
		if e.rescue == "" {
			require.Greater(t, e.term, current.term, "terms out of order: %s after %d", e.who.Name, current.term)
			current = e
			timeline = append(timeline, fmt.Sprintf("%s term %d: pid %d", e.at.Format("15:04:05.000"), e.term, e.who.PID()))
			continue
		}
		rescues[e.rescue]++
		require.Same(t, current.who, e.who, "invocation %s rescued at %s by pid %d while the term %d of pid %d was the latest",
			e.rescue, e.at, e.who.PID(), current.term, current.who.PID())
	}
	lostBy := map[string]int{}
	all, err := c.lostAttempts(ctx, "loop")
	require.NoError(t, err)
	for _, l := range all {
		lostBy[strconv.FormatInt(l.Invocation, 10)]++
		require.Contains(t, l.Error, l.Worker)
	}
	require.Equal(t, lostBy, rescues, "lost attempts by invocation vs rescues the collectors logged")
	t.Logf("terms: %s; %d rescues; attempts: %s", strings.Join(timeline, ", "), len(all), outcomes(audits))
}

// logTime returns the time of the last line of p's log whose message
// contains msg.
func logTime(t *testing.T, p *crashtest.Process, msg string) time.Time {
	t.Helper()
	ls := p.LogLines(msg)
	require.NotEmpty(t, ls, "%s never logged %q", p.Name, msg)
	return ls[len(ls)-1].At
}
