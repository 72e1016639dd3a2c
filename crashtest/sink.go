package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"
)

// SinkCall is one effect a function performed: a POST {"k": K, "step": Step}
// that reached the sink.
type SinkCall struct {
	K    string
	Step int
	// At is when the request arrived, before the sink's delay: the effect
	// happened at or before At.
	At time.Time
	// Attempt and Worker are the invocation's current attempt and worker
	// when the request arrived (Sink.Lookup), if the sink has a Lookup: a
	// run performs effects only while it owns the invocation, so they say
	// which run performed the effect. 0 and "" when unknown.
	Attempt int
	Worker  string
	// LookupErr is why the lookup failed, if it did.
	LookupErr string
}

// Sink is the HTTP endpoint the test functions post their effects to. It
// records every call, then answers 200 {"ok": true} after Delay, so that
// kills land while effects are in flight too.
type Sink struct {
	URL string

	delay  func() time.Duration
	lookup func(ctx context.Context, k string) (attempt int, worker string, err error)
	srv    *httptest.Server

	mu      sync.Mutex
	calls   []SinkCall
	changed chan struct{} // closed and replaced on every call
}

// SinkConfig configures a Sink.
type SinkConfig struct {
	// Each answer waits a random time in [MinDelay, MaxDelay); MinDelay if
	// MaxDelay is not larger. Zero: no wait.
	MinDelay, MaxDelay time.Duration
	// Lookup, if set, tells which attempt of which worker runs the
	// invocation of key k; it is called when a request arrives.
	Lookup func(ctx context.Context, k string) (attempt int, worker string, err error)
}

// NewSink starts a sink on 127.0.0.1; it is closed when the test ends.
func NewSink(tb testing.TB, cfg SinkConfig) *Sink {
	tb.Helper()
	s := &Sink{lookup: cfg.Lookup, changed: make(chan struct{})}
	s.delay = func() time.Duration {
		if cfg.MaxDelay <= cfg.MinDelay {
			return cfg.MinDelay
		}
		return cfg.MinDelay + rand.N(cfg.MaxDelay-cfg.MinDelay)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	var body struct {
		K    string `json:"k"`
		Step int    `json:"step"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.K == "" {
		http.Error(w, fmt.Sprintf("want {\"k\": ..., \"step\": ...}: %v", err), http.StatusBadRequest)
		return
	}
	call := SinkCall{K: body.K, Step: body.Step, At: at}
	if s.lookup != nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		var err error
		call.Attempt, call.Worker, err = s.lookup(ctx, body.K)
		cancel()
		if err != nil {
			call.LookupErr = err.Error()
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, call)
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()

	select {
	case <-time.After(s.delay()):
	case <-r.Context().Done():
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok": true}`))
}

// Calls returns every call so far, in arrival order.
func (s *Sink) Calls() []SinkCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SinkCall(nil), s.calls...)
}

// Count returns how many calls (k, step) made.
func (s *Sink) Count(k string, step int) int {
	n := 0
	for _, c := range s.Calls() {
		if c.K == k && c.Step == step {
			n++
		}
	}
	return n
}

// ByKey groups the calls by key, then step, each in arrival order.
func (s *Sink) ByKey() map[string]map[int][]SinkCall {
	out := map[string]map[int][]SinkCall{}
	for _, c := range s.Calls() {
		if out[c.K] == nil {
			out[c.K] = map[int][]SinkCall{}
		}
		out[c.K][c.Step] = append(out[c.K][c.Step], c)
	}
	return out
}

// Wait waits until cond holds for the calls, at most timeout; it reports
// whether it did.
func (s *Sink) Wait(timeout time.Duration, cond func(calls []SinkCall) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok := cond(s.calls)
		changed := s.changed
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-changed:
		case <-deadline.C:
			return false
		}
	}
}

// Steps returns the distinct steps key k reached, sorted.
func (s *Sink) Steps(k string) []int {
	seen := map[int]bool{}
	for _, c := range s.Calls() {
		if c.K == k {
			seen[c.Step] = true
		}
	}
	steps := make([]int, 0, len(seen))
	for st := range seen {
		steps = append(steps, st)
	}
	sort.Ints(steps)
	return steps
}
