package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/cli"
	"github.com/powny/powny/platform/daemon"
	"github.com/powny/powny/platform/testdb"
	"github.com/powny/powny/testcontainers"
)

func TestMain(m *testing.M) {
	cli.TuneGC() // as the powny binary does: both sides of each comparison run in this process
	testcontainers.Main(m)
}

const (
	token         = "bench"
	trivial       = "func main(input) { return input }\n"
	syncInvokes   = 1000
	asyncInvokes  = 10_000
	clients       = 8
	fetchCooldown = time.Millisecond
	fetchPoll     = 100 * time.Millisecond
	maxWorkers    = 100
)

// server starts Powny (api + worker) on pool's database, deploys trivial,
// and returns its URL.
func server(b *testing.B, dsn string) string {
	b.Helper()
	url := startDaemon(b, daemon.Config{
		DatabaseURL: dsn, Roles: daemon.Roles{API: true, Worker: true},
		FetchCooldown: fetchCooldown, FetchPollInterval: fetchPoll, MaxWorkers: maxWorkers,
	})
	post(b, http.MethodPut, url+"/v1/functions/trivial", trivial, http.StatusCreated)
	return url
}

// startDaemon runs Powny with cfg, listening on a free port with the
// benchmarks' token, until the benchmark ends, and returns its URL.
func startDaemon(b *testing.B, cfg daemon.Config) string {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	cfg.Listen, cfg.Token, cfg.OnListen = "127.0.0.1:0", token, func(a net.Addr) { addr <- a }
	go func() { done <- daemon.Run(ctx, cfg) }()
	b.Cleanup(func() { cancel(); require.NoError(b, <-done) })
	select {
	case a := <-addr:
		return "http://" + a.String()
	case err := <-done:
		b.Fatalf("server: %v", err)
		return ""
	}
}

//nolint:gochecknoglobals // one keep-alive pool for the whole benchmark
var httpClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func post(b *testing.B, method, url, body string, want int) {
	b.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader([]byte(body)))
	require.NoError(b, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := httpClient.Do(req)
	require.NoError(b, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(b, want, resp.StatusCode, string(raw))
}

// BenchmarkSyncInvoke: 1,000 sequential invokes of a trivial function, each
// waiting for its result (?wait=10s); p50 and p99 latency.
func BenchmarkSyncInvoke(b *testing.B) {
	_, dsn := testdb.New(b)
	url := server(b, dsn)
	for range b.N {
		lat := make([]time.Duration, syncInvokes)
		for i := range lat {
			start := time.Now()
			post(b, http.MethodPost, url+"/v1/functions/trivial/invoke?wait=10s", `{"i": 1}`, http.StatusOK)
			lat[i] = time.Since(start)
		}
		slices.Sort(lat)
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
		b.Logf("sync invoke x%d: p50 %v, p99 %v, max %v", syncInvokes, p50, p99, lat[len(lat)-1])
	}
}

// noopArgs is a plain River job that does nothing.
type noopArgs struct{}

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct {
	river.WorkerDefaults[noopArgs]
	done *atomic.Int64
}

func (w *noopWorker) Work(context.Context, *river.Job[noopArgs]) error {
	w.done.Add(1)
	return nil
}

// BenchmarkAsyncThroughput: 10,000 async invokes of a trivial function sent by
// 8 HTTP clients, timed until every invocation has succeeded; side by side
// with 10,000 no-op jobs inserted one by one by 8 goroutines through plain
// River, with the same fetch settings, on the same database.
func BenchmarkAsyncThroughput(b *testing.B) {
	pool, dsn := testdb.New(b)
	for range b.N {
		riverRate := plainRiver(b, pool)
		url := server(b, dsn+"&pool_max_conns=120")
		start := time.Now()
		fanOut(asyncInvokes, func(int) {
			post(b, http.MethodPost, url+"/v1/functions/trivial/invoke", `{"i": 1}`, http.StatusAccepted)
		})
		submitted := time.Since(start)
		waitCount(b, pool, `SELECT count(*) FROM powny.invocations WHERE state = 'succeeded'`, asyncInvokes)
		b.Logf("powny: submitted in %v, all done in %v", submitted, time.Since(start))
		pownyRate := float64(asyncInvokes) / time.Since(start).Seconds()
		b.ReportMetric(pownyRate, "powny-inv/s")
		b.ReportMetric(riverRate, "river-jobs/s")
		b.ReportMetric(pownyRate/riverRate, "ratio")
		b.Logf("async x%d: powny %.0f invocations/s, plain river %.0f jobs/s, ratio %.2f (fetch cooldown %v, poll %v, %d workers)",
			asyncInvokes, pownyRate, riverRate, pownyRate/riverRate, fetchCooldown, fetchPoll, maxWorkers)
	}
}

func plainRiver(b *testing.B, pool *pgxpool.Pool) float64 {
	b.Helper()
	var done atomic.Int64
	workers := river.NewWorkers()
	river.AddWorker(workers, &noopWorker{done: &done})
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:            map[string]river.QueueConfig{"plain": {MaxWorkers: maxWorkers}},
		Workers:           workers,
		FetchCooldown:     fetchCooldown,
		FetchPollInterval: fetchPoll,
	})
	require.NoError(b, err)
	ctx := context.Background()
	require.NoError(b, rc.Start(ctx))
	start := time.Now()
	fanOut(asyncInvokes, func(int) {
		_, err := rc.Insert(ctx, noopArgs{}, &river.InsertOpts{Queue: "plain"})
		require.NoError(b, err)
	})
	// Done means completed in the database, as for Powny.
	waitCount(b, pool, `SELECT count(*) FROM river_job WHERE kind = 'bench_noop' AND state = 'completed'`, asyncInvokes)
	rate := float64(asyncInvokes) / time.Since(start).Seconds()
	require.NoError(b, rc.Stop(ctx))
	return rate
}

// fanOut calls f n times from clients goroutines.
func fanOut(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				f(int(i))
			}
		})
	}
	wg.Wait()
}

func waitCount(b *testing.B, pool *pgxpool.Pool, query string, want int) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var n int
		require.NoError(b, pool.QueryRow(context.Background(), query).Scan(&n))
		if n >= want {
			return
		}
		require.True(b, time.Now().Before(deadline), "only %d of %d done after 5 minutes", n, want)
		// Polling is cheap but not free: counting done rows scans the table, on
		// both sides of a comparison alike.
		time.Sleep(50 * time.Millisecond)
	}
}
