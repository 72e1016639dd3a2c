package zk

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/crashtest"
	"github.com/powny/powny/testcontainers"
)

// TestEnsemble runs Powny (three workers, two collectors, an API, a 3 s
// session) on a three-server ZooKeeper ensemble under a stream of
// invocations, and stops servers under it:
//
//  1. One server stops (the ensemble's leader, so that the others elect a
//     new one): nothing notices. For two session timeouts, no member
//     disappears or registers again (GET /v1/system lists the same members
//     with the same registration times), no process says it lost its
//     session, the collectors' term stays, nothing is rescued, and
//     invocations keep completing.
//  2. A second server stops: no quorum. For two session timeouts and more,
//     no new collector leader is elected (the term in powny.collector_leader
//     stays), the processes keep running, and no attempt is taken back as
//     lost.
//  3. Both servers start again: without restarting any Powny process,
//     every process is listed as a member again, a collector leads, and
//     every invocation, old and new, succeeds with no committed effect
//     performed again.
func TestEnsemble(t *testing.T) {
	t.Parallel()
	const (
		// 3 s: the ensemble elects a new leader, and the zk client comes
		// back after its one-second pause, well within it.
		session = 3 * time.Second
		steps   = 4
		pause   = 200 * time.Millisecond
	)
	ctx := t.Context()
	e := testcontainers.ZooKeeperEnsemble(t, 3)
	c := newCluster(t, strings.Join(e.Connect(), ",")+"/powny-ensemble", session)
	c.startAPI(t)
	c.StartCollector()
	c.StartCollector()
	for _, id := range []string{"w1", "w2", "w3"} {
		c.StartWorker(id)
	}

	// A stream of invocations, one every 200ms, until the end.
	var (
		mu     sync.Mutex
		keys   = map[int64]string{}
		errs   []error
		stop   = make(chan struct{})
		stream = make(chan struct{})
	)
	go func() {
		defer close(stream)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			k := fmt.Sprintf("e%03d", i)
			id, err := c.api.Invoke(ctx, "loop", map[string]any{"k": k, "sink": c.sink.URL, "steps": steps, "pause": pause.String()})
			mu.Lock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", k, err))
			} else {
				keys[id] = k
			}
			mu.Unlock()
		}
	}()
	succeeded := func() int {
		var n int
		require.NoError(t, c.pool.QueryRow(ctx, `SELECT count(*) FROM powny_invocations WHERE state = 'succeeded'`).Scan(&n))
		return n
	}
	// Wait for some traffic and a recorded leader.
	crashtest.Eventually(t, 20*time.Second, 50*time.Millisecond, "invocations complete", func() (bool, string) {
		n := succeeded()
		return n >= 5, fmt.Sprintf("%d succeeded", n)
	})
	sys0 := c.system(t)
	require.Len(t, sys0.Members["worker"], 3)
	require.Len(t, sys0.Members["collector"], 2)
	require.NotNil(t, sys0.CollectorLeader)
	l0, err := c.leader(ctx)
	require.NoError(t, err)
	require.Equal(t, sys0.CollectorLeader.ID, l0.Member)
	// noLoss are the log lines of a process that noticed a lost session.
	noLoss := []string{"ZooKeeper session lost", "lost the coordinator session", "no longer leading", "leadership lost"}
	noticed := func() []string {
		var out []string
		for _, p := range c.Processes() {
			for _, msg := range noLoss {
				for _, l := range p.LogLines(msg) {
					out = append(out, fmt.Sprintf("%s at %s: %s", p.Name, l.At.Format("15:04:05.000"), l.Msg))
				}
			}
		}
		return out
	}

	// 1. Stop the ensemble's leader: nothing notices.
	servers := e.Connect()
	first := -1
	for i, addr := range servers {
		if mode, err := zkMode(ctx, addr); err == nil && mode == "leader" {
			first = i
		}
	}
	require.GreaterOrEqual(t, first, 0, "no server says it leads")
	before := succeeded()
	stop1 := time.Now()
	require.NoError(t, e.Stop(first))
	t.Logf("stopped server %d (%s), the ensemble's leader, in %s", first, servers[first], time.Since(stop1).Round(time.Millisecond))
	answers, unavailable := 0, 0
	for time.Since(stop1) < 2*session {
		time.Sleep(100 * time.Millisecond)
		sys, err := c.api.System(ctx)
		if err != nil {
			unavailable++ // the API's client moving to another server
			continue
		}
		answers++
		require.Equal(t, members(sys0), members(sys), "the members changed after one server stopped")
	}
	require.Positive(t, answers, "GET /v1/system never answered with one server stopped")
	require.Empty(t, noticed(), "a process noticed the loss of one server")
	l1, err := c.leader(ctx)
	require.NoError(t, err)
	require.Equal(t, l0, l1, "the collectors' term changed")
	lost, err := c.lostAttempts(ctx, "loop")
	require.NoError(t, err)
	require.Empty(t, lost, "attempts rescued with one server stopped")
	after := succeeded()
	require.Greater(t, after, before, "no invocation completed with one server stopped")
	t.Logf("one server stopped for %s: %d invocations completed; GET /v1/system answered %d times the same members (%d unavailable)",
		time.Since(stop1).Round(time.Millisecond), after-before, answers, unavailable)

	// 2. Stop a second one: no quorum.
	second := (first + 1) % len(servers)
	stop2 := time.Now()
	require.NoError(t, e.Stop(second))
	time.Sleep(2*session + 2*time.Second)
	l2, err := c.leader(ctx)
	require.NoError(t, err)
	require.Equal(t, l0, l2, "a collector took a term without a ZooKeeper quorum")
	lost, err = c.lostAttempts(ctx, "loop")
	require.NoError(t, err)
	require.Empty(t, lost, "attempts rescued without a ZooKeeper quorum")
	for _, p := range c.Processes() {
		require.True(t, p.Alive(), "%s exited without a ZooKeeper quorum: %v", p.Name, p.Err())
	}
	var interrupted int
	require.NoError(t, c.pool.QueryRow(ctx, `SELECT count(*) FROM powny_attempts WHERE outcome = 'interrupted' AND finished_at > $1`, stop2).Scan(&interrupted))
	t.Logf("no quorum for %s: term %d stays; %d attempts interrupted (workers cancel their runs once their session may be lost)",
		time.Since(stop2).Round(time.Millisecond), l2.Term, interrupted)

	// 3. Both back: Powny converges without a restart.
	require.NoError(t, e.Start(first))
	require.NoError(t, e.Start(second))
	back := time.Now()
	var sys crashtest.System
	crashtest.Eventually(t, 20*time.Second, 100*time.Millisecond, "every process is a member again and a collector leads", func() (bool, string) {
		sys, err = c.api.System(ctx)
		if err != nil {
			return false, err.Error()
		}
		return slices.Equal(ids(members(sys0)), ids(members(sys))) && sys.CollectorLeader != nil,
			fmt.Sprintf("%v leader %+v", members(sys), sys.CollectorLeader)
	})
	t.Logf("quorum back: members listed again and a collector leads after %s", time.Since(back).Round(time.Millisecond))
	time.Sleep(time.Second) // new invocations after the return
	close(stop)
	<-stream
	mu.Lock()
	require.Empty(t, errs, "invocations refused")
	all := keys
	mu.Unlock()
	// Not owners: see TestZooKeeperDownUnderLoad.
	audits := c.auditAll(t, all, false, 60*time.Second)
	lost, err = c.lostAttempts(ctx, "loop")
	require.NoError(t, err)
	for _, l := range lost {
		require.False(t, l.FinishedAt.Before(back), "attempt %d of invocation %d rescued at %s, during the outage", l.Attempt, l.Invocation, l.FinishedAt)
	}
	l3, err := c.leader(ctx)
	require.NoError(t, err)
	t.Logf("%d invocations succeeded; attempts: %s; lost attempts after the outage: %d; collector term %d → %d; %s",
		len(all), outcomes(audits), len(lost), l0.Term, l3.Term, c.churn(t))
	for _, p := range c.Processes() {
		require.True(t, p.Alive(), "%s exited: %v", p.Name, p.Err())
	}
}

// members lists "role/id@registered_at" of every member, sorted.
func members(s crashtest.System) []string {
	var out []string
	for role, ms := range s.Members {
		for _, m := range ms {
			out = append(out, fmt.Sprintf("%s/%s@%s", role, m.ID, m.RegisteredAt.Format(time.RFC3339Nano)))
		}
	}
	slices.Sort(out)
	return out
}

// ids drops the registration times of members' entries.
func ids(ms []string) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i], _, _ = strings.Cut(m, "@")
	}
	return out
}

// zkMode asks the server at addr its mode (four-letter word srvr):
// "leader", "follower" or "standalone".
func zkMode(ctx context.Context, addr string) (string, error) {
	var d net.Dialer
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, "srvr"); err != nil {
		return "", err
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(out)) {
		if mode, ok := strings.CutPrefix(strings.TrimSpace(line), "Mode: "); ok {
			return mode, nil
		}
	}
	return "", fmt.Errorf("srvr: no mode in %q", out)
}
