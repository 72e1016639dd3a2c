package coord

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"
)

// Defaults of ZooKeeperConfig.
const (
	DefaultChroot         = "/powny"
	DefaultSessionTimeout = 4 * time.Second
)

// ZooKeeperConfig configures [NewZooKeeper]. Servers is the only required
// field.
type ZooKeeperConfig struct {
	// Servers lists the ensemble's servers as "host:port" (port 2181 when
	// missing). Required. [ParseConnectString] reads them from a connect
	// string.
	Servers []string

	// Chroot is the node under which this Powny cluster keeps its nodes
	// (members/<role>/<id>, election/<name>/...), so that several clusters can
	// share an ensemble. It is created when missing. Default DefaultChroot.
	Chroot string

	// SessionTimeout is the ZooKeeper session timeout: a process that dies is
	// gone for the others (its members removed, its leadership handed over)
	// after about this long. It is also how long the client waits without a
	// connection before it reports its registrations and leaderships lost.
	// The server clamps it to [2, 20] times its tickTime (4 s to 40 s by
	// default): configure the server to accept it. Default
	// DefaultSessionTimeout.
	SessionTimeout time.Duration

	// Logger receives session state changes and retried failures. Default: a
	// logger that discards.
	Logger *slog.Logger
}

// WithDefaults returns a copy of the config with every empty field set to its
// default.
func (c ZooKeeperConfig) WithDefaults() ZooKeeperConfig {
	c.Chroot = cmp.Or(c.Chroot, DefaultChroot)
	c.SessionTimeout = cmp.Or(c.SessionTimeout, DefaultSessionTimeout)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	c.Servers = append([]string(nil), c.Servers...)
	for i, s := range c.Servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			c.Servers[i] = net.JoinHostPort(s, "2181")
		}
	}
	return c
}

func (c ZooKeeperConfig) validate() error {
	if len(c.Servers) == 0 {
		return errors.New("coord: ZooKeeperConfig.Servers is empty")
	}
	for _, s := range c.Servers {
		host, port, err := net.SplitHostPort(s)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("coord: ZooKeeperConfig.Servers: %q is not host:port", s)
		}
	}
	if err := validChroot(c.Chroot); err != nil {
		return fmt.Errorf("coord: ZooKeeperConfig.Chroot: %w", err)
	}
	if c.SessionTimeout < 100*time.Millisecond {
		return fmt.Errorf("coord: ZooKeeperConfig.SessionTimeout %s is below 100ms", c.SessionTimeout)
	}
	return nil
}

// validChroot checks an absolute node path other than "/".
func validChroot(p string) error {
	if !strings.HasPrefix(p, "/") || p == "/" || strings.HasSuffix(p, "/") {
		return fmt.Errorf("%q: want an absolute path such as %q, without a trailing slash", p, DefaultChroot)
	}
	for part := range strings.SplitSeq(p[1:], "/") {
		if err := validName("path element", part); err != nil {
			return fmt.Errorf("%q: %w", p, err)
		}
	}
	return nil
}

// ParseConnectString reads a ZooKeeper connect string, as POWNY_ZOOKEEPER
// holds it: comma-separated host:port pairs, optionally followed by a chroot
// path ("zk1:2181,zk2:2181,zk3:2181/powny-prod"). chroot is "" when the
// string has none.
func ParseConnectString(s string) (servers []string, chroot string, err error) {
	s = strings.TrimSpace(s)
	hosts := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		hosts, chroot = s[:i], s[i:]
		if err := validChroot(chroot); err != nil {
			return nil, "", fmt.Errorf("coord: ZooKeeper connect string %q: chroot %w", s, err)
		}
	}
	for h := range strings.SplitSeq(hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			servers = append(servers, h)
		}
	}
	if len(servers) == 0 {
		return nil, "", fmt.Errorf("coord: ZooKeeper connect string %q names no server", s)
	}
	return servers, chroot, nil
}
