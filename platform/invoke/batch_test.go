package invoke_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/invoke"
	"github.com/powny/powny/platform/store"
	"github.com/powny/powny/platform/testdb"
	"github.com/powny/powny/testcontainers"
)

func TestMain(m *testing.M) { testcontainers.Main(m) }

// Concurrent starts are written in batches; each invocation gets its own
// job, and an unknown function fails only its own request.
func TestConcurrentStartsAreBatched(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	st := store.New(pool)
	ctx := context.Background()
	compiled, err := fnrun.Compile("config := {\"retries\": 2}\nfunc main(input) { return input }\n")
	require.NoError(t, err)
	config, err := json.Marshal(compiled.Config)
	require.NoError(t, err)
	_, _, err = st.Deploy(ctx, store.NewVersion{Function: "echo", Source: "x", Code: compiled.Code, Config: config, SHA256: "x", Author: "t"})
	require.NoError(t, err)
	svc := invoke.New(st, nil)

	const n = 200
	invs := make([]store.Invocation, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			fn := "echo"
			if i%50 == 7 {
				fn = "nope"
			}
			invs[i], _, errs[i] = svc.Start(ctx, store.NewInvocation{
				Function: fn, Trigger: "http", Input: json.RawMessage(fmt.Sprintf(`{"i": %d}`, i)),
			})
		})
	}
	wg.Wait()

	jobs := map[int64]bool{}
	for i := range n {
		if i%50 == 7 {
			require.ErrorIs(t, errs[i], store.ErrNotFound, "request %d", i)
			continue
		}
		require.NoError(t, errs[i], "request %d", i)
		require.Equal(t, "echo", invs[i].Function)
		require.Equal(t, 3, invs[i].MaxAttempts)
		require.False(t, jobs[invs[i].RiverJobID], "job %d given twice", invs[i].RiverJobID)
		jobs[invs[i].RiverJobID] = true
		got, err := st.GetInvocation(ctx, invs[i].ID)
		require.NoError(t, err)
		require.JSONEq(t, fmt.Sprintf(`{"i": %d}`, i), string(got.Input), "each row has its own input")
		require.Equal(t, invs[i].RiverJobID, got.RiverJobID)
	}
	var stored, jobRows int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM powny.invocations`).Scan(&stored))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1`, store.JobKind).Scan(&jobRows))
	require.Equal(t, n-4, stored)
	require.Equal(t, n-4, jobRows, "no job without its invocation")
}
