package match

import (
	"slices"
	"strconv"
	"strings"
)

// Index finds the ids (functions, waiting invocations) whose filters an
// event matches without evaluating every filter.
//
// Each filter is filed under the values of its anchor field (see
// [Filter.Anchors]) in a tree of the anchored paths; filters without an
// anchor are evaluated for every event. Match walks the event and the tree
// together, looking only at the anchored paths, gathers the filters filed
// under the values it finds and evaluates their other fields. Add keeps one
// copy of equal fields of different filters (a status list, a host glob),
// so that evaluating candidates reads little memory.
//
// An Index is built with Add and then only read: Match may be called by many
// goroutines at once, but not while Add runs.
type Index[T comparable] struct {
	ids     []T
	owners  map[T]int32
	entries []entry
	// fields are the distinct fields of all filters, and refs the fields
	// of each entry to evaluate (its anchor field left out): filters often
	// share fields, and shared ones stay in the CPU's caches.
	fields   []field
	fieldIDs map[string]int32
	refs     []int32
	root     node
	// always are the entries of the filters without an anchor.
	always []int32
}

// entry is one filter of the index.
type entry struct {
	owner int32 // index in ids
	// start and end delimit the entry's fields in Index.refs. An entry is a
	// candidate when an event has a value of its anchor field, so the
	// anchor field is left out.
	start, end int32
}

// node is one name of an anchored path.
type node struct {
	children map[string]*node
	// values maps the anchor values of the filters anchored at this path
	// to their entries.
	values map[scalar][]int32
}

// NewIndex returns an empty index.
func NewIndex[T comparable]() *Index[T] {
	return &Index[T]{owners: map[T]int32{}, fieldIDs: map[string]int32{}}
}

// Add adds id with its filters: an event matches id if it matches any of
// them. Adding an id again adds more filters to it. The filters must not be
// nil.
func (x *Index[T]) Add(id T, filters []*Filter) {
	owner, ok := x.owners[id]
	if !ok {
		owner = int32(len(x.ids))
		x.owners[id] = owner
		x.ids = append(x.ids, id)
	}
	for _, f := range filters {
		if f == nil {
			panic("match: Index.Add with a nil *Filter")
		}
		e := int32(len(x.entries))
		start := int32(len(x.refs))
		for i := range f.fields {
			if i != f.anchor {
				x.refs = append(x.refs, x.fieldID(&f.fields[i]))
			}
		}
		x.entries = append(x.entries, entry{owner: owner, start: start, end: int32(len(x.refs))})
		if f.anchor < 0 {
			x.always = append(x.always, e)
			continue
		}
		fd := &f.fields[f.anchor]
		n := &x.root
		for _, seg := range fd.segs {
			child := n.children[seg]
			if child == nil {
				if n.children == nil {
					n.children = map[string]*node{}
				}
				child = &node{}
				n.children[seg] = child
			}
			n = child
		}
		if n.values == nil {
			n.values = map[scalar][]int32{}
		}
		for _, s := range fd.values {
			n.values[s] = append(n.values[s], e)
		}
	}
}

// fieldID returns the index in x.fields of a field equal to fd, adding fd
// if there is none.
func (x *Index[T]) fieldID(fd *field) int32 {
	// A key of tokens that cannot be confused: quoted strings, canonical
	// numbers, and a letter for the kind of each.
	var b strings.Builder
	b.WriteString(strconv.Quote(fd.path))
	switch {
	case fd.exists && fd.want:
		b.WriteString("\x00e")
	case fd.exists:
		b.WriteString("\x00a")
	}
	for _, s := range fd.vals {
		b.WriteString("\x00v" + s.text())
	}
	if fd.set != nil {
		for _, s := range fd.values {
			b.WriteString("\x00s" + s.text())
		}
	}
	for _, m := range fd.others {
		b.WriteString("\x00o" + strconv.Quote(m.source()))
	}
	k := b.String()
	if id, ok := x.fieldIDs[k]; ok {
		return id
	}
	id := int32(len(x.fields))
	x.fields = append(x.fields, *fd)
	x.fieldIDs[k] = id
	return id
}

// Len returns the number of ids added.
func (x *Index[T]) Len() int { return len(x.ids) }

// Match returns the ids whose filters event matches, each once, in the
// order they were first added; nil if none.
func (x *Index[T]) Match(event map[string]any) []T {
	cands := slices.Clone(x.always)
	cands = x.root.collect(event, 0, cands)
	if len(cands) == 0 {
		return nil
	}
	// Entries are in the order of Add; an entry found under several values
	// is evaluated once, and an owner that matched is not tested again.
	slices.Sort(cands)
	var owners []int32
	last := int32(-1)
	for i, c := range cands {
		if i > 0 && c == cands[i-1] {
			continue
		}
		e := &x.entries[c]
		if e.owner == last || !x.eval(e, event) {
			continue
		}
		last = e.owner
		owners = append(owners, e.owner)
	}
	if len(owners) == 0 {
		return nil
	}
	// Owners are in order unless an id was added again after others.
	slices.Sort(owners)
	owners = slices.Compact(owners)
	out := make([]T, len(owners))
	for i, o := range owners {
		out[i] = x.ids[o]
	}
	return out
}

// eval reports whether the filter of the candidate e matches event.
func (x *Index[T]) eval(e *entry, event map[string]any) bool {
	for _, r := range x.refs[e.start:e.end] {
		if !x.fields[r].match(event) {
			return false
		}
	}
	return true
}

// collect appends to cands the entries filed under the values found in v,
// which is at depth depth, for the paths below n.
func (n *node) collect(v any, depth int, cands []int32) []int32 {
	if depth > MaxDepth {
		return cands
	}
	switch v := v.(type) {
	case map[string]any:
		if len(n.children) == 0 {
			return cands
		}
		// Look up the smaller side in the larger.
		if len(v) < len(n.children) {
			for name, child := range v {
				if cn := n.children[name]; cn != nil {
					cands = cn.collect(child, depth+1, cands)
				}
			}
			return cands
		}
		for name, cn := range n.children {
			if child, ok := v[name]; ok {
				cands = cn.collect(child, depth+1, cands)
			}
		}
		return cands
	case []any:
		for _, e := range v {
			cands = n.collect(e, depth+1, cands)
		}
		return cands
	}
	if n.values == nil {
		return cands
	}
	if s, ok := toScalar(v); ok {
		cands = append(cands, n.values[s]...)
	}
	return cands
}
