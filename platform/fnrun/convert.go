package fnrun

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/risor-io/risor/object"
)

// inputObject converts main's JSON input to a Risor value; empty input is nil.
func inputObject(input []byte) (object.Object, error) {
	if len(bytes.TrimSpace(input)) == 0 {
		return object.Nil, nil
	}
	value, err := decodeJSON(input)
	if err != nil {
		return nil, err
	}
	return toObject(value)
}

// decodeJSON decodes one JSON value to plain data, with integers as int64 and
// other numbers as float64.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var value any
	if err := dec.Decode(&value); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return normalizeNumbers(value), nil
}

// normalizeNumbers replaces the json.Numbers in data decoded with UseNumber
// by int64 where they are integers and float64 otherwise.
func normalizeNumbers(value any) any {
	switch v := value.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64() // out of range: ±Inf, which fails later with a clear error
		return f
	case []any:
		for i := range v {
			v[i] = normalizeNumbers(v[i])
		}
	case map[string]any:
		for k, x := range v {
			v[k] = normalizeNumbers(x)
		}
	}
	return value
}

// toObject converts plain data to a Risor value. It accepts what perform
// returns and what a journal may give back after a JSON round trip.
func toObject(value any) (object.Object, error) {
	switch v := value.(type) {
	case nil:
		return object.Nil, nil
	case bool:
		return object.NewBool(v), nil
	case int64:
		return object.NewInt(v), nil
	case int:
		return object.NewInt(int64(v)), nil
	case float64:
		return object.NewFloat(v), nil
	case json.Number:
		return toObject(normalizeNumbers(v))
	case string:
		return object.NewString(v), nil
	case []any:
		items := make([]object.Object, len(v))
		for i, item := range v {
			obj, err := toObject(item)
			if err != nil {
				return nil, err
			}
			items[i] = obj
		}
		return object.NewList(items), nil
	case map[string]any:
		items := make(map[string]object.Object, len(v))
		for k, item := range v {
			obj, err := toObject(item)
			if err != nil {
				return nil, err
			}
			items[k] = obj
		}
		return object.NewMap(items), nil
	default:
		return nil, fmt.Errorf("unsupported value of type %T", value)
	}
}

// plainInt reads an integer from plain data, also one that went through JSON
// as a float64 or json.Number.
func plainInt(value any) (int64, bool) {
	switch v := value.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v), true
		}
	case json.Number:
		i, err := v.Int64()
		return i, err == nil
	}
	return 0, false
}

// plainFloat reads a number from plain data.
func plainFloat(value any) (float64, bool) {
	switch v := value.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	case int:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

// scalarString renders a string, number or bool as text (for headers and
// query parameters).
func scalarString(obj object.Object) (string, bool) {
	switch v := obj.(type) {
	case *object.String:
		return v.Value(), true
	case *object.Int, *object.Float, *object.Bool:
		return v.Inspect(), true
	}
	return "", false
}

// logMessage joins values with spaces, strings unquoted, like Risor's print.
func logMessage(args []object.Object) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = fmt.Sprint(object.PrintableValue(a))
	}
	return strings.Join(parts, " ")
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
