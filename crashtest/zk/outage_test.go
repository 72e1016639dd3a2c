package zk

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/crashtest"
	"github.com/powny/powny/testcontainers"
)

// TestZooKeeperDownUnderLoad stops the only ZooKeeper server for 30 s
// (fifteen session timeouts: every process declares its session lost and
// later finds it again, or a new one) while a stream of 100 checkpointing
// invocations runs on three workers (two collectors, one API), then starts
// it again. Every accepted invocation must
// succeed, with its journal whole, and none may perform an effect again
// once a checkpoint committed it; Powny must converge without a restart:
// every member listed again, a collector leading.
func TestZooKeeperDownUnderLoad(t *testing.T) {
	t.Parallel()
	const (
		session = 2 * time.Second
		outage  = 30 * time.Second
		n       = 100
		every   = 400 * time.Millisecond // the stream lasts 40 s, across the outage
		before  = 20                     // invocations started before the outage
		steps   = 4
		pause   = 200 * time.Millisecond
	)
	ctx := t.Context()
	server := testcontainers.ZooKeeperServer(t)
	c := newCluster(t, server.Connect()[0]+"/powny-outage", session)
	c.startAPI(t)
	c.StartCollector()
	c.StartCollector()
	for _, id := range []string{"w1", "w2", "w3"} {
		c.StartWorker(id)
	}

	var (
		mu      sync.Mutex
		keys    = map[int64]string{}
		errs    []error
		started = make(chan struct{}) // closed after `before` invocations
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		for i := range n {
			if i == before {
				close(started)
			}
			k := fmt.Sprintf("z%03d", i)
			id, err := c.api.Invoke(ctx, "loop", map[string]any{"k": k, "sink": c.sink.URL, "steps": steps, "pause": pause.String()})
			mu.Lock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", k, err))
			} else {
				keys[id] = k
			}
			mu.Unlock()
			time.Sleep(every)
		}
	}()
	<-started
	stoppedAt := time.Now()
	require.NoError(t, server.Stop(0))
	time.Sleep(outage - time.Since(stoppedAt))
	require.NoError(t, server.Start(0))
	back := time.Now()
	t.Logf("ZooKeeper was down for %s", back.Sub(stoppedAt).Round(time.Millisecond))
	<-done
	mu.Lock()
	require.Empty(t, errs, "invocations refused")
	require.Len(t, keys, n)
	mu.Unlock()

	// Not owners: a worker that registers again lets the runs it started
	// before go on, while the collector takes their invocations back (their
	// jobs were fetched before the new registration); so a call's attempt
	// cannot be told, and the effects are checked by time.
	audits := c.auditAll(t, keys, false, 90*time.Second)
	t.Logf("all %d invocations succeeded %s after ZooKeeper came back; attempts: %s; %s",
		n, time.Since(back).Round(time.Millisecond), outcomes(audits), c.churn(t))
	// Converged without a restart: every process is a member again, and a
	// collector leads.
	crashtest.Eventually(t, 15*time.Second, 100*time.Millisecond, "every process is a member again", func() (bool, string) {
		sys, err := c.api.System(ctx)
		if err != nil {
			return false, err.Error()
		}
		ok := len(sys.Members["worker"]) == 3 && len(sys.Members["collector"]) == 2 && len(sys.Members["api"]) == 1 &&
			sys.CollectorLeader != nil
		return ok, fmt.Sprintf("%+v leader %+v", sys.Members, sys.CollectorLeader)
	})
	for _, p := range c.Processes() {
		require.True(t, p.Alive(), "%s exited: %v", p.Name, p.Err())
	}
}
