package events

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/powny/powny/platform/match"
	"github.com/powny/powny/platform/store"
)

// Event is one event to accept.
type Event struct {
	// Body is the event as sent: a JSON object. It is stored as is, and is
	// the input of the invocations it starts.
	Body json.RawMessage
	// Fields is Body decoded, with numbers as json.Number (see Decode).
	Fields map[string]any
	// DedupKey makes a repeated event a no-op: "" for none.
	DedupKey string
}

// Decode reads an event from its JSON body: an object, whose "dedup_key",
// if present, must be a string.
func Decode(body json.RawMessage) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return Event{}, fmt.Errorf("an event must be a JSON object, not %s", describeJSON(body))
	}
	e := Event{Body: body, Fields: fields}
	if key, ok := fields["dedup_key"]; ok {
		s, isString := key.(string)
		if !isString || s == "" {
			return Event{}, fmt.Errorf("dedup_key must be a non-empty string, not %s", describeValue(key))
		}
		e.DedupKey = s
	}
	return e, nil
}

// Service accepts events.
type Service struct {
	store  *store.Store
	logger *slog.Logger

	reload   sync.Mutex // one reload at a time
	triggers atomic.Pointer[triggers]
	filters  sync.Map // the source of a wait's filter -> *match.Filter
	nfilters atomic.Int64
}

// triggers are the trigger filters of every function, current at revision.
type triggers struct {
	revision int64
	index    *match.Index[string]
}

// maxCachedFilters bounds the cache of compiled wait filters.
const maxCachedFilters = 10_000

// New returns a Service on st.
func New(st *store.Store, logger *slog.Logger) *Service {
	return &Service{store: st, logger: cmp.Or(logger, slog.New(slog.DiscardHandler))}
}

// Accept stores events, starts the functions each matches and wakes the
// invocations waiting for them, all in one transaction; result i answers
// events[i].
func (s *Service) Accept(ctx context.Context, events []Event) ([]store.AcceptedEvent, error) {
	index, err := s.index(ctx)
	if err != nil {
		return nil, err
	}
	news := make([]store.NewEvent, len(events))
	var keys []string
	for i, e := range events {
		news[i] = store.NewEvent{Body: e.Body, DedupKey: e.DedupKey, Functions: index.Match(e.Fields)}
		keys = append(keys, match.Keys(e.Fields)...)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	return s.store.AcceptEvents(ctx, news, keys, func(waits []store.Wait, live []bool) ([]int, error) {
		return s.route(events, waits, live), nil
	})
}

// route gives each wait the first live event that matches its filter.
func (s *Service) route(events []Event, waits []store.Wait, live []bool) []int {
	takers := make([]int, len(waits))
	for k, w := range waits {
		takers[k] = -1
		f := s.waitFilter(w.Filter)
		if f == nil {
			continue
		}
		for i, e := range events {
			if live[i] && f.Match(e.Fields) {
				takers[k] = i
				break
			}
		}
	}
	return takers
}

// waitFilter compiles the filter of a wait, once per distinct filter.
func (s *Service) waitFilter(source json.RawMessage) *match.Filter {
	key := string(source)
	if f, ok := s.filters.Load(key); ok {
		return f.(*match.Filter)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(source))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		s.logger.Error("a stored wait filter is not a JSON object; skipped", slog.String("filter", key))
		return nil
	}
	f, err := match.Compile(m)
	if err != nil {
		// Validated by wait_event() before it was stored: not expected.
		s.logger.Error("a stored wait filter does not compile; skipped", slog.String("filter", key), slog.String("err", err.Error()))
		return nil
	}
	if s.nfilters.Add(1) > maxCachedFilters {
		s.filters.Clear()
		s.nfilters.Store(1)
	}
	s.filters.Store(key, f)
	return f
}

// index returns the trigger index, reloaded first if a deploy or a
// rollback moved the trigger revision since it was built.
func (s *Service) index(ctx context.Context) (*match.Index[string], error) {
	rev, err := s.store.TriggerRevision(ctx)
	if err != nil {
		return nil, err
	}
	if t := s.triggers.Load(); t != nil && t.revision >= rev {
		return t.index, nil
	}
	s.reload.Lock()
	defer s.reload.Unlock()
	if t := s.triggers.Load(); t != nil && t.revision >= rev {
		return t.index, nil // another accept reloaded meanwhile
	}
	list, rev, err := s.store.ListTriggers(ctx)
	if err != nil {
		return nil, err
	}
	index := match.NewIndex[string]()
	for _, t := range list {
		var on []map[string]any
		dec := json.NewDecoder(bytes.NewReader(t.On))
		dec.UseNumber()
		if err := dec.Decode(&on); err != nil {
			s.logger.ErrorContext(ctx, "a function's triggers are not a list of objects; it is not triggered by events",
				slog.String("function", t.Function), slog.String("err", err.Error()))
			continue
		}
		filters, err := match.CompileAll(on)
		if err != nil {
			// Validated at deploy: not expected.
			s.logger.ErrorContext(ctx, "a function's triggers do not compile; it is not triggered by events",
				slog.String("function", t.Function), slog.String("err", err.Error()))
			continue
		}
		index.Add(t.Function, filters)
	}
	s.triggers.Store(&triggers{revision: rev, index: index})
	s.logger.DebugContext(ctx, "loaded the trigger filters", slog.Int64("revision", rev), slog.Int("functions", index.Len()))
	return index, nil
}

// describeJSON names the type of a JSON value for an error message.
func describeJSON(body json.RawMessage) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "invalid JSON"
	}
	return describeValue(v)
}

func describeValue(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	default:
		return "an object"
	}
}
