package api

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/powny/powny/platform/coord"
	"github.com/powny/powny/platform/events"
	"github.com/powny/powny/platform/invoke"
	"github.com/powny/powny/platform/store"
)

// Config configures the API handler.
type Config struct {
	// Token is the bearer token every request but /healthz must carry. Required.
	Token string
	// MaxBodyBytes limits request bodies (sources and inputs). Default 1 MiB.
	MaxBodyBytes int64
	// MaxWait caps the ?wait= of an invoke. Default 10 minutes.
	MaxWait time.Duration
	// Logger logs requests at debug level and failures at error level. Default: discard.
	Logger *slog.Logger
	// Coord says which members are alive and who leads the collectors, for
	// GET /v1/system. Default: an in-process coordinator.
	Coord coord.Coordinator
	// Distributed says Coord is ZooKeeper, shared by every process.
	Distributed bool
}

// Server is the API's http.Handler.
type Server struct {
	cfg    Config
	pool   *pgxpool.Pool
	store  *store.Store
	invoke *invoke.Service
	waiter *invoke.Waiter
	events *events.Service
	mux    *http.ServeMux
}

// New returns the API handler.
func New(cfg Config, st *store.Store, inv *invoke.Service, waiter *invoke.Waiter) (*Server, error) {
	if cfg.Token == "" {
		return nil, errors.New("api: Config.Token is required")
	}
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, 1<<20)
	cfg.MaxWait = cmp.Or(cfg.MaxWait, 10*time.Minute)
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	if cfg.Coord == nil {
		cfg.Coord = coord.NewLocal()
	}
	s := &Server{
		cfg: cfg, pool: st.Pool(), store: st, invoke: inv, waiter: waiter,
		events: events.New(st, cfg.Logger), mux: http.NewServeMux(),
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /healthz", s.health)
	auth := func(pattern string, h handlerFunc) { s.mux.Handle(pattern, s.authenticated(h)) }
	// {name...} takes the rest of the path, so that a name with a slash gets
	// a 400 naming the problem rather than a bare 404.
	auth("PUT /v1/functions/{name...}", s.deploy)
	auth("GET /v1/functions", s.listFunctions)
	auth("GET /v1/functions/{name...}", s.getFunction)
	auth("GET /v1/functions/{name}/versions", s.listVersions)
	auth("GET /v1/functions/{name}/versions/{version}", s.getVersion)
	auth("POST /v1/functions/{name}/rollback", s.rollback)
	auth("POST /v1/functions/{name}/invoke", s.invokeFunction)
	auth("GET /v1/invocations", s.listInvocations)
	auth("GET /v1/invocations/{id}", s.getInvocation)
	auth("DELETE /v1/invocations/{id}", s.cancelInvocation)
	auth("GET /v1/invocations/{id}/logs", s.invocationLogs)
	auth("GET /v1/invocations/{id}/journal", s.invocationJournal)
	auth("POST /v1/events", s.postEvents)
	auth("GET /v1/events", s.listEvents)
	auth("GET /v1/events/{id}", s.getEvent)
	auth("GET /v1/system", s.system)
	// The operator's settings: settings.go.
	auth("PUT /v1/env/{name...}", s.putSetting(store.SettingEnv))
	auth("GET /v1/env", s.listSettings(store.SettingEnv, "env"))
	auth("DELETE /v1/env/{name...}", s.deleteSetting(store.SettingEnv))
	auth("PUT /v1/secrets/{name...}", s.putSetting(store.SettingSecret))
	auth("GET /v1/secrets", s.listSettings(store.SettingSecret, "secrets"))
	auth("DELETE /v1/secrets/{name...}", s.deleteSetting(store.SettingSecret))
	s.mux.Handle("/", s.authenticated(func(_ http.ResponseWriter, r *http.Request) error {
		return problem(http.StatusNotFound, "not-found", "no route for "+r.Method+" "+r.URL.Path)
	}))
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		if v := recover(); v != nil {
			s.cfg.Logger.ErrorContext(r.Context(), "panic in handler", slog.Any("panic", v), slog.String("path", r.URL.Path))
			writeProblem(rec, problem(http.StatusInternalServerError, "internal", "internal error"))
		}
		s.cfg.Logger.DebugContext(r.Context(), "request", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", rec.status), slog.Duration("took", time.Since(start)))
	}()
	s.mux.ServeHTTP(rec, r)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// handlerFunc is a handler that may fail; a *Problem is answered as it is,
// any other error as a 500 (and logged).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) authenticated(h handlerFunc) http.Handler {
	want := []byte("Bearer " + s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="powny"`)
			detail := "the Authorization header must be \"Bearer <token>\""
			if len(got) > 0 {
				detail = "wrong bearer token"
			}
			writeProblem(w, problem(http.StatusUnauthorized, "unauthorized", detail))
			return
		}
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var p *Problem
	switch {
	case errors.As(err, &p):
	case errors.Is(err, store.ErrNotFound):
		p = problem(http.StatusNotFound, "not-found", err.Error())
	case errors.Is(err, store.ErrConflict), errors.Is(err, invoke.ErrFinished):
		p = problem(http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return // the client went away
	default:
		s.cfg.Logger.ErrorContext(r.Context(), "request failed", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.String("err", err.Error()))
		p = problem(http.StatusInternalServerError, "internal", "internal error: "+err.Error())
	}
	writeProblem(w, p)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		writeProblem(w, problem(http.StatusServiceUnavailable, "unavailable", "database: "+err.Error()))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
