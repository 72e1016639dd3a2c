package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
)

// testNow is the clock of the client commands in tests.
var testNow = time.Date(2025, 1, 2, 3, 5, 0, 0, time.UTC) //nolint:gochecknoglobals // a test constant

// apiRequest is what the canned API received.
type apiRequest struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// cliBundle runs client commands against a canned API.
type cliBundle struct {
	env      map[string]string
	dataDir  string
	mu       sync.Mutex
	requests []apiRequest
}

// cliResult is the outcome of one command.
type cliResult struct {
	stdout, stderr string
	err            error
}

// setupCLI serves routes ("METHOD /path" to a handler); other requests get a
// not-found problem. POWNY_URL points at the server and POWNY_TOKEN is set.
func setupCLI(t *testing.T, routes map[string]http.HandlerFunc) *cliBundle {
	t.Helper()
	b := &cliBundle{dataDir: t.TempDir()}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.requests = append(b.requests, apiRequest{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(body)})
		b.mu.Unlock()
		if h, ok := routes[r.Method+" "+r.URL.EscapedPath()]; ok {
			h(w, r)
			return
		}
		writeProblemAnswer(w, http.StatusNotFound, `{"type": "urn:powny:problem:not-found", "title": "Not found",
			"status": 404, "detail": "no route `+r.Method+" "+r.URL.EscapedPath()+`"}`)
	}))
	t.Cleanup(srv.Close)
	b.env = map[string]string{envURL: srv.URL, envToken: "s3cret", "USER": "ann"}
	return b
}

func (b *cliBundle) getenv(name string) string { return b.env[name] }

// run runs the powny command line with args and stdin.
func (b *cliBundle) run(t *testing.T, stdin string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	root := &cobra.Command{Use: "powny", SilenceUsage: true, SilenceErrors: true}
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(args)
	addClientCommandsEnv(root, &stdout, clientEnv{
		getenvFunc:  b.getenv,
		dataDirFunc: func() string { return b.dataDir },
		nowFunc:     func() time.Time { return testNow },
		location:    time.UTC,
	})
	err := root.ExecuteContext(context.Background())
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// sent returns the requests the API received.
func (b *cliBundle) sent() []apiRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]apiRequest(nil), b.requests...)
}

func (b *cliBundle) last(t *testing.T) apiRequest {
	t.Helper()
	reqs := b.sent()
	require.NotEmpty(t, reqs)
	return reqs[len(reqs)-1]
}

// answerJSON answers status with a JSON body.
func answerJSON(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// answerProblem answers status with a problem+json body.
func answerProblem(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { writeProblemAnswer(w, status, body) }
}

func writeProblemAnswer(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// requireJSONOutput checks that out is one JSON document equal to want.
func requireJSONOutput(t *testing.T, want, out string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var doc json.RawMessage
	require.NoError(t, dec.Decode(&doc))
	require.False(t, dec.More(), "one JSON document")
	require.JSONEq(t, want, string(doc))
}

const functionsJSON = `{"functions": [
	{"name": "hello", "active_version": 2, "versions": 3, "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-02T03:04:05Z"},
	{"name": "disk-alert", "active_version": 1, "versions": 1, "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00.5Z"}]}`

func TestClientSettings(t *testing.T) {
	t.Parallel()

	routes := map[string]http.HandlerFunc{"GET /v1/functions": answerJSON(http.StatusOK, functionsJSON)}

	t.Run("TokenFromEnv", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "functions", "ls")
		require.NoError(t, res.err)
		require.Equal(t, "Bearer s3cret", b.last(t).Header.Get("Authorization"))
	})

	t.Run("TokenFlagWins", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "functions", "ls", "--token", "flag-token")
		require.NoError(t, res.err)
		require.Equal(t, "Bearer flag-token", b.last(t).Header.Get("Authorization"))
	})

	t.Run("TokenFromDefaultDataDir", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		delete(b.env, envToken)
		require.NoError(t, os.WriteFile(filepath.Join(b.dataDir, "token"), []byte("file-token\n"), 0o600))

		res := b.run(t, "", "functions", "ls")
		require.NoError(t, res.err)
		require.Equal(t, "Bearer file-token", b.last(t).Header.Get("Authorization"))
	})

	t.Run("TokenFromDataDirEnv", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		delete(b.env, envToken)
		dir := t.TempDir()
		b.env[envDataDir] = dir
		require.NoError(t, os.WriteFile(filepath.Join(dir, "token"), []byte("env-dir-token"), 0o600))

		res := b.run(t, "", "functions", "ls")
		require.NoError(t, res.err)
		require.Equal(t, "Bearer env-dir-token", b.last(t).Header.Get("Authorization"))
	})

	t.Run("NoToken", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"GET /v1/functions": answerProblem(http.StatusUnauthorized,
			`{"type": "urn:powny:problem:unauthorized", "title": "Missing or wrong bearer token", "status": 401}`)})
		delete(b.env, envToken)

		res := b.run(t, "", "functions", "ls")
		require.EqualError(t, res.err,
			"Missing or wrong bearer token (set --token, POWNY_TOKEN or the token file in the data dir)")
		require.Empty(t, b.last(t).Header.Get("Authorization"))
	})

	t.Run("URLFlagWins", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		url := b.env[envURL]
		b.env[envURL] = "http://127.0.0.1:1"

		res := b.run(t, "", "functions", "ls", "--url", url+"/")
		require.NoError(t, res.err)
		require.Equal(t, "/v1/functions", b.last(t).Path)
	})

	t.Run("BadURL", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "functions", "ls", "--url", "127.0.0.1:8080")
		require.EqualError(t, res.err, `--url: "127.0.0.1:8080" is not an http:// or https:// URL`)
		require.Empty(t, b.sent())
	})
}

func TestUnreachable(t *testing.T) {
	t.Parallel()

	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	b := setupCLI(t, nil)
	b.env[envURL] = srv.URL

	res := b.run(t, "", "jobs", "show", "1")
	require.ErrorContains(t, res.err, "cannot reach the API (check --url or POWNY_URL): Get \""+srv.URL+"/v1/invocations/1\": ")
}

func TestDescribe(t *testing.T) {
	t.Parallel()

	b := setupCLI(t, map[string]http.HandlerFunc{
		"GET /v1/invocations": answerProblem(http.StatusBadRequest, `{"type": "urn:powny:problem:bad-request",
			"title": "Bad request", "status": 400, "detail": "limit must be at most 500", "field": "limit"}`),
	})

	res := b.run(t, "", "jobs", "ls", "--limit", "900")
	require.EqualError(t, res.err, "field limit: limit must be at most 500")
}
