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

func TestEventsLsAndShow(t *testing.T) {
	t.Parallel()
	page := `{"events": [
		{"id": 13, "body": {"host": "db-3", "status": "OK"}, "started": 0, "woke": 1, "received_at": "2025-01-02T03:04:06Z"},
		{"id": 12, "dedup_key": "alert-1", "body": {"host": "db-3", "status": "CRIT", "dedup_key": "alert-1", "text": "a very long description of the problem"}, "started": 2, "woke": 0, "received_at": "2025-01-02T03:04:05Z"}],
		"next_before": 12}`
	one := `{"id": 13, "body": {"host": "db-3", "status": "OK"}, "started": 0, "woke": 1, "received_at": "2025-01-02T03:04:06Z",
		"started_invocations": [], "woke_invocations": [{"function": "disk", "invocation": 42}]}`
	routes := map[string]http.HandlerFunc{
		"GET /v1/events":    answerJSON(http.StatusOK, page),
		"GET /v1/events/13": answerJSON(http.StatusOK, one),
	}
	b := setupCLI(t, routes)

	res := b.run(t, "", "events", "ls", "--limit", "2")
	require.NoError(t, res.err)
	require.Equal(t, ""+
		"ID  RECEIVED              STARTED  WOKE  DEDUP KEY  BODY\n"+
		"13  2025-01-02T03:04:06Z  0        1     -          {\"host\": \"db-3\", \"status\": \"OK\"}\n"+
		"12  2025-01-02T03:04:05Z  2        0     alert-1    {\"host\": \"db-3\", \"status\": \"CRIT\", \"dedup_key\": \"alert-1\", \"…\n"+
		"more: powny events ls --before 12\n", res.stdout)
	require.Equal(t, "limit=2", b.last(t).Query)

	res = b.run(t, "", "events", "show", "13")
	require.NoError(t, res.err)
	require.Equal(t, ""+
		"ID:         13\n"+
		"Received:   2025-01-02T03:04:06Z\n"+
		"Dedup key:  -\n"+
		"Started:    -\n"+
		"Woke:       disk:42\n"+
		"Body:\n"+
		"  {\n"+
		"    \"host\": \"db-3\",\n"+
		"    \"status\": \"OK\"\n"+
		"  }\n", res.stdout)

	res = b.run(t, "", "events", "show", "x")
	require.ErrorContains(t, res.err, `invalid event id "x"`)
	res = b.run(t, "", "events", "ls", "--limit", "5000")
	require.ErrorContains(t, res.err, "--limit: 5000 is not between 0 and 1000")
}
