package match

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
)

// kind is the type of a scalar.
type kind uint8

const (
	kindNone kind = iota // not a scalar (a map, a list or an unknown type)
	kindString
	kindNumber
	kindBool
	kindNull
)

// scalar is a comparable form of a JSON scalar: two values that a filter
// considers equal have equal scalars (90, 90.0 and json.Number("90") are all
// {kindNumber, 90}). It keys the sets of list matchers and the Index.
type scalar struct {
	kind kind
	s    string  // kindString
	n    float64 // kindNumber; 1 or 0 for kindBool
}

// toScalar converts a value of an event or a filter to a scalar. ok is false
// for maps, lists and types JSON does not produce.
func toScalar(v any) (scalar, bool) {
	switch v := v.(type) {
	case string:
		return scalar{kind: kindString, s: v}, true
	case nil:
		return scalar{kind: kindNull}, true
	case bool:
		if v {
			return scalar{kind: kindBool, n: 1}, true
		}
		return scalar{kind: kindBool}, true
	case json.Number:
		f, ok := parseNumber(string(v))
		if !ok {
			return scalar{}, false
		}
		return number(f), true
	}
	if f, ok := toFloat(v); ok {
		return number(f), true
	}
	return scalar{}, false
}

// number is the scalar of f, with -0 made 0 so that both give one key.
func number(f float64) scalar {
	if f == 0 {
		f = 0
	}
	return scalar{kind: kindNumber, n: f}
}

// toFloat converts Go's numeric types (not json.Number) to float64.
func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case int:
		return float64(v), true
	case float32:
		return float64(v), true
	case int32:
		return float64(v), true
	case int16:
		return float64(v), true
	case int8:
		return float64(v), true
	case uint64:
		return float64(v), true
	case uint:
		return float64(v), true
	case uint32:
		return float64(v), true
	case uint16:
		return float64(v), true
	case uint8:
		return float64(v), true
	}
	return 0, false
}

// parseNumber parses the text of a json.Number. A number too large for a
// float64 is ±Inf.
func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return f, true
}

// text is the canonical text of a scalar in keys and anchors: strings are
// quoted (strconv.Quote), numbers are written the shortest way that reads
// back the same float64 (without an exponent for whole numbers below 1e21),
// and bools and null are true, false and null.
func (s scalar) text() string {
	switch s.kind {
	case kindString:
		return strconv.Quote(s.s)
	case kindNumber:
		if s.n == math.Trunc(s.n) && math.Abs(s.n) < 1e21 {
			return strconv.FormatFloat(s.n, 'f', -1, 64)
		}
		return strconv.FormatFloat(s.n, 'g', -1, 64)
	case kindBool:
		if s.n != 0 {
			return "true"
		}
		return "false"
	case kindNull:
		return "null"
	}
	return ""
}

// key is the key of the scalar s at path: path=text.
func key(path string, s scalar) string {
	return path + "=" + s.text()
}
