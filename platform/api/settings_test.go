package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/cli"
)

func TestEnvSettings(t *testing.T) {
	t.Parallel()
	b := setup(t)

	a := b.do(http.MethodPut, "/v1/env/GREETING", []byte(`{"value": "hello"}`))
	require.Equal(t, http.StatusOK, a.status, string(a.raw))
	require.Equal(t, "GREETING", a.body["name"])
	require.Equal(t, "hello", a.body["value"])
	require.NotEmpty(t, a.body["updated_at"])
	a = b.do(http.MethodPut, "/v1/env/GREETING", []byte(`{"value": "bonjour"}`))
	require.Equal(t, http.StatusOK, a.status, string(a.raw))
	a = b.do(http.MethodPut, "/v1/env/_EMPTY", []byte(`{"value": ""}`))
	require.Equal(t, http.StatusOK, a.status, string(a.raw))

	a = b.do(http.MethodGet, "/v1/env", nil)
	require.Equal(t, http.StatusOK, a.status)
	list := a.body["env"].([]any)
	require.Len(t, list, 2)
	require.Equal(t, "GREETING", list[0].(map[string]any)["name"])
	require.Equal(t, "bonjour", list[0].(map[string]any)["value"])
	require.Equal(t, "_EMPTY", list[1].(map[string]any)["name"])
	require.Empty(t, list[1].(map[string]any)["value"])

	b.mustDeploy("greet", "func main() {\n  return [env(\"GREETING\"), env(\"NOPE\")]\n}\n")
	done := b.invoke("greet", "")
	require.Equal(t, "succeeded", done.body["state"], string(done.raw))
	require.Equal(t, []any{"bonjour", nil}, done.body["result"])

	a = b.do(http.MethodDelete, "/v1/env/GREETING", nil)
	require.Equal(t, http.StatusNoContent, a.status, string(a.raw))
	a = b.do(http.MethodDelete, "/v1/env/GREETING", nil)
	requireProblem(t, a, http.StatusNotFound, "not-found", `env "GREETING" does not exist`)
	a = b.do(http.MethodGet, "/v1/env", nil)
	require.Len(t, a.body["env"].([]any), 1)
}

func TestSettingErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)

	for _, tc := range []struct{ method, path, name string }{
		{http.MethodPut, "/v1/env/1X", "1X"},
		{http.MethodPut, "/v1/env/A-B", "A-B"},
		{http.MethodPut, "/v1/secrets/a.b", "a.b"},
		{http.MethodPut, "/v1/secrets/a/b", "a/b"},
		{http.MethodDelete, "/v1/env/" + strings.Repeat("A", 129), strings.Repeat("A", 129)},
		{http.MethodDelete, "/v1/secrets/%C3%A9", "é"},
	} {
		a := b.do(tc.method, tc.path, []byte(`{"value": "x"}`))
		p := requireProblem(t, a, http.StatusBadRequest, "invalid-setting-name",
			fmt.Sprintf("name %q is invalid: a letter or '_', then letters, digits or '_', at most 128 characters", tc.name))
		require.Equal(t, "name", p["field"], tc.path)
		require.Equal(t, "Invalid env or secret name", p["title"])
	}

	big := strings.Repeat("v", 64<<10+1)
	for _, path := range []string{"/v1/env/BIG", "/v1/secrets/BIG"} {
		a := b.do(http.MethodPut, path, []byte(`{"value": "`+big+`"}`))
		p := requireProblem(t, a, http.StatusRequestEntityTooLarge, "too-large", "value exceeds the limit of 65536 bytes")
		require.Equal(t, "value", p["field"])
		require.EqualValues(t, 65536, p["limit"])
		// Escaped, the body is far larger than the value: still the value's limit.
		a = b.do(http.MethodPut, path, []byte(`{"value": "`+strings.Repeat(`\u0041`, 64<<10+1)+`"}`))
		requireProblem(t, a, http.StatusRequestEntityTooLarge, "too-large", "value exceeds the limit of 65536 bytes")
		a = b.do(http.MethodPut, path, []byte(`{"value": "`+strings.Repeat(`\u0041`, 70<<10)+`"}`))
		requireProblem(t, a, http.StatusRequestEntityTooLarge, "too-large", "value exceeds the limit of 65536 bytes")
	}
	a := b.do(http.MethodPut, "/v1/env/OK", []byte(`{"value": "`+strings.Repeat("v", 64<<10)+`"}`))
	require.Equal(t, http.StatusOK, a.status, "exactly the limit is fine")

	for _, tc := range []struct{ body, code, detail string }{
		{`{}`, "bad-request", "value is missing"},
		{`{"value": 1}`, "bad-request", "cannot unmarshal number"},
		{`{"value": "x", "other": 1}`, "bad-request", `unknown field "other"`},
		{`{"value": "a\u0000b"}`, "bad-request", "NUL character"},
		{`{"value": `, "invalid-json", "unexpected end of JSON input"},
		{``, "bad-request", "the body is empty"},
	} {
		a := b.do(http.MethodPut, "/v1/secrets/S", []byte(tc.body))
		requireProblem(t, a, http.StatusBadRequest, tc.code, tc.detail)
	}
	a = b.do(http.MethodDelete, "/v1/secrets/NONE", nil)
	requireProblem(t, a, http.StatusNotFound, "not-found", `secret "NONE" does not exist`)
	a = b.do(http.MethodGet, "/v1/secrets", nil, "Authorization", "")
	requireProblem(t, a, http.StatusUnauthorized, "unauthorized")
}

// secretValue is the secret of TestSecretsNeverLeak: searched for in every
// answer and every table.
const secretValue = "tok-S3cr3tV4lue-7f2a"

func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	b := setup(t)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		_ = json.NewEncoder(w).Encode(map[string]any{"auth": r.Header.Get("Authorization"), "body": string(body)})
	}))
	t.Cleanup(echo.Close)

	a := b.do(http.MethodPut, "/v1/secrets/API_TOKEN", []byte(`{"value": "`+secretValue+`"}`))
	require.Equal(t, http.StatusOK, a.status, string(a.raw))
	require.Equal(t, map[string]any{"name": "API_TOKEN", "updated_at": a.body["updated_at"]}, a.body, "no value in the answer")
	a = b.do(http.MethodGet, "/v1/secrets", nil)
	require.Equal(t, http.StatusOK, a.status)
	require.NotContains(t, string(a.raw), secretValue)
	require.Len(t, a.body["secrets"].([]any), 1)
	require.Equal(t, "API_TOKEN", a.body["secrets"].([]any)[0].(map[string]any)["name"])

	b.mustDeploy("leaky", `func main(input) {
  s := secret("API_TOKEN")
  log.info("token:", s)
  r := http.post(input.url, {"headers": {"Authorization": "Bearer " + s}, "json": {"token": s}})
  checkpoint()
  log.warn("echoed", r.body, r.headers["X-Echo"])
  r2 := http.get(input.url, {"headers": {"Authorization": s}})
  return {"token": s, "echo": r.json(), "again": r2.body, "missing": secret("NOPE")}
}
`)
	done := b.invoke("leaky", fmt.Sprintf(`{"url": %q}`, echo.URL))
	require.Equal(t, "succeeded", done.body["state"], string(done.raw))
	result := done.body["result"].(map[string]any)
	require.Equal(t, "[secret]", result["token"])
	require.Equal(t, "Bearer [secret]", result["echo"].(map[string]any)["auth"])
	require.Nil(t, result["missing"])
	id := done.body["id"]

	b.mustDeploy("fails", "func main() {\n  error(\"rejected \" + secret(\"API_TOKEN\"))\n}\n")
	failed := b.invoke("fails", "")
	require.Equal(t, "failed", failed.body["state"], string(failed.raw))
	require.Equal(t, "rejected [secret]", failed.body["error"].(map[string]any)["message"])

	for _, path := range []string{
		fmt.Sprintf("/v1/invocations/%v", id),
		fmt.Sprintf("/v1/invocations/%v/logs", id),
		fmt.Sprintf("/v1/invocations/%v/journal", id),
		fmt.Sprintf("/v1/invocations/%v", failed.body["id"]),
		fmt.Sprintf("/v1/invocations/%v/journal", failed.body["id"]),
		"/v1/invocations",
		"/v1/secrets",
	} {
		a := b.do(http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, a.status, path)
		require.NotContains(t, string(a.raw), secretValue, path)
	}
	logs := b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v/logs", id), nil).body["logs"].([]any)
	require.Len(t, logs, 2)
	require.Equal(t, "token: [secret]", logs[0].(map[string]any)["message"])
	require.Contains(t, logs[1].(map[string]any)["message"], `"auth":"Bearer [secret]"`)

	journal := b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v/journal", id), nil)
	var names []string
	for _, e := range journal.body["entries"].([]any) {
		names = append(names, e.(map[string]any)["name"].(string))
	}
	require.Equal(t, []string{"log.info", "http.request", "log.warn", "http.request"}, names, "secret() is not journaled")
	require.Contains(t, string(journal.raw), `Bearer [secret]`, "the echoed response is in the journal, masked")

	// Nowhere in the database but powny.settings.
	ctx := context.Background()
	for _, q := range []string{
		`SELECT count(*) FROM powny.checkpoints WHERE position(convert_to($1, 'UTF8') IN entries) > 0`,
		`SELECT count(*) FROM powny.invocations i WHERE i::text LIKE '%' || $1 || '%'`,
		`SELECT count(*) FROM powny.attempts a WHERE a::text LIKE '%' || $1 || '%'`,
		`SELECT count(*) FROM powny.logs l WHERE l::text LIKE '%' || $1 || '%'`,
		`SELECT count(*) FROM public.powny_settings s WHERE s::text LIKE '%' || $1 || '%'`,
	} {
		var n int
		require.NoError(t, b.pool.QueryRow(ctx, q, secretValue).Scan(&n))
		require.Zero(t, n, q)
	}

	a = b.do(http.MethodDelete, "/v1/secrets/API_TOKEN", nil)
	require.Equal(t, http.StatusNoContent, a.status)
	a = b.do(http.MethodGet, "/v1/secrets", nil)
	require.Empty(t, a.body["secrets"])
}

// runCLI runs the powny command line against the test server.
func (b *testBundle) runCLI(stdin string, args ...string) (string, error) {
	b.t.Helper()
	var stdout, stderr bytes.Buffer
	root := cli.NewRootCommand(&stdout, &stderr)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append(args, "--url", b.url, "--token", token))
	err := root.ExecuteContext(context.Background())
	return stdout.String(), err
}

func TestSettingsCLI(t *testing.T) {
	t.Parallel()
	b := setup(t)

	out, err := b.runCLI("", "env", "set", "REGION", "eu-west")
	require.NoError(t, err)
	require.Equal(t, "env REGION set\n", out)
	out, err = b.runCLI("", "env", "list")
	require.NoError(t, err)
	require.Regexp(t, `^NAME\s+VALUE\s+UPDATED\nREGION\s+eu-west\s+\d{4}-`, out)
	out, err = b.runCLI("", "env", "list", "--json")
	require.NoError(t, err)
	var env struct {
		Env []map[string]any `json:"env"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &env))
	require.Len(t, env.Env, 1)
	require.Equal(t, "eu-west", env.Env[0]["value"])

	out, err = b.runCLI(secretValue+"\n", "secrets", "set", "DB_PASSWORD")
	require.NoError(t, err)
	require.Equal(t, "secret DB_PASSWORD set\n", out)
	out, err = b.runCLI("", "secrets", "set", "OTHER", "--value", "from-flag")
	require.NoError(t, err)
	require.Equal(t, "secret OTHER set\n", out)
	out, err = b.runCLI("", "secrets", "list")
	require.NoError(t, err)
	require.Regexp(t, `^NAME\s+UPDATED\nDB_PASSWORD\s+\d{4}-.*\nOTHER\s+\d{4}-`, out)
	require.NotContains(t, out, secretValue)
	out, err = b.runCLI("", "secrets", "list", "--json")
	require.NoError(t, err)
	require.NotContains(t, out, secretValue)

	b.mustDeploy("both", "func main() {\n  return [env(\"REGION\"), secret(\"DB_PASSWORD\") == \""+secretValue+"\", secret(\"OTHER\") == \"from-flag\"]\n}\n")
	done := b.invoke("both", "")
	require.Equal(t, []any{"eu-west", true, true}, done.body["result"], "stdin's trailing newline is not part of the secret")

	_, err = b.runCLI("", "env", "set", "1BAD", "x")
	require.EqualError(t, err, `invalid name "1BAD": a letter or '_', then letters, digits or '_', at most 128 characters`)
	_, err = b.runCLI("", "env", "unset", "MISSING")
	require.EqualError(t, err, `env "MISSING" does not exist`)

	out, err = b.runCLI("", "env", "unset", "REGION")
	require.NoError(t, err)
	require.Equal(t, "env REGION unset\n", out)
	out, err = b.runCLI("", "secrets", "unset", "DB_PASSWORD")
	require.NoError(t, err)
	require.Equal(t, "secret DB_PASSWORD unset\n", out)
	out, err = b.runCLI("", "env", "list")
	require.NoError(t, err)
	require.Equal(t, "NAME  VALUE  UPDATED\n", out)
}
