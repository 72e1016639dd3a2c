package cli

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const invocationsJSON = `{"invocations": [
	{"id": 44, "function": "hello", "version": 3, "trigger": "http", "state": "queued", "input": null,
	 "attempts": 0, "max_attempts": 3, "created_at": "2025-01-02T03:04:59Z"},
	{"id": 43, "function": "hello", "version": 3, "trigger": "http", "state": "running", "input": null,
	 "attempts": 1, "max_attempts": 3, "worker": "worker-cd34", "created_at": "2025-01-02T03:04:00Z",
	 "started_at": "2025-01-02T03:04:00Z"},
	{"id": 42, "function": "disk-alert", "version": 12, "trigger": "event", "state": "failed", "input": {"a": 1},
	 "error": {"kind": "timeout", "message": "ran over 30s"}, "attempts": 3, "max_attempts": 3,
	 "worker": "worker-ab12", "created_at": "2025-01-02T03:00:00Z", "started_at": "2025-01-02T03:00:01Z",
	 "finished_at": "2025-01-02T03:00:01.2345Z"}],
	"next_before": 42}`

const invocationJSON = `{"id": 42, "function": "hello", "version": 3, "trigger": "http", "state": "succeeded",
	"input": {"name": "x"}, "result": {"greeting": "hello, x"}, "attempts": 2, "max_attempts": 3,
	"checkpoints": 2, "journal_entries": 5,
	"idempotency_key": "k1", "river_job_id": 17, "worker": "worker-ab12",
	"created_at": "2025-01-02T03:04:05Z", "started_at": "2025-01-02T03:04:05Z", "finished_at": "2025-01-02T03:04:07.5Z",
	"history": [
	  {"attempt": 1, "worker": "worker-zz99", "river_job_id": 16, "started_at": "2025-01-02T03:04:05Z",
	   "finished_at": "2025-01-02T03:04:06Z", "outcome": "failed", "error": "worker lost\nstack"},
	  {"attempt": 2, "worker": "worker-ab12", "river_job_id": 17, "started_at": "2025-01-02T03:04:06Z",
	   "finished_at": "2025-01-02T03:04:07.5Z", "outcome": "succeeded"}],
	"checkpoint_rows": [
	  {"seq": 1, "attempt": 1, "worker": "worker-zz99", "first_entry": 0, "entry_count": 2, "line": 4, "bytes": 120,
	   "created_at": "2025-01-02T03:04:05.5Z"},
	  {"seq": 2, "attempt": 2, "worker": "worker-ab12", "first_entry": 2, "entry_count": 3, "line": 9, "bytes": 200,
	   "created_at": "2025-01-02T03:04:07Z"}]}`

func TestJobs(t *testing.T) {
	t.Parallel()

	routes := map[string]http.HandlerFunc{
		"GET /v1/invocations":    answerJSON(http.StatusOK, invocationsJSON),
		"GET /v1/invocations/42": answerJSON(http.StatusOK, invocationJSON),
		"GET /v1/invocations/7": answerJSON(http.StatusOK, `{"id": 7, "function": "f", "version": 1, "trigger": "http",
			"state": "failed", "input": null, "error": {"kind": "runtime", "message": "boom", "line": 9},
			"attempts": 1, "max_attempts": 1, "created_at": "2025-01-02T03:04:05Z"}`),
		"DELETE /v1/invocations/43": answerJSON(http.StatusOK, `{"id": 43, "state": "cancelled"}`),
		"DELETE /v1/invocations/44": answerJSON(http.StatusOK, `{"id": 44, "state": "running"}`),
		"DELETE /v1/invocations/42": answerProblem(http.StatusConflict, `{"type": "urn:powny:problem:conflict",
			"title": "Conflict", "status": 409, "detail": "invocation 42 has already finished"}`),
	}

	t.Run("Ls", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "jobs", "ls", "--function", "hello", "--state", "failed", "--limit", "3", "--before", "50")
		require.NoError(t, res.err)
		require.Equal(t, ""+
			"ID  FUNCTION    VERSION  STATE    ATTEMPTS  WORKER       CREATED               DURATION\n"+
			"44  hello       3        queued   0/3       -            2025-01-02T03:04:59Z  -\n"+
			"43  hello       3        running  1/3       worker-cd34  2025-01-02T03:04:00Z  1m0s\n"+
			"42  disk-alert  12       failed   3/3       worker-ab12  2025-01-02T03:00:00Z  235ms\n"+
			"more: powny jobs ls --before 42\n", res.stdout)
		require.Equal(t, "before=50&function=hello&limit=3&state=failed", b.last(t).Query)
	})

	t.Run("LsJSON", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "jobs", "ls", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, invocationsJSON, res.stdout)
		require.Empty(t, b.last(t).Query)
	})

	t.Run("LsEmptyJSON", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"GET /v1/invocations": answerJSON(http.StatusOK, `{"invocations": []}`)})

		res := b.run(t, "", "jobs", "ls", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, `{"invocations": []}`, res.stdout)
	})

	t.Run("Show", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "jobs", "show", "42")
		require.NoError(t, res.err)
		require.Equal(t, ""+
			"ID:               42\n"+
			"Function:         hello (version 3)\n"+
			"State:            succeeded\n"+
			"Trigger:          http\n"+
			"Attempts:         2 (failures 0 of 3 allowed)\n"+
			"Checkpoints:      2 (5 journal entries); last 2025-01-02T03:04:07Z, line 9, by worker-ab12\n"+
			"Worker:           worker-ab12\n"+
			"River job:        17\n"+
			"Idempotency key:  k1\n"+
			"Created:          2025-01-02T03:04:05Z\n"+
			"Started:          2025-01-02T03:04:05Z\n"+
			"Finished:         2025-01-02T03:04:07Z\n"+
			"Duration:         2.5s\n"+
			"Input:\n"+
			"  {\n"+
			"    \"name\": \"x\"\n"+
			"  }\n"+
			"History:\n"+
			"  ATTEMPT  WORKER       RIVER JOB  STARTED               DURATION  OUTCOME    ERROR\n"+
			"  1        worker-zz99  16         2025-01-02T03:04:05Z  1s        failed     worker lost …\n"+
			"  2        worker-ab12  17         2025-01-02T03:04:06Z  1.5s      succeeded  -\n"+
			"Result:\n"+
			"  {\n"+
			"    \"greeting\": \"hello, x\"\n"+
			"  }\n", res.stdout)
	})

	t.Run("ShowFailed", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "jobs", "show", "7")
		require.NoError(t, res.err)
		require.Contains(t, res.stdout, "Error:        runtime: boom (line 9)\n")
		require.Contains(t, res.stdout, "Input:\n  null\n")
		require.NotContains(t, res.stdout, "History:")
		require.NotContains(t, res.stdout, "Result:")
	})

	t.Run("ShowJSON", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "jobs", "show", "42", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, invocationJSON, res.stdout)
	})

	t.Run("ShowUnknown", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "jobs", "show", "99")
		require.EqualError(t, res.err, "no route GET /v1/invocations/99")
	})

	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "jobs", "cancel", "43")
		require.NoError(t, res.err)
		require.Equal(t, "invocation 43 cancelled\n", res.stdout)
		require.Equal(t, http.MethodDelete, b.last(t).Method)

		res = b.run(t, "", "jobs", "cancel", "44")
		require.NoError(t, res.err)
		require.Equal(t, "invocation 44 is running; cancellation requested\n", res.stdout)

		res = b.run(t, "", "jobs", "cancel", "43", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, `{"id": 43, "function": "", "version": 0, "trigger": "", "state": "cancelled", "input": null,
			"attempts": 0, "max_attempts": 0, "created_at": "0001-01-01T00:00:00Z"}`, res.stdout)

		res = b.run(t, "", "jobs", "cancel", "42")
		require.EqualError(t, res.err, "invocation 42 has already finished")
	})

	t.Run("BadOptions", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		for args, want := range map[string]string{
			"jobs show x":                 `invalid invocation id "x": want a positive integer`,
			"jobs show 0":                 `invalid invocation id "0": want a positive integer`,
			"jobs logs -- -4":             `invalid invocation id "-4": want a positive integer`,
			"jobs cancel":                 "accepts 1 arg(s), received 0",
			"jobs ls --state done":        `--state: "done" is not one of queued, running, succeeded, failed, cancelled`,
			"jobs ls --limit 5000":        "--limit: 5000 is not between 0 and 1000",
			"jobs ls --before -1":         "--before: an invocation id is a positive number",
			"jobs ls --function a.b":      `--function: invalid function name "a.b"`,
			"jobs ls --limit x":           `invalid argument "x" for "--limit" flag: strconv.ParseInt: parsing "x": invalid syntax`,
			"jobs show 1 --url ftp://x/y": `--url: "ftp://x/y" is not an http:// or https:// URL`,
		} {
			res := b.run(t, "", strings.Fields(args)...)
			require.EqualError(t, res.err, want, args)
		}
		require.Empty(t, b.sent())
	})
}

func TestJobsLogs(t *testing.T) {
	t.Parallel()

	// logsPages serves total lines, after= and limit= honoured.
	logsPages := func(total int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var after, limit int
			_, _ = fmt.Sscan(r.URL.Query().Get("after"), &after)
			_, _ = fmt.Sscan(r.URL.Query().Get("limit"), &limit)
			var lines []string
			for id := after + 1; id <= total && len(lines) < limit; id++ {
				lines = append(lines, fmt.Sprintf(`{"id": %d, "attempt": %d, "level": "info", "message": "line %d",
					"logged_at": "2025-01-02T03:04:05Z"}`, id, 1+id/600, id))
			}
			answerJSON(http.StatusOK, `{"logs": [`+strings.Join(lines, ",")+`]}`)(w, r)
		}
	}

	t.Run("Text", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"GET /v1/invocations/42/logs": answerJSON(http.StatusOK, `{"logs": [
			{"id": 1, "attempt": 1, "level": "info", "message": "starting", "logged_at": "2025-01-02T03:04:05Z"},
			{"id": 5, "attempt": 2, "level": "error", "message": "ticket: 502", "logged_at": "2025-01-02T03:04:06.7Z"}]}`)})

		res := b.run(t, "", "jobs", "logs", "42")
		require.NoError(t, res.err)
		require.Equal(t, ""+
			"2025-01-02T03:04:05Z INFO  [attempt 1] starting\n"+
			"2025-01-02T03:04:06Z ERROR [attempt 2] ticket: 502\n", res.stdout)
		require.Equal(t, "limit=500", b.last(t).Query)
	})

	t.Run("Pages", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"GET /v1/invocations/42/logs": logsPages(1200)})

		res := b.run(t, "", "jobs", "logs", "42")
		require.NoError(t, res.err)
		lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
		require.Len(t, lines, 1200)
		require.Equal(t, "2025-01-02T03:04:05Z INFO  [attempt 3] line 1200", lines[1199])
		require.Len(t, b.sent(), 3)
		require.Equal(t, "after=1000&limit=500", b.last(t).Query)
	})

	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"GET /v1/invocations/42/logs": logsPages(2)})

		res := b.run(t, "", "jobs", "logs", "42", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, `{"logs": [
			{"id": 1, "attempt": 1, "level": "info", "message": "line 1", "logged_at": "2025-01-02T03:04:05Z"},
			{"id": 2, "attempt": 1, "level": "info", "message": "line 2", "logged_at": "2025-01-02T03:04:05Z"}]}`, res.stdout)
	})

	t.Run("NoLogsJSON", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"GET /v1/invocations/42/logs": logsPages(0)})

		res := b.run(t, "", "jobs", "logs", "42", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, `{"logs": []}`, res.stdout)
	})
}
