package match

import (
	"maps"
	"slices"
)

// MaxKeys is the most keys Keys returns for an event.
const MaxKeys = 1000

// Keys returns the keys of an event: one "path=value" key for every scalar
// leaf, where path is the dotted path of the leaf and value its canonical
// text: strings quoted as by strconv.Quote, numbers in their shortest form
// (90, 90.0 and json.Number("90") all give "90"; whole numbers below 1e21
// without an exponent), true, false and null. For example
//
//	{"service": "disk", "cpu": 90.0, "tags": ["a", "b"], "labels": {"team": "db"}}
//
// gives cpu=90, labels.team="db", service="disk", tags="a" and tags="b". The
// elements of a list each give a key under the list's path (objects in a
// list give keys under it too: "disks.name"), so that Keys contains every
// key an anchor (see [Filter.Anchors]) of a filter the event matches can
// have: a store finds the waiting filters an event may match with
// `anchors && keys`.
//
// Keys are deduplicated and in path order (map keys sorted, list elements
// in order). Leaves nested in more than MaxDepth maps and lists, strings
// longer than MaxString (no anchor can equal them) and values of types JSON
// does not produce give no key. At most MaxKeys keys are returned: filters
// anchored on the keys of a larger event past the first MaxKeys are missed,
// so keep events small.
func Keys(event map[string]any) []string {
	k := keyer{seen: map[string]struct{}{}}
	k.walk(event, "", 0)
	return k.keys
}

// keyer collects the keys of an event.
type keyer struct {
	keys []string
	seen map[string]struct{}
}

// walk adds the keys of v, which is at path and depth; it returns false
// once MaxKeys keys are collected.
func (k *keyer) walk(v any, path string, depth int) bool {
	if depth > MaxDepth {
		return true
	}
	switch v := v.(type) {
	case map[string]any:
		for _, name := range slices.Sorted(maps.Keys(v)) {
			p := name
			if depth > 0 {
				p = path + "." + name
			}
			if !k.walk(v[name], p, depth+1) {
				return false
			}
		}
		return true
	case []any:
		for _, e := range v {
			if !k.walk(e, path, depth+1) {
				return false
			}
		}
		return true
	}
	s, ok := toScalar(v)
	if !ok || s.kind == kindString && len(s.s) > MaxString {
		return true
	}
	key := key(path, s)
	if _, dup := k.seen[key]; dup {
		return true
	}
	k.seen[key] = struct{}{}
	k.keys = append(k.keys, key)
	return len(k.keys) < MaxKeys
}
