package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Journal is what re-running an invocation locally needs: the compiled code
// of the version it is pinned to, its input and its journal.
type Journal struct {
	ID       int64           `json:"id"`
	Function string          `json:"function"`
	Version  int             `json:"version"`
	State    string          `json:"state"`
	Input    json.RawMessage `json:"input"`
	Code     []byte          `json:"code"`
	Entries  json.RawMessage `json:"entries"` // a JSON array of journal entries
}

// GetJournal returns the journal of invocation id.
func (c *Client) GetJournal(ctx context.Context, id int64) (Journal, error) {
	var j Journal
	if _, err := c.do(ctx, request{method: http.MethodGet, path: invocationPath(id, "journal")}, &j); err != nil {
		return Journal{}, err
	}
	return j, nil
}

// Member is a live process of the cluster.
type Member struct {
	ID           string    `json:"id"`
	Role         string    `json:"role"`
	Host         string    `json:"host"`
	PID          int       `json:"pid"`
	Version      string    `json:"version"`
	StartedAt    time.Time `json:"started_at"`
	RegisteredAt time.Time `json:"registered_at"`
}

// System is the state of the cluster: its members by role, the collector
// that leads, and the invocation jobs by state.
type System struct {
	Coordinator     string              `json:"coordinator"`
	Members         map[string][]Member `json:"members"`
	CollectorLeader *Member             `json:"collector_leader"`
	Queue           struct {
		Available int64 `json:"available"`
		Scheduled int64 `json:"scheduled"`
		Running   int64 `json:"running"`
		Retryable int64 `json:"retryable"`
	} `json:"queue"`
}

// GetSystem returns the state of the cluster.
func (c *Client) GetSystem(ctx context.Context) (System, error) {
	var s System
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/system"}, &s); err != nil {
		return System{}, err
	}
	return s, nil
}

// Member returns the live member id of role, if listed.
func (s System) Member(role, id string) (Member, bool) {
	for _, m := range s.Members[role] {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}
