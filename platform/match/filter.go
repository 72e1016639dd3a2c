package match

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Limits of a filter. Compile and CompileAll return a [*FilterError] for a
// filter beyond them.
const (
	// MaxFilters is the most filters in a list (a config's "on").
	MaxFilters = 100
	// MaxFields is the most fields in a filter, nested-map fields counted
	// one by one.
	MaxFields = 64
	// MaxDepth is the most names in a field path. Match and Keys also ignore
	// the values of an event nested in more than MaxDepth maps and lists.
	MaxDepth = 16
	// MaxValues is the most values in a list matcher.
	MaxValues = 1000
	// MaxString is the most bytes in a string of a filter: an exact value, a
	// glob, a regex or a comparison.
	MaxString = 1024
)

// FilterError is the error Compile and CompileAll return for an invalid
// filter. It names the filter (Index) and the field (Path) so that the
// caller can point at the source of the filter.
type FilterError struct {
	// Index is the position of the filter in the list: 0 from Compile, -1
	// for an error of the list as a whole.
	Index int
	// Path is the dotted path of the field, "" for an error of the whole
	// filter.
	Path string
	// Message says what is wrong.
	Message string
	// Err is the cause, such as a regexp error, or nil.
	Err error
}

// Error returns, for example, `on[0].status: empty list`.
func (e *FilterError) Error() string {
	var b strings.Builder
	b.WriteString("on")
	if e.Index >= 0 {
		b.WriteString("[" + strconv.Itoa(e.Index) + "]")
	}
	if e.Path != "" {
		b.WriteString("." + e.Path)
	}
	b.WriteString(": " + e.Message)
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Err.
func (e *FilterError) Unwrap() error { return e.Err }

// Filter is one compiled filter: an event matches it if every field
// matches. A Filter is immutable and safe for concurrent use.
type Filter struct {
	source  map[string]any
	fields  []field
	anchors []string
	// anchor is the index in fields of the anchor field, or -1.
	anchor int
}

// field is one path of a filter and its matcher.
type field struct {
	path string
	segs []string
	// exists is set for {"exists": ...}: want is whether the path must be
	// present, and the matchers are unused.
	exists, want bool
	// A scalar matches if it is one of vals (a few exact values, scanned),
	// in set (many exact values), or matches one of others (globs, regexes,
	// comparisons).
	vals   []scalar
	set    map[scalar]struct{}
	others []matcher
	// values are all the exact values (in vals or set). A field without
	// others can be the anchor of its filter.
	values []scalar
	// cost orders the fields of a filter: cheap tests first.
	cost int
}

// maxScan is the most exact values of a list matcher tested one by one;
// more go to a set.
const maxScan = 8

// test reports whether the scalar leaf v matches the field.
func (fd *field) test(v scalar) bool {
	for i := range fd.vals {
		if v == fd.vals[i] {
			return true
		}
	}
	if fd.set != nil {
		if _, ok := fd.set[v]; ok {
			return true
		}
	}
	for _, m := range fd.others {
		if m.match(v) {
			return true
		}
	}
	return false
}

// Compile compiles one filter, a map from field paths to matchers (see the
// package documentation). Errors are [*FilterError]s with Index 0.
func Compile(filter map[string]any) (*Filter, error) {
	f, err := compile(filter)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// compile is Compile with the error's type.
func compile(filter map[string]any) (*Filter, *FilterError) {
	if len(filter) == 0 {
		return nil, &FilterError{Message: "a filter must have at least one field"}
	}
	f := &Filter{anchor: -1}
	if err := f.addFields("", nil, filter); err != nil {
		return nil, err
	}
	if len(f.fields) > MaxFields {
		return nil, &FilterError{Message: fmt.Sprintf("a filter has at most %d fields", MaxFields)}
	}
	slices.SortFunc(f.fields, func(a, b field) int { return strings.Compare(a.path, b.path) })
	for i, fd := range f.fields {
		if i > 0 && fd.path == f.fields[i-1].path {
			return nil, &FilterError{Path: fd.path, Message: "the field is given twice"}
		}
	}
	// Cheap tests first; SortStableFunc keeps the paths in order.
	slices.SortStableFunc(f.fields, func(a, b field) int { return a.cost - b.cost })
	f.chooseAnchor()
	f.source = copyMap(filter)
	return f, nil
}

// CompileAll compiles a list of filters, a config's "on": an event matches
// the list if any filter matches. The list must have 1 to MaxFilters
// filters. Errors are [*FilterError]s whose Index is the filter's position.
func CompileAll(filters []map[string]any) ([]*Filter, error) {
	switch {
	case len(filters) == 0:
		return nil, &FilterError{Index: -1, Message: "empty list"}
	case len(filters) > MaxFilters:
		return nil, &FilterError{Index: -1, Message: fmt.Sprintf("a list has at most %d filters, got %d", MaxFilters, len(filters))}
	}
	out := make([]*Filter, len(filters))
	for i, filter := range filters {
		f, err := compile(filter)
		if err != nil {
			err.Index = i
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// addFields adds the fields of the (nested) filter map m, whose path is
// prefix (segs).
func (f *Filter) addFields(prefix string, segs []string, m map[string]any) *FilterError {
	// In order, so that of many errors the same one is reported.
	for _, name := range slices.Sorted(maps.Keys(m)) {
		v := m[name]
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		parts := strings.Split(name, ".")
		if slices.Contains(parts, "") {
			return &FilterError{Path: path, Message: fmt.Sprintf("invalid path %q: a name in a path must not be empty", path)}
		}
		fsegs := append(slices.Clip(segs), parts...)
		if len(fsegs) > MaxDepth {
			return &FilterError{Path: path, Message: fmt.Sprintf("a path has at most %d names, got %d", MaxDepth, len(fsegs))}
		}
		if sub, ok := v.(map[string]any); ok {
			if err := f.addMap(path, fsegs, sub); err != nil {
				return err
			}
			continue
		}
		fd, err := compileField(path, v)
		if err != nil {
			return err
		}
		fd.segs = fsegs
		f.fields = append(f.fields, fd)
		if len(f.fields) > MaxFields {
			// Stop early on a huge filter; compile reports it.
			return nil
		}
	}
	return nil
}

// addMap adds a map value at path: {"exists": bool}, or nested fields.
func (f *Filter) addMap(path string, segs []string, m map[string]any) *FilterError {
	if len(m) == 0 {
		return &FilterError{Path: path, Message: "empty map"}
	}
	e, ok := m["exists"]
	if !ok {
		return f.addFields(path, segs, m)
	}
	if len(m) > 1 {
		return &FilterError{Path: path, Message: `a map with "exists" must have no other key (write a field named exists as "` + path + `.exists")`}
	}
	want, ok := e.(bool)
	if !ok {
		return &FilterError{Path: path, Message: "exists must be true or false"}
	}
	f.fields = append(f.fields, field{path: path, segs: segs, exists: true, want: want, cost: 1})
	return nil
}

// compileField compiles the matcher of a field that is not a map.
func compileField(path string, v any) (field, *FilterError) {
	switch v := v.(type) {
	case []any:
		return compileList(path, v)
	case []string:
		l := make([]any, len(v))
		for i, s := range v {
			l[i] = s
		}
		return compileList(path, l)
	}
	m, s, err := compileScalar(path, v)
	if err != nil {
		return field{}, err
	}
	if m == nil {
		return field{path: path, vals: []scalar{s}, values: []scalar{s}}, nil
	}
	return field{path: path, others: []matcher{m}, cost: costOf(m)}, nil
}

// compileList compiles a list matcher.
func compileList(path string, l []any) (field, *FilterError) {
	switch {
	case len(l) == 0:
		return field{}, &FilterError{Path: path, Message: "empty list"}
	case len(l) > MaxValues:
		return field{}, &FilterError{Path: path, Message: fmt.Sprintf("a list has at most %d values, got %d", MaxValues, len(l))}
	}
	fd := field{path: path}
	set := map[scalar]struct{}{}
	for i, v := range l {
		switch v.(type) {
		case []any, []string, map[string]any:
			return field{}, &FilterError{Path: path, Message: fmt.Sprintf("list value %d: a list value must be a string, number, bool or nil", i)}
		}
		m, s, err := compileScalar(path, v)
		if err != nil {
			err.Message = fmt.Sprintf("list value %d: %s", i, err.Message)
			return field{}, err
		}
		if m != nil {
			fd.others = append(fd.others, m)
			fd.cost = max(fd.cost, costOf(m))
			continue
		}
		if _, dup := set[s]; !dup {
			set[s] = struct{}{}
			fd.values = append(fd.values, s)
		}
	}
	if len(fd.values) > maxScan {
		fd.set = set
	} else {
		fd.vals = fd.values
	}
	return fd, nil
}

// costOf ranks matchers: exact values first, then comparisons, globs and
// regexes.
func costOf(m matcher) int {
	switch m.(type) {
	case compare:
		return 1
	case glob:
		return 2
	case pattern:
		return 3
	}
	return 0
}

// compileScalar compiles a scalar matcher. It returns either a matcher, or
// (nil and) the scalar of an exact value.
func compileScalar(path string, v any) (matcher, scalar, *FilterError) {
	fail := func(msg string, err error) (matcher, scalar, *FilterError) {
		return nil, scalar{}, &FilterError{Path: path, Message: msg, Err: err}
	}
	switch v := v.(type) {
	case string:
		if len(v) > MaxString {
			return fail(fmt.Sprintf("a string has at most %d bytes, got %d", MaxString, len(v)), nil)
		}
		return compileString(path, v)
	case json.Number:
		f, ok := parseNumber(string(v))
		if !ok {
			return fail(fmt.Sprintf("invalid number %q", string(v)), nil)
		}
		if math.IsInf(f, 0) {
			return fail("a number must be finite", nil)
		}
		return nil, number(f), nil
	}
	if f, ok := toFloat(v); ok {
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return fail("a number must be finite", nil)
		}
		return nil, number(f), nil
	}
	if s, ok := toScalar(v); ok {
		return nil, s, nil
	}
	return fail("a value must be a string, number, bool or nil, or a list or map of those", nil)
}

// compileString compiles a string: a regex, a comparison, a glob or an
// exact string.
func compileString(path, s string) (matcher, scalar, *FilterError) {
	if expr, ok := strings.CutPrefix(s, "re:"); ok {
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, scalar{}, &FilterError{Path: path, Message: fmt.Sprintf("invalid regex %q", s), Err: err}
		}
		return pattern{re}, scalar{}, nil
	}
	if o, rest, ok := cutOp(s); ok {
		n, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil || math.IsInf(n, 0) || math.IsNaN(n) {
			return nil, scalar{}, &FilterError{Path: path, Message: fmt.Sprintf("comparison %q: not a number", s)}
		}
		return compare{op: o, n: n, src: s}, scalar{}, nil
	}
	if strings.ContainsAny(s, "*?") {
		g, text, meta := parseGlob(s)
		if meta {
			return g, scalar{}, nil
		}
		s = text
	}
	return nil, scalar{kind: kindString, s: s}, nil
}

// cutOp cuts a comparison operator off the start of s.
func cutOp(s string) (op, string, bool) {
	for _, o := range [...]struct {
		text string
		op   op
	}{{">=", opGE}, {"<=", opLE}, {"==", opEQ}, {"!=", opNE}, {">", opGT}, {"<", opLT}} {
		if rest, ok := strings.CutPrefix(s, o.text); ok {
			return o.op, rest, true
		}
	}
	return 0, "", false
}

// chooseAnchor picks the anchor field: the exact field with the fewest
// values, fields whose values include a bool or null (few distinct values,
// so not selective) after all others, ties broken by path.
func (f *Filter) chooseAnchor() {
	best := -1
	rank := func(fd field) (int, int) {
		weak := 0
		for _, s := range fd.values {
			if s.kind == kindBool || s.kind == kindNull {
				weak = 1
			}
		}
		return weak, len(fd.values)
	}
	for i, fd := range f.fields {
		if fd.exists || len(fd.others) > 0 {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		w, n := rank(fd)
		bw, bn := rank(f.fields[best])
		if w < bw || w == bw && (n < bn || n == bn && fd.path < f.fields[best].path) {
			best = i
		}
	}
	f.anchor = best
	if best < 0 {
		return
	}
	fd := f.fields[best]
	f.anchors = make([]string, len(fd.values))
	for i, s := range fd.values {
		f.anchors[i] = key(fd.path, s)
	}
	slices.Sort(f.anchors)
}

// Anchors returns the keys (see [Keys]) of the filter's anchor field, or nil
// if the filter has no exact field: an event can match the filter only if
// Keys(event) contains one of the anchors. The anchor field is the exact
// field (one value, or a list of exact values only) with the fewest values;
// fields with a bool or null value come after all others; ties go to the
// first path in byte order. The result is sorted and must not be modified.
func (f *Filter) Anchors() []string { return f.anchors }

// Source returns a copy of the map the filter was compiled from, for storing
// or printing.
func (f *Filter) Source() map[string]any { return copyMap(f.source) }

// Match reports whether event matches the filter: every field matches.
func (f *Filter) Match(event map[string]any) bool {
	if f.anchor >= 0 && !f.fields[f.anchor].match(event) {
		return false
	}
	for i := range f.fields {
		if i != f.anchor && !f.fields[i].match(event) {
			return false
		}
	}
	return true
}

// match reports whether the field matches event.
func (fd *field) match(event map[string]any) bool {
	if fd.exists {
		return present(event, fd.segs, 0) == fd.want
	}
	return fd.find(event, fd.segs, 0)
}

// find reports whether a scalar at segs below v, which is at depth depth,
// matches. A list fans out: each element is looked at with the same segs.
func (fd *field) find(v any, segs []string, depth int) bool {
	for ; depth <= MaxDepth; depth++ {
		switch x := v.(type) {
		case map[string]any:
			if len(segs) == 0 {
				return false
			}
			child, ok := x[segs[0]]
			if !ok {
				return false
			}
			v, segs = child, segs[1:]
			continue
		case []any:
			for _, e := range x {
				if fd.find(e, segs, depth+1) {
					return true
				}
			}
			return false
		}
		if len(segs) > 0 {
			return false
		}
		s, ok := toScalar(v)
		return ok && fd.test(s)
	}
	return false
}

// present reports whether segs below v, which is at depth depth, is present.
func present(v any, segs []string, depth int) bool {
	if depth > MaxDepth {
		return false
	}
	if len(segs) == 0 {
		return true
	}
	switch v := v.(type) {
	case map[string]any:
		child, ok := v[segs[0]]
		return ok && present(child, segs[1:], depth+1)
	case []any:
		for _, e := range v {
			if present(e, segs, depth+1) {
				return true
			}
		}
	}
	return false
}

// copyMap copies a filter map deeply (maps and lists).
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyValue(e)
		}
		return out
	case []string:
		return slices.Clone(v)
	}
	return v
}
