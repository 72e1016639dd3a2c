package client

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// ProblemError is returned by every Client method when the API answers with a
// status that is not 2xx. It carries the RFC 9457 problem the API sent; when the
// answer was not problem+json, Detail holds the body text instead.
type ProblemError struct {
	// Status is the HTTP status of the answer.
	Status int
	// Type is the problem type URI, like "urn:powny:problem:invalid-source".
	Type   string
	Title  string
	Detail string
	// Field, Line, Column and Limit say where the problem is, when known.
	Field  string
	Line   int
	Column int
	Limit  int64
}

// Error returns the detail (or the title) followed by the status, like
// "unknown function \"x\" (status 404)".
func (e *ProblemError) Error() string {
	msg := cmp.Or(e.Detail, e.Title, http.StatusText(e.Status), "request failed")
	return fmt.Sprintf("%s (status %d)", msg, e.Status)
}

// Code is the stable problem code: the last segment of Type ("not-found",
// "invalid-source", ...), or "" when the answer had no type.
func (e *ProblemError) Code() string {
	if e.Type == "" || e.Type == "about:blank" {
		return ""
	}
	return e.Type[strings.LastIndexAny(e.Type, ":/")+1:]
}

// Is matches the status sentinels (ErrNotFound, ...) by HTTP status, and
// another *ProblemError by its non-zero Status and non-empty Type.
func (e *ProblemError) Is(target error) bool {
	switch t := target.(type) {
	case *statusError:
		return t.status == e.Status
	case *ProblemError:
		if t.Status == 0 && t.Type == "" {
			return false
		}
		return (t.Status == 0 || t.Status == e.Status) && (t.Type == "" || t.Type == e.Type)
	}
	return false
}

// statusError is the type of the status sentinels.
type statusError struct {
	status int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s (status %d)", strings.ToLower(http.StatusText(e.status)), e.status)
}

// Sentinels for errors.Is: a *ProblemError matches the one of its status.
var (
	ErrBadRequest   error = &statusError{http.StatusBadRequest}
	ErrUnauthorized error = &statusError{http.StatusUnauthorized}
	ErrNotFound     error = &statusError{http.StatusNotFound}
	ErrConflict     error = &statusError{http.StatusConflict}
	ErrTooLarge     error = &statusError{http.StatusRequestEntityTooLarge}
	ErrUnavailable  error = &statusError{http.StatusServiceUnavailable}
)

// maxProblemBytes bounds how much of an error answer is read.
const maxProblemBytes = 64 << 10

// maxRawDetail bounds the body text kept as Detail for answers that are not
// problem+json.
const maxRawDetail = 1000

// problemDocument is the JSON form of a problem.
type problemDocument struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Field  string `json:"field"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
	Limit  int64  `json:"limit"`
}

// readProblem builds the ProblemError of an answer that is not 2xx.
func readProblem(resp *http.Response) *ProblemError {
	perr := &ProblemError{Status: resp.StatusCode}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxProblemBytes))
	if err != nil && len(body) == 0 {
		perr.Detail = fmt.Sprintf("%s; reading the answer failed: %v", http.StatusText(resp.StatusCode), err)
		return perr
	}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mediaType == "application/problem+json" || mediaType == "application/json" {
		var doc problemDocument
		if json.Unmarshal(body, &doc) == nil {
			perr.Type, perr.Title, perr.Detail = doc.Type, doc.Title, doc.Detail
			perr.Field, perr.Line, perr.Column, perr.Limit = doc.Field, doc.Line, doc.Column, doc.Limit
		}
	}
	if perr.Title == "" && perr.Detail == "" {
		text := strings.TrimSpace(string(body))
		if len(text) > maxRawDetail {
			text = text[:maxRawDetail] + "…"
		}
		perr.Detail = text
	}
	return perr
}
