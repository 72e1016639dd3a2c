package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/powny/powny/platform/fnrun"
	"github.com/powny/powny/platform/store"
)

func (s *Server) deploy(w http.ResponseWriter, r *http.Request) error {
	name, err := functionName(r)
	if err != nil {
		return err
	}
	source, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	compiled, err := fnrun.Compile(string(source))
	var srcErr *fnrun.SourceError
	if errors.As(err, &srcErr) {
		p := problem(http.StatusBadRequest, "invalid-source", srcErr.Error())
		p.Field, p.Line, p.Column = "source", srcErr.Line, srcErr.Column
		return p
	}
	if err != nil {
		return fmt.Errorf("compile %s: %w", name, err)
	}
	config, err := json.Marshal(compiled.Config)
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	sum := sha256.Sum256(source)
	author := r.Header.Get("X-Powny-Author")
	if author == "" {
		author = "api"
	}
	v, created, err := s.store.Deploy(r.Context(), store.NewVersion{
		Function: name,
		Source:   string(source),
		Code:     compiled.Code,
		Config:   config,
		SHA256:   hex.EncodeToString(sum[:]),
		Author:   author,
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	s.cfg.Logger.InfoContext(r.Context(), "deployed", "function", name, "version", v.Number, "created", created)
	writeJSON(w, status, v)
	return nil
}

func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request) error {
	fns, err := s.store.ListFunctions(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"functions": nonNil(fns)})
	return nil
}

// functionDetail is a function with the source and config of its active version.
type functionDetail struct {
	store.Function
	Source string          `json:"source"`
	Config json.RawMessage `json:"config"`
}

func (s *Server) getFunction(w http.ResponseWriter, r *http.Request) error {
	name, err := functionName(r)
	if err != nil {
		return err
	}
	fn, err := s.store.GetFunction(r.Context(), name)
	if err != nil {
		return notFound(err, "function %q", name)
	}
	v, err := s.store.GetVersion(r.Context(), name, 0)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, functionDetail{Function: fn, Source: v.Source, Config: v.Config})
	return nil
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) error {
	name, err := functionName(r)
	if err != nil {
		return err
	}
	vs, err := s.store.ListVersions(r.Context(), name)
	if err != nil {
		return notFound(err, "function %q", name)
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": nonNil(vs)})
	return nil
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) error {
	name, err := functionName(r)
	if err != nil {
		return err
	}
	number, err := pathID(r, "version")
	if err != nil {
		return err
	}
	v, err := s.store.GetVersion(r.Context(), name, int(number))
	if err != nil {
		return notFound(err, "version %d of function %q", number, name)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) error {
	name, err := functionName(r)
	if err != nil {
		return err
	}
	body, err := s.readJSON(w, r)
	if err != nil {
		return err
	}
	var req struct {
		Version *int `json:"version"`
	}
	if string(body) != "null" {
		if err := json.Unmarshal(body, &req); err != nil {
			p := problem(http.StatusBadRequest, "bad-request", `body must be {"version": N} with N a positive integer: `+err.Error())
			p.Field = "version"
			return p
		}
	}
	number := 0
	if req.Version != nil {
		if *req.Version <= 0 {
			p := problem(http.StatusBadRequest, "bad-request", "version must be a positive integer, not "+strconv.Itoa(*req.Version))
			p.Field = "version"
			return p
		}
		number = *req.Version
	}
	v, err := s.store.Rollback(r.Context(), name, number)
	if errors.Is(err, store.ErrNotFound) && number == 0 {
		if _, ferr := s.store.GetFunction(r.Context(), name); ferr == nil {
			return problem(http.StatusConflict, "conflict", "function "+strconv.Quote(name)+" has no version older than the active one")
		}
	}
	if err != nil {
		if number > 0 {
			return notFound(err, "version %d of function %q", number, name)
		}
		return notFound(err, "function %q", name)
	}
	s.cfg.Logger.InfoContext(r.Context(), "rolled back", "function", name, "version", v.Number)
	writeJSON(w, http.StatusOK, v)
	return nil
}

// notFound words a store.ErrNotFound for the caller; other errors pass.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return problem(http.StatusNotFound, "not-found", fmt.Sprintf(format, args...)+" does not exist")
	}
	return err
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
