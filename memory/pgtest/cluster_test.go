//go:build unix

package pgtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/pgtest"
)

// The cluster tests check, under each fault:
//   - writes through the cluster's DSN succeed again within a bound;
//   - every acknowledged write is on the primary after the fault, and on
//     every member once the cluster is healthy again;
//   - the member that failed comes back as a standby, and a primary that
//     lost its leadership while hung acknowledges no write of its own.

// attemptTimeout bounds one write attempt: a write to a hung server waits
// this long before the writer tries again.
const attemptTimeout = 2 * time.Second

// faultBound bounds how long writes may fail after a fault, and each wait
// for the cluster; it is far above what the tests measure (seconds), for
// loaded machines.
const faultBound = 90 * time.Second

// ack is one acknowledged write: its row and when its successful attempt
// began and ended.
type ack struct {
	id         int64
	start, end time.Time
}

// writer inserts rows one at a time through the cluster's DSN, retrying a
// failed insert with the same id until it is acknowledged. It is safe for
// concurrent use.
type writer struct {
	pool *pgxpool.Pool

	mu     sync.Mutex // guards acks, last and more
	acks   []ack
	more   chan struct{} // closed at the next acknowledgement
	last   error         // the latest failed attempt's error
	wait   sync.WaitGroup
	stop   context.CancelFunc
	nextID int64 // used by the loop goroutine alone
}

func newWriter(t *testing.T, c *pgtest.Cluster) *writer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc, err := pgxpool.ParseConfig(c.DSN())
	require.NoError(t, err)
	pc.MaxConns = 8
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, "DROP TABLE IF EXISTS acked; CREATE TABLE acked (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())")
	require.NoError(t, err)
	return &writer{pool: pool}
}

// insert makes one attempt at writing row id.
func (w *writer) insert(ctx context.Context, id int64) error {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	// An attempt that failed may have committed: the retry must succeed.
	_, err := w.pool.Exec(ctx, "INSERT INTO acked (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", id)
	return err
}

// fill writes rows 1 to n with a few writers at once.
func (w *writer) fill(t *testing.T, n int) {
	t.Helper()
	const writers = 4
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for g := range writers {
		wg.Go(func() {
			for id := int64(g + 1); id <= int64(n); id += writers {
				start := time.Now()
				if err := w.insert(context.Background(), id); err != nil {
					errs[g] = fmt.Errorf("row %d: %w", id, err)
					return
				}
				w.record(ack{id: id, start: start, end: time.Now()})
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	w.nextID = int64(n) + 1
}

func (w *writer) record(a ack) {
	w.mu.Lock()
	w.acks = append(w.acks, a)
	if w.more != nil {
		close(w.more)
		w.more = nil
	}
	w.mu.Unlock()
}

// run writes rows from the next id on, one at a time, until stopped; at most
// a million attempts, and for no longer than the fault tests' bounds.
func (w *writer) run() {
	ctx, cancel := context.WithTimeout(context.Background(), 4*faultBound)
	w.stop = cancel
	w.wait.Go(func() {
		for attempt := 0; attempt < 1_000_000 && ctx.Err() == nil; attempt++ {
			start := time.Now()
			err := w.insert(ctx, w.nextID)
			if err != nil {
				w.mu.Lock()
				w.last = err
				w.mu.Unlock()
				// A failed connect returns at once; do not spin on it.
				select {
				case <-ctx.Done():
				case <-time.After(20 * time.Millisecond):
				}
				continue
			}
			w.record(ack{id: w.nextID, start: start, end: time.Now()})
			w.nextID++
		}
	})
}

// halt stops run and waits for it to end.
func (w *writer) halt() {
	w.stop()
	w.wait.Wait()
}

// acked returns the ids of all acknowledged rows.
func (w *writer) acked() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]int64, len(w.acks))
	for i, a := range w.acks {
		ids[i] = a.id
	}
	return ids
}

// resumed waits until n writes whose attempts began after at have been
// acknowledged, and returns the longest time from at on in which no write
// was acknowledged: the outage the fault at at caused. (A write may be
// acknowledged just after a kill, by a server that has not yet noticed.)
func (w *writer) resumed(t *testing.T, at time.Time, n int) (gap time.Duration) {
	t.Helper()
	deadline := time.Now().Add(faultBound)
	for {
		w.mu.Lock()
		var after []ack
		prev := at
		for _, a := range w.acks {
			if a.end.After(at) {
				gap = max(gap, a.end.Sub(prev))
				prev = a.end
			}
			if a.start.After(at) {
				after = append(after, a)
			}
		}
		last := w.last
		if w.more == nil {
			w.more = make(chan struct{})
		}
		more := w.more
		w.mu.Unlock()
		if len(after) >= n {
			return gap
		}
		select {
		case <-more:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("writes did not resume within %v after the fault: %d acknowledged since; last error: %v", faultBound, len(after), last)
		}
	}
}

// requireAcked checks that every acknowledged row is on each member, once
// the member has replayed the primary's WAL as of now.
func requireAcked(t *testing.T, primary *pgtest.Member, members []*pgtest.Member, acked []int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), faultBound)
	defer cancel()
	pc, err := pgx.Connect(ctx, primary.DSN())
	require.NoError(t, err)
	defer pc.Close(ctx)
	var lsn string
	require.NoError(t, pc.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn))
	for _, m := range members {
		c, err := pgx.Connect(ctx, m.DSN())
		require.NoError(t, err, m.Name)
		for {
			var caughtUp bool
			require.NoError(t, c.QueryRow(ctx,
				"SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= $1::pg_lsn", lsn).Scan(&caughtUp), m.Name)
			if caughtUp {
				break
			}
			require.NoError(t, ctx.Err(), "%s did not replay up to %s", m.Name, lsn)
			// Another process's replay tells no one: ask again in a moment.
			time.Sleep(50 * time.Millisecond)
		}
		rows, err := c.Query(ctx, "SELECT id FROM acked")
		require.NoError(t, err, m.Name)
		have, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		require.NoError(t, err, m.Name)
		slices.Sort(have)
		for _, id := range acked {
			if _, found := slices.BinarySearch(have, id); !found {
				t.Fatalf("%s lacks acknowledged row %d (it has %d rows)", m.Name, id, len(have))
			}
		}
		require.NoError(t, c.Close(ctx))
	}
}

// requireStandby checks that m answers as a standby.
func requireStandby(t *testing.T, m *pgtest.Member) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, m.DSN())
	require.NoError(t, err, m.Name)
	defer c.Close(ctx)
	var standby bool
	require.NoError(t, c.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&standby))
	require.True(t, standby, "%s is not a standby", m.Name)
}

// The package's cluster, shared by its fault tests (each waits for it to be
// whole again), stopped by TestMain.
var shared struct {
	once sync.Once
	c    *pgtest.Cluster
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.c != nil {
		_ = shared.c.Close()
	}
	os.Exit(code)
}

func newTestCluster(t *testing.T) (*pgtest.Cluster, *writer, *pgtest.Member) {
	if testing.Short() {
		t.Skip("starts a three-member Patroni cluster, which -short leaves out; go test ./memory/pgtest runs it")
	}
	pgtest.Require(t, pgtest.PostgreSQL, pgtest.Patroni, pgtest.Etcd)
	shared.once.Do(func() {
		start := time.Now()
		shared.c, shared.err = pgtest.StartCluster(context.Background(), pgtest.ClusterOptions{})
		t.Logf("cluster healthy %v after start", time.Since(start).Round(time.Millisecond))
	})
	require.NoError(t, shared.err)
	c := shared.c
	ctx, cancel := context.WithTimeout(context.Background(), faultBound)
	defer cancel()
	require.NoError(t, c.WaitHealthy(ctx))
	w := newWriter(t, c)
	p, err := c.Primary(ctx)
	require.NoError(t, err)
	return c, w, p
}

func TestClusterFailover(t *testing.T) {
	c, w, old := newTestCluster(t)
	w.fill(t, 1000)
	w.run()
	defer w.halt()
	w.resumed(t, time.Now(), 10)

	killed := time.Now()
	require.NoError(t, old.Kill())
	ctx, cancel := context.WithTimeout(context.Background(), faultBound)
	defer cancel()
	p, took, err := c.WaitNewPrimary(ctx, old)
	require.NoError(t, err)
	gap := w.resumed(t, killed, 100)
	t.Logf("kill -9 of %s: %s primary after %v; no write acknowledged for %v",
		old.Name, p.Name, took.Round(time.Millisecond), gap.Round(time.Millisecond))
	w.halt()
	acked := w.acked()
	requireAcked(t, p, []*pgtest.Member{p}, acked)

	require.NoError(t, c.WaitHealthy(ctx))
	t.Logf("healthy again %v after the kill", time.Since(killed).Round(time.Millisecond))
	requireStandby(t, old)
	requireAcked(t, p, c.Members(), acked)
}

func TestClusterStoppedStandby(t *testing.T) {
	c, w, p := newTestCluster(t)
	w.fill(t, 100)
	w.run()
	defer w.halt()
	w.resumed(t, time.Now(), 10)

	var standby *pgtest.Member
	for _, m := range c.Members() {
		if m != p {
			standby = m
			break
		}
	}
	stopped := time.Now()
	require.NoError(t, standby.Stop())
	gap := w.resumed(t, stopped, 100)
	t.Logf("SIGSTOP of standby %s: no write acknowledged for %v", standby.Name, gap.Round(time.Millisecond))
	require.NoError(t, standby.Cont())

	ctx, cancel := context.WithTimeout(context.Background(), faultBound)
	defer cancel()
	require.NoError(t, c.WaitHealthy(ctx))
	t.Logf("healthy again %v after the stop", time.Since(stopped).Round(time.Millisecond))
	now, err := c.Primary(ctx)
	require.NoError(t, err)
	require.Equal(t, p, now, "the primary changed")
	w.halt()
	requireAcked(t, p, c.Members(), w.acked())
}

func TestClusterStoppedPrimary(t *testing.T) {
	c, w, old := newTestCluster(t)
	w.fill(t, 100)
	w.run()
	defer w.halt()
	w.resumed(t, time.Now(), 10)

	stopped := time.Now()
	require.NoError(t, old.Stop())
	defer old.Cont()
	ctx, cancel := context.WithTimeout(context.Background(), faultBound)
	defer cancel()
	p, took, err := c.WaitNewPrimary(ctx, old)
	require.NoError(t, err)
	gap := w.resumed(t, stopped, 100)
	t.Logf("SIGSTOP of primary %s: %s primary after %v; no write acknowledged for %v",
		old.Name, p.Name, took.Round(time.Millisecond), gap.Round(time.Millisecond))

	// Continued, the old primary believes for a moment that it leads. A
	// write sent to it directly must not be acknowledged: no standby
	// follows it any more, and it waits for two.
	require.NoError(t, old.Cont())
	zombie := make(chan error, 1)
	go func() {
		zctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		conn, err := pgx.Connect(zctx, old.DSN())
		if err != nil {
			zombie <- err
			return
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(zctx, "INSERT INTO acked (id) VALUES (-1)")
		zombie <- err
	}()
	require.Error(t, <-zombie, "the old primary acknowledged a write after losing its leadership")

	require.NoError(t, c.WaitHealthy(ctx))
	t.Logf("healthy again %v after the stop", time.Since(stopped).Round(time.Millisecond))
	requireStandby(t, old)
	w.halt()
	acked := w.acked()
	requireAcked(t, p, c.Members(), acked)
	for _, m := range c.Members() {
		conn, err := pgx.Connect(ctx, m.DSN())
		require.NoError(t, err)
		var n int
		require.NoError(t, conn.QueryRow(ctx, "SELECT count(*) FROM acked WHERE id = -1").Scan(&n))
		require.Zero(t, n, "%s holds the write the old primary took after losing its leadership", m.Name)
		require.NoError(t, conn.Close(ctx))
	}
}
