package coord

import (
	"bufio"
	"context"
	"io"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/powny/powny/testcontainers"
)

// testSessionTimeout is the session timeout of the contract tests. The test
// servers accept 400 ms to 4 s.
const testSessionTimeout = time.Second

// clientSeq numbers the clients in the logs.
var clientSeq atomic.Int64

func setupZooKeeper(t *testing.T) *bundle {
	t.Helper()
	cfg := ZooKeeperConfig{
		Servers:        []string{testcontainers.ZooKeeper(t)},
		Chroot:         testcontainers.ZooKeeperChroot(t),
		SessionTimeout: testSessionTimeout,
	}
	admin := openZK(t, cfg)
	return &bundle{
		open:       func() Coordinator { return openZK(t, cfg) },
		candidates: func(name string) int { return len(candidateNames(t, admin, name)) },
	}
}

// openZK returns a new ZooKeeper Coordinator, closed when the test ends.
func openZK(t *testing.T, cfg ZooKeeperConfig) *ZooKeeper {
	t.Helper()
	cfg.Logger = testLogger(t).With("client", strconv.Itoa(int(clientSeq.Add(1))))
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	z, err := NewZooKeeper(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, z.Close()) })
	return z
}

// candidateNames lists the candidate nodes of an election, in order.
func candidateNames(t *testing.T, z *ZooKeeper, election string) []string {
	t.Helper()
	cands, _, err := (&zkElection{z: z, name: election, dir: z.electionDir(election)}).list(false)
	if err != nil {
		return nil
	}
	names := make([]string, len(cands))
	for i, c := range cands {
		names[i] = path.Join(z.electionDir(election), c.name)
	}
	return names
}

// watchesByPath asks the server (four-letter word wchp) which sessions
// watch which nodes.
func watchesByPath(t *testing.T, server string) map[string][]int64 {
	t.Helper()
	conn, err := net.DialTimeout("tcp", server, 5*time.Second)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	_, err = io.WriteString(conn, "wchp")
	require.NoError(t, err)
	out := map[string][]int64{}
	var cur string
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "/") {
			cur = line
			continue
		}
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "0x"); ok && cur != "" {
			id, err := strconv.ParseUint(s, 16, 64)
			require.NoError(t, err, line)
			out[cur] = append(out[cur], int64(id))
		}
	}
	require.NoError(t, sc.Err())
	for p := range out {
		slices.Sort(out[p])
	}
	return out
}

// TestZooKeeperNoHerd checks the recipe: each waiting candidate watches its
// predecessor only, the leader watches its own node, and nobody watches the
// list of candidates.
func TestZooKeeperNoHerd(t *testing.T) {
	t.Parallel()
	server := testcontainers.ZooKeeper(t)
	b := setupZooKeeper(t)
	var zs []*ZooKeeper
	var cands []*campaigner
	for i := range 3 {
		z := b.open().(*ZooKeeper)
		zs = append(zs, z)
		cands = append(cands, campaign(t, z, "e", strconv.Itoa(i)))
		waitCandidates(t, b, "e", i+1)
	}
	l := cands[0].requireLeads(t)
	dir := zs[0].electionDir("e")
	s := func(i int) int64 { return zs[i].conn.SessionID() }

	check := func(want map[string][]int64) {
		t.Helper()
		for p := range want {
			slices.Sort(want[p])
		}
		var got map[string][]int64
		require.Eventually(t, func() bool {
			got = map[string][]int64{}
			for p, sessions := range watchesByPath(t, server) {
				if p == dir || strings.HasPrefix(p, dir+"/") {
					got[p] = sessions
				}
			}
			return equalWatches(got, want)
		}, waitTimeout, 20*time.Millisecond)
		require.Equal(t, want, got)
	}
	nodes := candidateNames(t, zs[0], "e")
	require.Len(t, nodes, 3)
	check(map[string][]int64{
		nodes[0]: {s(0), s(1)}, // the leader itself, and the next
		nodes[1]: {s(2)},
	})

	require.NoError(t, l.Resign(t.Context()))
	cands[1].requireLeads(t)
	check(map[string][]int64{
		nodes[1]: {s(1), s(2)},
	})
}

func equalWatches(a, b map[string][]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for p, x := range a {
		if !slices.Equal(x, b[p]) {
			return false
		}
	}
	return true
}

// TestZooKeeperSessionExpiry cuts a client off the server past its session
// timeout: the others see its member go and another candidate lead; the
// client reports the loss; once it reconnects, its member is back.
func TestZooKeeperSessionExpiry(t *testing.T) {
	t.Parallel()
	server := testcontainers.ZooKeeper(t)
	chroot := testcontainers.ZooKeeperChroot(t)
	proxy := newProxy(t, server)
	victim := openZK(t, ZooKeeperConfig{Servers: []string{proxy.addr()}, Chroot: chroot, SessionTimeout: testSessionTimeout})
	other := openZK(t, ZooKeeperConfig{Servers: []string{server}, Chroot: chroot, SessionTimeout: testSessionTimeout})

	reg := register(t, victim, member("a"))
	lead := campaign(t, victim, "e", "a").requireLeads(t)
	standby := campaign(t, other, "e", "b")
	require.Eventually(t, func() bool { return len(candidateNames(t, other, "e")) == 2 }, waitTimeout, 5*time.Millisecond)
	watch, err := other.WatchMembers(t.Context(), "worker")
	require.NoError(t, err)
	before := waitMembers(t, watch, "a")[0]
	obs, err := other.Election("e").Observe(t.Context())
	require.NoError(t, err)
	waitLeader(t, obs, "a")
	lost := reg.Lost()

	cut := time.Now()
	proxy.cut()

	// Others: the member is gone, and the standby leads, within the session
	// timeout (the server expires the session).
	waitMembers(t, watch)
	took := time.Since(cut)
	t.Logf("member gone for others %s after the cut", took)
	require.Less(t, took, testSessionTimeout+time.Second)
	standby.requireLeads(t)
	waitLeader(t, obs, "b")

	// The victim: its registration and leadership are lost; reads fail
	// rather than hang.
	requireClosed(t, lost, "registration lost")
	requireClosed(t, lead.Lost(), "leadership lost")
	t.Logf("victim's Lost %s after the cut", time.Since(cut))
	requireOpen(t, reg.Registered(), "registered while cut off")
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	began := time.Now()
	_, err = victim.Members(ctx, "worker")
	require.Error(t, err)
	require.Less(t, time.Since(began), 3*time.Second)

	// Reconnected: a new session, the member registered again.
	proxy.restore()
	requireClosed(t, reg.Registered(), "registered again")
	after := waitMembers(t, watch, "a")[0]
	require.True(t, after.RegisteredAt.After(before.RegisteredAt), "RegisteredAt %s, before %s", after.RegisteredAt, before.RegisteredAt)
	requireOpen(t, reg.Lost(), "the new registration's Lost")
	list, err := victim.Members(t.Context(), "worker")
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, ids(list))

	// It campaigns again, behind the new leader.
	again := campaign(t, victim, "e", "a")
	require.Eventually(t, func() bool { return len(candidateNames(t, other, "e")) == 2 }, waitTimeout, 5*time.Millisecond)
	again.requireWaits(t)
}

// TestZooKeeperServerDown stops the only server past the session timeout:
// the client reports its registration and leadership lost only then, and
// registers again once the server is back.
func TestZooKeeperServerDown(t *testing.T) {
	t.Parallel()
	e := testcontainers.ZooKeeperServer(t)
	c := openZK(t, ZooKeeperConfig{Servers: e.Connect(), SessionTimeout: testSessionTimeout})
	reg := register(t, c, member("a"))
	lead := campaign(t, c, "e", "a").requireLeads(t)
	lost := reg.Lost()

	stopped := time.Now()
	require.NoError(t, e.Stop(0))
	requireClosed(t, lead.Lost(), "leadership lost")
	took := time.Since(stopped)
	t.Logf("Lost %s after the server stopped", took)
	require.GreaterOrEqual(t, took, testSessionTimeout*9/10, "not before the session timeout")
	requireClosed(t, lost, "registration lost")
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	_, err := c.Election("e").Leader(ctx)
	require.Error(t, err)

	require.NoError(t, e.Start(0))
	requireClosed(t, reg.Registered(), "registered again")
	list, err := c.Members(t.Context(), "worker")
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, ids(list))
	campaign(t, c, "e", "a").requireLeads(t)
}

// TestZooKeeperEnsemble: with three servers, one down is not noticed; two
// down (no quorum) elect nobody new and lose the leadership only after the
// session timeout; with the servers back, everything converges.
func TestZooKeeperEnsemble(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	e := testcontainers.ZooKeeperEnsemble(t, 3)
	servers := e.Connect()
	cfg := ZooKeeperConfig{Servers: servers, SessionTimeout: timeout}
	a, b := openZK(t, cfg), openZK(t, cfg)
	regA := register(t, a, member("a"))
	regB := register(t, b, member("b"))
	leadA := campaign(t, a, "e", "a").requireLeads(t)
	candB := campaign(t, b, "e", "b")
	require.Eventually(t, func() bool { return len(candidateNames(t, a, "e")) == 2 }, waitTimeout, 5*time.Millisecond)

	// Stop the server the leader is connected to: it moves to another one
	// and keeps its session.
	first := slices.Index(servers, a.conn.Server())
	require.GreaterOrEqual(t, first, 0, "connected to %s", a.conn.Server())
	require.NoError(t, e.Stop(first))
	requireStaysOpen(t, leadA.Lost(), timeout+time.Second, "leadership lost with one server down")
	requireOpen(t, regA.Lost(), "a lost with one server down")
	requireOpen(t, regB.Lost(), "b lost with one server down")
	candB.requireWaits(t)
	list, err := b.Members(t.Context(), "worker")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, ids(list))

	// Stop a second one: no quorum.
	second := (first + 1) % 3
	stopped := time.Now()
	require.NoError(t, e.Stop(second))
	requireClosed(t, leadA.Lost(), "leadership lost without quorum")
	took := time.Since(stopped)
	t.Logf("leadership lost %s after the quorum was", took)
	require.GreaterOrEqual(t, took, timeout*9/10, "not before the session timeout")
	requireClosed(t, regA.Lost(), "a lost without quorum")
	requireClosed(t, regB.Lost(), "b lost without quorum")
	candB.requireWaits(t) // nobody new leads

	// Back: the members register again, and b leads (a's candidate node is
	// removed once a is connected again).
	require.NoError(t, e.Start(first))
	require.NoError(t, e.Start(second))
	requireClosed(t, regA.Registered(), "a registered again")
	requireClosed(t, regB.Registered(), "b registered again")
	candB.requireLeads(t)
	list, err = a.Members(t.Context(), "worker")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, ids(list))
	leader, err := a.Election("e").Leader(t.Context())
	require.NoError(t, err)
	require.Equal(t, "b", leader)
}

func TestZooKeeperConnectFails(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, err = NewZooKeeper(ctx, ZooKeeperConfig{Servers: []string{addr}})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// proxy forwards TCP connections to a server, and can cut them off.
type proxy struct {
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu      sync.Mutex
	blocked bool
	conns   map[net.Conn]struct{}
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.blocked {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
		}
		p.wg.Go(func() { pipe(up, c) })
		p.wg.Go(func() { pipe(c, up) })
	}
}

// cut closes the connections and refuses new ones until restore.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

func (p *proxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = false
}
