package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
)

// AcceptedEvent says what sending an event did.
type AcceptedEvent struct {
	// ID is the event's id; for a duplicate, the id of the event first
	// sent with its dedup key.
	ID int64 `json:"id"`
	// Duplicate: the dedup key was used before; nothing was started or woken.
	Duplicate bool `json:"duplicate"`
	// Started are the invocations of the functions whose triggers it matched.
	Started []EventInvocation `json:"started"`
	// Woke are the waiting invocations (wait_event) it was delivered to.
	Woke []EventInvocation `json:"woke"`
}

// EventInvocation names an invocation an event started or woke.
type EventInvocation struct {
	Function   string `json:"function"`
	Invocation int64  `json:"invocation"`
}

// SendEvents sends events (each a JSON object, with an optional top-level
// "dedup_key" string) in one request: all are accepted, or none (an error
// names the index of the bad one). Result i answers events[i].
func (c *Client) SendEvents(ctx context.Context, events []json.RawMessage) ([]AcceptedEvent, error) {
	body, err := json.Marshal(events)
	if err != nil {
		return nil, err //nolint:wrapcheck // names the bad value
	}
	var out struct {
		Events []AcceptedEvent `json:"events"`
	}
	r := request{method: http.MethodPost, path: "/v1/events", body: body, contentType: "application/json"}
	if _, err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	return out.Events, nil
}

// SendEvent sends one event; dedupKey, if not empty, is sent as its
// Idempotency-Key.
func (c *Client) SendEvent(ctx context.Context, event json.RawMessage, dedupKey string) (AcceptedEvent, error) {
	r := request{
		method: http.MethodPost, path: "/v1/events", body: bytes.TrimSpace(event),
		contentType: "application/json", header: http.Header{},
	}
	if dedupKey != "" {
		r.header.Set("Idempotency-Key", dedupKey)
	}
	var out AcceptedEvent
	if _, err := c.do(ctx, r, &out); err != nil {
		return AcceptedEvent{}, err
	}
	return out, nil
}
