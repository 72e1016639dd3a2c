package coord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// memberData is what a member node holds.
type memberData struct {
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Version   string    `json:"version"`
	StartedAt time.Time `json:"started_at"`
}

// zkRegistration is a Registration of ZooKeeper.
type zkRegistration struct {
	z      *ZooKeeper
	m      Member
	node   string
	data   []byte
	cancel context.CancelFunc
	done   chan struct{} // closed when the registration has ended

	mu         sync.Mutex
	lost       chan struct{} // of the current registration; closed while not registered
	registered chan struct{} // closed while registered
	confirmed  time.Time     // start of the last round trip that found the node in the live session
}

// Fresh reports an error unless, within half a session timeout, a round
// trip to ZooKeeper found the member node held by the client's live
// session. A process that was paused, or cut off, for longer fails it at
// once, before it learns that its session is lost: what it does on the
// strength of its registration (a worker's effects) must check it.
func (r *zkRegistration) Fresh() error {
	r.mu.Lock()
	confirmed := r.confirmed
	r.mu.Unlock()
	if confirmed.IsZero() {
		return errors.New("coord: not registered")
	}
	if age := time.Since(confirmed); age > r.z.cfg.SessionTimeout/2 {
		return fmt.Errorf("coord: no word from ZooKeeper for %s (session timeout %s)", age.Round(time.Millisecond), r.z.cfg.SessionTimeout)
	}
	return nil
}

// confirm checks, every quarter of a session timeout, that the member node
// is held by the live session, and records when.
func (r *zkRegistration) confirm(ctx context.Context) {
	z := r.z
	t := time.NewTicker(z.cfg.SessionTimeout / 4)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-z.ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		ep := z.currentEpoch()
		ok, st, err := z.conn.Exists(r.node)
		if err != nil || !ok || ep.session == 0 || st.EphemeralOwner != ep.session || z.currentEpoch() != ep {
			continue
		}
		r.mu.Lock()
		select {
		case <-r.lost:
		default:
			if start.After(r.confirmed) {
				r.confirmed = start
			}
		}
		r.mu.Unlock()
	}
}

// Register implements Coordinator. The member is the ephemeral node
// <chroot>/members/<role>/<id>, holding JSON (host, pid, version,
// started_at).
func (z *ZooKeeper) Register(ctx context.Context, m Member) (Registration, error) {
	if err := validMember(m); err != nil {
		return nil, err
	}
	data, err := json.Marshal(memberData{Host: m.Host, PID: m.PID, Version: m.Version, StartedAt: m.StartedAt})
	if err != nil {
		return nil, fmt.Errorf("coord: encode member: %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &zkRegistration{
		z:          z,
		cancel:     cancel,
		m:          m,
		node:       path.Join(z.membersDir(m.Role), m.ID),
		data:       data,
		done:       make(chan struct{}),
		lost:       closedChan(),
		registered: make(chan struct{}),
	}
	z.mu.Lock()
	switch {
	case z.closed:
		z.mu.Unlock()
		cancel()
		return nil, ErrClosed
	case z.regs[r.node] != nil:
		z.mu.Unlock()
		cancel()
		return nil, ErrMemberExists
	}
	z.regs[r.node] = r
	z.mu.Unlock()

	began := time.Now()
	ep, gone, err := r.register(rctx, false)
	if err == nil {
		r.setRegistered(began)
		if !z.spawn(func() { r.run(rctx, ep, gone) }) || !z.spawn(func() { r.confirm(rctx) }) {
			err = ErrClosed
		}
	}
	if err != nil {
		cancel()
		z.mu.Lock()
		if z.regs[r.node] == r {
			delete(z.regs, r.node)
		}
		z.mu.Unlock()
		return nil, err
	}
	return r, nil
}

// register creates the member node with the current session. With wait, it
// waits for a node of another session to go away instead of failing with
// ErrMemberExists. It returns the epoch of the node and a channel that gets
// an event when the node is deleted.
func (r *zkRegistration) register(ctx context.Context, wait bool) (*epoch, <-chan zk.Event, error) {
	z := r.z
	for n := 0; ; n++ {
		ep, err := z.waitSession(ctx)
		if err != nil {
			return nil, nil, err
		}
		gone, err := r.create(ep)
		if err == nil {
			return ep, gone, nil
		}
		var other *otherOwnerError
		if errors.As(err, &other) {
			if !wait {
				return nil, nil, fmt.Errorf("%w: %s (session %#x)", ErrMemberExists, r.node, other.owner)
			}
			z.logger.WarnContext(ctx, "coord: member id held by another session, waiting for it to go",
				slog.String("node", r.node), slog.String("session", fmt.Sprintf("%#x", other.owner)))
			select {
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			case <-other.gone:
			}
			continue
		}
		if !retryable(err) {
			return nil, nil, fmt.Errorf("coord: register %s: %w", r.node, err)
		}
		z.logger.DebugContext(ctx, "coord: register member: retrying", slog.String("node", r.node), slog.Any("error", err))
		if err := z.pause(ctx, n); err != nil {
			return nil, nil, err
		}
	}
}

// otherOwnerError says that the member node belongs to another session; gone
// gets an event when it changes.
type otherOwnerError struct {
	owner int64
	gone  <-chan zk.Event
}

func (e *otherOwnerError) Error() string {
	return fmt.Sprintf("coord: member node owned by session %#x", e.owner)
}

var errEpochLost = errors.New("coord: session lost")

// create makes the member node in ep's session and returns a channel that
// gets an event when the node changes. A node of the same session is
// replaced: it was left by a registration whose loss this client declared
// while the server kept the session, or by an attempt whose answer was lost;
// replacing it changes its RegisteredAt, so that watchers learn of the loss.
func (r *zkRegistration) create(ep *epoch) (<-chan zk.Event, error) {
	conn := r.z.conn
	for {
		select {
		case <-ep.lost:
			return nil, errEpochLost
		default:
		}
		ok, st, err := conn.Exists(r.node)
		if err != nil {
			return nil, err
		}
		if ok && st.EphemeralOwner != ep.session {
			ok, st, gone, err := conn.ExistsW(r.node)
			switch {
			case err != nil:
				return nil, err
			case ok && st.EphemeralOwner != ep.session:
				return nil, &otherOwnerError{owner: st.EphemeralOwner, gone: gone}
			}
			continue
		}
		if ok {
			if err := conn.Delete(r.node, st.Version); err != nil && !errors.Is(err, zk.ErrNoNode) {
				return nil, err
			}
		}
		_, err = conn.Create(r.node, r.data, zk.FlagEphemeral, r.z.acl)
		switch {
		case errors.Is(err, zk.ErrNoNode):
			if err := r.z.ensurePath(path.Dir(r.node)); err != nil {
				return nil, err
			}
			continue
		case errors.Is(err, zk.ErrNodeExists):
			continue
		case err != nil:
			return nil, err
		}
		ok, st, gone, err := conn.ExistsW(r.node)
		switch {
		case err != nil:
			return nil, err
		case !ok:
			continue
		case st.EphemeralOwner != ep.session:
			return nil, errEpochLost // made with a newer session
		}
		return gone, nil
	}
}

// run keeps the member registered until ctx ends.
func (r *zkRegistration) run(ctx context.Context, ep *epoch, gone <-chan zk.Event) {
	z := r.z
	defer func() {
		z.mu.Lock()
		delete(z.regs, r.node)
		z.mu.Unlock()
		r.setEnded()
		close(r.done)
	}()
	for {
		select {
		case <-ctx.Done():
			// Remove the node unless it went with its session (or Close is
			// closing the session, which removes it).
			if z.currentEpoch() == ep && z.checkOpen() == nil {
				if err := z.conn.Delete(r.node, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
					z.abandon(r.node, ep.session)
				}
			}
			return
		case <-ep.lost:
		case ev := <-gone:
			if ev.Type != zk.EventNodeDeleted {
				// The watch ended with the session (ep.lost follows), or the
				// data changed (nobody writes it).
				gone = nil
				continue
			}
		}
		r.setLost()
		z.logger.WarnContext(ctx, "coord: member registration lost, registering again", slog.String("node", r.node))
		var err error
		began := time.Now()
		ep, gone, err = r.register(ctx, true)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, ErrClosed) {
				z.logger.ErrorContext(ctx, "coord: member registration ended", slog.String("node", r.node), slog.Any("error", err))
			}
			return
		}
		r.setRegistered(began)
		z.logger.InfoContext(ctx, "coord: member registered again", slog.String("node", r.node))
	}
}

func (r *zkRegistration) setRegistered(began time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.confirmed = began
	r.lost = make(chan struct{})
	close(r.registered)
}

func (r *zkRegistration) setLost() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.confirmed = time.Time{}
	select {
	case <-r.lost:
	default:
		close(r.lost)
		r.registered = make(chan struct{})
	}
}

func (r *zkRegistration) setEnded() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.lost:
	default:
		close(r.lost)
	}
	select {
	case <-r.registered:
	default:
		close(r.registered)
	}
}

func (r *zkRegistration) Lost() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost
}

func (r *zkRegistration) Registered() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.registered
}

// Close implements Registration: it removes the node and waits for the end
// of the registration.
func (r *zkRegistration) Close() error {
	r.cancel()
	<-r.done
	return nil
}

// Members implements Coordinator.
func (z *ZooKeeper) Members(ctx context.Context, role string) ([]Member, error) {
	if err := validName("member role", role); err != nil {
		return nil, err
	}
	if err := z.checkOpen(); err != nil {
		return nil, err
	}
	children, _, err := z.conn.Children(z.membersDir(role))
	if errors.Is(err, zk.ErrNoNode) {
		return []Member{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("coord: list members of %s: %w", role, err)
	}
	return z.readMembers(ctx, role, children)
}

// readMembers reads the member nodes of role named in children, skipping
// those gone meanwhile.
func (z *ZooKeeper) readMembers(ctx context.Context, role string, children []string) ([]Member, error) {
	dir := z.membersDir(role)
	list := make([]Member, 0, len(children))
	for _, id := range children {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, st, err := z.conn.Get(path.Join(dir, id))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("coord: read member %s/%s: %w", role, id, err)
		}
		m := Member{ID: id, Role: role, RegisteredAt: time.UnixMilli(st.Ctime)}
		var d memberData
		if err := json.Unmarshal(data, &d); err != nil {
			z.logger.WarnContext(ctx, "coord: member node holds no member data", slog.String("node", path.Join(dir, id)), slog.Any("error", err))
		} else {
			m.Host, m.PID, m.Version, m.StartedAt = d.Host, d.PID, d.Version, d.StartedAt
		}
		list = append(list, m)
	}
	slices.SortFunc(list, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return list, nil
}

// WatchMembers implements Coordinator. It keeps one watch on the children of
// the role's node. While the client has no session, the last list stands.
func (z *ZooKeeper) WatchMembers(ctx context.Context, role string) (<-chan []Member, error) {
	if err := validName("member role", role); err != nil {
		return nil, err
	}
	if err := z.checkOpen(); err != nil {
		return nil, err
	}
	dir := z.membersDir(role)
	ch := make(chan []Member, 1)
	ok := z.spawn(func() {
		defer close(ch)
		var last []Member
		first := true
		for n := 0; ; {
			children, _, changed, err := z.conn.ChildrenW(dir)
			if errors.Is(err, zk.ErrNoNode) { // removed by someone
				if err = z.ensurePath(dir); err == nil {
					continue
				}
			}
			var list []Member
			if err == nil {
				list, err = z.readMembers(ctx, role, children)
			}
			if err != nil {
				z.logger.DebugContext(ctx, "coord: watch members", slog.String("role", role), slog.Any("error", err))
				if z.pause(ctx, n) != nil {
					return
				}
				n++
				continue
			}
			n = 0
			if first || !equalMembers(list, last) {
				sendLatest(ch, list)
				first, last = false, list
			}
			select {
			case <-ctx.Done():
				return
			case <-z.ctx.Done():
				return
			case <-changed:
			}
		}
	})
	if !ok {
		return nil, ErrClosed
	}
	return ch, nil
}
