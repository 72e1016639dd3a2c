package client

import (
	"context"
	"encoding/json"
	"net/http"
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
