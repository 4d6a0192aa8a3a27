//go:build !wasip1 && unix

package memory

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/pgtest"
)

var failoverTrials = flag.Int("failover.trials", 1, "trials of each fault in TestFailoverLosesNothingAcknowledged")

// faultBound bounds each wait of the failover tests: a failover, writes
// resuming, the cluster whole again.
const faultBound = 2 * time.Minute

// TestFailoverLosesNothingAcknowledged writes through two instances of one
// store on a Patroni cluster with two synchronous standbys (contacts,
// updates of several changes, merges, forgets), injects a fault while they
// write, and checks, once the cluster is whole again: every acknowledged
// write is there, exactly once; every write that failed or whose outcome
// was unknown is there wholly or not at all (one that failed before its
// commit not at all); every forgotten customer is gone; Check is clean;
// each instance's briefs are what the database says; and every node holds
// the same data.
func TestFailoverLosesNothingAcknowledged(t *testing.T) {
	cluster := testCluster(t)
	faults := []struct {
		name   string
		inject func(t *testing.T, primary *pgtest.Member, standby *pgtest.Member)
	}{
		{"kill -9 of the primary", func(t *testing.T, primary, _ *pgtest.Member) {
			require.NoError(t, primary.Kill())
			_, took, err := cluster.WaitNewPrimary(context.Background(), primary)
			require.NoError(t, err)
			t.Logf("new primary after %v", took.Round(time.Millisecond))
		}},
		{"the primary hung past Patroni's TTL", func(t *testing.T, primary, _ *pgtest.Member) {
			require.NoError(t, primary.Stop())
			_, took, err := cluster.WaitNewPrimary(context.Background(), primary)
			// Continued whatever happened, so that it demotes and rejoins.
			require.NoError(t, primary.Cont())
			require.NoError(t, err)
			t.Logf("new primary after %v", took.Round(time.Millisecond))
		}},
		{"a standby hung", func(t *testing.T, _, standby *pgtest.Member) {
			require.NoError(t, standby.Stop())
			defer func() { require.NoError(t, standby.Cont()) }()
			// Writes go on meanwhile: the trial waits for some.
		}},
	}
	for _, f := range faults {
		for trial := range *failoverTrials {
			t.Run(fmt.Sprintf("%s/%d", f.name, trial), func(t *testing.T) {
				failoverTrial(t, cluster, f.inject)
			})
		}
	}
}

// The run's Patroni cluster, shared by the tests that need one: started by
// the first, stopped by TestMain (StopTestServers).
var (
	clusterOnce sync.Once
	cluster     *pgtest.Cluster
	clusterErr  error
)

func testCluster(t *testing.T) *pgtest.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a three-member Patroni cluster, which -short leaves out; go test ./memory runs it")
	}
	pgtest.Require(t, pgtest.PostgreSQL, pgtest.Patroni, pgtest.Etcd)
	clusterOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), faultBound)
		defer cancel()
		cluster, clusterErr = pgtest.StartCluster(ctx, pgtest.ClusterOptions{})
	})
	require.NoError(t, clusterErr)
	return cluster
}

// outcome is what the writers saw of one write.
type outcome int

const (
	acked     outcome = iota
	failed            // an error that says nothing was applied
	uncertain         // ErrUncertain: it may have been
)

// ledger records every write the trial's writers made.
type ledger struct {
	mu       sync.Mutex
	contacts map[string]outcome // by summary
	updates  map[string]outcome // by token, two contacts ("u " and "v ")
	merges   map[[2]int]outcome // email i and phone j, verified together
	forgets  map[string]outcome // by email of a customer made to forget
	seen     map[CustomerID]bool
	n        [3]int
	errs     map[string]int // the errors, by text, for the log
	since    chan struct{}  // closed at the next acknowledgement
	acks     int
}

func (l *ledger) note(kind string, key any, err error) outcome {
	o := acked
	switch {
	case err == nil:
	case errors.Is(err, ErrUncertain):
		o = uncertain
	default:
		o = failed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n[o]++
	if err != nil {
		msg := err.Error()
		if len(msg) > 80 {
			msg = msg[:80]
		}
		l.errs[msg]++
	}
	switch kind {
	case "contact":
		l.contacts[key.(string)] = o
	case "update":
		l.updates[key.(string)] = o
	case "merge":
		if old, ok := l.merges[key.([2]int)]; !ok || old != acked {
			l.merges[key.([2]int)] = o
		}
	case "forget":
		l.forgets[key.(string)] = o
	}
	if o == acked {
		l.acks++
		if l.since != nil {
			close(l.since)
			l.since = nil
		}
	}
	return o
}

// waitAcks waits until n more writes are acknowledged.
func (l *ledger) waitAcks(t *testing.T, n int) {
	t.Helper()
	l.mu.Lock()
	want := l.acks + n
	l.mu.Unlock()
	deadline := time.After(faultBound)
	for {
		l.mu.Lock()
		if l.acks >= want {
			l.mu.Unlock()
			return
		}
		if l.since == nil {
			l.since = make(chan struct{})
		}
		next := l.since
		l.mu.Unlock()
		select {
		case <-next:
		case <-deadline:
			t.Fatalf("no %d writes acknowledged within %v; errors: %v", n, faultBound, l.errs)
		}
	}
}

const faultCustomers = 6

func failoverTrial(t *testing.T, cluster *pgtest.Cluster, inject func(t *testing.T, primary, standby *pgtest.Member)) {
	ctx := context.Background()
	hctx, cancel := context.WithTimeout(ctx, faultBound)
	defer cancel()
	require.NoError(t, cluster.WaitHealthy(hctx))
	dsn, nodes := trialDatabase(t, cluster)
	lim := DefaultLimits()
	lim.Facts, lim.Contacts, lim.History = 400, 1200, 1<<20
	open := func(cache int) *Store {
		s, err := Open(ctx, PostgresOptions(dsn).WithDefaultRegion("NL").WithLimits(lim).WithCacheSize(cache))
		require.NoError(t, err)
		return s
	}
	instances := []*Store{open(65536), open(65536)}
	defer func() {
		for _, s := range instances {
			_ = s.Close()
		}
	}()
	email := func(i int) Identifier { return Email(fmt.Sprintf("p%d@example.com", i)).AsVerified() }
	phone := func(i int) Identifier { return Phone(fmt.Sprintf("+316120000%02d", i)).AsVerified() }
	l := &ledger{contacts: map[string]outcome{}, updates: map[string]outcome{}, merges: map[[2]int]outcome{},
		forgets: map[string]outcome{}, seen: map[CustomerID]bool{}, errs: map[string]int{}}
	for i := range faultCustomers {
		r, err := instances[0].Recognize(ctx, email(i))
		require.NoError(t, err)
		l.seen[r.Customer] = true
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := instances[g%2]
			rng := rand.New(rand.NewPCG(uint64(g), uint64(time.Now().UnixNano())))
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				token := fmt.Sprintf("t%d-%d", g, i)
				target := email(rng.IntN(faultCustomers))
				switch rng.IntN(8) {
				case 0, 1, 2:
					id, err := s.Lookup(ctx, target)
					if err == nil {
						_, err = s.RecordContact(ctx, id, Contact{Channel: ChannelChat, Summary: token})
					}
					if err == nil || !errors.Is(err, ErrNotFound) {
						l.note("contact", token, err)
					}
				case 3, 4:
					id, err := s.Lookup(ctx, target)
					if err == nil {
						// Two contacts: the history keeps every one (a
						// fact or preference set again has its older value
						// erased).
						err = s.Update(ctx, id, func(tx *Tx) error {
							if _, err := tx.RecordContact(Contact{Channel: ChannelEmail, Summary: "u " + token}); err != nil {
								return err
							}
							_, err := tx.RecordContact(Contact{Channel: ChannelPhone, Summary: "v " + token})
							return err
						})
					}
					if err == nil || !errors.Is(err, ErrNotFound) {
						l.note("update", token, err)
					}
				case 5, 6:
					pair := [2]int{rng.IntN(faultCustomers), rng.IntN(faultCustomers)}
					r, err := s.Recognize(ctx, email(pair[0]), phone(pair[1]))
					l.note("merge", pair, err)
					if err == nil {
						l.mu.Lock()
						l.seen[r.Customer] = true
						for _, m := range r.Merged {
							l.seen[m] = true
						}
						l.mu.Unlock()
					}
				case 7:
					gone := "gone-" + token + "@example.com"
					r, err := s.Recognize(ctx, Email(gone).AsVerified())
					if err != nil {
						continue
					}
					_, err = s.Forget(ctx, r.Customer)
					l.note("forget", gone, err)
				}
			}
		}()
	}
	l.waitAcks(t, 30)
	primary, err := cluster.Primary(hctx)
	require.NoError(t, err)
	var standby *pgtest.Member
	for _, m := range cluster.Members() {
		if m != primary {
			standby = m
			break
		}
	}
	inject(t, primary, standby)
	l.waitAcks(t, 30)
	close(stop)
	wg.Wait()
	require.NoError(t, cluster.WaitHealthy(hctx))
	t.Logf("writes: %d acknowledged, %d failed, %d uncertain; errors: %v", l.n[acked], l.n[failed], l.n[uncertain], l.errs)

	verifier := open(0)
	defer verifier.Close()
	ids := map[CustomerID]bool{}
	for id := range l.seen {
		ids[id] = true
	}
	found := map[string]int{}
	factOf, prefOf := map[string]int{}, map[string]int{} // an update's two contacts
	for id := range ids {
		h, err := verifier.History(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		require.NoError(t, err)
		for _, e := range h {
			switch {
			case e.Kind == EventContactRecorded && e.Contact != nil:
				if token, ok := strings.CutPrefix(e.Contact.Summary, "u "); ok {
					factOf[token]++
				} else if token, ok := strings.CutPrefix(e.Contact.Summary, "v "); ok {
					prefOf[token]++
				} else {
					found[e.Contact.Summary]++
				}
			}
		}
	}
	for token, o := range l.contacts {
		switch o {
		case acked:
			require.Equal(t, 1, found[token], "acknowledged contact %s", token)
		case failed:
			require.LessOrEqual(t, found[token], 1, "failed contact %s", token)
		default:
			require.LessOrEqual(t, found[token], 1, "uncertain contact %s", token)
		}
	}
	for token, o := range l.updates {
		require.Equal(t, factOf[token], prefOf[token], "update %s applied wholly or not at all", token)
		if o == acked {
			require.Equal(t, 1, factOf[token], "acknowledged update %s", token)
		} else {
			require.LessOrEqual(t, factOf[token], 1, "update %s", token)
		}
	}
	for pair, o := range l.merges {
		if o != acked {
			continue
		}
		a, err := verifier.Lookup(ctx, email(pair[0]))
		require.NoError(t, err)
		b, err := verifier.Lookup(ctx, phone(pair[1]))
		require.NoError(t, err)
		require.Equal(t, a, b, "acknowledged merge of email %d and phone %d", pair[0], pair[1])
	}
	for gone, o := range l.forgets {
		if o == acked {
			_, err := verifier.Lookup(ctx, Email(gone))
			require.ErrorIs(t, err, ErrNotFound, "forgotten %s", gone)
		}
	}
	require.NoError(t, verifier.Check(ctx))

	// Each instance's briefs are the database's, once its feed proved a
	// moment after the last write.
	now := time.Now()
	for i, s := range instances {
		provenAfter(t, s, now)
		for c := range faultCustomers {
			id, err := verifier.Lookup(ctx, email(c))
			require.NoError(t, err)
			want, err := verifier.Brief(ctx, id, BriefQuery{})
			require.NoError(t, err)
			got, err := s.Brief(ctx, id, BriefQuery{})
			require.NoError(t, err)
			require.Equal(t, want, got, "instance %d's brief of customer %d", i, c)
		}
	}
	for _, s := range append(instances, verifier) {
		require.NoError(t, s.Close())
	}
	requireSameOnEveryNode(t, nodes, true)
}

// dsnDatabase returns the database a DSN of pgtest names.
func dsnDatabase(dsn string) string {
	_, rest, _ := strings.Cut(dsn[strings.Index(dsn, "://")+3:], "/")
	name, _, _ := strings.Cut(rest, "?")
	return name
}

// trialDatabase makes a database of the trial's own on the cluster, and
// returns its DSN through the cluster and on each member.
func trialDatabase(t *testing.T, cluster *pgtest.Cluster) (string, []string) {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, cluster.DSN())
	require.NoError(t, err)
	defer c.Close(ctx)
	name := fmt.Sprintf("trial_%d", time.Now().UnixNano())
	_, err = c.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	with := func(dsn string) string { return strings.Replace(dsn, "/postgres?", "/"+name+"?", 1) }
	var nodes []string
	for _, m := range cluster.Members() {
		nodes = append(nodes, with(m.DSN()))
	}
	// Every member has it before the instances connect through any.
	requireSameOnEveryNode(t, nodes, false)
	return with(cluster.DSN()), nodes
}

// requireSameOnEveryNode checks that every node holds the store's tables as
// the primary does, once each has replayed the primary's WAL.
func requireSameOnEveryNode(t *testing.T, nodes []string, tables bool) {
	ctx, cancel := context.WithTimeout(context.Background(), faultBound)
	defer cancel()
	const digest = `SELECT (SELECT count(*) FROM herken_kv) || ':' ||
		coalesce(md5(string_agg(k || v, '' ORDER BY k)), '') FROM herken_kv`
	const keys = `SELECT (SELECT count(*) FROM herken_keys) || ':' ||
		coalesce(md5(string_agg(key, '' ORDER BY slot)), '') FROM herken_keys`
	var lsn string
	var want [2]string
	for _, dsn := range nodes {
		c, err := pgx.Connect(ctx, strings.Replace(dsn, "/"+dsnDatabase(dsn)+"?", "/postgres?", 1))
		require.NoError(t, err)
		var standby bool
		require.NoError(t, c.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&standby))
		if !standby {
			require.NoError(t, c.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn))
			if tables {
				d, err := pgx.Connect(ctx, dsn)
				require.NoError(t, err)
				require.NoError(t, d.QueryRow(ctx, digest).Scan(&want[0]))
				require.NoError(t, d.QueryRow(ctx, keys).Scan(&want[1]))
				require.NoError(t, d.Close(ctx))
			}
		}
		require.NoError(t, c.Close(ctx))
	}
	require.NotEmpty(t, lsn, "no primary")
	for _, dsn := range nodes {
		// The primary's own DSN: the database may not be on a standby yet.
		c, err := pgx.Connect(ctx, strings.Replace(dsn, "/"+dsnDatabase(dsn)+"?", "/postgres?", 1))
		require.NoError(t, err)
		for {
			var caughtUp bool
			require.NoError(t, c.QueryRow(ctx, `SELECT NOT pg_is_in_recovery() OR pg_last_wal_replay_lsn() >= $1::pg_lsn`, lsn).Scan(&caughtUp))
			if caughtUp {
				break
			}
			require.NoError(t, ctx.Err(), "a standby did not replay up to %s", lsn)
			// Another process's replay tells no one: ask again in a moment.
			time.Sleep(50 * time.Millisecond)
		}
		require.NoError(t, c.Close(ctx))
		if !tables {
			continue
		}
		c, err = pgx.Connect(ctx, dsn)
		require.NoError(t, err)
		var have [2]string
		require.NoError(t, c.QueryRow(ctx, digest).Scan(&have[0]))
		require.NoError(t, c.QueryRow(ctx, keys).Scan(&have[1]))
		require.Equal(t, want, have, "the data on %s", dsn)
		require.NoError(t, c.Close(ctx))
	}
}
