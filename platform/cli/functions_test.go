package cli

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

const versionsJSON = `{"versions": [
	{"function": "hello", "version": 3, "sha256": "` + sha1 + `", "author": "ann", "config": {}, "active": false, "created_at": "2025-01-03T00:00:00Z"},
	{"function": "hello", "version": 2, "sha256": "` + sha2 + `", "author": "", "config": {}, "active": true, "created_at": "2025-01-02T00:00:00Z"}]}`

func TestFunctions(t *testing.T) {
	t.Parallel()

	routes := map[string]http.HandlerFunc{
		"GET /v1/functions": answerJSON(http.StatusOK, functionsJSON),
		"GET /v1/functions/hello": answerJSON(http.StatusOK, `{"name": "hello", "active_version": 2, "versions": 3,
			"created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-02T03:04:05Z",
			"source": "config := {\"timeout\": \"30s\"}\n\nfunc main(x) {\n  return x\n}", "config": {"timeout": "30s"}}`),
		"GET /v1/functions/hello/versions": answerJSON(http.StatusOK, versionsJSON),
		"POST /v1/functions/hello/rollback": answerJSON(http.StatusOK, `{"function": "hello", "version": 2,
			"sha256": "`+sha2+`", "author": "ann", "config": {}, "active": true, "created_at": "2025-01-02T00:00:00Z"}`),
		"POST /v1/functions/first/rollback": answerProblem(http.StatusConflict, `{"type": "urn:powny:problem:conflict",
			"title": "Conflict", "status": 409, "detail": "function \"first\" has no version before 1"}`),
	}

	t.Run("Ls", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "functions", "ls")
		require.NoError(t, res.err)
		require.Equal(t, ""+
			"NAME        ACTIVE  VERSIONS  UPDATED\n"+
			"hello       2       3         2025-01-02T03:04:05Z\n"+
			"disk-alert  1       1         2025-01-01T00:00:00Z\n", res.stdout)
	})

	t.Run("LsJSON", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "functions", "ls", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, functionsJSON, res.stdout)
	})

	t.Run("Show", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "functions", "show", "hello")
		require.NoError(t, res.err)
		require.Equal(t, ""+
			"Name:            hello\n"+
			"Active version:  2\n"+
			"Versions:        3\n"+
			"Created:         2025-01-01T00:00:00Z\n"+
			"Updated:         2025-01-02T03:04:05Z\n"+
			"Config:\n"+
			"  {\n"+
			"    \"timeout\": \"30s\"\n"+
			"  }\n"+
			"Source:\n"+
			"config := {\"timeout\": \"30s\"}\n\nfunc main(x) {\n  return x\n}\n", res.stdout)
	})

	t.Run("ShowJSON", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "functions", "show", "hello", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, `{"name": "hello", "active_version": 2, "versions": 3,
			"created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-02T03:04:05Z",
			"source": "config := {\"timeout\": \"30s\"}\n\nfunc main(x) {\n  return x\n}", "config": {"timeout": "30s"}}`, res.stdout)
	})

	t.Run("ShowUnknown", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "functions", "show", "nope")
		require.EqualError(t, res.err, "no route GET /v1/functions/nope")
		require.Empty(t, res.stdout)
	})

	t.Run("Versions", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "functions", "versions", "hello")
		require.NoError(t, res.err)
		require.Equal(t, ""+
			"VERSION  ACTIVE  SHA256        AUTHOR  CREATED\n"+
			"3                0123456789ab  ann     2025-01-03T00:00:00Z\n"+
			"2        *       fedcba987654  -       2025-01-02T00:00:00Z\n", res.stdout)

		res = b.run(t, "", "functions", "versions", "hello", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, versionsJSON, res.stdout)
	})

	t.Run("Rollback", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "functions", "rollback", "hello")
		require.NoError(t, res.err)
		require.Equal(t, "hello: version 2 is active (sha256 fedcba987654)\n", res.stdout)
		require.Empty(t, b.last(t).Body)

		res = b.run(t, "", "functions", "rollback", "hello", "--to", "2", "--json")
		require.NoError(t, res.err)
		require.JSONEq(t, `{"version": 2}`, b.last(t).Body)
		requireJSONOutput(t, `{"function": "hello", "version": 2, "sha256": "`+sha2+`", "author": "ann", "config": {},
			"active": true, "created_at": "2025-01-02T00:00:00Z"}`, res.stdout)

		res = b.run(t, "", "functions", "rollback", "first")
		require.EqualError(t, res.err, `function "first" has no version before 1`)
	})

	t.Run("BadOptions", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)

		res := b.run(t, "", "functions", "rollback", "hello", "--to", "0")
		require.EqualError(t, res.err, "--to: a version is a positive number")

		res = b.run(t, "", "functions", "rollback", "hello", "--to", "-3")
		require.EqualError(t, res.err, "--to: a version is a positive number")

		res = b.run(t, "", "functions", "show", "a/b")
		require.EqualError(t, res.err, `invalid function name "a/b" (letters, digits, _ and -, at most 128)`)

		res = b.run(t, "", "functions", "versions")
		require.EqualError(t, res.err, "accepts 1 arg(s), received 0")

		require.Empty(t, b.sent())
	})
}
