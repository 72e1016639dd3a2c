package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/daemon"
	"github.com/powny/powny/platform/store"
	"github.com/powny/powny/platform/testdb"
)

const (
	eventFunctions = 1000 // deployed, each with a trigger
	eventServices  = 100  // each event matches the 1% of functions on its service
	eventBatch     = 100
	eventBatches   = 40
)

// BenchmarkEventIntake: events accepted per second through POST /v1/events,
// in batches of 100 sent by 8 clients, with 1,000 deployed functions of
// which 1% match each event (so each event starts 10 invocations, in the
// event's transaction). Side by side: plain River inserting the same number
// of jobs with InsertMany, 1,000 per transaction, from 8 goroutines.
func BenchmarkEventIntake(b *testing.B) {
	pool, dsn := testdb.New(b)
	st := store.New(pool)
	for i := range eventFunctions {
		deploy(b, st, fmt.Sprintf("on-%04d", i), fmt.Sprintf(
			`config := {"on": [{"service": "svc-%d", "status": ["CRIT", "WARN"], "host": "db-*"}]}
func main(event) { return event.host }
`, i%eventServices))
	}
	url := apiServer(b, dsn+"&pool_max_conns=40")
	batches := make([]string, eventBatches)
	for i := range batches {
		events := make([]string, eventBatch)
		for j := range events {
			events[j] = fmt.Sprintf(`{"host": "db-%d", "service": "svc-%d", "status": "CRIT", "value": %d}`,
				rand.IntN(50), rand.IntN(eventServices), j)
		}
		batches[i] = "[" + strings.Join(events, ",") + "]"
	}
	for range b.N {
		start := time.Now()
		fanOut(eventBatches, func(i int) {
			post(b, http.MethodPost, url+"/v1/events", batches[i-1], http.StatusAccepted)
		})
		elapsed := time.Since(start)
		var started int
		require.NoError(b, pool.QueryRow(context.Background(), `SELECT count(*) FROM powny.invocations WHERE trigger = 'event'`).Scan(&started))
		events := eventBatch * eventBatches
		eventRate := float64(events) / elapsed.Seconds()
		invRate := float64(started) / elapsed.Seconds()
		riverRate := riverInsertMany(b, pool, started)
		b.ReportMetric(eventRate, "events/s")
		b.ReportMetric(invRate, "invocations/s")
		b.ReportMetric(riverRate, "river-jobs/s")
		b.ReportMetric(invRate/riverRate, "ratio")
		b.Logf("events x%d in batches of %d, %d functions: %.0f events/s accepted, starting %d invocations (%.1f per event) at %.0f/s; "+
			"plain River InsertMany of as many jobs: %.0f jobs/s; ratio %.2f",
			events, eventBatch, eventFunctions, eventRate, started, float64(started)/float64(events), invRate, riverRate, invRate/riverRate)
	}
}

// apiServer starts the API role alone on dsn's database: what is measured
// is the intake, not the runs.
func apiServer(b *testing.B, dsn string) string {
	b.Helper()
	return startDaemon(b, daemon.Config{DatabaseURL: dsn, Roles: daemon.Roles{API: true}})
}

// riverInsertMany inserts n no-op jobs with River's InsertMany, 1,000 per
// transaction, from clients goroutines, and returns jobs per second.
func riverInsertMany(b *testing.B, pool *pgxpool.Pool, n int) float64 {
	b.Helper()
	rc, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(b, err)
	ctx := context.Background()
	const perTx = eventBatch * eventFunctions / eventServices
	params := make([]river.InsertManyParams, perTx)
	for i := range params {
		params[i] = river.InsertManyParams{Args: noopArgs{}, InsertOpts: &river.InsertOpts{Queue: "plain"}}
	}
	start := time.Now()
	fanOut((n+perTx-1)/perTx, func(int) {
		_, err := rc.InsertMany(ctx, params)
		require.NoError(b, err)
	})
	return float64(n) / time.Since(start).Seconds()
}
