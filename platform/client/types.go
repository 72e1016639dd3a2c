package client

import (
	"encoding/json"
	"time"
)

// Invocation states (docs/api.md). A failed attempt with attempts left goes
// back to StateQueued.
const (
	StateQueued    = "queued"
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
	StateCancelled = "cancelled"
)

// Finished reports whether state is final: succeeded, failed or cancelled.
func Finished(state string) bool {
	return state == StateSucceeded || state == StateFailed || state == StateCancelled
}

// Function is one entry of GET /v1/functions.
type Function struct {
	Name          string    `json:"name"`
	ActiveVersion int       `json:"active_version"`
	Versions      int       `json:"versions"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// FunctionDetail is GET /v1/functions/{name}: the function with the source and
// config of its active version.
type FunctionDetail struct {
	Function

	Source string          `json:"source"`
	Config json.RawMessage `json:"config,omitempty"`
}

// Version is one immutable version of a function. Source is only filled by
// GetVersion.
type Version struct {
	Function  string          `json:"function"`
	Number    int             `json:"version"`
	SHA256    string          `json:"sha256"`
	Author    string          `json:"author"`
	Config    json.RawMessage `json:"config,omitempty"`
	Active    bool            `json:"active"`
	CreatedAt time.Time       `json:"created_at"`
	Source    string          `json:"source,omitempty"`
}

// Invocation is one run of a function, with its attempts in History (filled by
// GetInvocation).
type Invocation struct {
	ID             int64           `json:"id"`
	Function       string          `json:"function"`
	Version        int             `json:"version"`
	Trigger        string          `json:"trigger"`
	State          string          `json:"state"`
	Input          json.RawMessage `json:"input"`
	Result         json.RawMessage `json:"result,omitempty"`
	Error          *Failure        `json:"error,omitempty"`
	Attempts       int             `json:"attempts"` // runs started: retries, resumes and rescues included
	Failures       int             `json:"failures,omitempty"`
	MaxAttempts    int             `json:"max_attempts"` // failures allowed before it fails for good
	Checkpoints    int             `json:"checkpoints,omitempty"`
	JournalEntries int             `json:"journal_entries,omitempty"`
	WakeAt         *time.Time      `json:"wake_at,omitempty"`
	IdempotencyKey string          `json:"idempotency_key,omitempty"`
	EventID        int64           `json:"event_id,omitempty"` // the event that started it, if any
	RiverJobID     int64           `json:"river_job_id,omitempty"`
	Worker         string          `json:"worker,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	StartedAt      *time.Time      `json:"started_at,omitempty"`
	FinishedAt     *time.Time      `json:"finished_at,omitempty"`
	History        []Attempt       `json:"history,omitempty"`
	CheckpointRows []Checkpoint    `json:"checkpoint_rows,omitempty"`
	Waits          []Wait          `json:"waits,omitempty"`
}

// Wait is one wait_event() call of an invocation: its filter, its deadline,
// and how it ended: "waiting", "delivered" (EventID names the event) or
// "timeout".
type Wait struct {
	Seq        int             `json:"seq"`
	Filter     json.RawMessage `json:"filter"`
	Deadline   time.Time       `json:"deadline"`
	State      string          `json:"state"`
	EventID    int64           `json:"event_id,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	ResolvedAt *time.Time      `json:"resolved_at,omitempty"`
}

// Checkpoint is one checkpoint row of an invocation's journal: which run
// wrote it, from where in the source, and which journal entries it holds.
type Checkpoint struct {
	Seq        int       `json:"seq"`
	Attempt    int       `json:"attempt"`
	Worker     string    `json:"worker"`
	FirstEntry int       `json:"first_entry"`
	EntryCount int       `json:"entry_count"`
	Line       int       `json:"line,omitempty"`
	Bytes      int       `json:"bytes"`
	CreatedAt  time.Time `json:"created_at"`
}

// Finished reports whether the invocation is in a final state.
func (i Invocation) Finished() bool { return Finished(i.State) }

// Failure says why an invocation failed. Kind is one of runtime, timeout,
// limit, cancelled, internal; Line is the source line when known.
type Failure struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
}

// Attempt is one attempt of an invocation.
type Attempt struct {
	Attempt    int        `json:"attempt"`
	Worker     string     `json:"worker"`
	RiverJobID int64      `json:"river_job_id"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Outcome    string     `json:"outcome,omitempty"`
	Error      string     `json:"error,omitempty"`
}

// LogLine is one line logged by an invocation.
type LogLine struct {
	ID       int64     `json:"id"`
	Attempt  int       `json:"attempt"`
	Level    string    `json:"level"`
	Message  string    `json:"message"`
	LoggedAt time.Time `json:"logged_at"`
}
