package api

import (
	"encoding/json"
	"net/http"
)

// Problem is an RFC 9457 problem detail. Type is "urn:powny:problem:" plus a
// stable code; Field, Line, Column and Limit say where the problem is, when known.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	Limit  int64  `json:"limit,omitempty"`
}

// Error makes a Problem usable as an error inside handlers.
func (p *Problem) Error() string { return p.Detail }

// Problem codes and their titles.
var problemTitles = map[string]string{ //nolint:gochecknoglobals // a constant table
	"bad-request":          "Bad request",
	"unauthorized":         "Missing or wrong bearer token",
	"not-found":            "Not found",
	"invalid-name":         "Invalid function name",
	"invalid-source":       "Invalid function source",
	"invalid-json":         "Invalid JSON",
	"invalid-setting-name": "Invalid env or secret name",
	"invalid-event":        "Invalid event",
	"too-large":            "Request body too large",
	"conflict":             "Conflict",
	"unavailable":          "Service unavailable",
	"internal":             "Internal error",
}

func problem(status int, code, detail string) *Problem {
	return &Problem{Type: "urn:powny:problem:" + code, Title: problemTitles[code], Status: status, Detail: detail}
}

func writeProblem(w http.ResponseWriter, p *Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
