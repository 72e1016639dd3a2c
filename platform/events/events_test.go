package events_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/events"
	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/store"
	"github.com/powny/powny/platform/testdb"
	"github.com/powny/powny/testcontainers"
)

func TestMain(m *testing.M) { testcontainers.Main(m) }

func TestDecode(t *testing.T) {
	t.Parallel()
	e, err := events.Decode(json.RawMessage(`{"host": "db-1", "cpu": 90.5, "dedup_key": "a-1"}`))
	require.NoError(t, err)
	require.Equal(t, "a-1", e.DedupKey)
	require.Equal(t, json.Number("90.5"), e.Fields["cpu"], "numbers keep their text")

	for body, want := range map[string]string{
		`[1]`:                 "an event must be a JSON object, not an array",
		`"x"`:                 "an event must be a JSON object, not a string",
		`null`:                "an event must be a JSON object, not null",
		`{"dedup_key": 5}`:    "dedup_key must be a non-empty string, not a number",
		`{"dedup_key": ""}`:   "dedup_key must be a non-empty string, not a string",
		`{"dedup_key": null}`: "dedup_key must be a non-empty string, not null",
		`{"dedup_key": [1]}`:  "dedup_key must be a non-empty string, not an array",
	} {
		_, err := events.Decode(json.RawMessage(body))
		require.EqualError(t, err, want, body)
	}
}

func deploy(t *testing.T, st *store.Store, name, source string) {
	t.Helper()
	compiled, err := fnrun.Compile(source)
	require.NoError(t, err)
	config, err := json.Marshal(compiled.Config)
	require.NoError(t, err)
	_, _, err = st.Deploy(context.Background(), store.NewVersion{
		Function: name, Source: source, Code: compiled.Code, Config: config, SHA256: source, Author: "test",
	})
	require.NoError(t, err)
}

// accept sends one event and returns the functions it started.
func accept(t *testing.T, svc *events.Service, body string) []string {
	t.Helper()
	e, err := events.Decode(json.RawMessage(body))
	require.NoError(t, err)
	out, err := svc.Accept(context.Background(), []events.Event{e})
	require.NoError(t, err)
	fns := []string{}
	for _, s := range out[0].Started {
		fns = append(fns, s.Function)
	}
	return fns
}

// The service keeps the triggers in memory: every deploy and rollback,
// through any process, must be seen by the next event.
func TestTriggersFollowDeploysAndRollbacks(t *testing.T) {
	t.Parallel()
	pool, _ := testdb.New(t)
	st := store.New(pool)
	svc := events.New(st, nil)
	other := events.New(st, nil) // another API process

	require.Empty(t, accept(t, svc, `{"kind": "a"}`))
	deploy(t, st, "f", `config := {"on": [{"kind": "a"}]}`+"\nfunc main(e) {}\n")
	require.Equal(t, []string{"f"}, accept(t, svc, `{"kind": "a"}`))
	require.Equal(t, []string{"f"}, accept(t, other, `{"kind": "a"}`))

	deploy(t, st, "f", `config := {"on": [{"kind": "b"}]}`+"\nfunc main(e) {}\n")
	require.Empty(t, accept(t, svc, `{"kind": "a"}`))
	require.Equal(t, []string{"f"}, accept(t, other, `{"kind": "b"}`))

	deploy(t, st, "g", `config := {"on": [{"kind": ["a", "b"]}]}`+"\nfunc main(e) {}\n")
	require.ElementsMatch(t, []string{"f", "g"}, accept(t, svc, `{"kind": "b"}`))

	_, err := st.Rollback(context.Background(), "f", 0)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"f", "g"}, accept(t, other, `{"kind": "a"}`))
	deploy(t, st, "g", "func main(e) {}\n") // no triggers any more
	require.Equal(t, []string{"f"}, accept(t, svc, `{"kind": "a"}`))
}
