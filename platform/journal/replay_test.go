package journal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/journal"
)

// everyBuiltin calls every effect builtin of the sandbox and returns what
// they gave.
const everyBuiltin = `func main(input) {
  t := now()
  f := random()
  n := random(10)
  id := uuid()
  sleep("10ms")
  g := http.get(input.url + "/json", {"headers": {"X-Id": id}})
  checkpoint()
  p := http.post(input.url + "/echo", {"json": {"id": id, "n": n, "f": f}})
  log.info("got", g.status_code, id)
  down := try(func() { return http.get(input.down) }, func(e) { return e.message() })
  return {
    "now": t, "now_ns": t.format("2006-01-02T15:04:05.999999999Z07:00"), "random": f, "random10": n, "uuid": id,
    "get": {"status": g.status_code, "headers": g.headers, "json": g.json(), "ok": g.ok},
    "post": {"status": p.status_code, "body": p.body, "json": p.json()},
    "down": down,
  }
}
`

// logLines is a fnrun.LogSink.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Log(_ context.Context, level, message string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+": "+message)
	return nil
}

// rows collects checkpoint rows, as the store would.
type rows struct {
	rows  [][]byte
	lines []int
}

func (r *rows) commit(_ context.Context, entries []journal.Entry, line int) error {
	data, err := journal.Encode(entries)
	if err != nil {
		return err
	}
	r.rows = append(r.rows, data)
	r.lines = append(r.lines, line)
	return nil
}

func load(tb testing.TB, source string) *fnrun.Program {
	tb.Helper()
	compiled, err := fnrun.Compile(source)
	require.NoError(tb, err)
	prog, err := fnrun.Load(compiled.Code)
	require.NoError(tb, err)
	return prog
}

func TestReplayEveryBuiltin(t *testing.T) {
	t.Parallel()

	// The server answers until failing is set; then every request fails
	// the test.
	var requests, failed atomic.Int64
	var failing atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Echo-Id", r.Header.Get("X-Id"))
		_, _ = fmt.Fprintf(w, `{"n": 1, "f": 1.5, "big": 12345678901234, "s": "<&>", "l": [1, null, true]}`)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "body": string(body)})
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if failing.Load() {
			failed.Add(1)
			http.Error(w, "replay must not reach the server", http.StatusInternalServerError)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // connection refused: an ordinary, recorded error

	input, err := json.Marshal(map[string]string{"url": srv.URL, "down": down.URL + "/x"})
	require.NoError(t, err)
	prog := load(t, everyBuiltin)
	runner := fnrun.NewRunner(fnrun.RunnerConfig{})
	ctx := context.Background()

	// The first run, live.
	stored := &rows{}
	live := journal.New(journal.Config{Commit: stored.commit})
	liveLogs := &logLines{}
	first, err := runner.Run(ctx, prog, input, fnrun.RunOptions{Effects: live, Logs: liveLogs})
	require.NoError(t, err)
	require.NoError(t, live.Finish())
	require.Equal(t, int64(2), requests.Load())
	require.Len(t, liveLogs.lines, 1)
	require.Equal(t, []int{8}, stored.lines, "checkpoint() is on line 8")
	// The worker stores what is pending with the result.
	pending := live.Pending()
	require.Equal(t, []string{"http.request", "log.info", "http.request"}, names(pending))
	last, err := journal.Encode(pending)
	require.NoError(t, err)
	stored.rows = append(stored.rows, last)

	var doc map[string]any
	require.NoError(t, json.Unmarshal(first, &doc))
	require.Contains(t, doc["down"], "connection refused")
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$`, doc["now_ns"], "now() keeps its nanoseconds")
	require.Equal(t, doc["uuid"], doc["get"].(map[string]any)["headers"].(map[string]any)["X-Echo-Id"])

	// The resumed run replays everything: the same bytes, no request.
	failing.Store(true)
	entries, err := journal.DecodeAll(stored.rows)
	require.NoError(t, err)
	require.Equal(t, []string{"now", "random", "random", "uuid", "sleep", "http.request", "http.request", "log.info", "http.request"}, names(entries))
	var replayed []journal.Entry
	replay := journal.New(journal.Config{
		Replay:   entries,
		Commit:   func(context.Context, []journal.Entry, int) error { t.Error("a replay commits nothing"); return nil },
		OnReplay: func(e journal.Entry) { replayed = append(replayed, e) },
	})
	replayLogs := &logLines{}
	second, err := runner.Run(ctx, prog, input, fnrun.RunOptions{Effects: replay, Logs: replayLogs})
	require.NoError(t, err)
	require.Equal(t, string(first), string(second))
	require.Equal(t, entries, replayed)
	require.Zero(t, failed.Load(), "no request reached the server during the replay")
	require.Empty(t, replayLogs.lines, "a replayed log line is not written again")
	require.NoError(t, replay.Finish())
	require.Empty(t, replay.Pending())
}

func TestReplayChangedSource(t *testing.T) {
	t.Parallel()

	const original = `func main() {
  a := now()
  b := random(10)
  return [a, b]
}
`
	tests := []struct {
		name    string
		changed string
		line    int
		message string
	}{
		{name: "CallOrder", changed: `func main() {
  // uuid first now
  b := uuid()
  a := now()
  return [a, b]
}
`, line: 3, message: "non-determinism at effect #0: the journal has now (line 2) but this run called uuid (line 3); " +
			"was the function changed, or does it depend on something outside the journal?"},
		{name: "Args", changed: `func main() {
  a := now()

  b := random(20)
  return [a, b]
}
`, line: 4, message: "non-determinism at effect #1: the journal has random (line 3) but this run called random (line 4) with different arguments"},
	}
	runner := fnrun.NewRunner(fnrun.RunnerConfig{})
	ctx := context.Background()
	live := journal.New(journal.Config{})
	_, err := runner.Run(ctx, load(t, original), nil, fnrun.RunOptions{Effects: live})
	require.NoError(t, err)
	stored := live.Pending()
	require.Len(t, stored, 2)

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			replay := journal.New(journal.Config{Replay: stored})
			_, err := runner.Run(ctx, load(t, tt.changed), nil, fnrun.RunOptions{Effects: replay})
			var rerr *fnrun.RunError
			require.ErrorAs(t, err, &rerr)
			require.Equal(t, journal.KindNondeterminism, rerr.Kind)
			require.Equal(t, tt.line, rerr.Line)
			require.Contains(t, rerr.Message, tt.message)
		})
	}
}

func names(entries []journal.Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Name
	}
	return out
}

// BenchmarkResume resumes a run from a journal of 10,000 entries, stored as
// 10 checkpoint rows: decode, then replay every call. The target is 200 ms
// per resume.
func BenchmarkResume(b *testing.B) {
	const source = `func main() {
  last := ""
  for i := 0; i < 10000; i++ {
    if i % 2 == 0 { last = uuid() } else { now() }
  }
  return last
}
`
	prog := load(b, source)
	runner := fnrun.NewRunner(fnrun.RunnerConfig{})
	ctx := context.Background()
	stored := &rows{}
	live := journal.New(journal.Config{Commit: stored.commit})
	st := &batcher{j: live}
	want, err := runner.Run(ctx, prog, nil, fnrun.RunOptions{Effects: st})
	require.NoError(b, err)
	require.NoError(b, live.Checkpoint(ctx, 0))
	require.Len(b, stored.rows, 10)
	size := 0
	for _, r := range stored.rows {
		size += len(r)
	}

	b.ResetTimer()
	for b.Loop() {
		entries, err := journal.DecodeAll(stored.rows)
		if err != nil {
			b.Fatal(err)
		}
		j := journal.New(journal.Config{Replay: entries})
		got, err := runner.Run(ctx, prog, nil, fnrun.RunOptions{Effects: j})
		if err != nil {
			b.Fatal(err)
		}
		if string(got) != string(want) || j.Replaying() || j.Len() != 10_000 {
			b.Fatalf("resume returned %s after %d calls, want %s", got, j.Len(), want)
		}
	}
	b.ReportMetric(float64(size), "journal-bytes")
}

// batcher checkpoints a journal every 1,000 calls.
type batcher struct {
	j *journal.Journal
	n int
}

func (b *batcher) Do(ctx context.Context, call fnrun.Call, perform func(ctx context.Context) (any, error)) (any, error) {
	result, err := b.j.Do(ctx, call, perform)
	if b.n++; b.n%1000 == 0 {
		if cerr := b.j.Checkpoint(ctx, 0); cerr != nil {
			return nil, cerr
		}
	}
	return result, err
}
