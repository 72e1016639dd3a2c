package fnrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newTestServer serves the paths the http tests use.
func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Test", "yes")
		w.Header().Set("Content-Type", "application/json")
		_, _ = fmt.Fprint(w, `{"n": 1, "f": 1.5, "s": "x", "l": [1, 2]}`)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "query": r.URL.RawQuery, "content_type": r.Header.Get("Content-Type"),
			"x_a": r.Header.Get("X-A"), "body": string(body),
		})
	})
	mux.HandleFunc("/missing", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not here", http.StatusNotFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprint(w, strings.Repeat("x", 101))
	})
	mux.HandleFunc("/block", func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	mux.HandleFunc("/ftp", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://example.com/file", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTP(t *testing.T) {
	t.Parallel()

	srv := newTestServer(t)
	tests := []struct {
		name   string
		source string
		want   string
	}{
		{name: "Get", source: `func main(input) {
  r := http.get(input.url + "/json")
  return {"status": r.status_code, "ok": r.ok, "json": r.json(), "header": r.headers["X-Test"], "body": r.body, "type": type(r)}
}`, want: `{"status": 200, "ok": true, "json": {"n": 1, "f": 1.5, "s": "x", "l": [1, 2]}, "header": "yes",
	"body": "{\"n\": 1, \"f\": 1.5, \"s\": \"x\", \"l\": [1, 2]}", "type": "http_response"}`},
		{name: "PostJSON", source: `func main(input) {
  return http.post(input.url + "/echo?x=1", {"json": {"a": 1}, "params": {"q": ["a b", 2]}, "headers": {"x-a": "b"}}).json()
}`, want: `{"method": "POST", "query": "q=a+b&q=2&x=1", "content_type": "application/json", "x_a": "b", "body": "{\"a\":1}"}`},
		{name: "RequestWithBody", source: `func main(input) {
  return http.request("put", input.url + "/echo", {"body": "raw", "headers": {"Content-Type": "text/plain"}}).json()
}`, want: `{"method": "PUT", "query": "", "content_type": "text/plain", "x_a": "", "body": "raw"}`},
		{name: "Methods", source: `func main(input) {
  return [http.put(input.url + "/echo").json().method, http.patch(input.url + "/echo").json().method, http.delete(input.url + "/echo").json().method]
}`, want: `["PUT", "PATCH", "DELETE"]`},
		{name: "NotFound", source: `func main(input) {
  r := http.get(input.url + "/missing")
  return [r.status_code, r.ok, r.body]
}`, want: `[404, false, "not here\n"]`},
		{name: "ResponseAsJSON", source: `func main(input) {
  r := http.get(input.url + "/missing")
  m := json.unmarshal(json.marshal(r))
  return [m.status_code, m.body, m.headers["Content-Type"]]
}`, want: `[404, "not here\n", "text/plain; charset=utf-8"]`},
		{name: "NetworkErrorIsCatchable", source: `func main(input) {
  return try(func() { return http.get(input.dead) }, "caught")
}`, want: `"caught"`},
		{name: "RequestTimeoutIsCatchable", source: `func main(input) {
  return try(func() { return http.get(input.url + "/block", {"timeout": "50ms"}) }, "slow")
}`, want: `"slow"`},
		{name: "RedirectToOtherSchemeRefused", source: `func main(input) {
  return try(func() { return http.get(input.url + "/ftp") }, func(e) { return e.message() })
}`, want: `"http.get: Get \"ftp://example.com/file\": redirect to a \"ftp\" URL refused: only http and https are allowed"`},
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	input := fmt.Sprintf(`{"url": %q, "dead": %q}`, srv.URL, dead.URL)
	r := NewRunner(RunnerConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := runSource(t, r, tt.source, input, RunOptions{})
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(out))
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	t.Parallel()

	srv := newTestServer(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	tests := []struct {
		name    string
		source  string
		timeout time.Duration
		want    *RunError
	}{
		{
			name: "BodyTooLarge", source: "func main(input) {\n  return http.get(input.url + \"/big\")\n}",
			want: &RunError{Kind: KindLimit, Message: "http.get: response body exceeds 100 bytes", Line: 2, Column: 10, Builtin: "http.get"},
		},
		{
			name: "LimitIsSticky", source: "func main(input) {\n  x := try(func() { return http.get(input.url + \"/big\") }, \"caught\")\n  return x\n}",
			want: &RunError{Kind: KindLimit, Message: "http.get: response body exceeds 100 bytes", Line: 2, Column: 28, Builtin: "http.get"},
		},
		{
			name: "RunTimeout", source: "func main(input) {\n  http.post(input.url + \"/block\")\n}", timeout: 200 * time.Millisecond,
			want: &RunError{Kind: KindTimeout, Message: "timed out after 200ms", Line: 2, Column: 3, Builtin: "http.post"},
		},
		{
			name: "NotHTTP", source: "func main(input) {\n  http.get(\"file:///etc/passwd\")\n}",
			want: &RunError{Kind: KindRuntime, Message: `value error: http.get: "file:///etc/passwd" is not an http or https URL`, Line: 2, Column: 3, Builtin: "http.get"},
		},
		{
			name: "UnknownOption", source: "func main(input) {\n  http.get(input.url, {\"tiemout\": 1})\n}",
			want: &RunError{Kind: KindRuntime, Message: `value error: http.get: unknown option "tiemout" (known: body, headers, json, params, timeout)`, Line: 2, Column: 3, Builtin: "http.get"},
		},
		{
			name: "JSONAndBody", source: "func main(input) {\n  http.post(input.url, {\"json\": 1, \"body\": \"1\"})\n}",
			want: &RunError{Kind: KindRuntime, Message: "value error: http.post: give either json or body, not both", Line: 2, Column: 3, Builtin: "http.post"},
		},
		{
			name: "BadHeader", source: "func main(input) {\n  http.get(input.url, {\"headers\": {\"X\": [1]}})\n}",
			want: &RunError{Kind: KindRuntime, Message: `type error: http.get: headers["X"] must be a string, number or bool (list given)`, Line: 2, Column: 3, Builtin: "http.get"},
		},
		{
			name: "BadMethod", source: "func main(input) {\n  http.request(\"GE T\", input.url)\n}",
			want: &RunError{Kind: KindRuntime, Message: `value error: http.request: invalid method "GE T"`, Line: 2, Column: 3, Builtin: "http.request"},
		},
		{
			name: "BodyNotJSON", source: "func main(input) {\n  r := http.get(input.url + \"/missing\")\n  return r.json()\n}",
			want: &RunError{Kind: KindRuntime, Message: "value error: response body is not valid JSON: invalid character 'o' in literal null (expecting 'u')", Builtin: "http.get"},
		},
	}
	input := fmt.Sprintf(`{"url": %q, "dead": %q}`, srv.URL, dead.URL)
	r := NewRunner(RunnerConfig{MaxHTTPBody: 100})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := runSource(t, r, tt.source, input, RunOptions{Timeout: tt.timeout})
			require.Equal(t, tt.want, err)
		})
	}

	t.Run("NetworkError", func(t *testing.T) {
		t.Parallel()
		_, err := runSource(t, r, "func main(input) {\n  http.get(input.dead)\n}", input, RunOptions{})
		rerr, ok := errors.AsType[*RunError](err)
		require.True(t, ok)
		require.Equal(t, KindRuntime, rerr.Kind)
		require.Equal(t, "http.get", rerr.Builtin)
		require.Equal(t, []int{2, 3}, []int{rerr.Line, rerr.Column})
		require.True(t, strings.HasPrefix(rerr.Message, fmt.Sprintf(`http.get: Get %q: dial tcp`, dead.URL)), rerr.Message)
	})
}
