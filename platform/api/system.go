package api

import (
	"errors"
	"net/http"

	"github.com/powny/powny/platform/coord"
	"github.com/powny/powny/platform/store"
)

// systemAnswer is what GET /v1/system says: who is alive, who leads the
// collectors, and how much work waits.
type systemAnswer struct {
	// Coordinator is "zookeeper", or "local" (in-process: the workers listed
	// are those that heartbeat in Postgres).
	Coordinator     string                    `json:"coordinator"`
	Members         map[string][]coord.Member `json:"members"`
	CollectorLeader *coord.Member             `json:"collector_leader"`
	Queue           store.QueueDepth          `json:"queue"`
}

// roles are the member roles GET /v1/system lists.
var roles = []string{"api", "collector", "worker"} //nolint:gochecknoglobals // a constant list

func (s *Server) system(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	answer := systemAnswer{Coordinator: "local", Members: map[string][]coord.Member{}}
	if s.cfg.Distributed {
		answer.Coordinator = "zookeeper"
	}
	for _, role := range roles {
		ms, err := s.cfg.Coord.Members(ctx, role)
		if err != nil {
			return problem(http.StatusServiceUnavailable, "unavailable", "coordinator: "+err.Error())
		}
		answer.Members[role] = nonNil(ms)
	}
	if !s.cfg.Distributed {
		// Workers in other processes are known by their heartbeats.
		ws, err := s.store.ListWorkers(ctx)
		if err != nil {
			return err
		}
		answer.Members["worker"] = make([]coord.Member, len(ws))
		for i, wk := range ws {
			answer.Members["worker"][i] = coord.Member{
				ID: wk.ID, Role: "worker", Host: wk.Host, PID: wk.PID,
				Version: wk.Version, StartedAt: wk.StartedAt, RegisteredAt: wk.StartedAt,
			}
		}
	}
	leader, err := s.cfg.Coord.Election("collector").Leader(ctx)
	switch {
	case errors.Is(err, coord.ErrNoLeader):
	case err != nil:
		return problem(http.StatusServiceUnavailable, "unavailable", "coordinator: "+err.Error())
	default:
		answer.CollectorLeader = &coord.Member{ID: leader, Role: "collector"}
		for _, m := range answer.Members["collector"] {
			if m.ID == leader {
				answer.CollectorLeader = &m
			}
		}
	}
	if answer.Queue, err = s.store.QueueDepth(ctx); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, answer)
	return nil
}
