package fnrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// recorder performs every call and records it with its result.
type recorder struct {
	mu      sync.Mutex
	calls   []Call
	results []any
}

func (r *recorder) Do(ctx context.Context, call Call, perform func(ctx context.Context) (any, error)) (any, error) {
	result, err := perform(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, call)
	r.results = append(r.results, result)
	return result, err
}

// replayer returns recorded results without performing anything, as a
// journal replay will.
type replayer struct {
	t       *testing.T
	calls   []Call
	results []any
	next    int
}

func (r *replayer) Do(_ context.Context, call Call, _ func(ctx context.Context) (any, error)) (any, error) {
	require.Less(r.t, r.next, len(r.calls), "more calls than recorded")
	require.Equal(r.t, r.calls[r.next], call)
	result := r.results[r.next]
	r.next++
	return result, nil
}

const everyEffect = `func main(input) {
  t := now()
  f := random()
  n := random(10)
  id := uuid()
  sleep("1ms")
  sleep(0.001)
  g := http.get(input.url + "/json", {"params": {"q": "1"}, "headers": {"X-A": "b"}})
  p := http.post(input.url + "/echo", {"json": {"a": 1}, "timeout": 5})
  u := http.request("put", input.url + "/echo", {"body": "raw"})
  log.info("info", 1)
  log.warn("warn")
  log.error("error")
  return {"t": t, "unix": t.unix(), "f": f, "n": n, "type_n": type(n), "id": id, "g": g.json(), "h": g.headers["X-Test"], "p": p.json(), "u": u}
}`

func TestEffectsSeeEveryCall(t *testing.T) {
	t.Parallel()

	srv := newTestServer(t)
	rec := &recorder{}
	logs := &logRecorder{}
	_, err := runSource(t, NewRunner(RunnerConfig{}), everyEffect, fmt.Sprintf(`{"url": %q}`, srv.URL), RunOptions{Effects: rec, Logs: logs})
	require.NoError(t, err)
	require.Equal(t, []Call{
		{Name: "now", Line: 2},
		{Name: "random", Line: 3},
		{Name: "random", Args: []any{int64(10)}, Line: 4},
		{Name: "uuid", Line: 5},
		{Name: "sleep", Args: []any{"1ms"}, Line: 6},
		{Name: "sleep", Args: []any{"1ms"}, Line: 7},
		{Name: "http.request", Args: map[string]any{"method": "GET", "url": srv.URL + "/json?q=1", "headers": map[string]any{"X-A": "b"}}, Line: 8},
		{Name: "http.request", Args: map[string]any{
			"method": "POST", "url": srv.URL + "/echo",
			"headers": map[string]any{"Content-Type": "application/json"}, "body": `{"a":1}`, "timeout": "5s",
		}, Line: 9},
		{Name: "http.request", Args: map[string]any{"method": "PUT", "url": srv.URL + "/echo", "body": "raw"}, Line: 10},
		{Name: "log.info", Args: []any{"info 1"}, Line: 11},
		{Name: "log.warn", Args: []any{"warn"}, Line: 12},
		{Name: "log.error", Args: []any{"error"}, Line: 13},
	}, rec.calls)
	require.Equal(t, []logLine{{"info", "info 1"}, {"warn", "warn"}, {"error", "error"}}, logs.lines)

	// Arguments and results are plain data, as a journal stores them.
	for i, call := range rec.calls {
		requirePlain(t, call.Args)
		requirePlain(t, rec.results[i])
	}
}

// requirePlain checks that v is JSON-serialisable plain data.
func requirePlain(t *testing.T, v any) {
	t.Helper()
	switch v := v.(type) {
	case nil, bool, int64, float64, string:
	case []any:
		for _, item := range v {
			requirePlain(t, item)
		}
	case map[string]any:
		for _, item := range v {
			requirePlain(t, item)
		}
	default:
		require.Failf(t, "not plain data", "%#v (%T)", v, v)
	}
}

func TestEffectsReplay(t *testing.T) {
	t.Parallel()

	srv := newTestServer(t)
	input := fmt.Sprintf(`{"url": %q}`, srv.URL)
	r := NewRunner(RunnerConfig{})
	rec := &recorder{}
	first, err := runSource(t, r, everyEffect, input, RunOptions{Effects: rec})
	require.NoError(t, err)

	resultsJSON, err := json.Marshal(rec.results)
	require.NoError(t, err)
	tests := []struct {
		name    string
		results func(t *testing.T) []any
	}{
		{name: "AsRecorded", results: func(*testing.T) []any { return rec.results }},
		// A journal may hand results back decoded from JSON: numbers as float64...
		{name: "FromJSON", results: func(t *testing.T) []any {
			t.Helper()
			var results []any
			require.NoError(t, json.Unmarshal(resultsJSON, &results))
			return results
		}},
		// ... or as json.Number.
		{name: "FromJSONNumbers", results: func(t *testing.T) []any {
			t.Helper()
			dec := json.NewDecoder(bytes.NewReader(resultsJSON))
			dec.UseNumber()
			var results []any
			require.NoError(t, dec.Decode(&results))
			return results
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &logRecorder{}
			replay := &replayer{t: t, calls: rec.calls, results: tt.results(t)}
			again, err := runSource(t, r, everyEffect, input, RunOptions{Effects: replay, Logs: logs})
			require.NoError(t, err)
			require.Equal(t, string(first), string(again))
			require.Equal(t, len(rec.calls), replay.next)
			require.Empty(t, logs.lines, "a replayed log line is not written again")
		})
	}
}

// effectsFunc adapts a function to Effects.
type effectsFunc func(ctx context.Context, call Call, perform func(ctx context.Context) (any, error)) (any, error)

func (f effectsFunc) Do(ctx context.Context, call Call, perform func(ctx context.Context) (any, error)) (any, error) {
	return f(ctx, call, perform)
}

func TestEffectsErrors(t *testing.T) {
	t.Parallel()

	refuse := effectsFunc(func(context.Context, Call, func(context.Context) (any, error)) (any, error) {
		return nil, errors.New("journal says no")
	})
	mismatch := effectsFunc(func(context.Context, Call, func(context.Context) (any, error)) (any, error) {
		return nil, &RunError{Kind: KindInternal, Message: "replay mismatch"}
	})
	wrongForm := effectsFunc(func(context.Context, Call, func(context.Context) (any, error)) (any, error) {
		return 42, nil
	})
	tests := []struct {
		name    string
		effects Effects
		source  string
		want    *RunError
		result  string
	}{
		{
			name: "ErrorIsRaised", effects: refuse, source: "func main() {\n  return uuid()\n}",
			want: &RunError{Kind: KindRuntime, Message: "uuid: journal says no", Line: 2, Column: 10, Builtin: "uuid"},
		},
		{name: "ErrorIsCatchable", effects: refuse, source: "func main() {\n  return try(uuid, \"fallback\")\n}", result: `"fallback"`},
		{
			name: "RunErrorIsFatal", effects: mismatch, source: "func main() {\n  return try(func() { return uuid() }, \"fallback\")\n}",
			want: &RunError{Kind: KindInternal, Message: "replay mismatch", Line: 2, Column: 30, Builtin: "uuid"},
		},
		{
			name: "UnexpectedResult", effects: wrongForm, source: "func main() {\n  return now()\n}",
			want: &RunError{Kind: KindInternal, Message: "now: effect result has an unexpected form: 42", Line: 2, Column: 10, Builtin: "now"},
		},
	}
	r := NewRunner(RunnerConfig{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, err := runSource(t, r, tt.source, "", RunOptions{Effects: tt.effects})
			if tt.want != nil {
				require.Equal(t, tt.want, err)
				return
			}
			require.NoError(t, err)
			require.JSONEq(t, tt.result, string(out))
		})
	}
}

func TestLive(t *testing.T) {
	t.Parallel()

	got, err := Live{}.Do(context.Background(), Call{Name: "x"}, func(context.Context) (any, error) { return "done", nil })
	require.NoError(t, err)
	require.Equal(t, "done", got)
}
