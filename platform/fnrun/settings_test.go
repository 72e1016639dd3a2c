package fnrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeSettings serves env and secret settings from maps, and counts reads.
type fakeSettings struct {
	env, secrets map[string]string
	mu           sync.Mutex
	secretReads  int
}

func (f *fakeSettings) Env(_ context.Context, name string) (string, bool, error) {
	v, ok := f.env[name]
	return v, ok, nil
}

func (f *fakeSettings) Secret(_ context.Context, name string) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secretReads++
	v, ok := f.secrets[name]
	return v, ok, nil
}

func TestEnv(t *testing.T) {
	t.Parallel()

	const source = `func main() {
  a := env("URL")
  b := env("UNSET")
  return [a, b]
}`
	settings := &fakeSettings{env: map[string]string{"URL": "https://example.test"}}
	rec := &recorder{}
	result, err := runSource(t, NewRunner(RunnerConfig{}), source, "", RunOptions{Effects: rec, Settings: settings})
	require.NoError(t, err)
	require.JSONEq(t, `["https://example.test", null]`, string(result))
	require.Equal(t, []Call{
		{Name: "env", Args: []any{"URL"}, Line: 2},
		{Name: "env", Args: []any{"UNSET"}, Line: 3},
	}, rec.calls, "env() is an effect")

	// A replay returns the recorded values, even with other settings or none.
	rep := &replayer{t: t, calls: rec.calls, results: rec.results}
	result, err = runSource(t, NewRunner(RunnerConfig{}), source, "", RunOptions{Effects: rep})
	require.NoError(t, err)
	require.JSONEq(t, `["https://example.test", null]`, string(result))
}

func TestSettingsErrors(t *testing.T) {
	t.Parallel()

	settings := &fakeSettings{}
	for _, tc := range []struct {
		name, source, want string
		settings           Settings
	}{
		{"EnvBadName", `env("1X")`, `value error: env: invalid name "1X" (a letter or '_', then letters, digits or '_', at most 128 characters)`, settings},
		{"EnvDash", `env("A-B")`, `value error: env: invalid name "A-B"`, settings},
		{"EnvType", `env(1)`, "type error: env: name must be a string (int given)", settings},
		{"SecretBadName", `secret("")`, `value error: secret: invalid name ""`, settings},
		{"SecretLong", `secret(strings.repeat("a", 129))`, `value error: secret: invalid name "aaaa`, settings},
		{"EnvNoSettings", `env("A")`, "env: settings are not available here", nil},
		{"SecretNoSettings", `secret("A")`, "secret: settings are not available here", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			source := "func main() {\n  return try(func() { " + tc.source + " }, func(e) { return e.message() })\n}"
			result, err := runSource(t, NewRunner(RunnerConfig{}), source, "", RunOptions{Settings: tc.settings})
			require.NoError(t, err)
			var msg string
			require.NoError(t, json.Unmarshal(result, &msg), string(result))
			require.True(t, strings.HasPrefix(msg, tc.want), "got %q, want %q", msg, tc.want)
		})
	}
}

func TestSecretIsMaskedEverywhere(t *testing.T) {
	t.Parallel()

	const value = `hunter2<"&'>`
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(map[string]any{"auth": r.Header.Get("Authorization"), "body": string(body)})
	}))
	t.Cleanup(echo.Close)
	source := fmt.Sprintf(`func main() {
  s := secret("TOKEN")
  log.info("the token is", s, "and", s)
  r := http.post(%q, {"headers": {"Authorization": "Bearer " + s}, "json": {"t": s}})
  echoed := r.json()
  kv.set("k", {"s": s})
  return {"secret": s, "echoed": echoed, "same": echoed.auth == "Bearer " + s, "short": secret("PIN"), "none": secret("UNSET")}
}`, echo.URL)
	settings := &fakeSettings{secrets: map[string]string{"TOKEN": value, "PIN": "123"}}
	rec := &recorder{}
	logs := &logRecorder{}
	secrets := NewSecrets()
	store := newMemKV()
	result, err := runSource(t, NewRunner(RunnerConfig{}), source, "", RunOptions{
		Effects: rec, Logs: logs, Settings: settings, Secrets: secrets, KV: store, KVNamespace: "f",
	})
	require.NoError(t, err)
	require.NotContains(t, string(result), "hunter2")
	require.JSONEq(t, `{"secret": "[secret]", "echoed": {"auth": "Bearer [secret]", "body": "{\"t\":\"[secret]\"}"},
		"same": false, "short": "123", "none": null}`, string(result),
		"the function sees the echo masked, as a replay from a masked journal would; secrets under 4 bytes are not masked")
	require.Equal(t, []logLine{{"info", "the token is [secret] and [secret]"}}, logs.lines)
	require.Equal(t, 3, settings.secretReads, "secret() reads live every time")

	var names []string
	for _, c := range rec.calls {
		names = append(names, c.Name)
		data, err := json.Marshal(c.Args)
		require.NoError(t, err)
		require.NotContains(t, string(data), "hunter2", "the args of %s (and their journal digest) hold no secret", c.Name)
	}
	require.Equal(t, []string{"log.info", "http.request", "kv.set"}, names, "secret() is not an effect")
	require.Contains(t, store.values["f/k"], "hunter2",
		"kv stores what the function wrote: the Args of the call are masked, not what perform does")

	// What Effects recorded (a journal's results) is what the worker masks
	// with the same Secrets before it commits them.
	data, err := json.Marshal(rec.results[1])
	require.NoError(t, err)
	require.Contains(t, string(data), "hunter2", "the live result reached Effects")
	masked := secrets.ScrubJSON(data)
	require.NotContains(t, string(masked), "hunter2")
	require.Contains(t, string(masked), "Bearer [secret]")
	require.Equal(t, 1, secrets.Len())

	t.Run("InErrors", func(t *testing.T) {
		t.Parallel()
		_, err := runSource(t, NewRunner(RunnerConfig{}), `func main() {
  error("bad token: " + secret("TOKEN"))
}`, "", RunOptions{Settings: settings})
		require.EqualError(t, err, "line 2, column 3: bad token: [secret]")
		var rerr *RunError
		require.ErrorAs(t, err, &rerr)
		require.Equal(t, KindRuntime, rerr.Kind)
	})
}

func TestSecretsScrub(t *testing.T) {
	t.Parallel()

	var none *Secrets
	require.Equal(t, "abc", none.Scrub("abc"))
	require.Equal(t, []byte(`"abc"`), none.ScrubJSON([]byte(`"abc"`)))

	s := NewSecrets()
	s.add("abc") // too short: not kept
	s.add("s3cr3t")
	s.add("s3cr3t-longer")
	s.add(`q"<x>`)
	s.add("s3cr3t")
	require.Equal(t, 3, s.Len())

	require.Equal(t, "abc [secret] [secret] [secret]", s.Scrub(`abc s3cr3t s3cr3t-longer q"<x>`))
	require.Equal(t, `"[secret]"`, s.Scrub(fmt.Sprintf("%q", `q"<x>`)), "also quoted")

	for _, tc := range []struct{ in, want string }{
		{`{"a": "x s3cr3t y", "s3cr3t": [1, "s3cr3t-longer"]}`, `{"[secret]":[1,"[secret]"],"a":"x [secret] y"}`},
		{`"q\"\u003cx\u003e"`, `"[secret]"`},
		{`{"n": 1}`, `{"n": 1}`},
		{`not json s3cr3t`, `not json [secret]`},
	} {
		require.Equal(t, tc.want, string(s.ScrubJSON([]byte(tc.in))), tc.in)
	}
	n := NewSecrets()
	n.add("123456")
	require.JSONEq(t, `{"n": "[secret]", "m": 2}`, string(n.ScrubJSON([]byte(`{"n": 1234567, "m": 2}`))), "a number holding a secret")

	out, err := s.scrubOutcome(nil, errors.New("failed: s3cr3t"))
	require.Nil(t, out)
	require.EqualError(t, err, "failed: [secret]")
}
