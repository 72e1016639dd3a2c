package coord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-zookeeper/zk"
)

// Candidate nodes are named _c_<guid>-n-<sequence>: the ZooKeeper client's
// "protected" form, so that a campaign finds its node again after a create
// whose answer was lost. The guid is one campaign's.
const (
	protectedPrefix = "_c_"
	candidateSuffix = "-n-"
	seqDigits       = 10
)

// zkElection is the Election of ZooKeeper.
type zkElection struct {
	z    *ZooKeeper
	name string
	dir  string
}

// Election implements Coordinator. Candidates are the ephemeral sequential
// nodes of <chroot>/election/<name>, holding their values; the lowest
// sequence leads.
func (z *ZooKeeper) Election(name string) Election {
	return &zkElection{z: z, name: name, dir: z.electionDir(name)}
}

func (e *zkElection) check() error {
	if err := validName("election name", e.name); err != nil {
		return err
	}
	return e.z.checkOpen()
}

// candidate is a candidate node, by name and sequence.
type candidate struct {
	name string
	seq  int64
}

// parseCandidate reads the sequence of a candidate node's name.
func parseCandidate(name string) (candidate, bool) {
	if !strings.HasPrefix(name, protectedPrefix) || len(name) < seqDigits {
		return candidate{}, false
	}
	head, digits := name[:len(name)-seqDigits], name[len(name)-seqDigits:]
	if !strings.HasSuffix(head, candidateSuffix) {
		return candidate{}, false
	}
	seq, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return candidate{}, false
	}
	return candidate{name: name, seq: seq}, true
}

// list returns the candidates in order (the leader first); with watch, it
// also sets a watch on the election's children.
func (e *zkElection) list(watch bool) ([]candidate, <-chan zk.Event, error) {
	var (
		children []string
		w        <-chan zk.Event
		err      error
	)
	if watch {
		children, _, w, err = e.z.conn.ChildrenW(e.dir)
	} else {
		children, _, err = e.z.conn.Children(e.dir)
	}
	if err != nil {
		return nil, nil, err
	}
	cands := make([]candidate, 0, len(children))
	for _, name := range children {
		if c, ok := parseCandidate(name); ok {
			cands = append(cands, c)
		}
	}
	slices.SortFunc(cands, func(a, b candidate) int { return compareInt64(a.seq, b.seq) })
	return cands, w, nil
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Campaign implements Election, with the ZooKeeper leader-election recipe:
// the candidate creates its ephemeral sequential node, and leads when its
// node has the lowest sequence; otherwise it watches only the node just
// before its own (no herd effect: a departure wakes one candidate) and looks
// again when that one goes.
func (e *zkElection) Campaign(ctx context.Context, value string) (Leadership, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	z := e.z
	var guid [16]byte
	_, _ = rand.Read(guid[:]) // never fails
	prefix := protectedPrefix + hex.EncodeToString(guid[:]) + candidateSuffix
	created := false // a node of this campaign may exist
	fail := func(err error) (Leadership, error) {
		if created {
			e.drop(prefix, false)
		}
		return nil, err
	}
	for n := 0; ; {
		ep, err := z.waitSession(ctx)
		if err != nil {
			return fail(err)
		}
		cands, _, err := e.list(false)
		if errors.Is(err, zk.ErrNoNode) {
			err = z.ensurePath(e.dir)
			if err == nil {
				continue
			}
		}
		if err != nil {
			if err := e.retry(ctx, err, &n); err != nil {
				return fail(err)
			}
			continue
		}
		// This campaign's nodes: normally one. Nodes of an expired session
		// are gone; a second one comes from a create retried after a lost
		// answer, and is deleted.
		mine := -1
		for i, c := range cands {
			if !strings.HasPrefix(c.name, prefix) {
				continue
			}
			if mine < 0 {
				mine = i
				continue
			}
			if err := z.conn.Delete(path.Join(e.dir, c.name), -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				z.logger.DebugContext(ctx, "coord: delete duplicate candidate", slog.String("node", c.name), slog.Any("error", err))
			}
		}
		if mine < 0 {
			created = true
			_, err := z.conn.Create(path.Join(e.dir, prefix), []byte(value), zk.FlagEphemeral|zk.FlagSequence, z.acl)
			if err != nil && !errors.Is(err, zk.ErrNoNode) {
				if err := e.retry(ctx, err, &n); err != nil {
					return fail(err)
				}
			}
			continue // list again
		}
		node := path.Join(e.dir, cands[mine].name)
		if mine == 0 {
			// Lead with a node of this session only: a node of an expired
			// session may still be listed by a server that has not applied
			// the expiry yet.
			ok, st, err := z.conn.Exists(node)
			if err != nil {
				if err := e.retry(ctx, err, &n); err != nil {
					return fail(err)
				}
				continue
			}
			if ok && st.EphemeralOwner != ep.session {
				if err := z.pause(ctx, n); err != nil {
					return fail(err)
				}
				n++
				continue
			}
			if !ok {
				continue
			}
			if err := ctx.Err(); err != nil {
				return fail(err)
			}
			l, err := e.lead(ctx, ep, prefix, node)
			if err != nil {
				return fail(err)
			}
			return l, nil
		}
		pred := path.Join(e.dir, cands[mine-1].name)
		ok, _, gone, err := z.conn.ExistsW(pred)
		if err != nil {
			if err := e.retry(ctx, err, &n); err != nil {
				return fail(err)
			}
			continue
		}
		n = 0
		if !ok {
			continue
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-z.ctx.Done():
			return nil, ErrClosed
		case <-ep.lost:
		case <-gone:
		}
	}
}

// retry pauses before attempt *n+1 of an operation that failed with err,
// or returns an error when err is not worth retrying, ctx ended or the
// Coordinator closed.
func (e *zkElection) retry(ctx context.Context, err error, n *int) error {
	if !retryable(err) {
		return fmt.Errorf("coord: election %s: %w", e.name, err)
	}
	e.z.logger.DebugContext(ctx, "coord: election: retrying", slog.String("election", e.name), slog.Any("error", err))
	*n++
	return e.z.pause(ctx, *n-1)
}

// retryable reports whether a zk error is about the connection or the
// session, which the client recovers from.
func retryable(err error) bool {
	for _, target := range []error{
		zk.ErrConnectionClosed, zk.ErrNoServer, zk.ErrSessionExpired,
		zk.ErrSessionMoved, zk.ErrClosing, errEpochLost,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// drop deletes this campaign's nodes (found by prefix): at once with now,
// else in the background; the background attempt goes on until it
// succeeds or the Coordinator closes.
func (e *zkElection) drop(prefix string, now bool) {
	z := e.z
	attempt := func() error {
		cands, _, err := e.list(false)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, c := range cands {
			if strings.HasPrefix(c.name, prefix) {
				if err := z.conn.Delete(path.Join(e.dir, c.name), -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
					return err
				}
			}
		}
		return nil
	}
	if now && z.checkOpen() == nil && attempt() == nil {
		return
	}
	z.spawn(func() {
		for n := 0; ; n++ {
			if _, err := z.waitSession(z.ctx); err != nil {
				return
			}
			if err := attempt(); err == nil {
				return
			}
			if z.pause(z.ctx, n) != nil {
				return
			}
		}
	})
}

// zkLeadership is the Leadership of ZooKeeper.
type zkLeadership struct {
	e      *zkElection
	prefix string
	node   string
	lost   chan struct{}
	once   sync.Once
}

// lead makes the leadership of the candidate node, lost with ep.
func (e *zkElection) lead(ctx context.Context, ep *epoch, prefix, node string) (*zkLeadership, error) {
	z := e.z
	l := &zkLeadership{e: e, prefix: prefix, node: node, lost: make(chan struct{})}
	z.mu.Lock()
	if z.closed {
		z.mu.Unlock()
		return nil, ErrClosed
	}
	z.leads[l] = struct{}{}
	z.wg.Go(func() { l.watch(ctx, ep) })
	z.mu.Unlock()
	z.logger.InfoContext(ctx, "coord: leading", slog.String("election", e.name), slog.String("node", node))
	return l, nil
}

// watch ends the leadership when its context ends, its epoch is lost, or its
// node is deleted.
func (l *zkLeadership) watch(ctx context.Context, ep *epoch) {
	z := l.e.z
	var gone <-chan zk.Event
	for n := 0; ; n++ {
		ok, _, w, err := z.conn.ExistsW(l.node)
		if err == nil && !ok {
			l.lose(ctx, "its node was deleted")
			return
		}
		if err == nil {
			gone = w
			break
		}
		select {
		case <-ep.lost:
			l.lose(ctx, "the session was lost")
			return
		default:
		}
		if z.pause(ctx, n) != nil {
			break // ctx ended or Close: handled below
		}
	}
	for {
		select {
		case <-l.lost: // resigned, or the Coordinator closed
			return
		case <-ctx.Done():
			if l.end() {
				l.e.drop(l.prefix, true)
			}
			return
		case <-ep.lost:
			l.lose(ctx, "the session was lost")
			return
		case ev := <-gone:
			if ev.Type == zk.EventNodeDeleted {
				l.lose(ctx, "its node was deleted")
				return
			}
			gone = nil // the watch ended with the session: ep.lost follows
		}
	}
}

// lose ends the leadership on a loss. The node may still exist (the client
// declared the loss, the server kept the session): it is deleted once the
// client is connected again, to let another candidate lead.
func (l *zkLeadership) lose(ctx context.Context, why string) {
	if l.end() {
		l.e.z.logger.WarnContext(ctx, "coord: leadership lost", slog.String("election", l.e.name), slog.String("why", why))
		l.e.drop(l.prefix, false)
	}
}

// end closes lost; it reports whether this call did.
func (l *zkLeadership) end() bool {
	ended := false
	l.once.Do(func() {
		ended = true
		close(l.lost)
		z := l.e.z
		z.mu.Lock()
		delete(z.leads, l)
		z.mu.Unlock()
	})
	return ended
}

func (l *zkLeadership) Lost() <-chan struct{} { return l.lost }

// Resign implements Leadership: it deletes the candidate node, so that the
// next candidate leads.
func (l *zkLeadership) Resign(ctx context.Context) error {
	if !l.end() {
		return ErrNotLeader
	}
	l.e.drop(l.prefix, true)
	l.e.z.logger.InfoContext(ctx, "coord: resigned", slog.String("election", l.e.name))
	return nil
}

// Leader implements Election.
func (e *zkElection) Leader(ctx context.Context) (string, error) {
	if err := e.check(); err != nil {
		return "", err
	}
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		cands, _, err := e.list(false)
		if errors.Is(err, zk.ErrNoNode) || (err == nil && len(cands) == 0) {
			return "", ErrNoLeader
		}
		if err != nil {
			return "", fmt.Errorf("coord: election %s: %w", e.name, err)
		}
		data, _, err := e.z.conn.Get(path.Join(e.dir, cands[0].name))
		if errors.Is(err, zk.ErrNoNode) {
			continue // it just left
		}
		if err != nil {
			return "", fmt.Errorf("coord: election %s: %w", e.name, err)
		}
		return string(data), nil
	}
}

// Observe implements Election. It watches the leader's node only (or the
// election's children while nobody leads): a leader's departure is the only
// change, since a newcomer never gets a lower sequence. While the client has
// no session, the last value stands.
func (e *zkElection) Observe(ctx context.Context) (<-chan string, error) {
	if err := e.check(); err != nil {
		return nil, err
	}
	z := e.z
	ch := make(chan string, 1)
	ok := z.spawn(func() {
		defer close(ch)
		var last string
		first := true
		for n := 0; ; {
			leader, changed, err := e.observeOnce()
			if err != nil {
				if errors.Is(err, errRetryNow) {
					continue
				}
				z.logger.DebugContext(ctx, "coord: observe election", slog.String("election", e.name), slog.Any("error", err))
				if z.pause(ctx, n) != nil {
					return
				}
				n++
				continue
			}
			n = 0
			if first || leader != last {
				sendLatest(ch, leader)
				first, last = false, leader
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

var errRetryNow = errors.New("coord: changed meanwhile")

// observeOnce returns the leader's value ("" for none) and a channel that
// gets an event when it may have changed.
func (e *zkElection) observeOnce() (string, <-chan zk.Event, error) {
	cands, _, err := e.list(false)
	if err == nil && len(cands) > 0 {
		data, _, w, err := e.z.conn.GetW(path.Join(e.dir, cands[0].name))
		if errors.Is(err, zk.ErrNoNode) {
			return "", nil, errRetryNow
		}
		return string(data), w, err
	}
	if errors.Is(err, zk.ErrNoNode) {
		if err := e.z.ensurePath(e.dir); err != nil {
			return "", nil, err
		}
		return "", nil, errRetryNow
	}
	if err != nil {
		return "", nil, err
	}
	cands, w, err := e.list(true)
	if err == nil && len(cands) > 0 {
		return "", nil, errRetryNow
	}
	return "", w, err
}
