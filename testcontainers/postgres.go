package testcontainers

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	createTimeout   = time.Minute
	templateTimeout = 10 * time.Minute // init runs migrations
	dropTimeout     = time.Minute
	// inUseRetry bounds the retries of CREATE DATABASE while its template is
	// briefly accessed by another session.
	inUseRetry = 10 * time.Second
	// maxNameLen keeps database names within PostgreSQL's 63 bytes with room
	// for the counter suffix.
	maxNameLen = 40
)

// Option configures [Postgres].
type Option func(*options)

type options struct {
	template *templateSpec
	errs     []error
}

type templateSpec struct {
	name     string
	initFunc func(ctx context.Context, dsn string) error
}

// templateNameRE accepts lower-case names that need no quoting.
var templateNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// WithTemplate makes the test's database a copy of the template database
// name. The first test of the binary that asks for name creates that database
// and runs initFunc on it (typically: migrations); initFunc must close its
// connections before it returns. Every later test, and every concurrent one,
// waits for that and copies the result (CREATE DATABASE ... TEMPLATE), which
// takes milliseconds. If initFunc fails, every test asking for name fails
// with its error. The name identifies the init: use one name per initFunc.
func WithTemplate(name string, initFunc func(ctx context.Context, dsn string) error) Option {
	return func(o *options) {
		switch {
		case o.template != nil:
			o.errs = append(o.errs, fmt.Errorf("WithTemplate(%q): a template (%q) is already set", name, o.template.name))
		case !templateNameRE.MatchString(name):
			o.errs = append(o.errs, fmt.Errorf("WithTemplate(%q): the name must match %s", name, templateNameRE))
		case initFunc == nil:
			o.errs = append(o.errs, fmt.Errorf("WithTemplate(%q): initFunc is nil", name))
		default:
			o.template = &templateSpec{name: name, initFunc: initFunc}
		}
	}
}

// Postgres gives the test a fresh database on the server shared by the test
// binary and returns its DSN (superuser). The database is empty, or a copy of
// the template given by WithTemplate. It is dropped when the test ends.
func Postgres(tb testing.TB, opts ...Option) string {
	tb.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := errors.Join(o.errs...); err != nil {
		tb.Fatalf("testcontainers: %v", err)
	}
	s := PostgresServer(tb)

	ctx, cancel := context.WithTimeout(context.Background(), createTimeout)
	defer cancel()
	var tplName string
	if o.template != nil {
		if err := s.template(o.template); err != nil {
			tb.Fatalf("testcontainers: %v", err)
		}
		tplName = o.template.name
	}
	name := s.newDatabaseName(tb.Name())
	if err := s.createDatabase(ctx, name, tplName); err != nil {
		tb.Fatalf("testcontainers: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), dropTimeout)
		defer cancel()
		if err := s.dropDatabase(ctx, name); err != nil {
			tb.Errorf("testcontainers: %v", err)
		}
	})
	return s.DSN(name)
}

// newDatabaseName makes a unique database name from a test name.
func (s *Server) newDatabaseName(testName string) string {
	var b strings.Builder
	underscore := false
	for _, r := range strings.ToLower(testName) {
		if b.Len() >= maxNameLen {
			break
		}
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
			underscore = false
		} else if !underscore && b.Len() > 0 {
			b.WriteByte('_')
			underscore = true
		}
	}
	base := strings.TrimRight(b.String(), "_")
	if base == "" || base[0] < 'a' || base[0] > 'z' {
		base = "t" + base
	}
	return fmt.Sprintf("%s_%d", base, s.seq.Add(1))
}

// createDatabase creates name, as a copy of template when it is not empty.
func (s *Server) createDatabase(ctx context.Context, name, template string) error {
	sql := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		sql += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	sql += s.createOptions
	deadline := time.Now().Add(inUseRetry)
	delay := 5 * time.Millisecond
	for {
		_, err := s.admin.Exec(ctx, sql)
		if err == nil {
			return nil
		}
		// "source database is being accessed by other users": a session on the
		// template (its init's last connections closing, or someone's stray
		// connection) blocks the copy; it is usually gone a moment later.
		if !isObjectInUse(err) || time.Now().After(deadline) {
			return fmt.Errorf("create database %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create database %s: %w", name, errors.Join(ctx.Err(), err))
		case <-time.After(delay):
		}
		delay = min(2*delay, 100*time.Millisecond)
	}
}

func (s *Server) dropDatabase(ctx context.Context, name string) error {
	if _, err := s.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func isObjectInUse(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55006" // object_in_use
}

// template is a template database, created once per test binary.
type template struct {
	once sync.Once
	err  error
}

// template makes sure the template database of spec exists and is ready to copy.
func (s *Server) template(spec *templateSpec) error {
	s.mu.Lock()
	tpl, ok := s.templates[spec.name]
	if !ok {
		tpl = &template{}
		s.templates[spec.name] = tpl
	}
	s.mu.Unlock()
	tpl.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), templateTimeout)
		defer cancel()
		tpl.err = s.buildTemplate(ctx, spec)
	})
	return tpl.err
}

func (s *Server) buildTemplate(ctx context.Context, spec *templateSpec) error {
	ident := pgx.Identifier{spec.name}.Sanitize()
	if _, err := s.admin.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		return fmt.Errorf("template %s: create: %w", spec.name, err)
	}
	if err := spec.initFunc(ctx, s.DSN(spec.name)); err != nil {
		return fmt.Errorf("template %s: init: %w", spec.name, err)
	}
	// Mark it a template and refuse new sessions, so that nothing connects to
	// it by mistake (a session on a template blocks every copy).
	if _, err := s.admin.Exec(ctx, "ALTER DATABASE "+ident+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("template %s: mark as template: %w", spec.name, err)
	}
	// End the sessions init left behind (a pool closing in the background).
	for {
		var left int
		err := s.admin.QueryRow(ctx,
			`SELECT count(*) FROM (
			   SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
			   WHERE datname = $1 AND pid <> pg_backend_pid()) t`, spec.name).Scan(&left)
		if err != nil {
			return fmt.Errorf("template %s: end its sessions: %w", spec.name, err)
		}
		if left == 0 {
			return nil
		}
	}
}
