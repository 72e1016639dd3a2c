package coord

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// ZooKeeper is the Coordinator of processes on many machines, on a ZooKeeper
// ensemble. See the package documentation for its node layout and how it
// handles the loss of its session.
type ZooKeeper struct {
	cfg    ZooKeeperConfig
	logger *slog.Logger
	conn   *zk.Conn
	acl    []zk.ACL

	// ctx ends with Close; the background goroutines use it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu          sync.Mutex
	closed      bool
	connected   bool          // the client has its session with a server now
	ep          *epoch        // the current epoch
	lostSession int64         // the session of the last lost epoch
	wake        chan struct{} // closed and replaced on each change of the above
	lostTimer   *time.Timer   // runs while disconnected
	regs        map[string]*zkRegistration
	leads       map[*zkLeadership]struct{}
}

var _ Coordinator = (*ZooKeeper)(nil)

// epoch is the life of one session as far as this client is concerned. It
// ends (lost is closed) when the server says the session expired, when the
// client was disconnected for the session timeout, or when a new session
// replaces it. Registrations and leaderships made in an epoch are lost with
// it.
type epoch struct {
	session int64 // 0 until a session is established in this epoch
	lost    chan struct{}
}

// NewZooKeeper connects to the ensemble and returns once it has a session,
// or fails when ctx ends first.
func NewZooKeeper(ctx context.Context, cfg ZooKeeperConfig) (*ZooKeeper, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	z := &ZooKeeper{
		cfg:    cfg,
		logger: cfg.Logger.With(slog.String("chroot", cfg.Chroot)),
		acl:    zk.WorldACL(zk.PermAll),
		ep:     &epoch{lost: make(chan struct{})},
		wake:   make(chan struct{}),
		regs:   map[string]*zkRegistration{},
		leads:  map[*zkLeadership]struct{}{},
	}
	z.ctx, z.cancel = context.WithCancel(context.Background())
	// The event callback takes z.mu: holding it here keeps the callback from
	// seeing z.conn unset.
	z.mu.Lock()
	conn, _, err := zk.Connect(cfg.Servers, cfg.SessionTimeout,
		zk.WithDialer(boundedDialer(cfg.SessionTimeout)),
		zk.WithLogger(zkLogger{z.logger}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(z.onEvent))
	z.conn = conn
	z.mu.Unlock()
	if err != nil {
		z.cancel()
		return nil, fmt.Errorf("coord: connect to ZooKeeper %s: %w", strings.Join(cfg.Servers, ","), err)
	}
	if _, err := z.waitSession(ctx); err != nil {
		_ = z.Close()
		return nil, fmt.Errorf("coord: connect to ZooKeeper %s: %w", strings.Join(cfg.Servers, ","), err)
	}
	return z, nil
}

// onEvent follows the session's state. The zk client calls it from its own
// goroutines: it must not block for long.
func (z *ZooKeeper) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return
	}
	switch ev.State {
	case zk.StateHasSession:
		sid := z.conn.SessionID()
		z.stopTimerLocked()
		if z.ep.session != 0 && z.ep.session != sid {
			z.loseLocked("the session was replaced")
		}
		if z.ep.session == 0 {
			z.ep.session = sid
			msg := "coord: ZooKeeper session established"
			if sid == z.lostSession {
				msg = "coord: ZooKeeper session established (the server had kept the lost session)"
			}
			z.logger.InfoContext(z.ctx, msg, slog.String("session", fmt.Sprintf("%#x", sid)), slog.String("server", ev.Server))
		} else if !z.connected {
			z.logger.InfoContext(z.ctx, "coord: ZooKeeper session resumed",
				slog.String("session", fmt.Sprintf("%#x", sid)), slog.String("server", ev.Server))
		}
		z.connected = true
	case zk.StateDisconnected:
		if !z.connected {
			return
		}
		z.connected = false
		z.logger.WarnContext(z.ctx, "coord: disconnected from ZooKeeper",
			slog.String("session", fmt.Sprintf("%#x", z.ep.session)), slog.String("server", ev.Server))
		ep := z.ep
		z.lostTimer = time.AfterFunc(z.cfg.SessionTimeout, func() {
			z.mu.Lock()
			defer z.mu.Unlock()
			if !z.closed && !z.connected && z.ep == ep && ep.session != 0 {
				z.loseLocked("no connection for the session timeout")
				z.wakeLocked()
			}
		})
	case zk.StateExpired:
		z.connected = false
		z.stopTimerLocked()
		if z.ep.session != 0 {
			z.loseLocked("the session expired")
		}
	default:
		return
	}
	z.wakeLocked()
}

// loseLocked ends the current epoch and starts one without a session yet.
func (z *ZooKeeper) loseLocked(why string) {
	z.logger.WarnContext(z.ctx, "coord: ZooKeeper session lost: registrations and leaderships are lost",
		slog.String("session", fmt.Sprintf("%#x", z.ep.session)), slog.String("why", why))
	close(z.ep.lost)
	z.lostSession = z.ep.session
	z.ep = &epoch{lost: make(chan struct{})}
}

func (z *ZooKeeper) stopTimerLocked() {
	if z.lostTimer != nil {
		z.lostTimer.Stop()
		z.lostTimer = nil
	}
}

func (z *ZooKeeper) wakeLocked() {
	close(z.wake)
	z.wake = make(chan struct{})
}

// waitSession returns the current epoch once the client has a session, or
// fails when ctx ends or the Coordinator closes.
func (z *ZooKeeper) waitSession(ctx context.Context) (*epoch, error) {
	for {
		z.mu.Lock()
		if z.closed {
			z.mu.Unlock()
			return nil, ErrClosed
		}
		if z.connected && z.ep.session != 0 {
			ep := z.ep
			z.mu.Unlock()
			return ep, nil
		}
		wake := z.wake
		z.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		}
	}
}

// currentEpoch returns the current epoch.
func (z *ZooKeeper) currentEpoch() *epoch {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.ep
}

// pause waits before retry attempt n (from 0) of an operation that failed,
// returning early when the session state changes. It fails when ctx ends or
// the Coordinator closes.
func (z *ZooKeeper) pause(ctx context.Context, n int) error {
	d := min(50*time.Millisecond<<min(n, 5), time.Second)
	z.mu.Lock()
	wake, closed := z.wake, z.closed
	z.mu.Unlock()
	if closed {
		return ErrClosed
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-z.ctx.Done():
		return ErrClosed
	case <-wake:
	case <-t.C:
	}
	return nil
}

// Close implements Coordinator. It ends the registrations and leaderships
// and closes the session, which removes the member and candidate nodes at
// once.
func (z *ZooKeeper) Close() error {
	z.mu.Lock()
	if z.closed {
		z.mu.Unlock()
		return nil
	}
	z.closed = true
	z.cancel()
	z.stopTimerLocked()
	z.wakeLocked()
	regs := make([]*zkRegistration, 0, len(z.regs))
	for _, r := range z.regs {
		regs = append(regs, r)
	}
	leads := make([]*zkLeadership, 0, len(z.leads))
	for l := range z.leads {
		leads = append(leads, l)
	}
	z.mu.Unlock()
	for _, r := range regs {
		r.cancel()
	}
	for _, l := range leads {
		l.end()
	}
	z.wg.Wait()
	if z.conn != nil {
		z.conn.Close()
	}
	return nil
}

// spawn runs f in a goroutine that Close waits for, unless the Coordinator
// is closed.
func (z *ZooKeeper) spawn(f func()) bool {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return false
	}
	z.wg.Go(f)
	return true
}

func (z *ZooKeeper) checkOpen() error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.closed {
		return ErrClosed
	}
	return nil
}

// ensurePath creates p and its parents as persistent nodes where missing.
func (z *ZooKeeper) ensurePath(p string) error {
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		_, err := z.conn.Create(p[:i], nil, 0, z.acl)
		if err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("coord: create %s: %w", p[:i], err)
		}
	}
	return nil
}

// abandon deletes a node of the given session in the background, once the
// client has that session again; it gives up if the session changed (the
// node went with the old one).
func (z *ZooKeeper) abandon(node string, session int64) {
	z.spawn(func() {
		for n := 0; ; n++ {
			ep, err := z.waitSession(z.ctx)
			if err != nil || ep.session != session {
				return
			}
			err = z.conn.Delete(node, -1)
			if err == nil || errors.Is(err, zk.ErrNoNode) {
				return
			}
			z.logger.DebugContext(z.ctx, "coord: delete abandoned node", slog.String("node", node), slog.Any("error", err))
			if z.pause(z.ctx, n) != nil {
				return
			}
		}
	})
}

func (z *ZooKeeper) membersDir(role string) string {
	return path.Join(z.cfg.Chroot, "members", role)
}

func (z *ZooKeeper) electionDir(name string) string {
	return path.Join(z.cfg.Chroot, "election", name)
}

// zkLogger sends the zk client's messages to slog at debug level: its
// connection failures are retried, and the Coordinator logs what matters.
type zkLogger struct{ l *slog.Logger }

func (l zkLogger) Printf(format string, args ...any) {
	l.l.Debug("zk: " + fmt.Sprintf(format, args...))
}

// boundedDialer dials connections whose deadlines are never further than
// limit away. The zk client waits ten read timeouts (6.7 session timeouts)
// for a server's answer to its connect request: a server that accepts
// connections but does not answer (starting, overloaded) would hold the
// client that long before it tries another.
func boundedDialer(limit time.Duration) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return boundedConn{Conn: c, max: limit}, nil
	}
}

type boundedConn struct {
	net.Conn
	max time.Duration
}

func (c boundedConn) bound(t time.Time) time.Time {
	if limit := time.Now().Add(c.max); !t.IsZero() && t.After(limit) {
		return limit
	}
	return t
}

func (c boundedConn) SetDeadline(t time.Time) error     { return c.Conn.SetDeadline(c.bound(t)) }
func (c boundedConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.bound(t)) }

func (c boundedConn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.bound(t)) }
