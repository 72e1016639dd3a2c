package api_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// waitState polls an invocation until it reaches state, and returns it.
func (b *testBundle) waitState(id any, state string) answer {
	b.t.Helper()
	var a answer
	require.Eventually(b.t, func() bool {
		a = b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v", id), nil)
		return a.body["state"] == state
	}, 20*time.Second, 20*time.Millisecond, "invocation %v never reached %s", id, state)
	return a
}

func TestInvocationStaysOnItsVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("pinned", "func main() {\n  a := uuid()\n  sleep(\"1500ms\")\n  return \"v1\"\n}\n")
	a := b.do(http.MethodPost, "/v1/functions/pinned/invoke", nil)
	id := a.body["id"]
	b.waitState(id, "waiting")

	// A new version that would not even replay the old journal.
	b.mustDeploy("pinned", "func main() {\n  n := now()\n  return \"v2\"\n}\n")
	done := b.waitState(id, "succeeded")
	require.Equal(t, "v1", done.body["result"], "the invocation in flight finishes on the version it started with")
	require.EqualValues(t, 1, done.body["version"])
	require.Equal(t, "v2", b.invoke("pinned", "").body["result"], "new invocations run the new version")
}

func TestDurableSleepWakesOnTime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("nap", "func main() {\n  before := now()\n  sleep(\"2s\")\n  return {\"before\": before, \"after\": now()}\n}\n")
	a := b.do(http.MethodPost, "/v1/functions/nap/invoke", nil)
	id := a.body["id"]
	waiting := b.waitState(id, "waiting")
	require.NotEmpty(t, waiting.body["wake_at"])
	history := waiting.body["history"].([]any)
	require.Equal(t, "suspended", history[0].(map[string]any)["outcome"], "no worker slot is held while it sleeps")

	done := b.waitState(id, "succeeded")
	wakeAt, err := time.Parse(time.RFC3339Nano, waiting.body["wake_at"].(string))
	require.NoError(t, err)
	history = done.body["history"].([]any)
	require.Len(t, history, 2)
	resumed, err := time.Parse(time.RFC3339Nano, history[1].(map[string]any)["started_at"].(string))
	require.NoError(t, err)
	require.Less(t, resumed.Sub(wakeAt), time.Second, "wakes within a second of its time (late by %v)", resumed.Sub(wakeAt))
	require.GreaterOrEqual(t, resumed.Sub(wakeAt), -100*time.Millisecond, "never early")
}

func TestCheckpointsAndJournal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("steps", "func main() {\n  a := uuid()\n  checkpoint()\n  b := random(10)\n  log.info(\"b is\", b)\n  checkpoint()\n  return {\"a\": a, \"b\": b}\n}\n")
	done := b.invoke("steps", "")
	require.Equal(t, "succeeded", done.body["state"], string(done.raw))
	id := done.body["id"]

	a := b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v", id), nil)
	require.EqualValues(t, 2, a.body["checkpoints"])
	require.EqualValues(t, 3, a.body["journal_entries"])
	rows := a.body["checkpoint_rows"].([]any)
	require.Len(t, rows, 2)
	require.EqualValues(t, 3, rows[0].(map[string]any)["line"])
	require.EqualValues(t, 6, rows[1].(map[string]any)["line"])
	require.EqualValues(t, 1, rows[1].(map[string]any)["first_entry"])

	j := b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v/journal", id), nil)
	require.Equal(t, http.StatusOK, j.status)
	entries := j.body["entries"].([]any)
	require.Len(t, entries, 3)
	var names []string
	for _, e := range entries {
		names = append(names, e.(map[string]any)["name"].(string))
	}
	require.Equal(t, []string{"uuid", "random", "log.info"}, names)
	require.Equal(t, done.body["result"].(map[string]any)["a"], strings.Trim(fmt.Sprint(entries[0].(map[string]any)["result"]), `"`))
	require.NotEmpty(t, j.body["code"])
}

func TestEffectDurability(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.mustDeploy("each", "config := {\"durability\": \"effect\"}\nfunc main() {\n  uuid()\n  uuid()\n  uuid()\n  return 1\n}\n")
	done := b.invoke("each", "")
	require.Equal(t, "succeeded", done.body["state"])
	a := b.do(http.MethodGet, fmt.Sprintf("/v1/invocations/%v", done.body["id"]), nil)
	require.EqualValues(t, 3, a.body["checkpoints"], "each effect is committed before the function goes on")
}

func TestHugeHTTPBodyFailsCleanly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := strings.Repeat("x", 1<<20)
		for range 50 {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(big.Close)
	b.mustDeploy("big", "func main(input) {\n  r := http.get(input.url)\n  checkpoint()\n  return len(r.body)\n}\n")
	a := b.invoke("big", fmt.Sprintf(`{"url": %q}`, big.URL))
	require.Equal(t, "failed", a.body["state"], string(a.raw))
	e := a.body["error"].(map[string]any)
	require.Equal(t, "limit", e["kind"])
	require.Contains(t, e["message"], "10485760")
	require.EqualValues(t, 2, e["line"])
	require.EqualValues(t, 0, a.body["journal_entries"], "nothing of it reached the journal")
	b.mustDeploy("hello", helloSource)
	require.Equal(t, "succeeded", b.invoke("hello", `{"name": "x"}`).body["state"], "the worker is unharmed")
}
