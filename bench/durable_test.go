package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/daemon"
	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/invoke"
	"github.com/powny/powny/platform/store"
	"github.com/powny/powny/platform/testdb"
)

const (
	checkpoints     = 2000
	threeStepRuns   = 2000
	resumeEntries   = 10_000
	threeCheckpoint = "func main() {\n  a := uuid()\n  checkpoint()\n  b := uuid()\n  checkpoint()\n  c := uuid()\n  checkpoint()\n  return 1\n}\n"
)

// deploy stores a version of source as function name, straight through the store.
func deploy(b *testing.B, st *store.Store, name, source string) {
	b.Helper()
	compiled, err := fnrun.Compile(source)
	require.NoError(b, err)
	config, err := json.Marshal(compiled.Config)
	require.NoError(b, err)
	_, _, err = st.Deploy(context.Background(), store.NewVersion{
		Function: name, Source: source, Code: compiled.Code, Config: config, SHA256: name, Author: "bench",
	})
	require.NoError(b, err)
}

func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100]
}

// BenchmarkCheckpointCost: one checkpoint (a fenced, one-statement write of
// a journal row) against a bare single-row INSERT + COMMIT, from the same
// pool, one after the other: p50, p99 and their ratio.
func BenchmarkCheckpointCost(b *testing.B) {
	pool, _ := testdb.New(b)
	st := store.New(pool)
	ctx := context.Background()
	deploy(b, st, "cp", threeCheckpoint)
	inv, err := st.InsertInvocation(ctx, pool, store.NewInvocation{Function: "cp", Trigger: "http", Input: json.RawMessage("null")})
	require.NoError(b, err)
	run, err := st.StartAttempt(ctx, inv.RiverJobID, "bench")
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `CREATE TABLE bare (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n integer NOT NULL, payload bytea NOT NULL)`)
	require.NoError(b, err)
	entry := []byte(`[{"seq":0,"name":"uuid","digest":"44136fa355b3678a1146ad16f7e8649e","result":"7d0e8c1b-5c1e-4f0a-9f57-1a2b3c4d5e6f","at":"2026-12-04T16:34:24.769385915Z"}]`)
	next := 0 // the journal position of the next checkpoint
	for range b.N {
		cp := make([]time.Duration, checkpoints)
		bare := make([]time.Duration, checkpoints)
		for i := range checkpoints {
			start := time.Now()
			require.NoError(b, st.Checkpoint(ctx, run.Fence, "bench", store.JournalRows{FirstEntry: next, Count: 1, Entries: entry}, nil))
			cp[i] = time.Since(start)
			next++
			start = time.Now()
			_, err := pool.Exec(ctx, `INSERT INTO bare (n, payload) VALUES ($1, $2)`, i, entry)
			require.NoError(b, err)
			bare[i] = time.Since(start)
		}
		c50, c99 := percentiles(cp)
		b50, b99 := percentiles(bare)
		b.ReportMetric(float64(c50.Microseconds())/1000, "cp-p50-ms")
		b.ReportMetric(float64(c50)/float64(b50), "p50-ratio")
		b.ReportMetric(float64(c99)/float64(b99), "p99-ratio")
		b.Logf("checkpoint x%d: p50 %v p99 %v; bare INSERT+COMMIT: p50 %v p99 %v; ratio p50 %.2f p99 %.2f",
			checkpoints, c50, c99, b50, b99, float64(c50)/float64(b50), float64(c99)/float64(b99))
	}
}

// threeRowsArgs is a plain River job that commits three rows, one by one.
type threeRowsArgs struct{}

func (threeRowsArgs) Kind() string { return "bench_three_rows" }

type threeRowsWorker struct {
	river.WorkerDefaults[threeRowsArgs]
	pool *pgxpool.Pool
	done *atomic.Int64
}

func (w *threeRowsWorker) Work(ctx context.Context, job *river.Job[threeRowsArgs]) error {
	for i := range 3 {
		if _, err := w.pool.Exec(ctx, `INSERT INTO rows3 (job, n) VALUES ($1, $2)`, job.ID, i); err != nil {
			return err
		}
	}
	w.done.Add(1)
	return nil
}

// BenchmarkThreeCheckpoints: 2,000 invocations of a function that takes three
// checkpoints, started in-process by 8 goroutines, until all succeeded;
// side by side with 2,000 plain River jobs that each commit three rows, same
// fetch settings, same database.
func BenchmarkThreeCheckpoints(b *testing.B) {
	pool, dsn := testdb.New(b)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `CREATE TABLE rows3 (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, job bigint NOT NULL, n integer NOT NULL)`)
	require.NoError(b, err)
	st := store.New(pool)
	deploy(b, st, "three", threeCheckpoint)
	for range b.N {
		// Plain River first.
		var done atomic.Int64
		workers := river.NewWorkers()
		river.AddWorker(workers, &threeRowsWorker{pool: pool, done: &done})
		rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
			Queues:        map[string]river.QueueConfig{"plain": {MaxWorkers: maxWorkers}},
			Workers:       workers,
			FetchCooldown: fetchCooldown, FetchPollInterval: fetchPoll,
		})
		require.NoError(b, err)
		require.NoError(b, rc.Start(ctx))
		start := time.Now()
		fanOut(threeStepRuns, func(int) {
			_, err := rc.Insert(ctx, threeRowsArgs{}, &river.InsertOpts{Queue: "plain"})
			require.NoError(b, err)
		})
		waitCount(b, pool, `SELECT count(*) FROM river_job WHERE kind = 'bench_three_rows' AND state = 'completed'`, threeStepRuns)
		riverRate := float64(threeStepRuns) / time.Since(start).Seconds()
		require.NoError(b, rc.Stop(ctx))

		// Powny: a worker in-process; invocations started through invoke.Service.
		runCtx, cancel := context.WithCancel(ctx)
		addr := make(chan net.Addr, 1)
		exited := make(chan error, 1)
		go func() {
			exited <- daemon.Run(runCtx, daemon.Config{
				DatabaseURL: dsn, Roles: daemon.Roles{Worker: true, API: true}, Listen: "127.0.0.1:0", Token: token,
				OnListen:      func(a net.Addr) { addr <- a },
				FetchCooldown: fetchCooldown, FetchPollInterval: fetchPoll, MaxWorkers: maxWorkers,
			})
		}()
		<-addr
		svc := invoke.New(st, nil)
		start = time.Now()
		fanOut(threeStepRuns, func(int) {
			_, _, err := svc.Start(ctx, store.NewInvocation{Function: "three", Trigger: "http", Input: json.RawMessage("null")})
			require.NoError(b, err)
		})
		waitCount(b, pool, `SELECT count(*) FROM powny_invocations WHERE state = 'succeeded' AND checkpoints = 3`, threeStepRuns)
		pownyRate := float64(threeStepRuns) / time.Since(start).Seconds()
		cancel()
		require.NoError(b, <-exited)
		b.ReportMetric(pownyRate, "powny-inv/s")
		b.ReportMetric(riverRate, "river-jobs/s")
		b.ReportMetric(pownyRate/riverRate, "ratio")
		b.Logf("3 checkpoints x%d: powny %.0f invocations/s, plain river (3 rows per job) %.0f jobs/s, ratio %.2f",
			threeStepRuns, pownyRate, riverRate, pownyRate/riverRate)
	}
}

// BenchmarkResume: an invocation whose journal holds 10,000 entries (in ten
// checkpoints) sleeps durably, then resumes: the time of the resumed attempt,
// from its start (load the journal, replay 10,000 calls) to its end.
func BenchmarkResume(b *testing.B) {
	pool, dsn := testdb.New(b)
	ctx := context.Background()
	st := store.New(pool)
	deploy(b, st, "long", fmt.Sprintf(`func main() {
  for i := 0; i < %d; i++ {
    uuid()
    if i %% 1000 == 999 { checkpoint() }
  }
  sleep("1100ms")
  return 1
}
`, resumeEntries))
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	addr := make(chan net.Addr, 1)
	exited := make(chan error, 1)
	go func() {
		exited <- daemon.Run(runCtx, daemon.Config{
			DatabaseURL: dsn, Roles: daemon.Roles{Worker: true, API: true, Collector: true}, Listen: "127.0.0.1:0", Token: token,
			OnListen: func(a net.Addr) { addr <- a },
		})
	}()
	<-addr
	svc := invoke.New(st, nil)
	for range b.N {
		inv, _, err := svc.Start(ctx, store.NewInvocation{Function: "long", Trigger: "http", Input: json.RawMessage("null")})
		require.NoError(b, err)
		waitCount(b, pool, fmt.Sprintf(`SELECT count(*) FROM powny.invocations WHERE id = %d AND state = 'succeeded'`, inv.ID), 1)
		var took time.Duration
		var entries int
		require.NoError(b, pool.QueryRow(ctx, `
			SELECT a.finished_at - a.started_at, i.journal_entries FROM powny.attempts a JOIN powny_invocations i ON i.id = a.invocation_id
			WHERE a.invocation_id = $1 AND a.outcome = 'succeeded'`, inv.ID).Scan(&took, &entries))
		b.ReportMetric(float64(took.Microseconds())/1000, "resume-ms")
		b.Logf("resume with a journal of %d entries: %v (load, replay, finish)", entries, took)
	}
	cancel()
	require.NoError(b, <-exited)
}
