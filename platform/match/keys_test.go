package match_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/match"
)

func inf() float64 { return math.Inf(1) }

func nan() float64 { return math.NaN() }

// intersects reports whether keys and anchors have a string in common.
func intersects(keys, anchors []string) bool {
	for _, a := range anchors {
		if slices.Contains(keys, a) {
			return true
		}
	}
	return false
}

func TestKeys(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		event string
		keys  []string
	}{
		{"Empty", `{}`, nil},
		{
			"Scalars",
			`{"s": "disk", "n": 90.0, "i": 7, "f": 2.5, "t": true, "F": false, "z": null, "one": "1", "neg": -0}`,
			[]string{`F=false`, `f=2.5`, `i=7`, `n=90`, `neg=0`, `one="1"`, `s="disk"`, `t=true`, `z=null`},
		},
		{
			"Numbers",
			`{"big": 1e20, "bigger": 1e21, "small": 1e-7, "x": 123456789012}`,
			[]string{`big=100000000000000000000`, `bigger=1e+21`, `small=1e-07`, `x=123456789012`},
		},
		{"Quoted", `{"s": "a\"b\n"}`, []string{`s="a\"b\n"`}},
		{
			"Nested",
			`{"labels": {"team": "db", "env": {"name": "prod"}}, "empty": {}}`,
			[]string{`labels.env.name="prod"`, `labels.team="db"`},
		},
		{
			"Arrays",
			`{"tags": ["a", "b", "a", 1, ["c"]], "disks": [{"name": "sda"}, {"name": "sdb", "x": [true]}], "e": []}`,
			[]string{`disks.name="sda"`, `disks.name="sdb"`, `disks.x=true`, `tags="a"`, `tags="b"`, `tags=1`, `tags="c"`},
		},
		{"DottedKey", `{"a.b": 1}`, []string{`a.b=1`}},
		{"LongString", `{"s": "` + strings.Repeat("x", match.MaxString+1) + `", "t": "` + strings.Repeat("x", match.MaxString) + `"}`, []string{`t="` + strings.Repeat("x", match.MaxString) + `"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			require.Equal(t, tt.keys, match.Keys(decode(t, tt.event)))
			require.Equal(t, tt.keys, match.Keys(decodeFloat(t, tt.event)))
		})
	}
}

func TestKeysMax(t *testing.T) {
	t.Parallel()

	event := map[string]any{}
	for i := range 3000 {
		event[fmt.Sprintf("k%04d", i)] = i
	}
	keys := match.Keys(event)
	require.Len(t, keys, match.MaxKeys)
	require.Equal(t, "k0000=0", keys[0])
	require.Equal(t, "k0999=999", keys[match.MaxKeys-1])
}

func TestAnchors(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		filter  map[string]any
		anchors []string
	}{
		{"Exact", map[string]any{"service": "disk"}, []string{`service="disk"`}},
		{"Number", map[string]any{"cpu": 90.0}, []string{`cpu=90`}},
		{"JSONNumber", map[string]any{"cpu": json.Number("9e1")}, []string{`cpu=90`}},
		{"Nil", map[string]any{"x": nil}, []string{`x=null`}},
		{"Nested", map[string]any{"labels": map[string]any{"team": "db"}}, []string{`labels.team="db"`}},
		{"EscapedGlobIsExact", map[string]any{"s": `a\*`}, []string{`s="a*"`}},
		{"SingleBeatsList", map[string]any{"a": []any{"x", "y"}, "b": "z"}, []string{`b="z"`}},
		{"TieByPath", map[string]any{"b": "1", "a": "2", "c": "3"}, []string{`a="2"`}},
		{"ListSortedDeduped", map[string]any{"status": []any{"WARN", "CRIT", "WARN"}}, []string{`status="CRIT"`, `status="WARN"`}},
		{"ShorterListWins", map[string]any{"a": []any{"1", "2", "3"}, "b": []any{int64(1), int64(2)}}, []string{`b=1`, `b=2`}},
		{"BoolLast", map[string]any{"ok": true, "status": []any{"CRIT", "WARN"}}, []string{`status="CRIT"`, `status="WARN"`}},
		{"NullLast", map[string]any{"x": []any{"a", nil}, "a": false, "y": []any{"a", "b", "c"}}, []string{`y="a"`, `y="b"`, `y="c"`}},
		{"OnlyBool", map[string]any{"ok": true, "host": "db-*"}, []string{`ok=true`}},
		{"GlobNotAnchor", map[string]any{"host": "db-*"}, nil},
		{"RegexNotAnchor", map[string]any{"host": "re:db"}, nil},
		{"ComparisonNotAnchor", map[string]any{"cpu": ">= 90"}, nil},
		{"ExistsNotAnchor", map[string]any{"x": map[string]any{"exists": true}}, nil},
		{"MixedListNotAnchor", map[string]any{"s": []any{"a", "b*"}, "host": "x*"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f, err := match.Compile(tt.filter)
			require.NoError(t, err)
			require.Equal(t, tt.anchors, f.Anchors())
		})
	}
}

// gen makes random-ish filters and events over a small vocabulary, so that
// filters often match.
type gen struct{ r *rand.Rand }

func (g gen) pick(xs ...any) any { return xs[g.r.IntN(len(xs))] }

// path is one of a few paths, some nested, some under a list of objects.
func (g gen) path() string {
	return g.pick("service", "status", "host", "cpu", "labels.team", "labels.env", "tags", "disks.name", "disks.full", "ok").(string)
}

func (g gen) scalar() any {
	return g.pick("disk", "cpu", "CRIT", "WARN", "db-1", "db-2", "web-1", "prod", "1", int64(1), 1.0, json.Number("2"), 0.5, 90.0, true, false, nil)
}

// matcher is a random scalar matcher.
func (g gen) matcher() any {
	switch g.r.IntN(6) {
	case 0:
		return g.pick("db-*", "*-1", "?????", "*")
	case 1:
		return g.pick("re:^db", "re:[0-9]$", "re:i")
	case 2:
		return g.pick(">= 1", "< 1", "!= 90", "== 0.5", "> 2")
	}
	return g.scalar()
}

func (g gen) filter() map[string]any {
	f := map[string]any{}
	for range 1 + g.r.IntN(3) {
		p := g.path()
		switch g.r.IntN(5) {
		case 0:
			l := []any{g.matcher()}
			for range g.r.IntN(3) {
				l = append(l, g.matcher())
			}
			f[p] = l
		case 1:
			if g.r.IntN(3) == 0 {
				f[p] = map[string]any{"exists": g.r.IntN(2) == 0}
				continue
			}
			f[p] = g.scalar()
		default:
			f[p] = g.matcher()
		}
	}
	return f
}

// value is a scalar, sometimes a list of them.
func (g gen) value() any {
	if g.r.IntN(4) == 0 {
		l := []any{}
		for range g.r.IntN(4) {
			l = append(l, g.scalar())
		}
		return l
	}
	return g.scalar()
}

func (g gen) event() map[string]any {
	e := map[string]any{}
	for _, p := range []string{"service", "status", "host", "cpu", "tags", "ok"} {
		if g.r.IntN(4) != 0 {
			e[p] = g.value()
		}
	}
	if g.r.IntN(2) == 0 {
		labels := map[string]any{}
		for _, p := range []string{"team", "env"} {
			if g.r.IntN(2) == 0 {
				labels[p] = g.value()
			}
		}
		e["labels"] = labels
	}
	if g.r.IntN(3) == 0 {
		var disks []any
		for range g.r.IntN(3) {
			disks = append(disks, map[string]any{"name": g.value(), "full": g.value()})
		}
		e["disks"] = disks
	}
	return e
}

// A filter that matches an event has an anchor among the event's keys.
func TestAnchorsInKeys(t *testing.T) {
	t.Parallel()

	g := gen{rand.New(rand.NewPCG(1, 2))}
	var filters []*match.Filter
	for len(filters) < 300 {
		f, err := match.Compile(g.filter())
		if err != nil {
			continue // the same path twice
		}
		filters = append(filters, f)
	}
	matched, anchored := 0, 0
	for range 1000 {
		event := g.event()
		keys := match.Keys(event)
		for _, f := range filters {
			if !f.Match(event) {
				continue
			}
			matched++
			if f.Anchors() != nil {
				anchored++
				require.True(t, intersects(keys, f.Anchors()), "filter %v, event %v: keys %q, anchors %q", f.Source(), event, keys, f.Anchors())
			}
		}
	}
	// The test means something only if many matches are anchored.
	require.Greater(t, anchored, 500)
	require.Greater(t, matched, anchored)
}
