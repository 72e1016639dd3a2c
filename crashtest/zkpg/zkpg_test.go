package zkpg

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/powny/powny/crashtest"
	"github.com/powny/powny/platform/testdb"
	"github.com/powny/powny/testcontainers"
)

// TestWorkerKilledWhilePostgresRestarts runs nine checkpointing invocations
// on three workers coordinated by ZooKeeper (1 s session; POWNY_RESCUE_AFTER
// a minute, so that only the membership tells the collector a worker is
// gone), restarts PostgreSQL, and SIGKILLs the worker running the most
// invocations as soon as the server refuses connections. The member
// disappears while the database is down or just back, so the collector's
// first rescue may fail; once the database is back, each invocation the
// killed worker ran must be rescued (a lost attempt naming the worker,
// followed by one on another worker), every invocation must succeed with a
// whole journal and no committed effect performed again, and no River job
// of the killed worker may be left running.
func TestWorkerKilledWhilePostgresRestarts(t *testing.T) {
	t.Parallel() // alone in its binary: the restart ends every session on the server
	const (
		n       = 9
		session = time.Second
		steps   = 30
		pause   = 100 * time.Millisecond
	)
	ctx := t.Context()
	server := testcontainers.PostgresServer(t)
	pool, dsn := testdb.New(t)
	zk := testcontainers.ZooKeeper(t) + testcontainers.ZooKeeperChroot(t)
	// The lookups fail while the server restarts: those calls are checked
	// by their time only.
	sink := crashtest.NewSink(t, crashtest.SinkConfig{Lookup: crashtest.LookupByKey(pool)})
	c := crashtest.NewCluster(t, dsn)
	c.Env = []string{"POWNY_ZOOKEEPER=" + zk, "POWNY_SESSION_TIMEOUT=" + session.String(), "POWNY_RESCUE_AFTER=1m"}
	c.StartAPI()
	collector := c.StartCollector()
	workers := map[string]*crashtest.Process{}
	for _, id := range []string{"w1", "w2", "w3"} {
		workers[id] = c.StartWorker(id)
	}
	api := c.API()
	require.NoError(t, api.Deploy(ctx, "loop", crashtest.Loop))

	keys := map[int64]string{}
	for i := range n {
		k := fmt.Sprintf("p%d", i)
		id, err := api.Invoke(ctx, "loop", map[string]any{"k": k, "sink": sink.URL, "steps": steps, "pause": pause.String()})
		require.NoError(t, err)
		keys[id] = k
	}
	// Every one runs, with a checkpoint; the victim is the worker that runs
	// the most.
	var runs map[string][]int64
	crashtest.Eventually(t, 20*time.Second, 20*time.Millisecond, "every invocation runs", func() (bool, string) {
		runs = map[string][]int64{}
		rows, err := pool.Query(ctx, `SELECT id, worker FROM powny_invocations WHERE state = 'running' AND checkpoints > 0`)
		if err != nil {
			return false, err.Error()
		}
		defer rows.Close()
		count := 0
		for rows.Next() {
			var (
				id int64
				w  string
			)
			if err := rows.Scan(&id, &w); err != nil {
				return false, err.Error()
			}
			runs[w] = append(runs[w], id)
			count++
		}
		return count == n, fmt.Sprintf("%d running: %v", count, runs)
	})
	victim := ""
	for w, ids := range runs {
		if victim == "" || len(ids) > len(runs[victim]) {
			victim = w
		}
	}

	// Restart the server; kill the victim once the server refuses
	// connections. A restart takes a fraction of the session timeout, so
	// restart it again and again until the member has been gone for a
	// while: the collector learns of the loss while the database is down,
	// or between two restarts.
	restarted := make(chan error, 1)
	began := time.Now()
	go func() { restarted <- server.Restart(context.WithoutCancel(ctx)) }()
	var downAt time.Time
	for downAt.IsZero() && time.Since(began) < 10*time.Second {
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		conn, err := pgx.Connect(cctx, dsn)
		cancel()
		if err != nil {
			downAt = time.Now()
			break
		}
		_ = conn.Close(ctx)
		time.Sleep(5 * time.Millisecond)
	}
	require.False(t, downAt.IsZero(), "the server never refused a connection during its restart")
	require.NoError(t, workers[victim].Kill())
	killedAt := time.Now()
	require.NoError(t, <-restarted)
	restarts := 1
	for time.Since(killedAt) < session+1500*time.Millisecond {
		require.NoError(t, server.Restart(ctx))
		restarts++
	}
	backAt := time.Now()
	pool.Reset() // the test's own connections died with the server
	t.Logf("restart began; the server refused connections %s later; %s (running %d invocations) SIGKILLed %s after that; "+
		"%d restarts in the %s after the kill",
		downAt.Sub(began).Round(time.Millisecond), victim, len(runs[victim]), killedAt.Sub(downAt).Round(time.Millisecond),
		restarts, backAt.Sub(killedAt).Round(time.Millisecond))

	crashtest.WaitAllFinished(ctx, t, pool, "loop", n, 60*time.Second)
	byKey := sink.ByKey()
	var (
		errs   []string
		resume []time.Duration
		counts = map[string]int{}
	)
	for id, k := range keys {
		a, err := crashtest.AuditInvocation(ctx, pool, byKey, id, k, true)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		lostOnVictim := false
		for i, at := range a.Attempts {
			counts[at.Outcome]++
			if at.Outcome != "lost" {
				continue
			}
			require.Equal(t, victim, at.Worker, "invocation %d: attempt %d lost on a worker that was not killed: %+v", id, at.Attempt, a.Attempts)
			require.Contains(t, at.Error, victim)
			require.NotEqual(t, victim, a.Attempts[i+1].Worker)
			lostOnVictim = true
			resume = append(resume, a.Attempts[i+1].StartedAt.Sub(killedAt))
		}
		require.Equal(t, slices.Contains(runs[victim], id), lostOnVictim, "invocation %d (%s): attempts %+v", id, k, a.Attempts)
	}
	require.Empty(t, errs, "audit:\n%s", strings.Join(errs, "\n"))
	slices.Sort(resume)

	// Nothing of the killed worker is left running in River.
	crashtest.Eventually(t, 10*time.Second, 100*time.Millisecond, "no job of the killed worker is left running", func() (bool, string) {
		var left int
		err := pool.QueryRow(ctx, `
			SELECT count(*) FROM river_job WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = $1`, victim).Scan(&left)
		if err != nil {
			return false, err.Error()
		}
		return left == 0, fmt.Sprintf("%d running", left)
	})
	failed := 0
	for _, l := range collector.LogLines("rescue failed") {
		if l.At.After(killedAt) {
			failed++
		}
	}
	t.Logf("kill → next attempt: p50 %s, max %s; attempts %v; since the kill, the collector's rescues failed %d times (the database down)",
		resume[len(resume)/2].Round(time.Millisecond), resume[len(resume)-1].Round(time.Millisecond), counts, failed)
	for _, p := range c.Processes() {
		if p != workers[victim] {
			require.True(t, p.Alive(), "%s exited: %v", p.Name, p.Err())
		}
	}
}
