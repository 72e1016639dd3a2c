package testcontainers

import (
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"
)

// zkConnect connects to servers and waits for a session.
func zkConnect(tb testing.TB, servers ...string) *zk.Conn {
	tb.Helper()
	conn, events, err := zk.Connect(servers, 2*time.Second, zk.WithLogger(zkNopLogger{}), zk.WithLogInfo(false))
	require.NoError(tb, err)
	tb.Cleanup(conn.Close)
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return conn
			}
		case <-timeout:
			tb.Fatalf("no ZooKeeper session with %v", servers)
		}
	}
}

func TestZooKeeperShared(t *testing.T) {
	t.Parallel()

	addr := ZooKeeper(t)
	require.Equal(t, addr, ZooKeeper(t), "one server per test binary")
	if zkShared.e.Backend() == BackendLocal {
		require.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)
	}

	a, b := ZooKeeperChroot(t), ZooKeeperChroot(t)
	require.NotEqual(t, a, b)
	require.True(t, strings.HasPrefix(a, "/t-TestZooKeeperShared-"), a)

	conn := zkConnect(t, addr)
	_, err := conn.Create(a, []byte("x"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	data, _, err := conn.Get(a)
	require.NoError(t, err)
	require.Equal(t, "x", string(data))
}

func TestZooKeeperChrootIsAValidPath(t *testing.T) {
	t.Parallel()

	t.Run("sub test/with: odd chars é", func(t *testing.T) {
		t.Parallel()
		p := ZooKeeperChroot(t)
		require.Regexp(t, `^/t-[A-Za-z0-9_.-]+-[0-9]+$`, p)
	})
}

func TestZooKeeperServerStopStartKill(t *testing.T) {
	t.Parallel()

	e := ZooKeeperServer(t)
	require.Equal(t, 1, e.Len())
	addr := e.Connect()[0]
	require.NotEqual(t, ZooKeeper(t), addr, "a private server")

	conn := zkConnect(t, addr)
	_, err := conn.Create("/kept", []byte("v1"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	conn.Close()

	require.NoError(t, e.Stop(0))
	require.Error(t, tcpAccepts(t.Context(), addr), "stopped")
	require.NoError(t, e.Stop(0), "stopping a stopped server does nothing")

	require.NoError(t, e.Start(0))
	require.Equal(t, addr, e.Connect()[0], "same address")
	conn = zkConnect(t, addr)
	data, _, err := conn.Get("/kept")
	require.NoError(t, err, "same data")
	require.Equal(t, "v1", string(data))
	conn.Close()

	require.NoError(t, e.Kill(0))
	require.Error(t, tcpAccepts(t.Context(), addr), "killed")
	require.NoError(t, e.Start(0))
	conn = zkConnect(t, addr)
	_, _, err = conn.Get("/kept")
	require.NoError(t, err)

	require.Error(t, e.Stop(1))
	require.Error(t, e.Start(-1))
}

func TestZooKeeperEnsembleQuorum(t *testing.T) {
	t.Parallel()

	e := ZooKeeperEnsemble(t, 3)
	addrs := e.Connect()
	require.Len(t, addrs, 3)

	// A write through one server is read through another.
	w := zkConnect(t, addrs[0])
	_, err := w.Create("/q", []byte("1"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	r := zkConnect(t, addrs[2])
	_, err = r.Sync("/q")
	require.NoError(t, err)
	data, _, err := r.Get("/q")
	require.NoError(t, err)
	require.Equal(t, "1", string(data))

	// One server down: the others serve.
	require.NoError(t, e.Stop(0))
	require.Eventually(t, func() bool { return serves(t.Context(), addrs[1]) == nil }, 30*time.Second, 50*time.Millisecond,
		"a quorum of two serves (after electing a leader if server 0 led)")

	// Two down: the last one stops serving (a leader notices after
	// syncLimit ticks).
	require.NoError(t, e.Stop(1))
	require.Eventually(t, func() bool { return zkServing(t.Context(), addrs[2]) != nil }, 30*time.Second, 50*time.Millisecond)

	// Back up: a quorum again, with the data.
	began := time.Now()
	require.NoError(t, e.Start(0))
	t.Logf("server 0 back, with a quorum, in %s", time.Since(began))
	began = time.Now()
	require.NoError(t, e.Start(1))
	t.Logf("server 1 back in %s", time.Since(began))
	for _, addr := range addrs {
		require.NoError(t, zkPing(t.Context(), addr), addr)
	}
	c := zkConnect(t, addrs[1])
	data, _, err = c.Get("/q")
	require.NoError(t, err)
	require.Equal(t, "1", string(data))
}
