//go:build unix

package pgtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Member is one PostgreSQL server of a Cluster and the Patroni that
// manages it. Its methods are safe for concurrent use; it lives as long as
// its Cluster.
type Member struct {
	// Name is the member's name in Patroni, and the application_name its
	// PostgreSQL uses as a standby: pg0, pg1 or pg2.
	Name string
	// Port is the member's PostgreSQL port on 127.0.0.1.
	Port int

	apiPort    int // Patroni's REST API
	dir        string
	acct       account
	client     *http.Client
	patroniExe string

	mu      sync.Mutex // guards patroni and stopped
	patroni *proc
	stopped []int // process groups of PostgreSQL that Stop stopped
}

// DSN returns the URL of this member's postgres database alone, which
// reads the member even while it is a standby.
func (m *Member) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", m.Port)
}

// DataDir returns the member's PostgreSQL data directory.
func (m *Member) DataDir() string { return filepath.Join(m.dir, "data") }

func (m *Member) configPath() string { return filepath.Join(m.dir, "patroni.yml") }
func (m *Member) logPath() string    { return filepath.Join(m.dir, "patroni.log") }

// postmaster returns the PID of the member's running postmaster, from the
// first line of postmaster.pid.
func (m *Member) postmaster() (int, error) {
	b, err := os.ReadFile(filepath.Join(m.DataDir(), "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("pgtest: %s has no running postmaster: %w", m.Name, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pgtest: %s: postmaster.pid starts with %q", m.Name, line)
	}
	if !alive(pid) {
		return 0, fmt.Errorf("pgtest: %s: postmaster %d is not running", m.Name, pid)
	}
	return pid, nil
}

// Kill sends SIGKILL to the member's postmaster alone, as a crash of
// PostgreSQL; its other processes end when they see it gone. Patroni fails
// over when the member was the primary and restarts it as a standby.
func (m *Member) Kill() error {
	pid, err := m.postmaster()
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("pgtest: kill %s: %w", m.Name, err)
	}
	return nil
}

// Stop sends SIGSTOP to the member's postmaster and all its processes, so
// that its PostgreSQL hangs while its Patroni runs on. Cont, and the
// cluster's Close, continue it.
func (m *Member) Stop() error {
	pid, err := m.postmaster()
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// The postmaster first, so that it starts no process the scan misses.
	// Each PostgreSQL process makes a session of its own, so no process
	// group holds them all: they are found by their parent.
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("pgtest: stop %s: %w", m.Name, err)
	}
	m.stopped = append(m.stopped, pid)
	kids, err := children(pid)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if err := syscall.Kill(k, syscall.SIGSTOP); err == nil {
			m.stopped = append(m.stopped, k)
		}
	}
	return nil
}

// Cont sends SIGCONT to the PostgreSQL processes Stop stopped.
func (m *Member) Cont() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	// Children first, so that the postmaster finds them running.
	for i := len(m.stopped) - 1; i >= 0; i-- {
		if err := syscall.Kill(m.stopped[i], syscall.SIGCONT); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("pgtest: continue %s: %w", m.Name, err))
		}
	}
	m.stopped = nil
	return errors.Join(errs...)
}

// children returns the processes whose parent is pid, from /proc where
// there is one, else from pgrep.
func children(pid int) ([]int, error) {
	if !procMounted() {
		out, err := exec.Command("pgrep", "-P", strconv.Itoa(pid)).Output()
		if err != nil && len(out) == 0 {
			return nil, nil // pgrep exits 1 when it finds none
		}
		var kids []int
		for _, f := range strings.Fields(string(out)) {
			if k, err := strconv.Atoi(f); err == nil {
				kids = append(kids, k)
			}
		}
		return kids, nil
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	var kids []int
	for _, e := range entries {
		k, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // it ended meanwhile
		}
		// pid (comm) state ppid …: the name may hold spaces and
		// parentheses, so fields are counted from the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, k)
		}
	}
	return kids, nil
}

// KillPatroni sends SIGKILL to the member's Patroni, leaving its
// PostgreSQL running unmanaged; StartPatroni starts Patroni again.
func (m *Member) KillPatroni() error {
	return m.signalPatroni(syscall.SIGKILL)
}

// StopPatroni sends SIGSTOP to the member's Patroni, so that it stops
// renewing its keys in etcd; ContPatroni continues it.
func (m *Member) StopPatroni() error { return m.signalPatroni(syscall.SIGSTOP) }

// ContPatroni sends SIGCONT to the member's Patroni.
func (m *Member) ContPatroni() error { return m.signalPatroni(syscall.SIGCONT) }

func (m *Member) signalPatroni(sig syscall.Signal) error {
	m.mu.Lock()
	p := m.patroni
	m.mu.Unlock()
	if p == nil {
		return fmt.Errorf("pgtest: %s: patroni is not running", m.Name)
	}
	return p.signal(sig)
}

// StartPatroni starts the member's Patroni unless it runs; it finds its
// PostgreSQL as it left it.
func (m *Member) StartPatroni() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.patroni != nil && !m.patroni.exited() {
		return nil
	}
	cmd, log, err := m.acct.command(m.logPath(), m.dir, m.patroniExe, m.configPath())
	if err != nil {
		return err
	}
	m.patroni, err = start(cmd, log)
	return err
}

// stopPatroni ends the member's Patroni, which stops its PostgreSQL.
func (m *Member) stopPatroni() error {
	m.mu.Lock()
	p := m.patroni
	m.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.stop(syscall.SIGTERM)
}

// stopPostgres ends a PostgreSQL that outlived its Patroni, as after
// KillPatroni: an immediate shutdown, then SIGKILL after a bound.
func (m *Member) stopPostgres() error {
	pid, err := m.postmaster()
	if err != nil {
		return nil // none is running
	}
	_ = m.Cont()
	_ = syscall.Kill(pid, syscall.SIGQUIT)
	deadline := time.Now().Add(stopGrace)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // its processes end when they see it gone
			return fmt.Errorf("pgtest: %s: postgres %d did not stop within %v and was killed", m.Name, pid, stopGrace)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// alive reports whether pid runs; a zombie that no one reaped is not
// alive. Where /proc is missing, any existing process counts.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !errors.Is(err, os.ErrNotExist) || !procMounted()
	}
	// The state follows the command name, which is in parentheses.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z' && b[i+2] != 'X'
	}
	return true
}

func procMounted() bool {
	_, err := os.Stat("/proc/self/stat")
	return err == nil
}

// api fetches path from the member's Patroni REST API and decodes its JSON
// answer into v.
func (m *Member) api(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(m.apiPort)+path, nil)
	if err != nil {
		return err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// inRecovery connects to the member and asks whether it is a standby.
func (m *Member) inRecovery(ctx context.Context) (bool, error) {
	c, err := pgx.Connect(ctx, m.DSN())
	if err != nil {
		return false, err
	}
	defer c.Close(context.Background())
	var r bool
	err = c.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&r)
	return r, err
}

// syncStandbys returns the names of the standbys streaming from the member
// whose acknowledgement a commit waits for.
func (m *Member) syncStandbys(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, m.DSN())
	if err != nil {
		return nil, err
	}
	defer c.Close(context.Background())
	rows, err := c.Query(ctx, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming' AND sync_state IN ('sync', 'quorum')")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
