package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// counterSource increments a counter with a compare-and-swap retry loop.
const counterSource = `func main() {
  for {
    n := kv.get("count")
    next := 1
    if n != nil { next = n + 1 }
    if kv.cas("count", n, next) { return next }
  }
}
`

func TestKVCounterUnderContention(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("counter", counterSource)

	const n = 100
	type outcome struct {
		state  string
		result any
		err    error
	}
	results := make(chan outcome, n)
	client := &http.Client{Timeout: time.Minute}
	for range n {
		go func() {
			req, err := http.NewRequest(http.MethodPost, b.url+"/v1/functions/counter/invoke?wait=50s", nil)
			if err != nil {
				results <- outcome{err: err}
				return
			}
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := client.Do(req)
			if err != nil {
				results <- outcome{err: err}
				return
			}
			defer resp.Body.Close()
			var inv struct {
				State  string `json:"state"`
				Result any    `json:"result"`
			}
			err = json.NewDecoder(resp.Body).Decode(&inv)
			results <- outcome{state: inv.State, result: inv.Result, err: err}
		}()
	}
	var got []int
	for range n {
		o := <-results
		require.NoError(t, o.err)
		require.Equal(t, "succeeded", o.state, "%v", o.result)
		got = append(got, int(o.result.(float64)))
	}
	slices.Sort(got)
	for i, v := range got {
		require.Equal(t, i+1, v, "each invocation took its own number")
	}

	var value string
	var version int64
	var updatedBy *int64
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT value::text, version, updated_by FROM public.powny_kv WHERE namespace = 'counter' AND key = 'count'`).
		Scan(&value, &version, &updatedBy))
	require.Equal(t, "100", value)
	require.EqualValues(t, n, version, "one write per increment")
	require.NotNil(t, updatedBy)
}

func TestKVResumedRunReplaysCAS(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The durable sleep checkpoints the cas, then suspends; the resumed run
	// replays it (true) rather than doing it again (false).
	b.mustDeploy("once", `func main() {
  first := kv.cas("once", nil, {"by": "first"})
  sleep("1500ms")
  other := kv.ns("shared-space")
  other.set("k", [1, 2])
  now := kv.get("once")
  shared := other.get("k")
  gone := kv.delete("once")
  return {"first": first, "now": now, "shared": shared, "gone": gone}
}
`)
	a := b.do(http.MethodPost, "/v1/functions/once/invoke", nil)
	done := b.waitState(a.body["id"], "succeeded")
	require.Len(t, done.body["history"], 2, "resumed once")
	require.Equal(t, map[string]any{"first": true, "now": map[string]any{"by": "first"}, "shared": []any{1.0, 2.0}, "gone": true},
		done.body["result"])

	j := b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v/journal", a.body["id"]), nil)
	var names []string
	for _, e := range j.body["entries"].([]any) {
		names = append(names, e.(map[string]any)["name"].(string))
	}
	require.Equal(t, []string{"kv.cas", "sleep", "kv.set", "kv.get", "kv.get", "kv.delete"}, names)
}
