package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/journal"
)

// recordJournal runs source live with a journal and returns the compiled
// code and every entry it made, as the journal endpoint would serve them.
func recordJournal(t *testing.T, source string) (code []byte, entries []journal.Entry) {
	t.Helper()
	compiled, err := fnrun.Compile(source)
	require.NoError(t, err)
	prog, err := fnrun.Load(compiled.Code)
	require.NoError(t, err)
	j := journal.New(journal.Config{Commit: func(_ context.Context, e []journal.Entry, _ int) error {
		entries = append(entries, e...)
		return nil
	}})
	_, err = fnrun.NewRunner(fnrun.RunnerConfig{}).Run(context.Background(), prog, nil, fnrun.RunOptions{Effects: j})
	require.NoError(t, err)
	return compiled.Code, append(entries, j.Pending()...)
}

func journalAnswer(t *testing.T, code []byte, entries []journal.Entry) http.HandlerFunc {
	t.Helper()
	raw, err := json.Marshal(entries)
	require.NoError(t, err)
	body, err := json.Marshal(map[string]any{
		"id": 9, "function": "steps", "version": 2, "state": "succeeded", "input": nil, "code": code, "entries": json.RawMessage(raw),
	})
	require.NoError(t, err)
	return answerJSON(http.StatusOK, string(body))
}

func TestReplay(t *testing.T) {
	t.Parallel()
	const source = "func main() {\n  a := uuid()\n  checkpoint()\n  b := random(10)\n  log.info(\"b\", b)\n  return {\"a\": a, \"b\": b}\n}\n"
	code, entries := recordJournal(t, source)
	require.Len(t, entries, 3)

	t.Run("PrintsEachCallAndTheResult", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"GET /v1/invocations/9/journal": journalAnswer(t, code, entries)})
		res := b.run(t, "", "replay", "9")
		require.NoError(t, res.err)
		require.Contains(t, res.stdout, "replaying invocation 9: steps version 2, succeeded, 3 journaled calls\n")
		require.Contains(t, res.stdout, "#0    line 2    uuid")
		require.Contains(t, res.stdout, "#1    line 4    random")
		require.Contains(t, res.stdout, "#2    line 5    log.info")
		var a string
		require.NoError(t, json.Unmarshal(entries[0].Result, &a))
		require.Contains(t, res.stdout, `returned {"a":"`+a+`"`, "the result is rebuilt from the journal alone")
	})
	t.Run("StopsAtTheEndOfTheJournal", func(t *testing.T) {
		t.Parallel()
		b := setupCLI(t, map[string]http.HandlerFunc{"GET /v1/invocations/9/journal": journalAnswer(t, code, entries[:1])})
		res := b.run(t, "", "replay", "9")
		require.NoError(t, res.err)
		require.Contains(t, res.stdout, "end of the journal at line 4: from here the invocation went on live\n")
	})
	t.Run("NamesADivergence", func(t *testing.T) {
		t.Parallel()
		other, _ := recordJournal(t, "func main() {\n  n := now()\n  return n\n}\n")
		b := setupCLI(t, map[string]http.HandlerFunc{"GET /v1/invocations/9/journal": journalAnswer(t, other, entries)})
		res := b.run(t, "", "replay", "9")
		require.ErrorContains(t, res.err, "non-determinism")
		require.ErrorContains(t, res.err, "uuid")
		require.ErrorContains(t, res.err, "now")
	})
}
