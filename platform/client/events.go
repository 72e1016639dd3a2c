package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
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

// Event is a stored event.
type Event struct {
	ID         int64           `json:"id"`
	DedupKey   string          `json:"dedup_key,omitempty"`
	Body       json.RawMessage `json:"body"`
	Started    int             `json:"started"` // how many invocations it started
	Woke       int             `json:"woke"`    // how many waiting invocations it woke
	ReceivedAt time.Time       `json:"received_at"`
	// StartedInvocations and WokeInvocations come with GetEvent only.
	StartedInvocations []EventInvocation `json:"started_invocations,omitempty"`
	WokeInvocations    []EventInvocation `json:"woke_invocations,omitempty"`
}

// ListEvents returns a page of events, newest first: below the id before
// (0: the newest), at most limit (0: the API's default). nextBefore is not
// 0 when there may be more.
func (c *Client) ListEvents(ctx context.Context, before int64, limit int) (events []Event, nextBefore int64, err error) {
	q := url.Values{}
	if before != 0 {
		q.Set("before", strconv.FormatInt(before, 10))
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var page struct {
		Events     []Event `json:"events"`
		NextBefore int64   `json:"next_before"`
	}
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/events", query: q}, &page); err != nil {
		return nil, 0, err
	}
	return page.Events, page.NextBefore, nil
}

// GetEvent returns an event with the invocations it started and woke.
func (c *Client) GetEvent(ctx context.Context, id int64) (Event, error) {
	var e Event
	_, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/events/" + strconv.FormatInt(id, 10)}, &e)
	return e, err
}
