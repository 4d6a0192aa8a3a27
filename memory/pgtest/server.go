//go:build unix

package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// startTimeout bounds how long Start and NewServer wait for the server
// when the caller's context has no earlier deadline.
const startTimeout = 60 * time.Second

// Server is one PostgreSQL server on 127.0.0.1, for functional tests: it
// runs with fsync and full_page_writes off, so a crash of the machine may
// corrupt it. Its methods are safe for concurrent use. Close stops it and
// removes its files; Close is idempotent.
type Server struct {
	dir  string // temporary directory; holds data and the unix socket
	port int
	proc *proc
	pool *pgxpool.Pool // connections to the postgres database, for NewDatabase

	next     atomic.Int64 // numbers the databases NewDatabase makes
	closed   atomic.Bool
	mu       sync.Mutex // guards closeErr
	closeErr error
}

// Option changes how Start configures a server.
type Option func(*serverConfig)

type serverConfig struct {
	settings [][2]string
}

// WithSetting sets a PostgreSQL configuration parameter on the server's
// command line, after the harness's own settings so that it wins over them.
// By default the server has only the settings in the package docs.
func WithSetting(name, value string) Option {
	return func(c *serverConfig) { c.settings = append(c.settings, [2]string{name, value}) }
}

// serverSettings are the single server's settings: logical decoding on, room
// for many replication clients, and speed over durability.
var serverSettings = [][2]string{
	{"listen_addresses", "127.0.0.1"},
	{"wal_level", "logical"},
	{"max_replication_slots", "64"},
	{"max_wal_senders", "64"},
	{"max_connections", "300"},
	{"fsync", "off"},
	{"full_page_writes", "off"},
	{"shared_buffers", "128MB"},
	{"log_min_messages", "warning"},
	{"log_checkpoints", "off"},
	{"log_line_prefix", "%m [%p] "},
	{"timezone", "UTC"},
}

// trustHBA lets every local and 127.0.0.1 client in as any user, for normal
// and replication connections: test servers on loopback only.
const trustHBA = `local all all trust
local replication all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
`

// Start runs initdb in a new temporary directory and starts a server on a
// free port of 127.0.0.1. It returns once the server accepts connections.
// ctx bounds the start only; use Close to stop the server.
func Start(ctx context.Context, opts ...Option) (*Server, error) {
	var cfg serverConfig
	for _, o := range opts {
		o(&cfg)
	}
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	acct, err := lookupAccount()
	if err != nil {
		return nil, err
	}
	ctx, cancel := withDefaultTimeout(ctx, startTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "herken-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{dir: dir}
	if err := s.start(ctx, acct, bin, cfg); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(ctx context.Context, acct account, bin string, cfg serverConfig) error {
	if err := acct.own(s.dir); err != nil {
		return err
	}
	initdb, log, err := acct.command(filepath.Join(s.dir, "initdb.log"), s.dir, filepath.Join(bin, "initdb"),
		"-D", s.DataDir(), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	if err != nil {
		return err
	}
	err = initdb.Run()
	log.Close()
	if err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, readTail(filepath.Join(s.dir, "initdb.log")))
	}
	if err := os.WriteFile(filepath.Join(s.DataDir(), "pg_hba.conf"), []byte(trustHBA), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if err := acct.own(filepath.Join(s.DataDir(), "pg_hba.conf")); err != nil {
		return err
	}
	// Another process may take the free port before the server binds it:
	// then the server exits at once and a new port is tried.
	var lastErr error
	for attempt := 0; attempt < 5 && ctx.Err() == nil; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		s.port = ports[0]
		args := []string{"-D", s.DataDir(), "-p", strconv.Itoa(s.port), "-k", s.dir}
		for _, kv := range append(append([][2]string(nil), serverSettings...), cfg.settings...) {
			args = append(args, "-c", kv[0]+"="+kv[1])
		}
		cmd, log, err := acct.command(s.logPath(), s.dir, filepath.Join(bin, "postgres"), args...)
		if err != nil {
			return err
		}
		if s.proc, err = start(cmd, log); err != nil {
			return err
		}
		if lastErr = waitConnect(ctx, s.DSN(), s.proc); lastErr == nil {
			break
		}
		_ = s.proc.stop(syscall.SIGQUIT)
		s.proc = nil
	}
	if lastErr != nil {
		return fmt.Errorf("pgtest: postgres did not start: %w\n%s", lastErr, readTail(s.logPath()))
	}
	pc, err := pgxpool.ParseConfig(s.DSN())
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	pc.MaxConns = 8
	s.pool, err = pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// NewServer starts a server for the test and stops it at the test's
// cleanup. It skips the test when PostgreSQL is not installed (see
// Require) and fails it when the server does not start.
func NewServer(t testing.TB) *Server {
	t.Helper()
	Require(t, PostgreSQL)
	s, err := Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgres log:\n%s", readTail(s.logPath()))
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// DSN returns the URL of the server's postgres database, as the postgres
// superuser over TCP.
func (s *Server) DSN() string { return s.dsn("postgres") }

func (s *Server) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Port returns the server's TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DataDir returns the server's data directory. It is removed by Close.
func (s *Server) DataDir() string { return filepath.Join(s.dir, "data") }

func (s *Server) logPath() string { return filepath.Join(s.dir, "postgres.log") }

// NewDatabase creates an empty database for the test, from template0, and
// returns its URL. The database is dropped at the test's cleanup, with the
// connections still open to it. It is safe to call from parallel tests.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := s.databaseName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.pool.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if s.closed.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// FORCE ends the database's sessions but refuses while a logical
		// replication slot in it is active: a client that left its slot
		// to the server's noticing gets its WAL sender ended first.
		if _, err := s.pool.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`, name); err != nil {
			t.Errorf("pgtest: end the WAL senders of %s: %v", name, err)
		}
		err := poll(ctx, 20*time.Millisecond, func() error {
			_, err := s.pool.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			return err
		})
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.dsn(name)
}

// databaseName makes a name from the test's name, for whoever reads the
// server's log, and a number and random suffix that make it unique.
func (s *Server) databaseName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 32 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	var suffix [3]byte
	_, _ = rand.Read(suffix[:])
	return fmt.Sprintf("t_%s_%d_%s", strings.Trim(b.String(), "_"), s.next.Add(1), hex.EncodeToString(suffix[:]))
}

// Close stops the server with a fast shutdown, kills it if it does not stop
// within a bound, and removes its files.
func (s *Server) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.closeErr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.pool != nil {
		s.pool.Close()
	}
	if s.proc != nil {
		errs = append(errs, s.proc.stop(syscall.SIGINT)) // fast shutdown
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, fmt.Errorf("pgtest: %w", err))
	}
	s.closeErr = errors.Join(errs...)
	return s.closeErr
}

// waitConnect polls until dsn accepts a connection, the program p exits, or
// ctx ends.
func waitConnect(ctx context.Context, dsn string, p *proc) error {
	return poll(ctx, 50*time.Millisecond, func() error {
		if p != nil && p.exited() {
			return errExited
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		c, err := pgx.Connect(cctx, dsn)
		if err != nil {
			return err
		}
		return c.Close(cctx)
	})
}

var errExited = errors.New("pgtest: the program exited")

// poll calls check every interval until it returns nil or errExited, or ctx
// ends; then it returns check's last error.
func poll(ctx context.Context, interval time.Duration, check func() error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := check()
		if err == nil || errors.Is(err, errExited) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// readTail returns the last 64 KiB of a log file, for error messages.
func readTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	const max = 64 << 10
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
