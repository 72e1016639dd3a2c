package cli

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEventsSend(t *testing.T) {
	t.Parallel()
	one := `{"id": 12, "duplicate": false, "started": [{"function": "disk", "invocation": 42}, {"function": "log", "invocation": 43}], "woke": []}`
	batch := `{"events": [{"id": 13, "duplicate": false, "started": [], "woke": [{"function": "disk", "invocation": 17}]},
		{"id": 12, "duplicate": true, "started": [], "woke": []}]}`
	routes := map[string]http.HandlerFunc{"POST /v1/events": answerJSON(http.StatusAccepted, one)}
	batchRoutes := map[string]http.HandlerFunc{"POST /v1/events": answerJSON(http.StatusAccepted, batch)}

	t.Run("One", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		res := b.run(t, "", "events", "send", "--dedup-key", "alert-1", `{"host": "db-3", "status": "CRIT"}`)
		require.NoError(t, res.err)
		require.Equal(t, ""+
			"EVENT  DUPLICATE  STARTED         WOKE\n"+
			"12     no         disk:42 log:43  -\n", res.stdout)
		req := b.last(t)
		require.Equal(t, "alert-1", req.Header.Get("Idempotency-Key"))
		require.Equal(t, "application/json", req.Header.Get("Content-Type"))
		require.JSONEq(t, `{"host": "db-3", "status": "CRIT"}`, req.Body)
	})

	t.Run("BatchFromStdinJSON", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, batchRoutes)
		res := b.run(t, `[{"a": 1}, {"a": 2, "dedup_key": "k"}]`, "events", "send", "-", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, batch, res.stdout)
		require.JSONEq(t, `[{"a": 1}, {"a": 2, "dedup_key": "k"}]`, b.last(t).Body)
	})

	t.Run("Bad", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		res := b.run(t, "", "events", "send", `{"a": `)
		require.ErrorContains(t, res.err, "invalid JSON input: line 1, column 7")
		res = b.run(t, "", "events", "send", "--dedup-key", "k", `[{"a": 1}]`)
		require.ErrorContains(t, res.err, "--dedup-key applies to a single event")
		require.Empty(t, b.sent(), "nothing was sent")
	})
}
