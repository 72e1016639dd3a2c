package match_test

import (
	"encoding/json"
	"errors"
	"regexp/syntax"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/platform/match"
)

// decode decodes a JSON event as the event router does, numbers as
// json.Number.
func decode(t *testing.T, s string) map[string]any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var event map[string]any
	require.NoError(t, d.Decode(&event))
	return event
}

// decodeFloat decodes a JSON event with numbers as float64.
func decodeFloat(t *testing.T, s string) map[string]any {
	t.Helper()
	var event map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &event))
	return event
}

func TestFilterMatch(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name   string
		filter map[string]any
		match  []string // events (JSON) the filter matches
		miss   []string // events it does not match
	}{
		{
			name:   "ExactString",
			filter: map[string]any{"service": "disk"},
			match:  []string{`{"service": "disk"}`, `{"service": "disk", "x": 1}`},
			miss:   []string{`{}`, `{"service": "Disk"}`, `{"service": "disk2"}`, `{"service": null}`, `{"service": {"a": "disk"}}`, `{"x": "disk"}`},
		},
		{
			name:   "ExactStringIsNotNumber",
			filter: map[string]any{"n": "1"},
			match:  []string{`{"n": "1"}`},
			miss:   []string{`{"n": 1}`, `{"n": true}`},
		},
		{
			name:   "ExactInt64",
			filter: map[string]any{"cpu": int64(90)},
			match:  []string{`{"cpu": 90}`, `{"cpu": 90.0}`, `{"cpu": 9e1}`},
			miss:   []string{`{"cpu": "90"}`, `{"cpu": 90.5}`, `{"cpu": 91}`},
		},
		{
			name:   "ExactFloat",
			filter: map[string]any{"cpu": 90.0},
			match:  []string{`{"cpu": 90}`, `{"cpu": 90.0}`},
			miss:   []string{`{"cpu": 90.1}`},
		},
		{
			name:   "ExactJSONNumber",
			filter: map[string]any{"cpu": json.Number("90.0")},
			match:  []string{`{"cpu": 90}`},
			miss:   []string{`{"cpu": -90}`},
		},
		{
			name:   "ExactFraction",
			filter: map[string]any{"load": 2.5},
			match:  []string{`{"load": 2.50}`, `{"load": 25e-1}`},
			miss:   []string{`{"load": 2}`},
		},
		{
			name:   "ZeroAndMinusZero",
			filter: map[string]any{"n": 0},
			match:  []string{`{"n": 0}`, `{"n": -0}`, `{"n": -0.0}`},
		},
		{
			name:   "ExactBool",
			filter: map[string]any{"ok": true},
			match:  []string{`{"ok": true}`},
			miss:   []string{`{"ok": false}`, `{"ok": "true"}`, `{"ok": 1}`, `{}`},
		},
		{
			name:   "ExactFalse",
			filter: map[string]any{"ok": false},
			match:  []string{`{"ok": false}`},
			miss:   []string{`{"ok": true}`, `{"ok": 0}`, `{"ok": null}`, `{}`},
		},
		{
			name:   "ExactNil",
			filter: map[string]any{"gone": nil},
			match:  []string{`{"gone": null}`, `{"gone": [1, null]}`},
			miss:   []string{`{}`, `{"gone": "null"}`, `{"gone": false}`, `{"gone": 0}`, `{"gone": []}`},
		},
		{
			name:   "ListAnyOf",
			filter: map[string]any{"status": []any{"CRIT", "WARN"}},
			match:  []string{`{"status": "CRIT"}`, `{"status": "WARN"}`},
			miss:   []string{`{"status": "OK"}`, `{}`, `{"status": "crit"}`},
		},
		{
			name:   "ListOfStrings",
			filter: map[string]any{"status": []string{"CRIT", "WARN"}},
			match:  []string{`{"status": "WARN"}`},
			miss:   []string{`{"status": "OK"}`},
		},
		{
			name:   "ListMixed",
			filter: map[string]any{"v": []any{"a*", "re:^x+$", ">= 100", int64(7), nil, true}},
			match:  []string{`{"v": "abc"}`, `{"v": "xxx"}`, `{"v": 100}`, `{"v": 1e9}`, `{"v": 7}`, `{"v": 7.0}`, `{"v": null}`, `{"v": true}`},
			miss:   []string{`{"v": "bac"}`, `{"v": "xy"}`, `{"v": 99}`, `{"v": "7"}`, `{"v": false}`, `{}`},
		},
		{
			name:   "Glob",
			filter: map[string]any{"host": "db-*"},
			match:  []string{`{"host": "db-"}`, `{"host": "db-1"}`, `{"host": "db-eu-1.example"}`},
			miss:   []string{`{"host": "db"}`, `{"host": "xdb-1"}`, `{"host": 1}`, `{}`},
		},
		{
			name:   "GlobQuestion",
			filter: map[string]any{"host": "db-?"},
			match:  []string{`{"host": "db-1"}`, `{"host": "db-é"}`, `{"host": "db-日"}`},
			miss:   []string{`{"host": "db-"}`, `{"host": "db-12"}`},
		},
		{
			name:   "GlobStars",
			filter: map[string]any{"path": "*/a*b/*.go"},
			match:  []string{`{"path": "x/ab/y.go"}`, `{"path": "x/y/aXXb/z/w.go"}`, `{"path": "/ab/.go"}`},
			miss:   []string{`{"path": "x/ab/y.goo"}`, `{"path": "ab/y.go"}`, `{"path": "x/b/a/y.go"}`},
		},
		{
			name:   "GlobBacktracks",
			filter: map[string]any{"s": "*aab"},
			match:  []string{`{"s": "aaab"}`, `{"s": "abaab"}`},
			miss:   []string{`{"s": "aaba"}`},
		},
		{
			name:   "GlobOnlyStar",
			filter: map[string]any{"s": "*"},
			match:  []string{`{"s": ""}`, `{"s": "anything"}`},
			miss:   []string{`{"s": 1}`, `{"s": null}`, `{}`},
		},
		{
			name:   "GlobEscapedStar",
			filter: map[string]any{"s": `a\**`},
			match:  []string{`{"s": "a*"}`, `{"s": "a*b"}`},
			miss:   []string{`{"s": "ab"}`},
		},
		{
			name:   "GlobOnlyEscapesIsExact",
			filter: map[string]any{"s": `a\*b\?`},
			match:  []string{`{"s": "a*b?"}`},
			miss:   []string{`{"s": "axb?"}`, `{"s": "a\\*b\\?"}`},
		},
		{
			name:   "GlobEscapedBackslash",
			filter: map[string]any{"s": `C:\\*`},
			match:  []string{`{"s": "C:\\dir"}`},
			miss:   []string{`{"s": "C:dir"}`},
		},
		{
			name:   "BackslashWithoutMetaIsLiteral",
			filter: map[string]any{"s": `C:\\dir`},
			match:  []string{`{"s": "C:\\\\dir"}`},
			miss:   []string{`{"s": "C:\\dir"}`},
		},
		{
			name:   "Regex",
			filter: map[string]any{"host": "re:db-[0-9]+"},
			match:  []string{`{"host": "db-1"}`, `{"host": "mydb-12x"}`},
			miss:   []string{`{"host": "db-x"}`, `{"host": 1}`},
		},
		{
			name:   "RegexAnchored",
			filter: map[string]any{"host": "re:^db-[0-9]+$"},
			match:  []string{`{"host": "db-1"}`},
			miss:   []string{`{"host": "mydb-12x"}`},
		},
		{
			name:   "GE",
			filter: map[string]any{"cpu": ">= 90"},
			match:  []string{`{"cpu": 90}`, `{"cpu": 90.5}`, `{"cpu": 1e3}`},
			miss:   []string{`{"cpu": 89.9}`, `{"cpu": "95"}`, `{"cpu": null}`, `{}`},
		},
		{
			name:   "GT",
			filter: map[string]any{"cpu": ">5"},
			match:  []string{`{"cpu": 5.1}`},
			miss:   []string{`{"cpu": 5}`},
		},
		{
			name:   "LE",
			filter: map[string]any{"load": "<= 2.5"},
			match:  []string{`{"load": 2.5}`, `{"load": -1}`},
			miss:   []string{`{"load": 2.6}`},
		},
		{
			name:   "LT",
			filter: map[string]any{"t": "< -3"},
			match:  []string{`{"t": -3.5}`},
			miss:   []string{`{"t": -3}`, `{"t": 0}`},
		},
		{
			name:   "EQ",
			filter: map[string]any{"n": "== 4"},
			match:  []string{`{"n": 4}`, `{"n": 4.0}`},
			miss:   []string{`{"n": 4.1}`, `{"n": "4"}`},
		},
		{
			name:   "NE",
			filter: map[string]any{"n": "!=4 "},
			match:  []string{`{"n": 5}`, `{"n": [4, 5]}`},
			miss:   []string{`{"n": 4}`, `{"n": "5"}`, `{}`},
		},
		{
			name:   "ExistsTrue",
			filter: map[string]any{"x": map[string]any{"exists": true}},
			match:  []string{`{"x": 1}`, `{"x": null}`, `{"x": []}`, `{"x": {}}`},
			miss:   []string{`{}`, `{"y": 1}`},
		},
		{
			name:   "ExistsFalse",
			filter: map[string]any{"x": map[string]any{"exists": false}},
			match:  []string{`{}`, `{"y": 1}`},
			miss:   []string{`{"x": 1}`, `{"x": null}`},
		},
		{
			name:   "ExistsNested",
			filter: map[string]any{"labels.team": map[string]any{"exists": true}},
			match:  []string{`{"labels": {"team": null}}`, `{"labels": [{"x": 1}, {"team": 1}]}`},
			miss:   []string{`{"labels": {}}`, `{"labels": "team"}`, `{"labels": []}`},
		},
		{
			name:   "DottedPath",
			filter: map[string]any{"labels.team": "db"},
			match:  []string{`{"labels": {"team": "db"}}`},
			miss:   []string{`{"labels.team": "db"}`, `{"labels": {"team": "web"}}`, `{"labels": "db"}`},
		},
		{
			name:   "NestedMap",
			filter: map[string]any{"labels": map[string]any{"team": "db", "env": map[string]any{"name": "prod*"}}},
			match:  []string{`{"labels": {"team": "db", "env": {"name": "production"}}}`},
			miss:   []string{`{"labels": {"team": "db"}}`, `{"labels": {"team": "db", "env": {"name": "dev"}}}`},
		},
		{
			name:   "NestedMapWithDots",
			filter: map[string]any{"a": map[string]any{"b.c": int64(1)}},
			match:  []string{`{"a": {"b": {"c": 1}}}`},
		},
		{
			name:   "ArrayField",
			filter: map[string]any{"tags": "prod"},
			match:  []string{`{"tags": ["dev", "prod"]}`, `{"tags": [["prod"]]}`, `{"tags": "prod"}`},
			miss:   []string{`{"tags": []}`, `{"tags": ["dev"]}`, `{"tags": [{"x": "prod"}]}`},
		},
		{
			name:   "ArrayFieldGlobAndList",
			filter: map[string]any{"tags": []any{"team-*", "oncall"}},
			match:  []string{`{"tags": ["x", "team-db"]}`, `{"tags": ["oncall"]}`},
			miss:   []string{`{"tags": ["x", "team"]}`},
		},
		{
			name:   "ArrayOfObjects",
			filter: map[string]any{"disks.name": "sdb", "disks.full": ">= 0.9"},
			match:  []string{`{"disks": [{"name": "sda", "full": 0.95}, {"name": "sdb", "full": 0.1}]}`},
			miss:   []string{`{"disks": [{"name": "sda", "full": 0.95}]}`},
		},
		{
			name:   "AllFields",
			filter: map[string]any{"service": "disk", "status": []any{"CRIT", "WARN"}, "host": "db-*"},
			match:  []string{`{"service": "disk", "status": "CRIT", "host": "db-1"}`},
			miss: []string{
				`{"service": "disk", "status": "CRIT", "host": "web-1"}`,
				`{"service": "disk", "status": "OK", "host": "db-1"}`,
				`{"service": "cpu", "status": "CRIT", "host": "db-1"}`,
				`{"status": "CRIT", "host": "db-1"}`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f, err := match.Compile(tt.filter)
			require.NoError(t, err)
			for _, s := range tt.match {
				for _, event := range []map[string]any{decode(t, s), decodeFloat(t, s)} {
					require.True(t, f.Match(event), "event %s", s)
					if anchors := f.Anchors(); anchors != nil {
						require.True(t, intersects(match.Keys(event), anchors), "event %s: keys %q, anchors %q", s, match.Keys(event), anchors)
					}
				}
			}
			for _, s := range tt.miss {
				require.False(t, f.Match(decode(t, s)), "event %s", s)
				require.False(t, f.Match(decodeFloat(t, s)), "event %s", s)
			}
		})
	}
}

// Events built by Go code may carry Go's integer types.
func TestFilterMatchGoTypes(t *testing.T) {
	t.Parallel()

	f, err := match.Compile(map[string]any{"n": json.Number("3"), "m": ">= 2"})
	require.NoError(t, err)
	for _, n := range []any{3, int8(3), int16(3), int32(3), int64(3), uint(3), uint8(3), uint16(3), uint32(3), uint64(3), float32(3), 3.0, json.Number("3")} {
		require.True(t, f.Match(map[string]any{"n": n, "m": n}), "%T", n)
	}
	require.False(t, f.Match(map[string]any{"n": struct{}{}, "m": 3}))
	require.False(t, f.Match(map[string]any{"n": json.Number("x"), "m": 3}))
	require.False(t, f.Match(nil))
}

func TestFilterDeepEvent(t *testing.T) {
	t.Parallel()

	// A value in 16 nested maps is seen; one in 17 is not.
	path := strings.Repeat("a.", match.MaxDepth-1) + "a"
	f, err := match.Compile(map[string]any{path: "x"})
	require.NoError(t, err)
	event := map[string]any{"a": "x"}
	for range match.MaxDepth - 1 {
		event = map[string]any{"a": event}
	}
	require.True(t, f.Match(event))
	require.Contains(t, match.Keys(event), path+`="x"`)

	// A list counts as a level.
	tags, err := match.Compile(map[string]any{"tags": "x"})
	require.NoError(t, err)
	var v any = "x"
	for range match.MaxDepth - 1 {
		v = []any{v}
	}
	require.True(t, tags.Match(map[string]any{"tags": v}))
	require.Equal(t, []string{`tags="x"`}, match.Keys(map[string]any{"tags": v}))
	require.False(t, tags.Match(map[string]any{"tags": []any{v}}))
	require.Empty(t, match.Keys(map[string]any{"tags": []any{v}}))
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()

	deep := strings.Repeat("a.", match.MaxDepth) + "a"
	many := map[string]any{}
	for i := range match.MaxFields + 1 {
		many[strings.Repeat("x", i+1)] = "v"
	}
	long := make([]any, match.MaxValues+1)
	for i := range long {
		long[i] = "v"
	}

	tests := []struct {
		name   string
		filter map[string]any
		path   string
		msg    string // the whole error, or a regexp of it if it starts with ^
	}{
		{"Empty", map[string]any{}, "", "on[0]: a filter must have at least one field"},
		{"Nil", nil, "", "on[0]: a filter must have at least one field"},
		{"EmptyList", map[string]any{"status": []any{}}, "status", "on[0].status: empty list"},
		{"EmptyStringList", map[string]any{"status": []string{}}, "status", "on[0].status: empty list"},
		{"EmptyMap", map[string]any{"labels": map[string]any{}}, "labels", "on[0].labels: empty map"},
		{"BadRegex", map[string]any{"host": "re:("}, "host", "on[0].host: invalid regex \"re:(\": error parsing regexp: missing closing ): `(`"},
		{"BadRegexInList", map[string]any{"host": []any{"a", "re:a[", "b"}}, "host", "on[0].host: list value 1: invalid regex \"re:a[\": error parsing regexp: missing closing ]: `[`"},
		{"ComparisonNotNumber", map[string]any{"cpu": ">= x"}, "cpu", `on[0].cpu: comparison ">= x": not a number`},
		{"ComparisonEmpty", map[string]any{"cpu": "<"}, "cpu", `on[0].cpu: comparison "<": not a number`},
		{"ComparisonNaN", map[string]any{"cpu": "== NaN"}, "cpu", `on[0].cpu: comparison "== NaN": not a number`},
		{"ComparisonInf", map[string]any{"cpu": "< Inf"}, "cpu", `on[0].cpu: comparison "< Inf": not a number`},
		{"ComparisonLiteral", map[string]any{"html": "<html>"}, "html", `on[0].html: comparison "<html>": not a number`},
		{"BadType", map[string]any{"labels": map[string]any{"team": struct{}{}}}, "labels.team", "on[0].labels.team: a value must be a string, number, bool or nil, or a list or map of those"},
		{"BadTypeFunc", map[string]any{"f": func() {}}, "f", "on[0].f: a value must be a string, number, bool or nil, or a list or map of those"},
		{"ListInList", map[string]any{"s": []any{"a", []any{"b"}}}, "s", "on[0].s: list value 1: a list value must be a string, number, bool or nil"},
		{"MapInList", map[string]any{"s": []any{map[string]any{"exists": true}}}, "s", "on[0].s: list value 0: a list value must be a string, number, bool or nil"},
		{"BadTypeInList", map[string]any{"s": []any{"a", struct{}{}}}, "s", "on[0].s: list value 1: a value must be a string, number, bool or nil, or a list or map of those"},
		{"LongList", map[string]any{"s": long}, "s", "on[0].s: a list has at most 1000 values, got 1001"},
		{"LongString", map[string]any{"s": strings.Repeat("x", match.MaxString+1)}, "s", "on[0].s: a string has at most 1024 bytes, got 1025"},
		{"LongRegex", map[string]any{"s": "re:" + strings.Repeat("x", match.MaxString)}, "s", "on[0].s: a string has at most 1024 bytes, got 1027"},
		{"LongStringInList", map[string]any{"s": []any{strings.Repeat("*", 2000)}}, "s", "on[0].s: list value 0: a string has at most 1024 bytes, got 2000"},
		{"TooManyFields", many, "", "on[0]: a filter has at most 64 fields"},
		{"TooDeep", map[string]any{deep: 1}, deep, "on[0]." + deep + ": a path has at most 16 names, got 17"},
		{"TooDeepNested", nest(match.MaxDepth+1, "a", 1), deep, "on[0]." + deep + ": a path has at most 16 names, got 17"},
		{"EmptyName", map[string]any{"a..b": 1}, "a..b", `on[0].a..b: invalid path "a..b": a name in a path must not be empty`},
		{"EmptyKey", map[string]any{"": 1}, "", `on[0]: invalid path "": a name in a path must not be empty`},
		{"TrailingDot", map[string]any{"a": map[string]any{"b.": 1}}, "a.b.", `on[0].a.b.: invalid path "a.b.": a name in a path must not be empty`},
		{"Twice", map[string]any{"labels.team": "a", "labels": map[string]any{"team": "b"}}, "labels.team", "on[0].labels.team: the field is given twice"},
		{"ExistsNotBool", map[string]any{"x": map[string]any{"exists": "yes"}}, "x", "on[0].x: exists must be true or false"},
		{"ExistsWithOthers", map[string]any{"x": map[string]any{"exists": true, "y": 1}}, "x", `on[0].x: a map with "exists" must have no other key (write a field named exists as "x.exists")`},
		{"InfFloat", map[string]any{"x": inf()}, "x", "on[0].x: a number must be finite"},
		{"NaNFloat", map[string]any{"x": nan()}, "x", "on[0].x: a number must be finite"},
		{"InfJSONNumber", map[string]any{"x": json.Number("1e999")}, "x", "on[0].x: a number must be finite"},
		{"BadJSONNumber", map[string]any{"x": json.Number("abc")}, "x", `on[0].x: invalid number "abc"`},
		// Of many errors, the first in path order is reported.
		{"FirstInOrder", map[string]any{"b": []any{}, "a": map[string]any{}, "c": "re:("}, "a", "on[0].a: empty map"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()

			f, err := match.Compile(tt.filter)
			require.Nil(t, f)
			require.EqualError(t, err, tt.msg)
			var fe *match.FilterError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, 0, fe.Index)
			require.Equal(t, tt.path, fe.Path)
		})
	}
}

// nest returns {"a": {"a": ... {"a": v}}} with depth maps.
func nest(depth int, name string, v any) map[string]any {
	m := map[string]any{name: v}
	for range depth - 1 {
		m = map[string]any{name: m}
	}
	return m
}

func TestCompileRegexErrorUnwraps(t *testing.T) {
	t.Parallel()

	_, err := match.Compile(map[string]any{"host": "re:("})
	var re *syntax.Error
	require.ErrorAs(t, err, &re)
	require.Equal(t, syntax.ErrMissingParen, re.Code)
}

func TestCompileAll(t *testing.T) {
	t.Parallel()

	t.Run("Matches", func(t *testing.T) {
		t.Parallel()

		fs, err := match.CompileAll([]map[string]any{{"service": "disk"}, {"service": "cpu", "cpu": "> 90"}})
		require.NoError(t, err)
		require.Len(t, fs, 2)
		require.True(t, fs[1].Match(map[string]any{"service": "cpu", "cpu": 95.0}))
	})

	t.Run("ErrorNamesFilter", func(t *testing.T) {
		t.Parallel()

		_, err := match.CompileAll([]map[string]any{{"a": 1}, {}, {"host": "re:("}})
		require.EqualError(t, err, "on[1]: a filter must have at least one field")

		_, err = match.CompileAll([]map[string]any{{"a": 1}, {"b": 2}, {"host": "re:("}})
		require.ErrorContains(t, err, `on[2].host: invalid regex "re:(": error parsing regexp: missing closing ): `)
		var fe *match.FilterError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, 2, fe.Index)
		require.Equal(t, "host", fe.Path)
		require.Equal(t, `invalid regex "re:("`, fe.Message)
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()

		_, err := match.CompileAll(nil)
		require.EqualError(t, err, "on: empty list")
		var fe *match.FilterError
		require.ErrorAs(t, err, &fe)
		require.Equal(t, -1, fe.Index)
	})

	t.Run("TooMany", func(t *testing.T) {
		t.Parallel()

		fs := make([]map[string]any, match.MaxFilters+1)
		for i := range fs {
			fs[i] = map[string]any{"a": 1}
		}
		_, err := match.CompileAll(fs)
		require.EqualError(t, err, "on: a list has at most 100 filters, got 101")
		_, err = match.CompileAll(fs[:match.MaxFilters])
		require.NoError(t, err)
	})
}

func TestFilterErrorWithoutCause(t *testing.T) {
	t.Parallel()

	err := &match.FilterError{Index: 3, Path: "a.b", Message: "bad"}
	require.EqualError(t, err, "on[3].a.b: bad")
	require.NoError(t, errors.Unwrap(err))
}

func TestFilterSource(t *testing.T) {
	t.Parallel()

	src := map[string]any{"service": "disk", "status": []any{"CRIT", "WARN"}, "labels": map[string]any{"team": "db"}, "n": json.Number("1")}
	f, err := match.Compile(src)
	require.NoError(t, err)
	got := f.Source()
	require.Equal(t, src, got)

	// The source is a copy: changing either map changes nothing else.
	src["status"].([]any)[0] = "OK"
	got["labels"].(map[string]any)["team"] = "web"
	require.Equal(t, []any{"CRIT", "WARN"}, f.Source()["status"])
	require.Equal(t, map[string]any{"team": "db"}, f.Source()["labels"])
	require.True(t, f.Match(decode(t, `{"service": "disk", "status": "CRIT", "labels": {"team": "db"}, "n": 1}`)))

	b, err := json.Marshal(f.Source())
	require.NoError(t, err)
	require.JSONEq(t, `{"service": "disk", "status": ["CRIT", "WARN"], "labels": {"team": "db"}, "n": 1}`, string(b))
}
