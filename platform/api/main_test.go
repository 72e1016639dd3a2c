package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/daemon"
	"github.com/powny/powny/platform/testdb"
	"github.com/powny/powny/testcontainers"
)

func TestMain(m *testing.M) { testcontainers.Main(m) }

const token = "test-token"

// testBundle is one Powny server (api + worker + collector in-process) on a
// fresh database.
type testBundle struct {
	t    *testing.T
	url  string
	pool *pgxpool.Pool
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool, dsn := testdb.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Config{
			DatabaseURL:   dsn,
			Roles:         daemon.Roles{API: true, Worker: true, Collector: true},
			Listen:        "127.0.0.1:0",
			Token:         token,
			MaxBodyBytes:  64 << 10,
			ShutdownGrace: time.Second,
			OnListen:      func(a net.Addr) { addr <- a },
		})
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case a := <-addr:
		return &testBundle{t: t, url: "http://" + a.String(), pool: pool}
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
		return nil
	}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (b *testBundle) do(method, path string, body []byte, headers ...string) answer {
	b.t.Helper()
	req, err := http.NewRequest(method, b.url+path, bytes.NewReader(body))
	require.NoError(b.t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(b.t, json.Unmarshal(raw, &a.body), string(raw))
	}
	return a
}

func (b *testBundle) deploy(name, source string) answer {
	b.t.Helper()
	return b.do(http.MethodPut, "/v1/functions/"+name, []byte(source))
}

// mustDeploy deploys a source that must be accepted.
func (b *testBundle) mustDeploy(name, source string) {
	b.t.Helper()
	a := b.deploy(name, source)
	require.Contains(b.t, []int{http.StatusOK, http.StatusCreated}, a.status, string(a.raw))
}

// invoke invokes and waits up to 20s for the result.
func (b *testBundle) invoke(name, input string, headers ...string) answer {
	b.t.Helper()
	return b.do(http.MethodPost, "/v1/functions/"+name+"/invoke?wait=20s", []byte(input), headers...)
}

// requireProblem checks a problem+json answer and returns its members.
func requireProblem(t *testing.T, a answer, status int, code string, detailParts ...string) map[string]any {
	t.Helper()
	require.Equal(t, status, a.status, string(a.raw))
	require.Equal(t, "application/problem+json", a.header.Get("Content-Type"))
	require.Equal(t, "urn:powny:problem:"+code, a.body["type"], string(a.raw))
	require.EqualValues(t, status, a.body["status"])
	for _, p := range detailParts {
		require.Contains(t, a.body["detail"], p)
	}
	return a.body
}

func TestHealthNeedsNoToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := http.Get(b.url + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct{ name, header, detail string }{
		{"missing", "", "Authorization header"},
		{"wrong", "Bearer nope", "wrong bearer token"},
		{"not bearer", "Basic " + token, "wrong bearer token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := b.do(http.MethodGet, "/v1/functions", nil, "Authorization", tc.header)
			requireProblem(t, a, http.StatusUnauthorized, "unauthorized", tc.detail)
			require.Contains(t, a.header.Get("WWW-Authenticate"), "Bearer")
		})
	}
	a := b.do(http.MethodGet, "/v1/nothing-here", nil)
	requireProblem(t, a, http.StatusNotFound, "not-found")
}
