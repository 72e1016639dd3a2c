package fnrun

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// memKV is a KV in memory; values compare as their compact JSON.
type memKV struct {
	mu     sync.Mutex
	values map[string]string // namespace + "/" + key -> JSON
	fail   error
}

func newMemKV() *memKV { return &memKV{values: map[string]string{}} }

func (m *memKV) Get(_ context.Context, ns, key string) (json.RawMessage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	v, ok := m.values[ns+"/"+key]
	if !ok {
		return nil, nil
	}
	return json.RawMessage(v), nil
}

func (m *memKV) Set(_ context.Context, ns, key string, value json.RawMessage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.values[ns+"/"+key] = string(value)
	return nil
}

func (m *memKV) CAS(_ context.Context, ns, key string, oldValue, newValue json.RawMessage) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return false, m.fail
	}
	cur, ok := m.values[ns+"/"+key]
	if ok != (oldValue != nil) || (ok && cur != string(oldValue)) {
		return false, nil
	}
	if newValue == nil {
		delete(m.values, ns+"/"+key)
	} else {
		m.values[ns+"/"+key] = string(newValue)
	}
	return true, nil
}

func (m *memKV) Delete(_ context.Context, ns, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return false, m.fail
	}
	_, ok := m.values[ns+"/"+key]
	delete(m.values, ns+"/"+key)
	return ok, nil
}

const kvSource = `func main() {
  a := kv.get("n")
  kv.set("n", {"count": 1, "tags": ["x"]})
  b := kv.get("n")
  c1 := kv.cas("n", {"tags": ["x"], "count": 1}, {"count": 2})
  c2 := kv.cas("n", {"count": 1}, {"count": 3})
  c3 := kv.cas("fresh", nil, 1.5)
  shared := kv.ns("shared")
  shared.set("n", "other")
  d1 := kv.delete("n")
  d2 := kv.delete("n")
  kv.set("fresh", nil)
  s := shared.get("n")
  f := kv.get("fresh")
  return {"a": a, "b": b, "c": [c1, c2, c3], "d": [d1, d2], "shared": s, "fresh": f}
}`

func TestKV(t *testing.T) {
	t.Parallel()

	store := newMemKV()
	rec := &recorder{}
	result, err := runSource(t, NewRunner(RunnerConfig{}), kvSource, "", RunOptions{Effects: rec, KV: store, KVNamespace: "counter"})
	require.NoError(t, err)
	const want = `{"a": null, "b": {"count": 1, "tags": ["x"]}, "c": [true, false, true], "d": [true, false],
		"shared": "other", "fresh": null}`
	require.JSONEq(t, want, string(result))
	require.Equal(t, map[string]string{"shared/n": `"other"`}, store.values)

	var names []string
	for _, c := range rec.calls {
		names = append(names, c.Name)
	}
	require.Equal(t, []string{
		"kv.get", "kv.set", "kv.get", "kv.cas", "kv.cas", "kv.cas", "kv.set", "kv.delete", "kv.delete", "kv.set", "kv.get", "kv.get",
	}, names, "every kv call is an effect")
	require.Equal(t, Call{Name: "kv.get", Args: map[string]any{"namespace": "counter", "key": "n"}, Line: 2}, rec.calls[0])
	require.Equal(t, Call{Name: "kv.cas", Args: map[string]any{
		"namespace": "counter", "key": "n",
		"old": json.RawMessage(`{"count":1,"tags":["x"]}`), "new": json.RawMessage(`{"count":2}`),
	}, Line: 5}, rec.calls[3])
	// A call through a kv.ns module has no known line: the source names it
	// by a variable ("shared.set"), not as the builtin "kv.set".
	require.Equal(t, Call{Name: "kv.set", Args: map[string]any{"namespace": "shared", "key": "n", "value": json.RawMessage(`"other"`)}}, rec.calls[6])
	require.Equal(t, Call{Name: "kv.set", Args: map[string]any{"namespace": "counter", "key": "fresh", "value": nil}, Line: 12}, rec.calls[9])

	t.Run("Replay", func(t *testing.T) {
		t.Parallel()
		// Recorded results come back, after a JSON round trip as a journal
		// gives them, and nothing is performed: the store would fail.
		results := make([]any, len(rec.results))
		for i, r := range rec.results {
			data, err := json.Marshal(r)
			require.NoError(t, err)
			results[i], err = decodeResultForTest(data)
			require.NoError(t, err)
		}
		failing := newMemKV()
		failing.fail = errors.New("must not be called")
		rep := &replayer{t: t, calls: rec.calls, results: results}
		replayed, err := runSource(t, NewRunner(RunnerConfig{}), kvSource, "", RunOptions{Effects: rep, KV: failing, KVNamespace: "counter"})
		require.NoError(t, err)
		require.JSONEq(t, want, string(replayed))
		require.Equal(t, len(rec.calls), rep.next)
	})
}

// decodeResultForTest decodes JSON with numbers as json.Number, as a journal
// replays results.
func decodeResultForTest(data []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func TestKVCounter(t *testing.T) {
	t.Parallel()

	// The retry loop of the end-to-end test, on one goroutine per run.
	const source = `func main() {
  for {
    n := kv.get("count")
    next := 1
    if n != nil { next = n + 1 }
    if kv.cas("count", n, next) { return next }
  }
}`
	store := newMemKV()
	r := NewRunner(RunnerConfig{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := runSource(t, r, source, "", RunOptions{KV: store, KVNamespace: "c"})
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Equal(t, "20", store.values["c/count"])
}

func TestKVErrors(t *testing.T) {
	t.Parallel()

	big := strings.Repeat("x", MaxKVValue)
	tests := []struct {
		name, source, want string
		opts               RunOptions
	}{
		{name: "KeyType", source: `kv.get(1)`, want: "type error: kv.get: key must be a string (int given)"},
		{name: "EmptyKey", source: `kv.set("", 1)`, want: "value error: kv.set: key must be 1 to 512 bytes long (got 0)"},
		{name: "LongKey", source: `kv.delete(strings.repeat("k", 513))`, want: "value error: kv.delete: key must be 1 to 512 bytes long (got 513)"},
		{name: "Oversized", source: `kv.set("k", "` + big + `")`, want: "value error: kv.set: value is 1048578 bytes of JSON, more than the limit of 1048576"},
		{name: "OversizedOld", source: `kv.cas("k", "` + big + `", 1)`, want: "value error: kv.cas: old is 1048578 bytes of JSON, more than the limit of 1048576"},
		{name: "NotJSON", source: `kv.set("k", func() {})`, want: "value error: kv.set: value cannot be encoded as JSON: "},
		{name: "NamespaceType", source: `kv.ns(1)`, want: "type error: kv.ns: namespace must be a string (int given)"},
		{name: "BadNamespace", source: `kv.ns("a/b")`, want: `value error: kv.ns: invalid namespace "a/b" (letters, digits, '_' and '-', 1 to 128 characters)`},
		{name: "NoKV", source: `kv.get("k")`, want: "kv.get: kv is not available here", opts: RunOptions{KVNamespace: "x"}},
		{name: "NoNamespace", source: `kv.get("k")`, want: "value error: kv.get: this run has no default namespace: use kv.ns(name)", opts: RunOptions{KV: newMemKV()}},
		{name: "NoKVInNamespace", source: `kv.ns("other").set("k", 1)`, want: "kv.set: kv is not available here", opts: RunOptions{KVNamespace: "x"}},
		{name: "StoreError", source: `kv.get("k")`, want: "kv.get: db down", opts: RunOptions{KV: &memKV{fail: errors.New("db down")}, KVNamespace: "x"}},
	}
	t.Run("Arity", func(t *testing.T) {
		t.Parallel()
		_, err := runSource(t, NewRunner(RunnerConfig{}), "func main() {\n  kv.cas(\"k\", 1)\n}", "", RunOptions{KV: newMemKV(), KVNamespace: "x"})
		require.EqualError(t, err, "line 2, column 3: args error: kv.cas() takes exactly 3 arguments (2 given)")
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := tc.opts
			if opts.KV == nil && opts.KVNamespace == "" {
				opts.KV, opts.KVNamespace = newMemKV(), "x"
			}
			source := "func main() {\n  return try(func() { " + tc.source + " }, func(e) { return e.message() })\n}"
			result, err := runSource(t, NewRunner(RunnerConfig{}), source, "", opts)
			require.NoError(t, err)
			var msg string
			require.NoError(t, json.Unmarshal(result, &msg), string(result))
			require.True(t, strings.HasPrefix(msg, tc.want), "got %q, want %q", msg, tc.want)
		})
	}
}
