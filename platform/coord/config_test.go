package coord

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseConnectString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		servers []string
		chroot  string
		err     bool
	}{
		{in: "zk1:2181", servers: []string{"zk1:2181"}},
		{in: " zk1:2181, zk2:2182 ,zk3", servers: []string{"zk1:2181", "zk2:2182", "zk3"}},
		{in: "zk1:2181,zk2:2181/powny-prod", servers: []string{"zk1:2181", "zk2:2181"}, chroot: "/powny-prod"},
		{in: "zk1/a/b", servers: []string{"zk1"}, chroot: "/a/b"},
		{in: "", err: true},
		{in: "/powny", err: true},
		{in: "zk1/", err: true},
		{in: "zk1/a//b", err: true},
	} {
		servers, chroot, err := ParseConnectString(tt.in)
		if tt.err {
			require.Error(t, err, tt.in)
			continue
		}
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.servers, servers, tt.in)
		require.Equal(t, tt.chroot, chroot, tt.in)
	}
}

func TestZooKeeperConfig(t *testing.T) {
	t.Parallel()
	cfg := ZooKeeperConfig{Servers: []string{"zk1", "zk2:2182"}}.WithDefaults()
	require.Equal(t, []string{"zk1:2181", "zk2:2182"}, cfg.Servers)
	require.Equal(t, DefaultChroot, cfg.Chroot)
	require.Equal(t, DefaultSessionTimeout, cfg.SessionTimeout)
	require.NotNil(t, cfg.Logger)
	require.NoError(t, cfg.validate())

	for _, bad := range []ZooKeeperConfig{
		{},
		{Servers: []string{"zk1"}, Chroot: "powny"},
		{Servers: []string{"zk1"}, Chroot: "/"},
		{Servers: []string{"zk1"}, Chroot: "/a/"},
		{Servers: []string{"zk1"}, SessionTimeout: time.Millisecond},
		{Servers: []string{":2181"}},
	} {
		require.Error(t, bad.WithDefaults().validate(), "%+v", bad)
	}
	_, err := NewZooKeeper(t.Context(), ZooKeeperConfig{})
	require.ErrorContains(t, err, "Servers")
}
