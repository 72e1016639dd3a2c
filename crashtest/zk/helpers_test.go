package zk

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/powny/powny/crashtest"
	"github.com/powny/powny/platform/testdb"
)

// noRescueByHeartbeat is the POWNY_RESCUE_AFTER of these tests: a minute, so
// that neither the Postgres heartbeats nor the lease they keep can be what
// stops or rescues a run within a test; ZooKeeper must.
const noRescueByHeartbeat = time.Minute

// cluster is a crashtest.Cluster coordinated by ZooKeeper, with its database
// and a sink that knows which attempt performs each effect.
type cluster struct {
	*crashtest.Cluster
	pool *pgxpool.Pool
	sink *crashtest.Sink
	api  *crashtest.API
}

// newCluster returns a cluster whose processes use the ZooKeeper connect
// string zk ("host:port,...[/chroot]") with the given session timeout, and
// POWNY_RESCUE_AFTER noRescueByHeartbeat. It starts nothing.
func newCluster(t *testing.T, zk string, session time.Duration) *cluster {
	t.Helper()
	pool, dsn := testdb.New(t)
	c := &cluster{
		Cluster: crashtest.NewCluster(t, dsn),
		pool:    pool,
		sink:    crashtest.NewSink(t, crashtest.SinkConfig{Lookup: crashtest.LookupByKey(pool)}),
	}
	c.Env = []string{
		"POWNY_ZOOKEEPER=" + zk,
		"POWNY_SESSION_TIMEOUT=" + session.String(),
		"POWNY_RESCUE_AFTER=" + noRescueByHeartbeat.String(),
	}
	return c
}

// startAPI starts the API and deploys loop as "loop".
func (c *cluster) startAPI(t *testing.T) {
	t.Helper()
	c.StartAPI()
	c.api = c.API()
	require.NoError(t, c.api.Deploy(t.Context(), "loop", crashtest.Loop))
}

// invoke starts an invocation of loop with key k.
func (c *cluster) invoke(t *testing.T, k string, steps int, pause time.Duration) int64 {
	t.Helper()
	id, err := c.api.Invoke(t.Context(), "loop", map[string]any{"k": k, "sink": c.sink.URL, "steps": steps, "pause": pause.String()})
	require.NoError(t, err)
	return id
}

// running is an invocation's state as powny_invocations says.
type running struct {
	State       string
	Attempts    int
	Worker      string
	Checkpoints int
}

func (c *cluster) running(ctx context.Context, id int64) (running, error) {
	var r running
	var worker *string
	err := c.pool.QueryRow(ctx, `SELECT state, attempts, worker, checkpoints FROM powny_invocations WHERE id = $1`, id).
		Scan(&r.State, &r.Attempts, &worker, &r.Checkpoints)
	if worker != nil {
		r.Worker = *worker
	}
	return r, err
}

// waitRunning waits until invocation id runs with at least checkpoints
// checkpoints, and returns its state then.
func (c *cluster) waitRunning(t *testing.T, id int64, checkpoints int, timeout time.Duration) running {
	t.Helper()
	var r running
	crashtest.Eventually(t, timeout, 10*time.Millisecond, fmt.Sprintf("invocation %d runs with %d checkpoints", id, checkpoints),
		func() (bool, string) {
			var err error
			if r, err = c.running(t.Context(), id); err != nil {
				return false, err.Error()
			}
			return r.State == "running" && r.Checkpoints >= checkpoints, fmt.Sprintf("%+v", r)
		})
	return r
}

// system reads GET /v1/system, retrying while the API's coordinator is
// unavailable.
func (c *cluster) system(t *testing.T) crashtest.System {
	t.Helper()
	var s crashtest.System
	crashtest.Eventually(t, 10*time.Second, 50*time.Millisecond, "GET /v1/system answers", func() (bool, string) {
		var err error
		s, err = c.api.System(t.Context())
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	return s
}

// lostAttempts returns the attempts of function that ended "lost", by
// invocation and attempt.
func (c *cluster) lostAttempts(ctx context.Context, function string) ([]lostAttempt, error) {
	rows, err := c.pool.Query(ctx, `
		SELECT invocation_id, attempt, worker, started_at, finished_at, coalesce(error, '')
		FROM powny_attempts WHERE function = $1 AND outcome = 'lost' ORDER BY finished_at`, function)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []lostAttempt
	for rows.Next() {
		var l lostAttempt
		if err := rows.Scan(&l.Invocation, &l.Attempt, &l.Worker, &l.StartedAt, &l.FinishedAt, &l.Error); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

type lostAttempt struct {
	Invocation            int64
	Attempt               int
	Worker                string
	StartedAt, FinishedAt time.Time
	Error                 string
}

// leaderRow is powny.collector_leader.
type leaderRow struct {
	Term   int64
	Member string
	Since  time.Time
}

func (c *cluster) leader(ctx context.Context) (leaderRow, error) {
	var l leaderRow
	err := c.pool.QueryRow(ctx, `SELECT term, member, since FROM powny.collector_leader WHERE id = 1`).Scan(&l.Term, &l.Member, &l.Since)
	return l, err
}

// auditAll waits until every invocation of keys (id → k) of loop has
// finished, then audits each (crashtest.AuditInvocation, with owners) and
// returns them.
func (c *cluster) auditAll(t *testing.T, keys map[int64]string, owners bool, timeout time.Duration) []crashtest.Audited {
	t.Helper()
	ctx := t.Context()
	crashtest.WaitAllFinished(ctx, t, c.pool, "loop", len(keys), timeout)
	byKey := c.sink.ByKey()
	ids := make([]int64, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var (
		out  []crashtest.Audited
		errs []string
	)
	for _, id := range ids {
		a, err := crashtest.AuditInvocation(ctx, c.pool, byKey, id, keys[id], owners)
		if err != nil {
			errs = append(errs, err.Error())
		}
		out = append(out, a)
	}
	require.Empty(t, errs, "audit:\n%s", strings.Join(errs, "\n"))
	return out
}

// outcomes counts the ended attempts by outcome, for the reports.
func outcomes(as []crashtest.Audited) string {
	counts := map[string]int{}
	dups := 0
	for _, a := range as {
		for _, at := range a.Attempts {
			counts[at.Outcome]++
		}
		dups += a.Duplicates
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
	}
	parts = append(parts, fmt.Sprintf("effects performed twice (by a run stopped between effect and checkpoint) %d", dups))
	return strings.Join(parts, ", ")
}

// churn reports how much work the coordination cost: River jobs per
// invocation, the rescues the collectors logged and the lost attempts.
func (c *cluster) churn(t *testing.T) string {
	t.Helper()
	var jobs, invocations, lost int
	require.NoError(t, c.pool.QueryRow(t.Context(), `
		SELECT (SELECT count(*) FROM river_job), (SELECT count(*) FROM powny_invocations),
		       (SELECT count(*) FROM powny_attempts WHERE outcome = 'lost')`).Scan(&jobs, &invocations, &lost))
	rescues := 0
	for _, p := range c.Processes() {
		rescues += len(p.LogLines("rescued the invocation"))
	}
	return fmt.Sprintf("%d River jobs for %d invocations; %d rescues logged, %d attempts lost", jobs, invocations, rescues, lost)
}

// percentile returns the p-th percentile (0 to 100) of sorted ds.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, len(ds)*p/100)]
}
