package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestInvokeSyncAndAsync(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("hello", helloSource)

	a := b.invoke("hello", `{"name": "Ada"}`)
	require.Equal(t, http.StatusOK, a.status, string(a.raw))
	require.Equal(t, "succeeded", a.body["state"])
	require.Equal(t, map[string]any{"greeting": "hello, Ada"}, a.body["result"])
	require.EqualValues(t, 1, a.body["attempts"])
	require.NotEmpty(t, a.body["worker"])
	id := a.body["id"]
	require.Equal(t, fmt.Sprintf("/v1/invocations/%v", id), a.header.Get("Location"))

	a = b.do(http.MethodPost, "/v1/functions/hello/invoke", []byte(`{"name": "Bob"}`))
	require.Equal(t, http.StatusAccepted, a.status, "no wait: accepted at once")
	require.Equal(t, "queued", a.body["state"])
	asyncID := a.body["id"]
	require.Eventually(t, func() bool {
		a = b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v", asyncID), nil)
		return a.body["state"] == "succeeded"
	}, 10*time.Second, 20*time.Millisecond)
	history := a.body["history"].([]any)
	require.Len(t, history, 1)
	require.Equal(t, "succeeded", history[0].(map[string]any)["outcome"])

	a = b.do(http.MethodGet, "/v1/invocations?function=hello&state=succeeded", nil)
	require.Len(t, a.body["invocations"].([]any), 2)
	a = b.do(http.MethodGet, "/v1/invocations?limit=1", nil)
	require.Len(t, a.body["invocations"].([]any), 1)
	require.Equal(t, asyncID, a.body["invocations"].([]any)[0].(map[string]any)["id"], "newest first")
	a = b.do(http.MethodGet, fmt.Sprintf("/v1/invocations?limit=1&before=%v", a.body["next_before"]), nil)
	require.Equal(t, id, a.body["invocations"].([]any)[0].(map[string]any)["id"])

	// The audit view says who ran what, when.
	var fn, state, worker string
	var version int
	var runTime time.Duration
	require.NoError(t, b.pool.QueryRow(t.Context(), `
		SELECT function, version, state, worker, run_time FROM powny_invocations WHERE id = $1`, id).
		Scan(&fn, &version, &state, &worker, &runTime))
	require.Equal(t, "hello", fn)
	require.Equal(t, 1, version)
	require.Equal(t, "succeeded", state)
	require.NotEmpty(t, worker)
	require.Positive(t, runTime)
}

func TestInvokeBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("hello", helloSource)

	a := b.invoke("nope", `{}`)
	requireProblem(t, a, http.StatusNotFound, "not-found", `function "nope" does not exist`)

	a = b.invoke("hello", "{\n  \"name\": x\n}")
	p := requireProblem(t, a, http.StatusBadRequest, "invalid-json", "line 2")
	require.EqualValues(t, 2, p["line"])
	require.EqualValues(t, 11, p["column"])

	a = b.invoke("hello", `{"a": 1} {"b": 2}`)
	requireProblem(t, a, http.StatusBadRequest, "invalid-json", "after the JSON value")

	a = b.invoke("hello", `{"a": 1`)
	requireProblem(t, a, http.StatusBadRequest, "invalid-json", "end of JSON")

	a = b.do(http.MethodPost, "/v1/functions/hello/invoke?wait=forever", []byte(`{}`))
	p = requireProblem(t, a, http.StatusBadRequest, "bad-request", "wait")
	require.Equal(t, "wait", p["field"])

	a = b.do(http.MethodGet, "/v1/invocations/abc", nil)
	requireProblem(t, a, http.StatusBadRequest, "bad-request", "positive integer")
	a = b.do(http.MethodGet, "/v1/invocations/999999", nil)
	requireProblem(t, a, http.StatusNotFound, "not-found", "invocation 999999")
	a = b.do(http.MethodGet, "/v1/invocations?state=done", nil)
	requireProblem(t, a, http.StatusBadRequest, "bad-request", "state")
	a = b.do(http.MethodGet, "/v1/invocations?limit=-1", nil)
	requireProblem(t, a, http.StatusBadRequest, "bad-request", "limit")

	a = b.invoke("hello", `{}`, "Idempotency-Key", strings.Repeat("k", 256))
	requireProblem(t, a, http.StatusBadRequest, "bad-request", "Idempotency-Key")
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("hello", helloSource)

	first := b.invoke("hello", `{"name": "x"}`, "Idempotency-Key", "order-1")
	require.Equal(t, http.StatusOK, first.status)
	require.Empty(t, first.header.Get("Idempotent-Replayed"))

	again := b.invoke("hello", `{"name":"x"}`, "Idempotency-Key", "order-1")
	require.Equal(t, http.StatusOK, again.status)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.Equal(t, first.body["id"], again.body["id"])

	other := b.invoke("hello", `{"name": "y"}`, "Idempotency-Key", "order-1")
	requireProblem(t, other, http.StatusConflict, "conflict", "different input")

	// Concurrent requests with one key make one invocation.
	var wg sync.WaitGroup
	ids := make([]any, 8)
	for i := range ids {
		wg.Go(func() {
			ids[i] = b.invoke("hello", `{"name": "z"}`, "Idempotency-Key", "order-2").body["id"]
		})
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
	var n int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM powny_invocations WHERE idempotency_key = 'order-2'`).Scan(&n))
	require.Equal(t, 1, n)
}

func TestRuntimeErrorFailsTheInvocation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("boom", "func main(input) {\n  log.info(\"about to fail\")\n  error(\"boom: \" + input.why)\n}\n")
	b.mustDeploy("typo", "func main() {\n  x := 1\n  return x + \"a\"\n}\n")

	a := b.invoke("boom", `{"why": "testing"}`)
	require.Equal(t, http.StatusOK, a.status)
	require.Equal(t, "failed", a.body["state"])
	e := a.body["error"].(map[string]any)
	require.Equal(t, "runtime", e["kind"])
	require.Contains(t, e["message"], "boom: testing")
	require.EqualValues(t, 3, e["line"], "the line of the error() call")

	logs := b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v/logs", a.body["id"]), nil)
	lines := logs.body["logs"].([]any)
	require.Len(t, lines, 1, "logs survive a failure")
	require.Equal(t, "about to fail", lines[0].(map[string]any)["message"])

	a = b.invoke("typo", `{}`)
	require.Equal(t, "failed", a.body["state"])
	e = a.body["error"].(map[string]any)
	require.Equal(t, "runtime", e["kind"])
	require.NotEmpty(t, e["message"])

	// The worker is unharmed.
	b.mustDeploy("hello", helloSource)
	require.Equal(t, "succeeded", b.invoke("hello", `{"name": "x"}`).body["state"])
}

func TestTimeoutStopsAnEndlessLoop(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("spin", "config := {\"timeout\": \"1s\"}\nfunc main() {\n  for {}\n}\n")
	b.mustDeploy("hello", helloSource)

	done := make(chan answer, 1)
	go func() { done <- b.invoke("spin", `{}`) }()
	// The API keeps serving while a function spins.
	require.Equal(t, "succeeded", b.invoke("hello", `{"name": "x"}`).body["state"])
	a := <-done
	require.Equal(t, "failed", a.body["state"], string(a.raw))
	e := a.body["error"].(map[string]any)
	require.Equal(t, "timeout", e["kind"])
	require.Equal(t, "timed out after 1s", e["message"])
}

func TestRetries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// Fails every time: with one retry, that is two attempts, then failed.
	b.mustDeploy("flaky", "config := {\"retries\": 1}\nfunc main() {\n  error(\"always\")\n}\n")
	a := b.invoke("flaky", `{}`)
	require.Equal(t, http.StatusOK, a.status, string(a.raw))
	require.Equal(t, "failed", a.body["state"])
	require.EqualValues(t, 2, a.body["attempts"])
	require.EqualValues(t, 2, a.body["max_attempts"])
	a = b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v", a.body["id"]), nil)
	require.Len(t, a.body["history"].([]any), 2)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("spin", "config := {\"timeout\": \"30s\"}\nfunc main() {\n  for {}\n}\n")
	b.mustDeploy("nap", "func main() {\n  sleep(\"1h\")\n  return 1\n}\n")

	for _, tc := range []struct{ function, stateBefore, outcome string }{
		{"spin", "running", "cancelled"}, // its run is stopped wherever it runs
		{"nap", "waiting", "suspended"},  // it sleeps in the database: it just never wakes
	} {
		t.Run(tc.function, func(t *testing.T) {
			t.Parallel()
			a := b.do(http.MethodPost, "/v1/functions/"+tc.function+"/invoke", []byte(`{}`))
			id := a.body["id"]
			require.Eventually(t, func() bool {
				return b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v", id), nil).body["state"] == tc.stateBefore
			}, 10*time.Second, 10*time.Millisecond)

			a = b.do(http.MethodDelete, fmt.Sprintf("/v1/invocations/%v", id), nil)
			require.Equal(t, http.StatusOK, a.status, string(a.raw))
			require.Equal(t, "cancelled", a.body["state"])

			require.Eventually(t, func() bool {
				a = b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v", id), nil)
				h := a.body["history"].([]any)
				return len(h) == 1 && h[0].(map[string]any)["outcome"] == tc.outcome
			}, 10*time.Second, 20*time.Millisecond)
			require.Equal(t, "cancelled", a.body["state"])

			a = b.do(http.MethodDelete, fmt.Sprintf("/v1/invocations/%v", id), nil)
			requireProblem(t, a, http.StatusConflict, "conflict", "already finished")
		})
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("chatty", "func main() {\n  log.info(\"one\", 1, {\"a\": true})\n  log.warn(\"two\")\n  log.error(\"three\")\n  return nil\n}\n")
	a := b.invoke("chatty", `null`)
	require.Equal(t, "succeeded", a.body["state"], string(a.raw))
	logs := b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v/logs", a.body["id"]), nil)
	lines := logs.body["logs"].([]any)
	require.Len(t, lines, 3)
	var got []string
	for _, l := range lines {
		m := l.(map[string]any)
		got = append(got, fmt.Sprint(m["level"], ":", m["message"]))
	}
	require.Equal(t, "info:one 1", got[0][:10])
	require.Equal(t, []string{"warn:two", "error:three"}, got[1:])
}
