package client_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/client"
)

// seen is what the canned server received.
type seen struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

type testBundle struct {
	client *client.Client
	mu     sync.Mutex
	seen   []seen
}

func (b *testBundle) last(t *testing.T) seen {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	require.NotEmpty(t, b.seen)
	return b.seen[len(b.seen)-1]
}

// setup serves routes ("METHOD /path" to a handler) and records every request.
func setup(t *testing.T, routes map[string]http.HandlerFunc) *testBundle {
	t.Helper()
	b := &testBundle{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.seen = append(b.seen, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(body)})
		b.mu.Unlock()
		h, ok := routes[r.Method+" "+r.URL.EscapedPath()]
		if !ok {
			problem(w, http.StatusNotFound, "not-found", "no route "+r.Method+" "+r.URL.EscapedPath())
			return
		}
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	b.client = client.New(srv.URL+"/", "s3cret", nil)
	return b
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func problem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "urn:powny:problem:" + code, "title": code, "status": status, "detail": detail,
	})
}

const versionJSON = `{"function": "hello", "version": 3, "sha256": "abc", "author": "ann",
	"config": {"timeout": "30s"}, "active": true, "created_at": "2025-01-02T03:04:05Z"}`

const invocationJSON = `{"id": 42, "function": "hello", "version": 3, "trigger": "http",
	"state": "failed", "input": {"name": "x"}, "error": {"kind": "runtime", "message": "boom", "line": 7},
	"attempts": 2, "max_attempts": 2, "idempotency_key": "k1", "river_job_id": 17, "worker": "worker-ab12",
	"created_at": "2025-01-02T03:04:05Z", "started_at": "2025-01-02T03:04:06Z", "finished_at": "2025-01-02T03:04:07Z",
	"history": [{"attempt": 1, "worker": "w1", "river_job_id": 16, "started_at": "2025-01-02T03:04:05Z",
	  "finished_at": "2025-01-02T03:04:06Z", "outcome": "failed", "error": "boom"},
	 {"attempt": 2, "worker": "worker-ab12", "river_job_id": 17, "started_at": "2025-01-02T03:04:06Z"}]}`

func TestDeploy(t *testing.T) {
	t.Parallel()

	t.Run("Created", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]http.HandlerFunc{"PUT /v1/functions/hello": answer(http.StatusCreated, versionJSON)})

		v, created, err := b.client.Deploy(context.Background(), "hello", []byte("func main(x) { return x }"), "ann")
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, "hello", v.Function)
		require.Equal(t, 3, v.Number)
		require.Equal(t, "abc", v.SHA256)
		require.True(t, v.Active)
		require.JSONEq(t, `{"timeout": "30s"}`, string(v.Config))
		require.Equal(t, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), v.CreatedAt)

		got := b.last(t)
		require.Equal(t, "func main(x) { return x }", got.Body)
		require.Equal(t, "ann", got.Header.Get("X-Powny-Author"))
		require.Equal(t, "Bearer s3cret", got.Header.Get("Authorization"))
	})

	t.Run("Unchanged", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]http.HandlerFunc{"PUT /v1/functions/hello": answer(http.StatusOK, versionJSON)})

		_, created, err := b.client.Deploy(context.Background(), "hello", []byte("x"), "")
		require.NoError(t, err)
		require.False(t, created)
		require.Empty(t, b.last(t).Header.Get("X-Powny-Author"))
	})

	t.Run("InvalidSource", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]http.HandlerFunc{"PUT /v1/functions/hello": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"type": "urn:powny:problem:invalid-source", "title": "Invalid function source",
				"status": 400, "detail": "line 3, column 7: unexpected token", "line": 3, "column": 7}`)
		}})

		_, _, err := b.client.Deploy(context.Background(), "hello", []byte("x"), "")
		var perr *client.ProblemError
		require.ErrorAs(t, err, &perr)
		require.Equal(t, &client.ProblemError{
			Status: 400, Type: "urn:powny:problem:invalid-source", Title: "Invalid function source",
			Detail: "line 3, column 7: unexpected token", Line: 3, Column: 7,
		}, perr)
		require.Equal(t, "invalid-source", perr.Code())
		require.EqualError(t, err, "line 3, column 7: unexpected token (status 400)")
		require.ErrorIs(t, err, client.ErrBadRequest)
		require.NotErrorIs(t, err, client.ErrNotFound)
		require.ErrorIs(t, err, &client.ProblemError{Type: "urn:powny:problem:invalid-source"})
		require.NotErrorIs(t, err, &client.ProblemError{Type: "urn:powny:problem:invalid-name"})
	})

	t.Run("EscapesName", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)

		_, _, err := b.client.Deploy(context.Background(), "a/b c", nil, "")
		require.ErrorIs(t, err, client.ErrNotFound)
		require.Equal(t, "/v1/functions/a%2Fb%20c", b.last(t).Path)
	})
}

func TestFunctions(t *testing.T) {
	t.Parallel()

	b := setup(t, map[string]http.HandlerFunc{
		"GET /v1/functions": answer(http.StatusOK, `{"functions": [{"name": "hello", "active_version": 2,
			"versions": 3, "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-02T00:00:00Z"}]}`),
		"GET /v1/functions/hello": answer(http.StatusOK, `{"name": "hello", "active_version": 2, "versions": 3,
			"created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-02T00:00:00Z",
			"source": "func main() {}", "config": {"retries": 2}}`),
		"GET /v1/functions/hello/versions":   answer(http.StatusOK, `{"versions": [`+versionJSON+`]}`),
		"GET /v1/functions/hello/versions/3": answer(http.StatusOK, `{"function": "hello", "version": 3, "source": "src"}`),
		"POST /v1/functions/hello/rollback":  answer(http.StatusOK, versionJSON),
	})
	ctx := context.Background()

	fns, err := b.client.ListFunctions(ctx)
	require.NoError(t, err)
	require.Equal(t, []client.Function{{
		Name: "hello", ActiveVersion: 2, Versions: 3,
		CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC),
	}}, fns)

	fn, err := b.client.GetFunction(ctx, "hello")
	require.NoError(t, err)
	require.Equal(t, "hello", fn.Name)
	require.Equal(t, 2, fn.ActiveVersion)
	require.Equal(t, "func main() {}", fn.Source)
	require.JSONEq(t, `{"retries": 2}`, string(fn.Config))

	versions, err := b.client.ListVersions(ctx, "hello")
	require.NoError(t, err)
	require.Len(t, versions, 1)
	require.Equal(t, 3, versions[0].Number)

	v, err := b.client.GetVersion(ctx, "hello", 3)
	require.NoError(t, err)
	require.Equal(t, "src", v.Source)

	_, err = b.client.Rollback(ctx, "hello", 0)
	require.NoError(t, err)
	require.Empty(t, b.last(t).Body)

	v, err = b.client.Rollback(ctx, "hello", 1)
	require.NoError(t, err)
	require.Equal(t, 3, v.Number)
	require.JSONEq(t, `{"version": 1}`, b.last(t).Body)
}

func TestInvoke(t *testing.T) {
	t.Parallel()

	t.Run("WaitAndKey", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]http.HandlerFunc{"POST /v1/functions/hello/invoke": answer(http.StatusOK, invocationJSON)})

		inv, err := b.client.Invoke(context.Background(), "hello", json.RawMessage(`{"name": "x"}`),
			client.InvokeOptions{Wait: 90 * time.Second, IdempotencyKey: "k1"})
		require.NoError(t, err)
		require.Equal(t, int64(42), inv.ID)
		require.Equal(t, client.StateFailed, inv.State)
		require.True(t, inv.Finished())
		require.Equal(t, &client.Failure{Kind: "runtime", Message: "boom", Line: 7}, inv.Error)
		require.Len(t, inv.History, 2)
		require.Equal(t, "failed", inv.History[0].Outcome)
		require.Nil(t, inv.History[1].FinishedAt)
		require.Equal(t, time.Date(2025, 1, 2, 3, 4, 7, 0, time.UTC), *inv.FinishedAt)

		got := b.last(t)
		require.Equal(t, "wait=1m30s", got.Query)
		require.Equal(t, "k1", got.Header.Get("Idempotency-Key"))
		require.Equal(t, "application/json", got.Header.Get("Content-Type"))
		require.JSONEq(t, `{"name": "x"}`, got.Body)
	})

	t.Run("NoWaitNoInput", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]http.HandlerFunc{"POST /v1/functions/hello/invoke": answer(http.StatusAccepted,
			`{"id": 43, "function": "hello", "version": 3, "state": "queued", "input": null, "created_at": "2025-01-02T03:04:05Z"}`)})

		inv, err := b.client.Invoke(context.Background(), "hello", nil, client.InvokeOptions{})
		require.NoError(t, err)
		require.Equal(t, client.StateQueued, inv.State)
		require.False(t, inv.Finished())
		require.Nil(t, inv.StartedAt)

		got := b.last(t)
		require.Empty(t, got.Query)
		require.Empty(t, got.Body)
		require.Empty(t, got.Header.Get("Idempotency-Key"))
	})

	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]http.HandlerFunc{"POST /v1/functions/hello/invoke": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_, _ = io.WriteString(w, `{"type": "urn:powny:problem:too-large", "title": "Request body too large",
				"status": 413, "detail": "body over 1048576 bytes", "limit": 1048576}`)
		}})

		_, err := b.client.Invoke(context.Background(), "hello", json.RawMessage(`1`), client.InvokeOptions{})
		require.ErrorIs(t, err, client.ErrTooLarge)
		var perr *client.ProblemError
		require.ErrorAs(t, err, &perr)
		require.Equal(t, int64(1048576), perr.Limit)
	})
}

func TestInvocations(t *testing.T) {
	t.Parallel()

	b := setup(t, map[string]http.HandlerFunc{
		"GET /v1/invocations/42": answer(http.StatusOK, invocationJSON),
		"GET /v1/invocations": answer(http.StatusOK,
			`{"invocations": [{"id": 42, "state": "failed"}, {"id": 41, "state": "succeeded"}], "next_before": 41}`),
		"DELETE /v1/invocations/42": answer(http.StatusOK, `{"id": 42, "state": "cancelled"}`),
		"DELETE /v1/invocations/7": func(w http.ResponseWriter, _ *http.Request) {
			problem(w, http.StatusConflict, "conflict", "invocation 7 has already finished")
		},
		"GET /v1/invocations/42/logs": answer(http.StatusOK, `{"logs": [{"id": 5, "attempt": 1, "level": "info",
			"message": "hi", "logged_at": "2025-01-02T03:04:05Z"}]}`),
	})
	ctx := context.Background()

	inv, err := b.client.GetInvocation(ctx, 42)
	require.NoError(t, err)
	require.Equal(t, "worker-ab12", inv.Worker)
	require.JSONEq(t, `{"name": "x"}`, string(inv.Input))

	list, next, err := b.client.ListInvocations(ctx, client.ListOptions{Function: "hello", State: "failed", Before: 50, Limit: 2})
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, int64(41), next)
	require.Equal(t, "before=50&function=hello&limit=2&state=failed", b.last(t).Query)

	_, _, err = b.client.ListInvocations(ctx, client.ListOptions{})
	require.NoError(t, err)
	require.Empty(t, b.last(t).Query)

	inv, err = b.client.CancelInvocation(ctx, 42)
	require.NoError(t, err)
	require.Equal(t, client.StateCancelled, inv.State)

	_, err = b.client.CancelInvocation(ctx, 7)
	require.ErrorIs(t, err, client.ErrConflict)
	require.EqualError(t, err, "invocation 7 has already finished (status 409)")

	logs, err := b.client.Logs(ctx, 42, 4, 100)
	require.NoError(t, err)
	require.Equal(t, []client.LogLine{{
		ID: 5, Attempt: 1, Level: "info", Message: "hi", LoggedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}}, logs)
	require.Equal(t, "after=4&limit=100", b.last(t).Query)

	_, err = b.client.GetInvocation(ctx, 99)
	require.ErrorIs(t, err, client.ErrNotFound)
}

func TestHealth(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]http.HandlerFunc{"GET /healthz": answer(http.StatusOK, `{"status": "ok"}`)})

		require.NoError(t, b.client.Health(context.Background()))
		require.Empty(t, b.last(t).Header.Get("Authorization"))
	})

	t.Run("NotProblemJSON", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]http.HandlerFunc{"GET /healthz": func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "database down", http.StatusServiceUnavailable)
		}})

		err := b.client.Health(context.Background())
		require.ErrorIs(t, err, client.ErrUnavailable)
		require.EqualError(t, err, "database down (status 503)")
	})

	t.Run("EmptyBody", func(t *testing.T) {
		t.Parallel()
		b := setup(t, map[string]http.HandlerFunc{"GET /healthz": answer(http.StatusBadGateway, "")})

		require.EqualError(t, b.client.Health(context.Background()), "Bad Gateway (status 502)")
	})
}

func TestTransportError(t *testing.T) {
	t.Parallel()

	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	c := client.New(srv.URL, "", nil)

	_, err := c.ListFunctions(context.Background())
	require.Error(t, err)
	var perr *client.ProblemError
	require.NotErrorAs(t, err, &perr)
}

func TestDecodeError(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]http.HandlerFunc{"GET /v1/functions": answer(http.StatusOK, `{"functions": [`)})

	_, err := b.client.ListFunctions(context.Background())
	require.ErrorContains(t, err, "decode answer of GET /v1/functions")
}
