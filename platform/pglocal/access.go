package pglocal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// account is the OS user that runs initdb and postgres.
type account struct {
	name   string
	uid    uint32
	gid    uint32
	groups []uint32
	// cred is nil when the account is the current user (no switch needed).
	cred *syscall.Credential
}

// lookupAccount resolves name and decides whether the children must switch to it.
func lookupAccount(name string) (*account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		if os.Geteuid() == 0 {
			return nil, fmt.Errorf("pglocal: PostgreSQL refuses to run as root and user %q cannot be found (create it, e.g. useradd --system %s, or set Config.RunAs): %w",
				name, name, err)
		}
		return nil, fmt.Errorf("pglocal: Config.RunAs: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pglocal: user %q: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pglocal: user %q: gid %q: %w", name, u.Gid, err)
	}
	a := &account{name: name, uid: uint32(uid), gid: uint32(gid)}
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				a.groups = append(a.groups, uint32(n))
			}
		}
	}
	euid := os.Geteuid()
	switch {
	case a.uid == 0:
		return nil, errors.New("pglocal: PostgreSQL refuses to run as root: set Config.RunAs to an unprivileged user")
	case int(a.uid) == euid:
		// Already that user.
	case euid != 0:
		return nil, fmt.Errorf("pglocal: running PostgreSQL as user %q requires root; leave Config.RunAs empty to run as the current user", name)
	default:
		a.cred = &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}
	}
	return a, nil
}

// canSearch reports whether the account may traverse the directory described by fi.
func (a *account) canSearch(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true // cannot tell; let PostgreSQL report it
	}
	mode := fi.Mode().Perm()
	switch {
	case st.Uid == a.uid:
		return mode&0o100 != 0
	case st.Gid == a.gid || containsGID(a.groups, st.Gid):
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}

func containsGID(gids []uint32, gid uint32) bool {
	for _, g := range gids {
		if g == gid {
			return true
		}
	}
	return false
}

// checkReachable verifies that the account can traverse every existing
// ancestor of dir, so that PostgreSQL running as that user can reach it.
func (a *account) checkReachable(dir string) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err == nil && !a.canSearch(fi) {
			return fmt.Errorf("pglocal: PostgreSQL runs as user %q, which cannot traverse %s to reach the data directory %s: "+
				"choose a data directory that user can reach (set POWNY_DATA_DIR, e.g. to /var/tmp/powny) or make %s traversable (chmod o+x)",
				a.name, p, dir, p)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// prepareDataDir creates dir (parents 0755, dir itself 0700) and, when the
// cluster runs as another user, makes that user own it.
func (a *account) prepareDataDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("pglocal: create parent of data directory: %w", err)
	}
	if a.cred != nil {
		if err := a.checkReachable(dir); err != nil {
			return err
		}
	}
	if err := a.makeDir(dir); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("pglocal: data directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("pglocal: data directory %s is not a directory", dir)
	}
	if a.cred == nil {
		return nil
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid == a.uid {
		return nil
	}
	// Hand the whole tree to the user (a cluster made by an earlier run as
	// another user, or a directory just created by root).
	err = filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, int(a.uid), int(a.gid))
	})
	if err != nil {
		return fmt.Errorf("pglocal: give data directory to user %q: %w", a.name, err)
	}
	return nil
}

// makeDir creates dir (mode 0700) owned by the account.
func (a *account) makeDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("pglocal: create %s: %w", dir, err)
	}
	if a.cred != nil {
		if err := os.Chown(dir, int(a.uid), int(a.gid)); err != nil {
			return fmt.Errorf("pglocal: give %s to user %q: %w", dir, a.name, err)
		}
	}
	return nil
}
