//go:build unix

package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// clusterSize is the number of etcd members and of PostgreSQL members.
const clusterSize = 3

// clusterStartTimeout bounds StartCluster and NewCluster when the caller's
// context has no earlier deadline.
const clusterStartTimeout = 3 * time.Minute

// Patroni's timing, in seconds. Patroni needs ttl >= loop_wait +
// 2*retry_timeout; a leader whose Patroni cannot renew its key for ttl
// loses it, so ttl bounds how long a hung primary keeps the cluster
// without one.
const (
	patroniTTL          = 10
	patroniLoopWait     = 1
	patroniRetryTimeout = 4
)

// ClusterOptions configures StartCluster. The zero value is the cluster in
// the package docs.
type ClusterOptions struct {
	// Parameters are PostgreSQL settings for every member, applied after
	// the harness's own so that they win over them. Default: none.
	Parameters map[string]string
}

// Cluster is a Patroni-managed PostgreSQL cluster of three members with
// synchronous replication, and the three-member etcd Patroni keeps its
// state in. Its methods are safe for concurrent use. Close stops every
// process and removes every file; Close is idempotent.
type Cluster struct {
	dir     string
	scope   string
	etcd    []*etcdMember
	members []*Member
	client  *http.Client // for Patroni's REST API

	closed   atomic.Bool
	mu       sync.Mutex // guards closeErr
	closeErr error
}

// StartCluster starts etcd and three Patroni members, which bootstrap a
// PostgreSQL cluster, and returns once the cluster is healthy (see
// WaitHealthy). ctx bounds the start only; use Close to stop the cluster.
func StartCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	if err := lookup(PostgreSQL, Patroni, Etcd); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	bin, err := pgBinDir()
	if err != nil {
		return nil, err
	}
	acct, err := lookupAccount()
	if err != nil {
		return nil, err
	}
	ctx, cancel := withDefaultTimeout(ctx, clusterStartTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "herken-pgc-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	c := &Cluster{dir: dir, scope: "herken-" + hex.EncodeToString(suffix[:]), client: &http.Client{Timeout: time.Second}}
	if err := c.start(ctx, acct, bin, opts); err != nil {
		if logs := c.logs(); logs != "" {
			err = fmt.Errorf("%w\n%s", err, logs)
		}
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, acct account, bin string, opts ClusterOptions) error {
	if err := acct.own(c.dir); err != nil {
		return err
	}
	ports, err := freePorts(4 * clusterSize)
	if err != nil {
		return err
	}
	hosts := make([]string, clusterSize)
	for i := range clusterSize {
		c.etcd = append(c.etcd, &etcdMember{
			name:       "etcd" + strconv.Itoa(i),
			clientPort: ports[4*i],
			peerPort:   ports[4*i+1],
			dir:        filepath.Join(c.dir, "etcd"+strconv.Itoa(i)),
		})
		hosts[i] = "127.0.0.1:" + strconv.Itoa(ports[4*i])
		name := "pg" + strconv.Itoa(i)
		c.members = append(c.members, &Member{
			Name:    name,
			Port:    ports[4*i+2],
			apiPort: ports[4*i+3],
			dir:     filepath.Join(c.dir, name),
			acct:    acct,
			client:  c.client,
		})
	}
	if err := startEtcd(acct, c.etcd, c.scope); err != nil {
		return err
	}
	if err := waitEtcd(ctx, c.etcd); err != nil {
		return err
	}
	patroni, err := exec.LookPath("patroni")
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	for _, m := range c.members {
		m.patroniExe = patroni
		if err := os.MkdirAll(m.dir, 0o700); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		conf, err := json.MarshalIndent(c.patroniConfig(m, bin, hosts, opts), "", "  ")
		if err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		// JSON is YAML, which Patroni reads.
		if err := os.WriteFile(m.configPath(), conf, 0o600); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
		if err := acct.own(m.dir, m.configPath()); err != nil {
			return err
		}
		if err := m.StartPatroni(); err != nil {
			return err
		}
	}
	// A Patroni that gives up bootstrapping exits; then waiting on is in
	// vain.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for _, m := range c.members {
				if m.patroni.exited() {
					cancel(fmt.Errorf("%w: patroni of %s", errExited, m.Name))
					return
				}
			}
		}
	}()
	if err := c.WaitHealthy(ctx); err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, ctx.Err()) {
			return fmt.Errorf("pgtest: %w", cause)
		}
		return err
	}
	return nil
}

// clusterParameters are the PostgreSQL settings of every member.
var clusterParameters = map[string]any{
	"wal_level":             "logical",
	"hot_standby":           "on",
	"wal_log_hints":         "on", // for pg_rewind, with data checksums as well
	"max_connections":       300,
	"max_replication_slots": 64,
	"max_wal_senders":       64,
	"synchronous_commit":    "on",
	// Old WAL is removed, not renamed for reuse, and as little is kept
	// beyond what slots and checkpoints need as Patroni allows (it refuses
	// a wal_keep_size under 16MB and sets 128MB instead): tests check that
	// erased bytes leave the WAL.
	"wal_recycle":   "off",
	"wal_keep_size": "16MB",
	// A hung standby's WAL sender ends after this, so that Patroni sees it
	// gone and stops waiting for it; a hung primary is noticed as fast.
	"wal_sender_timeout":           "3s",
	"wal_receiver_timeout":         "3s",
	"wal_receiver_status_interval": "1s",
	"log_line_prefix":              "%m [%p] ",
	"log_checkpoints":              "off",
	"timezone":                     "UTC",
}

func (c *Cluster) patroniConfig(m *Member, bin string, etcdHosts []string, opts ClusterOptions) map[string]any {
	params := maps.Clone(clusterParameters)
	for k, v := range opts.Parameters {
		params[k] = v
	}
	addr := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	postgres := map[string]string{"username": "postgres"}
	return map[string]any{
		"scope":     c.scope,
		"namespace": "/herken/",
		"name":      m.Name,
		"log":       map[string]any{"level": "INFO"},
		"restapi":   map[string]any{"listen": addr(m.apiPort), "connect_address": addr(m.apiPort)},
		// Etcd's v2 API, not v3: Patroni 3.0.2 renews the leader key over
		// v3 with an unconditional put, so that a primary whose Patroni hung
		// past the TTL takes the key back from the member promoted meanwhile
		// (see the package docs). Over v2 the renewal compares the holder.
		"etcd": map[string]any{"hosts": etcdHosts},
		"bootstrap": map[string]any{
			"dcs": map[string]any{
				"ttl":                     patroniTTL,
				"loop_wait":               patroniLoopWait,
				"retry_timeout":           patroniRetryTimeout,
				"maximum_lag_on_failover": 16 << 20,
				// A primary whose PostgreSQL crashes is failed over at once
				// rather than restarted in place.
				"primary_start_timeout":   0,
				"synchronous_mode":        true,
				"synchronous_mode_strict": true,
				"synchronous_node_count":  clusterSize - 1,
				"postgresql": map[string]any{
					"use_pg_rewind": true,
					"use_slots":     true,
					"parameters":    params,
				},
			},
			"initdb": []any{"data-checksums", map[string]string{"encoding": "UTF8"}},
		},
		"postgresql": map[string]any{
			"listen":          addr(m.Port),
			"connect_address": addr(m.Port),
			"data_dir":        m.DataDir(),
			"bin_dir":         bin,
			"pgpass":          filepath.Join(m.dir, "pgpass"),
			"authentication": map[string]any{
				"superuser": postgres, "replication": postgres, "rewind": postgres,
			},
			"parameters": map[string]any{"unix_socket_directories": m.dir},
			"pg_hba":     strings.Split(strings.TrimSpace(trustHBA), "\n"),
			"basebackup": []any{map[string]string{"checkpoint": "fast"}},
		},
	}
}

// NewCluster starts a cluster for the test and stops it at the test's
// cleanup; on a failed test the cleanup logs the end of every member's log.
// It skips the test when a program is missing (see Require) and fails it
// when the cluster does not start.
func NewCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	Require(t, PostgreSQL, Patroni, Etcd)
	c, err := StartCluster(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.logs())
		}
		if err := c.Close(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// DSN returns a URL that reaches the writable primary through any member:
// a client tries the members in turn and keeps the one that accepts
// writes, giving each two seconds to answer.
func (c *Cluster) DSN() string {
	hosts := make([]string, len(c.members))
	for i, m := range c.members {
		hosts[i] = "127.0.0.1:" + strconv.Itoa(m.Port)
	}
	return "postgres://postgres@" + strings.Join(hosts, ",") +
		"/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=2"
}

// Members returns the cluster's members, pg0, pg1 and pg2.
func (c *Cluster) Members() []*Member { return slices.Clone(c.members) }

// patroniView is what Patroni's /cluster endpoint says of the members.
type patroniView struct {
	Members []patroniMember
}

type patroniMember struct {
	Name     string
	Role     string // leader, sync_standby or replica
	State    string // running, starting, stopped…
	Timeline int
	Lag      any // bytes, or "unknown"
}

// view asks the members' Patroni in turn for the cluster as stored in
// etcd, and returns the first answer.
func (c *Cluster) view(ctx context.Context) (patroniView, error) {
	var errs []error
	for _, m := range c.members {
		var v patroniView
		if err := m.api(ctx, "/cluster", &v); err != nil {
			errs = append(errs, err)
			continue
		}
		return v, nil
	}
	return patroniView{}, errors.Join(errs...)
}

// writable reports, for every member at once, whether its PostgreSQL
// answers as a primary; a member that does not answer within a second
// counts as not writable.
func (c *Cluster) writable(ctx context.Context) []bool {
	out := make([]bool, len(c.members))
	var wg sync.WaitGroup
	for i, m := range c.members {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			inRecovery, err := m.inRecovery(ctx)
			out[i] = err == nil && !inRecovery
		})
	}
	wg.Wait()
	return out
}

// primary returns the member that Patroni holds for leader when it is the
// only member whose PostgreSQL accepts writes.
func (c *Cluster) primary(ctx context.Context) (*Member, error) {
	v, err := c.view(ctx)
	if err != nil {
		return nil, err
	}
	leader := ""
	for _, m := range v.Members {
		if m.Role == "leader" && m.State == "running" {
			leader = m.Name
		}
	}
	if leader == "" {
		return nil, fmt.Errorf("no running leader in %+v", v.Members)
	}
	var found *Member
	for i, w := range c.writable(ctx) {
		if !w {
			continue
		}
		if found != nil || c.members[i].Name != leader {
			return nil, fmt.Errorf("leader %s, but %s accepts writes too", leader, c.members[i].Name)
		}
		found = c.members[i]
	}
	if found == nil {
		return nil, fmt.Errorf("leader %s does not accept writes", leader)
	}
	return found, nil
}

// Primary waits until Patroni has a leader and that member is the only one
// whose PostgreSQL accepts writes, and returns it.
func (c *Cluster) Primary(ctx context.Context) (*Member, error) {
	var p *Member
	err := poll(ctx, 100*time.Millisecond, func() error {
		var err error
		p, err = c.primary(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgtest: no primary: %w", err)
	}
	return p, nil
}

// WaitNewPrimary waits until a member other than old is the primary (see
// Primary), and returns it and how long the wait took.
func (c *Cluster) WaitNewPrimary(ctx context.Context, old *Member) (*Member, time.Duration, error) {
	start := time.Now()
	var p *Member
	err := poll(ctx, 100*time.Millisecond, func() error {
		var err error
		if p, err = c.primary(ctx); err != nil {
			return err
		}
		if p == old {
			return fmt.Errorf("%s is still the primary", old.Name)
		}
		return nil
	})
	if err != nil {
		return nil, time.Since(start), fmt.Errorf("pgtest: no new primary: %w", err)
	}
	return p, time.Since(start), nil
}

// WaitHealthy waits until the cluster is whole: one primary (see Primary),
// the two other members streaming from it as synchronous standbys, and
// Patroni listing both as synchronous, so that either may take over.
func (c *Cluster) WaitHealthy(ctx context.Context) error {
	err := poll(ctx, 100*time.Millisecond, func() error {
		p, err := c.primary(ctx)
		if err != nil {
			return err
		}
		streaming, err := p.syncStandbys(ctx)
		if err != nil {
			return err
		}
		v, err := c.view(ctx)
		if err != nil {
			return err
		}
		for _, m := range c.members {
			if m == p {
				continue
			}
			if !slices.Contains(streaming, m.Name) {
				return fmt.Errorf("%s is not streaming synchronously from %s (those are %v)", m.Name, p.Name, streaming)
			}
			i := slices.IndexFunc(v.Members, func(vm patroniMember) bool { return vm.Name == m.Name })
			if i < 0 || v.Members[i].Role != "sync_standby" || v.Members[i].State != "running" {
				return fmt.Errorf("patroni does not list %s as a running synchronous standby: %+v", m.Name, v.Members)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pgtest: cluster not healthy: %w", err)
	}
	return nil
}

// Close stops every Patroni, which stops its PostgreSQL, then any
// PostgreSQL left behind by a killed Patroni, then etcd; each is continued
// first in case a fault stopped it, and killed when it does not end within
// a bound. Then it removes the cluster's files.
func (c *Cluster) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.closeErr
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var (
		errs []error
		emu  sync.Mutex
		wg   sync.WaitGroup
	)
	each := func(f func(*Member) error) {
		for _, m := range c.members {
			wg.Go(func() {
				if err := f(m); err != nil {
					emu.Lock()
					errs = append(errs, err)
					emu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	each(func(m *Member) error { _ = m.Cont(); return nil })
	each((*Member).stopPatroni)
	each((*Member).stopPostgres)
	// One etcd member at a time: a leader that stops hands its leadership
	// to a running member, and waits seconds for that when all stop at once.
	for _, e := range c.etcd {
		if e.proc != nil {
			if err := e.proc.stop(syscall.SIGTERM); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, fmt.Errorf("pgtest: %w", err))
	}
	c.closeErr = errors.Join(errs...)
	return c.closeErr
}

// logs returns the end of every member's log, for a failed test.
func (c *Cluster) logs() string {
	var b strings.Builder
	for _, m := range c.members {
		fmt.Fprintf(&b, "--- %s (patroni and postgres) ---\n%s\n", m.Name, readTail(m.logPath()))
	}
	for _, e := range c.etcd {
		fmt.Fprintf(&b, "--- %s ---\n%s\n", e.name, readTail(filepath.Join(e.dir, "etcd.log")))
	}
	return b.String()
}
