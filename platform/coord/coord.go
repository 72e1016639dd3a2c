package coord

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Sentinel errors.
var (
	// ErrClosed is returned by the methods of a closed Coordinator.
	ErrClosed = errors.New("coord: coordinator closed")
	// ErrNoLeader is returned by Election.Leader when nobody leads.
	ErrNoLeader = errors.New("coord: no leader")
	// ErrNotLeader is returned by Leadership.Resign when the leadership has
	// already ended (lost, resigned, or its context ended).
	ErrNotLeader = errors.New("coord: not the leader")
	// ErrMemberExists is returned by Register when another registration of
	// the same role holds the member id.
	ErrMemberExists = errors.New("coord: member id already registered")
)

// Member is a registered process.
type Member struct {
	// ID identifies the member within its role. A worker's ID is its River
	// client id.
	ID string `json:"id"`
	// Role is what the process is: "worker", "collector", "api".
	Role    string `json:"role"`
	Host    string `json:"host"`
	PID     int    `json:"pid"`
	Version string `json:"version"`
	// StartedAt is when the process started.
	StartedAt time.Time `json:"started_at"`
	// RegisteredAt is when the current registration was made. It is set by
	// the Coordinator (Register ignores it) and changes each time the member
	// registers again after a loss, so that a watcher that compares lists
	// learns of a loss even if it never saw the member absent.
	RegisteredAt time.Time `json:"registered_at"`
}

// Coordinator registers members and runs elections among processes. The
// ZooKeeper implementation ([ZooKeeper]) coordinates processes on many
// machines; the in-process one ([Local]) serves a single node.
//
// Its methods are safe for concurrent use.
type Coordinator interface {
	// Register makes m a member of m.Role until ctx ends or the registration
	// is closed. It returns once the member is visible to others. When the
	// registration is lost (ZooKeeper session expiry), it signals it through
	// Registration.Lost and registers m again by itself.
	Register(ctx context.Context, m Member) (Registration, error)
	// Members lists the live members of role, sorted by ID.
	Members(ctx context.Context, role string) ([]Member, error)
	// WatchMembers sends the list of role's live members (as Members does)
	// first at once, then after each change, until ctx ends or the
	// Coordinator closes; then it closes the channel. A slow reader misses
	// intermediate lists, never the latest one.
	WatchMembers(ctx context.Context, role string) (<-chan []Member, error)
	// Election returns the election of the named group (e.g. "collector").
	Election(name string) Election
	// Close ends every registration and leadership of the Coordinator, and
	// releases its resources. Later calls return ErrClosed.
	Close() error
}

// Registration is a member's registration, returned by Coordinator.Register.
type Registration interface {
	// Lost returns a channel that is closed when the registration current at
	// the time of the call is lost: the session expired (or may have), so
	// others may already see the member gone and hand its work to others; the
	// caller must stop what it runs on the member's behalf. It is also closed
	// when the registration ends (Close, its context).
	//
	// After a loss, the member is registered again with a new session; until
	// then Lost returns a closed channel, and afterwards a new open one. Take
	// it when starting a piece of work, and stop the work when it closes.
	Lost() <-chan struct{}
	// Registered returns a channel that is closed while the member is
	// registered; after a loss, it returns a new channel that is closed once
	// the member is registered again.
	Registered() <-chan struct{}
	// Fresh fails unless the coordinator confirmed the registration lately
	// (ZooKeeper: within half a session timeout). A process that was paused
	// or cut off longer fails it at once, before Lost fires: work done on
	// the strength of the registration (a worker's effects) must check it.
	Fresh() error
	// Close removes the member and ends the registration. It is idempotent.
	Close() error
}

// Election is a leader election among the candidates of one group.
type Election interface {
	// Campaign blocks until the candidate leads or ctx ends (then it returns
	// ctx's error). value identifies the candidate (its member id); Leader
	// and Observe return it. Candidates lead in the order they campaigned.
	// The leadership lasts until ctx ends, Resign, or its loss (see
	// Leadership.Lost).
	Campaign(ctx context.Context, value string) (Leadership, error)
	// Leader returns the value of the current leader, or ErrNoLeader.
	Leader(ctx context.Context) (string, error)
	// Observe sends the leader's value first at once, then on every change
	// ("" when nobody leads), until ctx ends or the Coordinator closes; then
	// it closes the channel.
	Observe(ctx context.Context) (<-chan string, error)
}

// Leadership is a won election, returned by Election.Campaign.
type Leadership interface {
	// Lost returns a channel that is closed when the leadership ends: lost
	// with the session (another candidate may lead now, so the caller must
	// stop acting as the leader), resigned, or ended with its context.
	Lost() <-chan struct{}
	// Resign ends the leadership and hands it to the next candidate. It
	// returns ErrNotLeader if the leadership had already ended.
	Resign(ctx context.Context) error
}

// validName checks a role, member id or election name: it becomes a
// ZooKeeper node name.
func validName(kind, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("coord: %s is empty", kind)
	case s == "." || s == "..":
		return fmt.Errorf("coord: %s %q is not allowed", kind, s)
	case len(s) > 200:
		return fmt.Errorf("coord: %s %q is longer than 200 bytes", kind, s)
	case strings.ContainsFunc(s, func(r rune) bool { return r == '/' || unicode.IsControl(r) || r == unicode.ReplacementChar }):
		return fmt.Errorf("coord: %s %q holds a slash or a control character", kind, s)
	}
	return nil
}

// validMember checks the fields of m that name nodes.
func validMember(m Member) error {
	if err := validName("member role", m.Role); err != nil {
		return err
	}
	return validName("member id", m.ID)
}

// closedChan is a closed channel.
func closedChan() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}

// equalMembers reports whether two member lists are the same.
func equalMembers(a, b []Member) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalMember(a[i], b[i]) {
			return false
		}
	}
	return true
}

func equalMember(a, b Member) bool {
	return a.ID == b.ID && a.Role == b.Role && a.Host == b.Host && a.PID == b.PID &&
		a.Version == b.Version && a.StartedAt.Equal(b.StartedAt) && a.RegisteredAt.Equal(b.RegisteredAt)
}
