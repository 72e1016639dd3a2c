// Package match compiles the event filters of functions' triggers, matches
// events against them, and indexes many filters to match an event fast.
//
// A function's config lists its filters in "on"; an event (a JSON object
// decoded into map[string]any) triggers the function if any filter matches:
//
//	config := {"on": [{"service": "disk", "status": ["CRIT", "WARN"], "host": "db-*"}]}
//
// [CompileAll] compiles such a list, [Compile] one filter, and
// [Filter.Match] evaluates a filter. [Index] finds, among the filters of
// many functions, the ones an event matches. [Filter.Anchors] and [Keys] let
// a database do the same prefiltering: a waiting invocation stores its
// filter's anchors, and an event can match it only if the event's keys
// overlap them.
//
// # Filters
//
// A filter maps field paths to matchers, and matches an event if every field
// matches. A path is dotted: "labels.team" reads event["labels"]["team"]. A
// map value that is not {"exists": ...} nests paths: {"labels": {"team":
// "db"}} is {"labels.team": "db"}. If a value on the way is a list, each
// element is looked at: "disks.name" reads the name of every object in the
// list "disks".
//
// The matchers:
//
//   - An exact value: a string, a number, a bool or nil (JSON null). Numbers
//     compare as float64: 90, 90.0, int64(90) and json.Number("90") are
//     equal.
//   - A list: any of its values, each an exact value, a glob, a regex or a
//     comparison (not a list or map).
//   - A glob: a string with "*" (any run of characters) or "?" (one
//     character) that must match the whole string value. `\*`, `\?` and `\\`
//     are a literal star, question mark and backslash; a string with only
//     escaped ones is an exact match of the unescaped text.
//   - A regex: "re:" and Go RE2 syntax, unanchored: "re:db" matches "mydb1";
//     write "re:^db$" to match the whole value.
//   - A comparison: a string starting with >=, >, <=, <, == or != and a
//     number, spaces optional: ">= 90", "<-3", "!= 4". It matches numbers
//     only (not strings that look like numbers). A string that starts with
//     one of these operators is always a comparison; match such text with a
//     regex ("re:^<html>$").
//   - {"exists": true} or {"exists": false}: the path is present (with any
//     value, null included) or absent. A map with the key "exists" is always
//     this operator; write a field named exists as "path.exists".
//
// Globs and regexes match strings only. If the value at the path is a list,
// a matcher (other than exists) matches if any element matches.
//
// Limits, errors beyond them: [MaxFilters] filters in a list, [MaxFields]
// fields in a filter, [MaxDepth] names in a path, [MaxValues] values in a
// list, [MaxString] bytes in a string. Errors are [*FilterError]s that name
// the filter and the field: `on[0].status: empty list`.
//
// # Anchors and keys
//
// [Keys] gives one "path=value" key for every scalar leaf of an event
// (`service="disk"`, `cpu=90`, `ok=true`). A filter's anchors are the keys
// of one of its exact fields: if a filter matches an event, the event's keys
// contain one of its anchors. The [Index] files each filter under its
// anchors; filters without any exact field are evaluated for every event.
//
// # Imports
//
// match may import the Go standard library only: the config reader, the
// store and the event router build on it.
package match
