package match_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/match"
)

// must compiles filters or fails the test.
func must(tb testing.TB, filters ...map[string]any) []*match.Filter {
	tb.Helper()
	fs, err := match.CompileAll(filters)
	require.NoError(tb, err)
	return fs
}

// bruteForce is what an Index must return: the ids (in order, each once)
// with a filter that matches event.
type bruteForce struct {
	ids     []int
	filters map[int][]*match.Filter
}

func (b *bruteForce) add(id int, fs []*match.Filter) {
	if _, ok := b.filters[id]; !ok {
		b.ids = append(b.ids, id)
	}
	b.filters[id] = append(b.filters[id], fs...)
}

func (b *bruteForce) match(event map[string]any) []int {
	var out []int
	for _, id := range b.ids {
		for _, f := range b.filters[id] {
			if f.Match(event) {
				out = append(out, id)
				break
			}
		}
	}
	return out
}

func TestIndex(t *testing.T) {
	t.Parallel()

	x := match.NewIndex[string]()
	require.Equal(t, 0, x.Len())
	require.Nil(t, x.Match(map[string]any{"service": "disk"}))

	x.Add("disk", must(t, map[string]any{"service": "disk", "status": []any{"CRIT", "WARN"}, "host": "db-*"}))
	x.Add("any-crit", must(t, map[string]any{"status": "CRIT"}, map[string]any{"level": ">= 3"}))
	x.Add("hot", must(t, map[string]any{"cpu": ">= 90"}))
	x.Add("team", must(t, map[string]any{"labels": map[string]any{"team": []any{"db", "web"}}}))
	x.Add("none", nil)
	require.Equal(t, 5, x.Len())

	tests := []struct {
		event string
		ids   []string
	}{
		{`{}`, nil},
		{`{"service": "disk", "status": "CRIT", "host": "db-1"}`, []string{"disk", "any-crit"}},
		{`{"service": "disk", "status": "WARN", "host": "db-1", "cpu": 95}`, []string{"disk", "hot"}},
		{`{"service": "disk", "status": ["WARN", "CRIT"], "host": "web-1", "level": 5}`, []string{"any-crit"}},
		{`{"labels": {"team": "web"}, "cpu": 90.0}`, []string{"hot", "team"}},
		{`{"labels": [{"team": "x"}, {"team": "db"}]}`, []string{"team"}},
	}
	for _, tt := range tests {
		require.Equal(t, tt.ids, x.Match(decode(t, tt.event)), "event %s", tt.event)
	}
}

// Adding an id again adds filters to it; it is returned once, in the place
// of its first Add.
func TestIndexAddAgain(t *testing.T) {
	t.Parallel()

	x := match.NewIndex[int]()
	x.Add(1, must(t, map[string]any{"a": int64(1)}))
	x.Add(2, must(t, map[string]any{"b": int64(1)}))
	x.Add(1, must(t, map[string]any{"b": int64(1)}, map[string]any{"b": ">= 0"}))
	require.Equal(t, 2, x.Len())
	require.Equal(t, []int{1, 2}, x.Match(map[string]any{"b": 1.0}))
	require.Equal(t, []int{1}, x.Match(map[string]any{"a": 1.0}))
}

func TestIndexAddNil(t *testing.T) {
	t.Parallel()

	x := match.NewIndex[int]()
	require.PanicsWithValue(t, "match: Index.Add with a nil *Filter", func() { x.Add(1, []*match.Filter{nil}) })
}

// The Index returns what evaluating every filter returns.
func TestIndexMatchesBruteForce(t *testing.T) {
	t.Parallel()

	g := gen{rand.New(rand.NewPCG(3, 4))}
	x := match.NewIndex[int]()
	b := &bruteForce{filters: map[int][]*match.Filter{}}
	for id := range 1000 {
		var fs []*match.Filter
		for range 1 + g.r.IntN(3) {
			if f, err := match.Compile(g.filter()); err == nil {
				fs = append(fs, f)
			}
		}
		// Some ids are added twice.
		if id%97 == 0 && id > 0 {
			id -= 50
		}
		x.Add(id, fs)
		b.add(id, fs)
	}
	require.Equal(t, len(b.ids), x.Len())

	total := 0
	for range 1000 {
		event := g.event()
		want := b.match(event)
		require.Equal(t, want, x.Match(event), "event %v", event)
		total += len(want)
	}
	require.Greater(t, total, 3000)
}

// Match is safe for concurrent use (run with -race).
func TestIndexConcurrent(t *testing.T) {
	t.Parallel()

	x := match.NewIndex[string]()
	for i := range 100 {
		x.Add(fmt.Sprint("f", i), must(t, map[string]any{"service": fmt.Sprint("s", i%10), "host": "db-*"}))
	}
	counts := make([][]int, 8)
	var wg sync.WaitGroup
	for w := range counts {
		wg.Go(func() {
			for i := range 200 {
				event := map[string]any{"service": fmt.Sprint("s", (w+i)%10), "host": "db-1"}
				counts[w] = append(counts[w], len(x.Match(event)))
			}
		})
	}
	wg.Wait()
	for _, c := range counts {
		require.Len(t, c, 200)
		for _, n := range c {
			require.Equal(t, 10, n)
		}
	}
}

// Filters of the index share equal fields, and only equal ones.
func TestIndexSharedFields(t *testing.T) {
	t.Parallel()

	big := func(first string) []any {
		l := []any{first, "g*"}
		for i := range 20 {
			l = append(l, fmt.Sprint("v", i))
		}
		return l
	}
	x := match.NewIndex[string]()
	b := &bruteForce{filters: map[int][]*match.Filter{}}
	filters := map[string]map[string]any{
		"exact-star":  {"k": "x", "s": `a\*`},
		"glob-star":   {"k": "x", "s": `a*`},
		"big-a":       {"k": "x", "s": big("a")},
		"big-b":       {"k": "x", "s": big("b")},
		"list-xy":     {"k": "x", "a": []any{"x", "y"}},
		"nul-path":    {"k": "x", "a\x00\"x\"": "y"},
		"exists":      {"k": "x", "e": map[string]any{"exists": true}},
		"absent":      {"k": "x", "e": map[string]any{"exists": false}},
		"cmp":         {"k": "x", "n": ">= 1"},
		"cmp-exact":   {"k": "x", "n": "== 1"},
		"number":      {"k": "x", "n": int64(1)},
		"string-1":    {"k": "x", "n": "1"},
		"unanchored":  {"s": "a*", "n": ">= 1"},
		"unanchored2": {"s": `a\**`},
	}
	names := []string{}
	for name := range filters {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		fs := must(t, filters[name])
		x.Add(name, fs)
		b.add(i, fs)
	}
	events := []map[string]any{
		{"k": "x", "s": "a*"},
		{"k": "x", "s": "ab"},
		{"k": "x", "s": "a"},
		{"k": "x", "s": "b"},
		{"k": "x", "s": "v3"},
		{"k": "x", "s": "gg"},
		{"k": "x", "a": "y"},
		{"k": "x", "a": map[string]any{"x": "y"}},
		{"k": "x", "a\x00\"x\"": "y"},
		{"k": "x", "e": nil},
		{"k": "x", "n": 1.0},
		{"k": "x", "n": 2.0},
		{"k": "x", "n": "1"},
		{"s": "a*b", "n": 5.0},
	}
	for _, event := range events {
		var want []string
		for _, i := range b.match(event) {
			want = append(want, names[i])
		}
		require.Equal(t, want, x.Match(event), "event %v", event)
	}
}
