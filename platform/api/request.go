package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/powny/powny/platform/fnrun"
)

// functionName validates the {name} path value.
func functionName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	var why string
	switch {
	case name == "":
		why = "is empty"
	case !utf8.ValidString(name) || !isASCII(name):
		why = "has non-ASCII characters"
	case len(name) > 128:
		why = fmt.Sprintf("is %d bytes long (limit 128)", len(name))
	case !fnrun.ValidFunctionName(name):
		why = "may contain only letters, digits, '-' and '_' (no slashes, dots or spaces)"
	default:
		return name, nil
	}
	p := problem(http.StatusBadRequest, "invalid-name", fmt.Sprintf("function name %q %s", name, why))
	p.Field = "name"
	return "", p
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// pathID parses a positive integer path value.
func pathID(r *http.Request, key string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue(key), 10, 64)
	if err != nil || id <= 0 {
		p := problem(http.StatusBadRequest, "bad-request", fmt.Sprintf("%s %q is not a positive integer", key, r.PathValue(key)))
		p.Field = key
		return 0, p
	}
	return id, nil
}

// queryInt parses an optional non-negative integer query parameter.
func queryInt(r *http.Request, key string) (int64, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		p := problem(http.StatusBadRequest, "bad-request", fmt.Sprintf("query parameter %s=%q is not a non-negative integer", key, v))
		p.Field = key
		return 0, p
	}
	return n, nil
}

// readBody reads the whole body, refusing more than the configured limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		p := problem(http.StatusRequestEntityTooLarge, "too-large",
			fmt.Sprintf("request body exceeds the limit of %d bytes", tooBig.Limit))
		p.Limit = tooBig.Limit
		return nil, p
	}
	if err != nil {
		return nil, problem(http.StatusBadRequest, "bad-request", "reading request body: "+err.Error())
	}
	return body, nil
}

// readJSON reads a body that must be one JSON value; an empty body is null.
// A syntax error names its line and column.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request) (json.RawMessage, error) {
	body, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return json.RawMessage("null"), nil
	}
	if err := checkJSON(body); err != nil {
		return nil, err
	}
	return body, nil
}

// checkJSON reports whether body is exactly one valid JSON value.
func checkJSON(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			return jsonProblem(body, dec.InputOffset(), "unexpected data after the JSON value")
		}
		return nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return jsonProblem(body, syn.Offset, syn.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return jsonProblem(body, int64(len(body)), "unexpected end of JSON input")
	}
	return jsonProblem(body, dec.InputOffset(), err.Error())
}

func jsonProblem(body []byte, offset int64, msg string) *Problem {
	line, col := position(body, offset)
	p := problem(http.StatusBadRequest, "invalid-json", fmt.Sprintf("body is not valid JSON: line %d, column %d: %s", line, col, msg))
	p.Field, p.Line, p.Column = "body", line, col
	return p
}

// position turns a byte offset into a 1-based line and column.
func position(body []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(body)))
	before := body[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = utf8.RuneCount(before[bytes.LastIndexByte(before, '\n')+1:])
	if col == 0 {
		col = 1
	}
	return line, col
}
