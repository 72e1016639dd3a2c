package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const helloSource = `
config := {"timeout": "10s"}
func main(input) {
  return {"greeting": "hello, " + input.name}
}
`

func TestDeployListGetVersionsRollback(t *testing.T) {
	t.Parallel()
	b := setup(t)

	a := b.deploy("hello", helloSource)
	require.Equal(t, http.StatusCreated, a.status, string(a.raw))
	require.EqualValues(t, 1, a.body["version"])
	require.Equal(t, true, a.body["active"])
	require.Equal(t, "10s", a.body["config"].(map[string]any)["timeout"])

	a = b.deploy("hello", helloSource)
	require.Equal(t, http.StatusOK, a.status, "the same source again is not a new version")
	require.EqualValues(t, 1, a.body["version"])

	v2 := strings.Replace(helloSource, "hello, ", "hi, ", 1)
	a = b.do(http.MethodPut, "/v1/functions/hello", []byte(v2), "X-Powny-Author", "ada")
	require.Equal(t, http.StatusCreated, a.status)
	require.EqualValues(t, 2, a.body["version"])
	require.Equal(t, "ada", a.body["author"])

	a = b.invoke("hello", `{"name": "x"}`)
	require.Equal(t, "hi, x", a.body["result"].(map[string]any)["greeting"])

	a = b.do(http.MethodGet, "/v1/functions", nil)
	require.Equal(t, http.StatusOK, a.status)
	fns := a.body["functions"].([]any)
	require.Len(t, fns, 1)
	require.EqualValues(t, 2, fns[0].(map[string]any)["active_version"])
	require.EqualValues(t, 2, fns[0].(map[string]any)["versions"])

	a = b.do(http.MethodGet, "/v1/functions/hello", nil)
	require.Equal(t, v2, a.body["source"])

	a = b.do(http.MethodGet, "/v1/functions/hello/versions", nil)
	vs := a.body["versions"].([]any)
	require.Len(t, vs, 2)
	require.EqualValues(t, 2, vs[0].(map[string]any)["version"], "newest first")

	a = b.do(http.MethodGet, "/v1/functions/hello/versions/1", nil)
	require.Equal(t, helloSource, a.body["source"])

	a = b.do(http.MethodPost, "/v1/functions/hello/rollback", nil)
	require.Equal(t, http.StatusOK, a.status, string(a.raw))
	require.EqualValues(t, 1, a.body["version"])
	a = b.invoke("hello", `{"name": "x"}`)
	require.Equal(t, "hello, x", a.body["result"].(map[string]any)["greeting"], "rollback changes what new invocations run")

	a = b.do(http.MethodPost, "/v1/functions/hello/rollback", nil)
	requireProblem(t, a, http.StatusConflict, "conflict", "no version older")
	a = b.do(http.MethodPost, "/v1/functions/hello/rollback", []byte(`{"version": 2}`))
	require.Equal(t, http.StatusOK, a.status)
	a = b.do(http.MethodPost, "/v1/functions/hello/rollback", []byte(`{"version": 7}`))
	requireProblem(t, a, http.StatusNotFound, "not-found", "version 7")
	a = b.do(http.MethodPost, "/v1/functions/hello/rollback", []byte(`{"version": "two"}`))
	requireProblem(t, a, http.StatusBadRequest, "bad-request")

	var rows int
	require.NoError(t, b.pool.QueryRow(t.Context(), `SELECT count(*) FROM powny_versions WHERE function = 'hello'`).Scan(&rows))
	require.Equal(t, 2, rows)
}

func TestDeployRejectsBadSource(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct {
		name, source string
		line, column int
		detail       string
	}{
		{"syntax error", "func main(input) {\n  return {\"a\": }\n}\n", 2, 0, ""},
		{"no main", "func helper() { return 1 }\n", 0, 0, "main"},
		{"config not a map", "config := [1, 2]\nfunc main() { return 1 }\n", 1, 0, "config"},
		{"config not literal", "x := 1\nconfig := {\"timeout\": x}\nfunc main() { return 1 }\n", 2, 0, "literal"},
		{"unknown config key", "config := {\"tiemout\": \"1s\"}\nfunc main() { return 1 }\n", 1, 0, "tiemout"},
		{"bad timeout", "config := {\"timeout\": \"soon\"}\nfunc main() { return 1 }\n", 1, 0, "timeout"},
		{"forbidden global", "func main() { return os.getenv(\"HOME\") }\n", 1, 0, "os"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := b.deploy("bad", tc.source)
			p := requireProblem(t, a, http.StatusBadRequest, "invalid-source", tc.detail)
			if tc.line > 0 {
				require.EqualValues(t, tc.line, p["line"], string(a.raw))
				require.NotZero(t, p["column"], string(a.raw))
			}
		})
	}
	t.Run("nothing stored", func(t *testing.T) {
		t.Parallel()
		a := b.do(http.MethodGet, "/v1/functions/bad", nil)
		requireProblem(t, a, http.StatusNotFound, "not-found", `function "bad" does not exist`)
	})
}

func TestFunctionNames(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct{ name, path, detail string }{
		{"slash", "a/b", "no slashes"},
		{"dot", "a.b", "no slashes, dots"},
		{"space", "a%20b", "spaces"},
		{"too long", strings.Repeat("x", 129), "limit 128"},
		{"non-ASCII", "h%C3%A9llo", "non-ASCII"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := b.deploy(tc.path, helloSource)
			p := requireProblem(t, a, http.StatusBadRequest, "invalid-name", tc.detail)
			require.Equal(t, "name", p["field"])
		})
	}
	b.mustDeploy(strings.Repeat("x", 128), helloSource)
	b.mustDeploy("A-z_09", helloSource)
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	big := "func main() { return 1 }\n//" + strings.Repeat("x", 64<<10)
	a := b.deploy("big", big)
	p := requireProblem(t, a, http.StatusRequestEntityTooLarge, "too-large", "65536 bytes")
	require.EqualValues(t, 64<<10, p["limit"])

	b.mustDeploy("hello", helloSource)
	a = b.do(http.MethodPost, "/v1/functions/hello/invoke", []byte(`{"name": "`+strings.Repeat("x", 64<<10)+`"}`))
	requireProblem(t, a, http.StatusRequestEntityTooLarge, "too-large")
}
