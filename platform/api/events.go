package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/powny/powny/platform/events"
	"github.com/powny/powny/platform/store"
)

// Limits of POST /v1/events.
const (
	maxEventBatch = 1000      // events in one request
	maxEventBytes = 256 << 10 // bytes of one event
	maxDedupKey   = 255       // bytes of a dedup key
)

// EventsResult answers a batch of events: one entry per event, in order.
type EventsResult struct {
	Events any `json:"events"`
}

// postEvents accepts one event (a JSON object) or a batch (an array of
// them), atomically: a bad event fails the whole request, naming its index,
// and nothing is stored.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) error {
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	header := r.Header.Get("Idempotency-Key")
	if len(header) > maxDedupKey {
		p := problem(http.StatusBadRequest, "bad-request", fmt.Sprintf("Idempotency-Key is %d bytes long (limit %d)", len(header), maxDedupKey))
		p.Field, p.Limit = "Idempotency-Key", maxDedupKey
		return p
	}
	trimmed := bytes.TrimSpace(body)
	batch := len(trimmed) > 0 && trimmed[0] == '['
	var raws []json.RawMessage
	if batch {
		if header != "" {
			p := problem(http.StatusBadRequest, "bad-request", "Idempotency-Key applies to a single event: give each event of a batch its own dedup_key")
			p.Field = "Idempotency-Key"
			return p
		}
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return problem(http.StatusBadRequest, "invalid-json", "body: "+err.Error())
		}
		if len(raws) == 0 {
			return problem(http.StatusBadRequest, "bad-request", "the batch has no events")
		}
		if len(raws) > maxEventBatch {
			p := problem(http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("the batch has %d events (limit %d)", len(raws), maxEventBatch))
			p.Limit = maxEventBatch
			return p
		}
	} else {
		raws = []json.RawMessage{trimmed}
	}
	evs := make([]events.Event, len(raws))
	for i, raw := range raws {
		if evs[i], err = decodeEvent(raw, i, batch, header); err != nil {
			return err
		}
	}
	accepted, err := s.events.Accept(r.Context(), evs)
	if err != nil {
		return err
	}
	if !batch {
		status := http.StatusAccepted
		if accepted[0].Duplicate {
			status = http.StatusOK
		}
		writeJSON(w, status, accepted[0])
		return nil
	}
	writeJSON(w, http.StatusAccepted, EventsResult{Events: accepted})
	return nil
}

// decodeEvent checks event i of a request; header is the Idempotency-Key
// of a single event.
func decodeEvent(raw json.RawMessage, i int, batch bool, header string) (events.Event, error) {
	where, field := "the event", ""
	if batch {
		where, field = fmt.Sprintf("events[%d]", i), fmt.Sprintf("[%d]", i)
	}
	if len(raw) > maxEventBytes {
		p := problem(http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("%s is %d bytes (limit %d)", where, len(raw), maxEventBytes))
		p.Field, p.Limit = field, maxEventBytes
		return events.Event{}, p
	}
	e, err := events.Decode(raw)
	if err == nil && len(e.DedupKey) > maxDedupKey {
		err = fmt.Errorf("dedup_key is %d bytes long (limit %d)", len(e.DedupKey), maxDedupKey)
	}
	if err == nil && header != "" {
		if e.DedupKey != "" && e.DedupKey != header {
			err = fmt.Errorf("dedup_key %q differs from the Idempotency-Key header %q", e.DedupKey, header)
		}
		e.DedupKey = header
	}
	if err != nil {
		p := problem(http.StatusBadRequest, "invalid-event", fmt.Sprintf("%s: %v", where, err))
		p.Field = field
		return events.Event{}, p
	}
	return e, nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	before, limit, err := pageParams(r)
	if err != nil {
		return err
	}
	evs, err := s.store.ListEvents(r.Context(), before, limit)
	if err != nil {
		return err
	}
	writePage(w, "events", evs, limit, func(e store.Event) int64 { return e.ID })
	return nil
}

// eventDetail is an event with the invocations it started and woke.
type eventDetail struct {
	store.Event
	StartedList []store.Started `json:"started_invocations"`
	WokeList    []store.Started `json:"woke_invocations"`
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	e, started, woke, err := s.store.GetEvent(r.Context(), id)
	if err != nil {
		return notFound(err, "event %d", id)
	}
	writeJSON(w, http.StatusOK, eventDetail{Event: e, StartedList: nonNil(started), WokeList: nonNil(woke)})
	return nil
}
