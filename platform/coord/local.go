package coord

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Local is the in-process Coordinator, for a single node (`powny dev`, or a
// deployment without ZooKeeper). Members live in memory; in an election the
// first campaigner leads and the next one waits until it resigns or its
// context ends. Nothing is ever lost to a session: Lost channels close only
// when a registration or leadership ends.
type Local struct {
	mu        sync.Mutex
	closed    bool
	done      chan struct{} // closed by Close
	changed   chan struct{} // closed and replaced on every change
	members   map[string]map[string]*localRegistration
	elections map[string]*localElection
	wg        sync.WaitGroup // watchers and observers
}

var _ Coordinator = (*Local)(nil)

// NewLocal returns an in-process Coordinator.
func NewLocal() *Local {
	return &Local{
		done:      make(chan struct{}),
		changed:   make(chan struct{}),
		members:   map[string]map[string]*localRegistration{},
		elections: map[string]*localElection{},
	}
}

// notifyLocked wakes the watchers. c.mu must be held.
func (c *Local) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Register implements Coordinator.
func (c *Local) Register(ctx context.Context, m Member) (Registration, error) {
	if err := validMember(m); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	role := c.members[m.Role]
	if role == nil {
		role = map[string]*localRegistration{}
		c.members[m.Role] = role
	}
	if _, ok := role[m.ID]; ok {
		return nil, ErrMemberExists
	}
	m.RegisteredAt = time.Now()
	r := &localRegistration{c: c, m: m, lost: make(chan struct{})}
	role[m.ID] = r
	c.notifyLocked()
	r.stop = context.AfterFunc(ctx, func() { _ = r.Close() })
	return r, nil
}

// Members implements Coordinator.
func (c *Local) Members(ctx context.Context, role string) ([]Member, error) {
	if err := validName("member role", role); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	return c.membersLocked(role), nil
}

func (c *Local) membersLocked(role string) []Member {
	list := make([]Member, 0, len(c.members[role]))
	for _, r := range c.members[role] {
		list = append(list, r.m)
	}
	slices.SortFunc(list, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return list
}

// WatchMembers implements Coordinator.
func (c *Local) WatchMembers(ctx context.Context, role string) (<-chan []Member, error) {
	if err := validName("member role", role); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	ch := make(chan []Member, 1)
	c.wg.Go(func() {
		defer close(ch)
		var last []Member
		for first := true; ; first = false {
			c.mu.Lock()
			list, changed := c.membersLocked(role), c.changed
			c.mu.Unlock()
			if first || !equalMembers(list, last) {
				sendLatest(ch, list)
				last = list
			}
			select {
			case <-ctx.Done():
				return
			case <-c.done:
				return
			case <-changed:
			}
		}
	})
	return ch, nil
}

// Election implements Coordinator.
func (c *Local) Election(name string) Election {
	return &localElectionHandle{c: c, name: name}
}

// Close implements Coordinator.
func (c *Local) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	var regs []*localRegistration
	for _, role := range c.members {
		for _, r := range role {
			regs = append(regs, r)
		}
	}
	var cands []*localCandidate
	for _, e := range c.elections {
		cands = append(cands, e.queue...)
	}
	c.mu.Unlock()
	for _, r := range regs {
		_ = r.Close()
	}
	for _, cand := range cands {
		cand.end()
	}
	c.wg.Wait()
	return nil
}

// localRegistration is a Registration of Local.
type localRegistration struct {
	c    *Local
	m    Member
	lost chan struct{}
	stop func() bool // stops the context.AfterFunc
	once sync.Once
}

func (r *localRegistration) Lost() <-chan struct{} { return r.lost }

func (r *localRegistration) Registered() <-chan struct{} { return closedChan() }

// Fresh never fails: an in-process registration cannot be cut off.
func (r *localRegistration) Fresh() error { return nil }

func (r *localRegistration) Close() error {
	r.once.Do(func() {
		r.c.mu.Lock()
		defer r.c.mu.Unlock()
		r.stop() // set under r.c.mu by Register
		if role := r.c.members[r.m.Role]; role[r.m.ID] == r {
			delete(role, r.m.ID)
			if len(role) == 0 {
				delete(r.c.members, r.m.Role)
			}
		}
		close(r.lost)
		r.c.notifyLocked()
	})
	return nil
}

// localElection is the queue of candidates of one election; the first leads.
type localElection struct {
	queue []*localCandidate
}

type localCandidate struct {
	c     *Local
	name  string
	value string
	lost  chan struct{}
	once  sync.Once
	ended bool        // under c.mu
	stop  func() bool // stops the context.AfterFunc of a leader
}

// end removes the candidate from its election and closes lost. It reports
// whether this call ended it.
func (cand *localCandidate) end() bool {
	ended := false
	cand.once.Do(func() {
		ended = true
		c := cand.c
		c.mu.Lock()
		defer c.mu.Unlock()
		cand.ended = true
		if e := c.elections[cand.name]; e != nil {
			e.queue = slices.DeleteFunc(e.queue, func(x *localCandidate) bool { return x == cand })
			if len(e.queue) == 0 {
				delete(c.elections, cand.name)
			}
		}
		close(cand.lost)
		c.notifyLocked()
	})
	return ended
}

// localElectionHandle is the Election of Local.
type localElectionHandle struct {
	c    *Local
	name string
}

func (h *localElectionHandle) Campaign(ctx context.Context, value string) (Leadership, error) {
	if err := validName("election name", h.name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := h.c
	cand := &localCandidate{c: c, name: h.name, value: value, lost: make(chan struct{})}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	e := c.elections[h.name]
	if e == nil {
		e = &localElection{}
		c.elections[h.name] = e
	}
	e.queue = append(e.queue, cand)
	c.notifyLocked()
	c.mu.Unlock()

	for {
		c.mu.Lock()
		if cand.ended {
			c.mu.Unlock()
			return nil, ErrClosed // only Close ends a waiting candidate
		}
		if c.elections[h.name].queue[0] == cand {
			cand.stop = context.AfterFunc(ctx, func() { cand.end() })
			c.mu.Unlock()
			return (*localLeadership)(cand), nil
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			cand.end()
			return nil, ctx.Err()
		case <-changed:
		}
	}
}

func (h *localElectionHandle) Leader(ctx context.Context) (string, error) {
	if err := validName("election name", h.name); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return "", ErrClosed
	}
	value, ok := h.leaderLocked()
	if !ok {
		return "", ErrNoLeader
	}
	return value, nil
}

func (h *localElectionHandle) leaderLocked() (string, bool) {
	e := h.c.elections[h.name]
	if e == nil || len(e.queue) == 0 {
		return "", false
	}
	return e.queue[0].value, true
}

func (h *localElectionHandle) Observe(ctx context.Context) (<-chan string, error) {
	if err := validName("election name", h.name); err != nil {
		return nil, err
	}
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	ch := make(chan string, 1)
	c.wg.Go(func() {
		defer close(ch)
		var last string
		for first := true; ; first = false {
			c.mu.Lock()
			leader, _ := h.leaderLocked()
			changed := c.changed
			c.mu.Unlock()
			if first || leader != last {
				sendLatest(ch, leader)
				last = leader
			}
			select {
			case <-ctx.Done():
				return
			case <-c.done:
				return
			case <-changed:
			}
		}
	})
	return ch, nil
}

// localLeadership is the Leadership of Local: a candidate at the head of
// its queue.
type localLeadership localCandidate

func (l *localLeadership) Lost() <-chan struct{} { return l.lost }

func (l *localLeadership) Resign(context.Context) error {
	cand := (*localCandidate)(l)
	if !cand.end() {
		return ErrNotLeader
	}
	cand.stop()
	return nil
}

// sendLatest puts v in ch (of capacity 1) without blocking, replacing a
// value the reader has not taken yet. Only one goroutine may send on ch.
func sendLatest[T any](ch chan T, v T) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}
