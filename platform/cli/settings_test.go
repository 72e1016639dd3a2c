package cli

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const envJSON = `{"env": [
	{"name": "REGION", "value": "eu-west", "updated_at": "2025-01-02T03:04:05Z"},
	{"name": "GREETING", "value": "hello world", "updated_at": "2025-01-02T03:04:06Z"}]}`

const secretsJSON = `{"secrets": [{"name": "TOKEN", "updated_at": "2025-01-02T03:04:05Z"}]}`

func TestEnvCommands(t *testing.T) {
	t.Parallel()

	noContent := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }
	routes := map[string]http.HandlerFunc{
		"PUT /v1/env/REGION":    answerJSON(http.StatusOK, `{"name": "REGION", "value": "eu-west", "updated_at": "2025-01-02T03:04:05Z"}`),
		"GET /v1/env":           answerJSON(http.StatusOK, envJSON),
		"DELETE /v1/env/REGION": noContent,
		"DELETE /v1/env/NONE": answerProblem(http.StatusNotFound, `{"type": "urn:powny:problem:not-found", "title": "Not found",
			"status": 404, "detail": "env \"NONE\" does not exist"}`),
		"PUT /v1/env/BIG": answerProblem(http.StatusRequestEntityTooLarge, `{"type": "urn:powny:problem:too-large",
			"title": "Request body too large", "status": 413, "detail": "value exceeds the limit of 65536 bytes", "field": "value", "limit": 65536}`),
	}

	t.Run("Set", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		res := b.run(t, "", "env", "set", "REGION", "eu-west")
		require.NoError(t, res.err)
		require.Equal(t, "env REGION set\n", res.stdout)
		require.JSONEq(t, `{"value": "eu-west"}`, b.last(t).Body)

		res = b.run(t, "", "env", "set", "REGION", "eu-west", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, `{"name": "REGION", "value": "eu-west", "updated_at": "2025-01-02T03:04:05Z"}`, res.stdout)

		res = b.run(t, "", "env", "set", "BIG", "x")
		require.EqualError(t, res.err, "field value, limit 65536 bytes: value exceeds the limit of 65536 bytes")
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		res := b.run(t, "", "env", "list")
		require.NoError(t, res.err)
		require.Equal(t, ""+
			"NAME      VALUE          UPDATED\n"+
			"REGION    eu-west        2025-01-02T03:04:05Z\n"+
			"GREETING  \"hello world\"  2025-01-02T03:04:06Z\n", res.stdout)

		res = b.run(t, "", "env", "ls", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, envJSON, res.stdout)
	})

	t.Run("Unset", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		res := b.run(t, "", "env", "unset", "REGION")
		require.NoError(t, res.err)
		require.Equal(t, "env REGION unset\n", res.stdout)
		require.Equal(t, http.MethodDelete, b.last(t).Method)

		res = b.run(t, "", "env", "unset", "NONE")
		require.EqualError(t, res.err, `env "NONE" does not exist`)
	})

	t.Run("BadArgs", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		res := b.run(t, "", "env", "set", "A-B", "x")
		require.EqualError(t, res.err, `invalid name "A-B": a letter or '_', then letters, digits or '_', at most 128 characters`)
		res = b.run(t, "", "env", "unset", "9")
		require.EqualError(t, res.err, `invalid name "9": a letter or '_', then letters, digits or '_', at most 128 characters`)
		res = b.run(t, "", "env", "set", "A")
		require.EqualError(t, res.err, "accepts 2 arg(s), received 1")
		require.Empty(t, b.sent())
	})
}

func TestSecretsCommands(t *testing.T) {
	t.Parallel()

	routes := map[string]http.HandlerFunc{
		"PUT /v1/secrets/TOKEN":    answerJSON(http.StatusOK, `{"name": "TOKEN", "updated_at": "2025-01-02T03:04:05Z"}`),
		"GET /v1/secrets":          answerJSON(http.StatusOK, secretsJSON),
		"DELETE /v1/secrets/TOKEN": func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) },
	}

	t.Run("SetFromStdin", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		res := b.run(t, "p4ss word\n", "secrets", "set", "TOKEN")
		require.NoError(t, res.err)
		require.Equal(t, "secret TOKEN set\n", res.stdout)
		require.JSONEq(t, `{"value": "p4ss word"}`, b.last(t).Body, "one trailing newline removed")

		res = b.run(t, "line1\nline2\r\n", "secrets", "set", "TOKEN")
		require.NoError(t, res.err)
		require.JSONEq(t, `{"value": "line1\nline2"}`, b.last(t).Body)

		res = b.run(t, "", "secrets", "set", "TOKEN")
		require.EqualError(t, res.err, "no value: pipe it to stdin or pass --value")
	})

	t.Run("SetFromFlag", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		res := b.run(t, "ignored", "secrets", "set", "TOKEN", "--value", "v", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, `{"name": "TOKEN", "updated_at": "2025-01-02T03:04:05Z"}`, res.stdout)
		require.JSONEq(t, `{"value": "v"}`, b.last(t).Body)
	})

	t.Run("List", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		res := b.run(t, "", "secrets", "list")
		require.NoError(t, res.err)
		require.Equal(t, "NAME   UPDATED\nTOKEN  2025-01-02T03:04:05Z\n", res.stdout)
		res = b.run(t, "", "secrets", "list", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, secretsJSON, res.stdout)
	})

	t.Run("Unset", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, routes)
		res := b.run(t, "", "secrets", "unset", "TOKEN", "--json")
		require.NoError(t, res.err)
		requireJSONOutput(t, `{"name": "TOKEN", "unset": true}`, res.stdout)
	})
}

func TestDisplayValue(t *testing.T) {
	t.Parallel()
	require.Equal(t, "plain", displayValue("plain"))
	require.Equal(t, `""`, displayValue(""))
	require.Equal(t, `"a\nb"`, displayValue("a\nb"))
	long := displayValue(strings.Repeat("é", 40))
	require.Equal(t, strings.Repeat("é", 28)+"...", long, "cut on a character boundary")
}
