package crashtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// API calls Powny's HTTP API with the bearer token.
type API struct {
	URL   string
	Token string
	HTTP  *http.Client
}

// Invocation is GET /v1/invocations/{id}, the fields the tests read.
type Invocation struct {
	ID             int64           `json:"id"`
	Function       string          `json:"function"`
	State          string          `json:"state"`
	Input          json.RawMessage `json:"input"`
	Result         json.RawMessage `json:"result"`
	Error          *Failure        `json:"error"`
	Attempts       int             `json:"attempts"`
	Failures       int             `json:"failures"`
	Checkpoints    int             `json:"checkpoints"`
	JournalEntries int             `json:"journal_entries"`
	WakeAt         *time.Time      `json:"wake_at"`
	Worker         string          `json:"worker"`
	RiverJobID     int64           `json:"river_job_id"`
	StartedAt      *time.Time      `json:"started_at"`
	FinishedAt     *time.Time      `json:"finished_at"`
	History        []Attempt       `json:"history"`
}

// Failure is an invocation's error.
type Failure struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Line    int    `json:"line"`
}

// Attempt is one entry of an invocation's history.
type Attempt struct {
	Attempt    int        `json:"attempt"`
	Worker     string     `json:"worker"`
	RiverJobID int64      `json:"river_job_id"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Outcome    string     `json:"outcome"`
	Error      string     `json:"error"`
}

// Finished reports whether the state is final.
func (i Invocation) Finished() bool {
	return i.State == "succeeded" || i.State == "failed" || i.State == "cancelled"
}

func (a *API) do(ctx context.Context, method, path string, body []byte, out any, want ...int) error {
	req, err := http.NewRequestWithContext(ctx, method, a.URL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	resp, err := a.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	ok := false
	for _, code := range want {
		ok = ok || resp.StatusCode == code
	}
	if !ok {
		return fmt.Errorf("%s %s answered %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode %s: %w", method, path, data, err)
		}
	}
	return nil
}

// Deploy deploys source as function name.
func (a *API) Deploy(ctx context.Context, name, source string) error {
	return a.do(ctx, http.MethodPut, "/v1/functions/"+name, []byte(source), nil, http.StatusCreated, http.StatusOK)
}

// Invoke starts an invocation of name with input (encoded as JSON) and
// returns its id; it does not wait.
func (a *API) Invoke(ctx context.Context, name string, input any) (int64, error) {
	body, err := json.Marshal(input)
	if err != nil {
		return 0, err
	}
	var inv Invocation
	if err := a.do(ctx, http.MethodPost, "/v1/functions/"+name+"/invoke", body, &inv, http.StatusAccepted); err != nil {
		return 0, err
	}
	return inv.ID, nil
}

// InvokeWait invokes name and waits up to wait for the result (?wait=).
func (a *API) InvokeWait(ctx context.Context, name string, input any, wait time.Duration) (Invocation, error) {
	body, err := json.Marshal(input)
	if err != nil {
		return Invocation{}, err
	}
	var inv Invocation
	err = a.do(ctx, http.MethodPost, "/v1/functions/"+name+"/invoke?wait="+wait.String(), body, &inv,
		http.StatusOK, http.StatusAccepted)
	return inv, err
}

// Invocation reads an invocation with its history.
func (a *API) Invocation(ctx context.Context, id int64) (Invocation, error) {
	var inv Invocation
	err := a.do(ctx, http.MethodGet, fmt.Sprintf("/v1/invocations/%d", id), nil, &inv, http.StatusOK)
	return inv, err
}

// Member is a member of GET /v1/system.
type Member struct {
	ID           string    `json:"id"`
	Role         string    `json:"role"`
	Host         string    `json:"host"`
	PID          int       `json:"pid"`
	Version      string    `json:"version"`
	StartedAt    time.Time `json:"started_at"`
	RegisteredAt time.Time `json:"registered_at"`
}

// System is GET /v1/system.
type System struct {
	// Coordinator is "zookeeper" or "local".
	Coordinator string `json:"coordinator"`
	// Members are the live members by role ("api", "collector", "worker").
	Members         map[string][]Member `json:"members"`
	CollectorLeader *Member             `json:"collector_leader"`
	Queue           struct {
		Available int64 `json:"available"`
		Scheduled int64 `json:"scheduled"`
		Running   int64 `json:"running"`
		Retryable int64 `json:"retryable"`
	} `json:"queue"`
}

// Member returns the live member id of role, if listed.
func (s System) Member(role, id string) (Member, bool) {
	for _, m := range s.Members[role] {
		if m.ID == id {
			return m, true
		}
	}
	return Member{}, false
}

// System reads GET /v1/system.
func (a *API) System(ctx context.Context) (System, error) {
	var s System
	err := a.do(ctx, http.MethodGet, "/v1/system", nil, &s, http.StatusOK)
	return s, err
}
