package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/powny/powny/platform/journal"
	"github.com/powny/powny/platform/store"
)

// maxIdempotencyKey is the longest Idempotency-Key accepted.
const maxIdempotencyKey = 255

// invocationDetail is an invocation with its attempt history and the
// checkpoint rows of its journal.
type invocationDetail struct {
	store.Invocation
	History        []store.Attempt        `json:"history"`
	CheckpointRows []store.CheckpointInfo `json:"checkpoint_rows"`
	Waits          []store.WaitInfo       `json:"waits"`
}

// journalAnswer is what `powny replay` needs to re-run an invocation: the
// compiled code it is pinned to, its input and its journal.
type journalAnswer struct {
	ID       int64           `json:"id"`
	Function string          `json:"function"`
	Version  int             `json:"version"`
	State    string          `json:"state"`
	Input    json.RawMessage `json:"input"`
	Code     []byte          `json:"code"` // base64 in JSON
	Entries  json.RawMessage `json:"entries"`
}

func (s *Server) invokeFunction(w http.ResponseWriter, r *http.Request) error {
	name, err := functionName(r)
	if err != nil {
		return err
	}
	wait, err := s.waitParam(r)
	if err != nil {
		return err
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		p := problem(http.StatusBadRequest, "bad-request",
			fmt.Sprintf("Idempotency-Key is %d bytes long (limit %d)", len(key), maxIdempotencyKey))
		p.Field, p.Limit = "Idempotency-Key", maxIdempotencyKey
		return p
	}
	input, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	inv, existing, err := s.invoke.Start(r.Context(), store.NewInvocation{
		Function: name, Input: input, Trigger: "http", IdempotencyKey: key, Notify: wait > 0,
	})
	if errors.Is(err, store.ErrNotFound) {
		return notFound(err, "function %q", name)
	}
	if err != nil {
		return err
	}
	if existing {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	if wait > 0 && !store.Finished(inv.State) {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		defer cancel()
		if inv, err = s.waiter.Wait(ctx, inv.ID); err != nil {
			return err
		}
	}
	w.Header().Set("Location", "/v1/invocations/"+strconv.FormatInt(inv.ID, 10))
	status := http.StatusAccepted
	if store.Finished(inv.State) {
		status = http.StatusOK
	}
	writeJSON(w, status, inv)
	return nil
}

func (s *Server) waitParam(r *http.Request) (time.Duration, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > s.cfg.MaxWait {
		p := problem(http.StatusBadRequest, "bad-request",
			fmt.Sprintf("query parameter wait=%q must be a duration such as 30s, from 0 to %s", v, s.cfg.MaxWait))
		p.Field = "wait"
		return 0, p
	}
	return d, nil
}

func (s *Server) getInvocation(w http.ResponseWriter, r *http.Request) error {
	inv, err := s.pathInvocation(r)
	if err != nil {
		return err
	}
	id := inv.ID
	history, err := s.store.ListAttempts(r.Context(), id)
	if err != nil {
		return err
	}
	checkpoints, err := s.store.ListCheckpoints(r.Context(), id)
	if err != nil {
		return err
	}
	waits, err := s.store.ListWaits(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, invocationDetail{
		Invocation: inv, History: nonNil(history), CheckpointRows: nonNil(checkpoints), Waits: nonNil(waits),
	})
	return nil
}

// pathInvocation reads the invocation the {id} path value names.
func (s *Server) pathInvocation(r *http.Request) (store.Invocation, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return store.Invocation{}, err
	}
	inv, err := s.store.GetInvocation(r.Context(), id)
	if err != nil {
		return store.Invocation{}, notFound(err, "invocation %d", id)
	}
	return inv, nil
}

func (s *Server) invocationJournal(w http.ResponseWriter, r *http.Request) error {
	inv, err := s.pathInvocation(r)
	if err != nil {
		return err
	}
	code, _, err := s.store.LoadCode(r.Context(), inv.VersionID)
	if err != nil {
		return err
	}
	rows, err := s.store.LoadJournal(r.Context(), inv.ID)
	if err != nil {
		return err
	}
	entries, err := journal.DecodeAll(rows)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(nonNil(entries))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, journalAnswer{
		ID: inv.ID, Function: inv.Function, Version: inv.Version, State: inv.State, Input: inv.Input, Code: code, Entries: raw,
	})
	return nil
}

var validStates = map[string]bool{ //nolint:gochecknoglobals // a constant set
	store.StateQueued: true, store.StateRunning: true, store.StateSucceeded: true,
	store.StateFailed: true, store.StateCancelled: true,
}

func (s *Server) listInvocations(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.ListFilter{Function: q.Get("function"), State: q.Get("state")}
	if f.State != "" && !validStates[f.State] {
		p := problem(http.StatusBadRequest, "bad-request",
			fmt.Sprintf("query parameter state=%q must be one of queued, running, succeeded, failed, cancelled", f.State))
		p.Field = "state"
		return p
	}
	var err error
	if f.BeforeID, f.Limit, err = pageParams(r); err != nil {
		return err
	}
	invs, err := s.store.ListInvocations(r.Context(), f)
	if err != nil {
		return err
	}
	writePage(w, "invocations", invs, f.Limit, func(inv store.Invocation) int64 { return inv.ID })
	return nil
}

// pageParams reads the keyset pagination of a list: ?before=ID (only ids
// below it) and ?limit=N (default 50, at most 1,000).
func pageParams(r *http.Request) (before int64, limit int, err error) {
	if before, err = queryInt(r, "before"); err != nil {
		return 0, 0, err
	}
	n, err := queryInt(r, "limit")
	if err != nil {
		return 0, 0, err
	}
	if n > 1000 {
		p := problem(http.StatusBadRequest, "bad-request", fmt.Sprintf("query parameter limit=%d exceeds 1000", n))
		p.Field, p.Limit = "limit", 1000
		return 0, 0, p
	}
	return before, int(cmp.Or(n, 50)), nil
}

// writePage answers a page of a list, newest first, under key: with
// "next_before" when it is full, as there may be more.
func writePage[T any](w http.ResponseWriter, key string, items []T, limit int, id func(T) int64) {
	answer := map[string]any{key: nonNil(items)}
	if n := len(items); n > 0 && n == limit {
		answer["next_before"] = id(items[n-1])
	}
	writeJSON(w, http.StatusOK, answer)
}

func (s *Server) cancelInvocation(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id")
	if err != nil {
		return err
	}
	inv, err := s.invoke.Cancel(r.Context(), id)
	if err != nil {
		return notFound(err, "invocation %d", id)
	}
	s.cfg.Logger.InfoContext(r.Context(), "cancelled", "invocation", id)
	writeJSON(w, http.StatusOK, inv)
	return nil
}

func (s *Server) invocationLogs(w http.ResponseWriter, r *http.Request) error {
	after, err := queryInt(r, "after")
	if err != nil {
		return err
	}
	limit, err := queryInt(r, "limit")
	if err != nil {
		return err
	}
	inv, err := s.pathInvocation(r)
	if err != nil {
		return err
	}
	logs, err := s.store.ListLogs(r.Context(), inv.ID, after, int(min(limit, 10_000)))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"logs": nonNil(logs)})
	return nil
}
