//go:build !wasip1 && unix

package memory

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/pgtest"
)

// Tests of many instances of one PostgreSQL store, each a Store of its own
// as two processes would have. They run whenever PostgreSQL is installed.

var (
	instancesOnce   sync.Once
	instancesServer *pgtest.Server
	instancesErr    error
)

// openInstances opens n stores on one new database.
func openInstances(t *testing.T, n int) []*Store {
	t.Helper()
	pgtest.Require(t, pgtest.PostgreSQL)
	instancesOnce.Do(func() { instancesServer, instancesErr = pgtest.Start(context.Background()) })
	require.NoError(t, instancesErr)
	dsn := instancesServer.NewDatabase(t)
	out := make([]*Store, n)
	for i := range out {
		s, err := Open(context.Background(), PostgresOptions(dsn).WithDefaultRegion("NL"))
		require.NoError(t, err)
		t.Cleanup(func() {
			require.NoError(t, s.Check(context.Background()), "store invariants")
			require.NoError(t, s.Close())
		})
		out[i] = s
	}
	return out
}

// provenAfter waits until s's feed has proven freshness from a moment after
// at: from then on, s serves nothing from its cache that a commit
// acknowledged before at changed.
func provenAfter(t *testing.T, s *Store, at time.Time) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		next := s.feed.nextProof()
		if !time.Unix(0, s.feed.fresh.Load()).Before(at) {
			return
		}
		select {
		case <-next:
		case <-deadline:
			t.Fatalf("the feed proved nothing after %v", at)
		}
	}
}

func TestInstancesSeeEachOthersWrites(t *testing.T) {
	ctx := context.Background()
	st := openInstances(t, 2)
	a, b := st[0], st[1]
	r, err := a.Recognize(ctx, Email("ada@example.com").AsVerified())
	require.NoError(t, err)
	require.NoError(t, a.SetPreference(ctx, r.Customer, "language", "nl"))
	// b finds her, and keeps her in its cache.
	rb, err := b.Recognize(ctx, Email("ada@example.com"))
	require.NoError(t, err)
	require.Equal(t, r.Customer, rb.Customer)
	provenAfter(t, b, time.Now())
	// Under load the feed may go a while without a proof, and b's caches
	// are suspended meanwhile (FeedBound): brief until b caches her.
	deadline := time.Now().Add(30 * time.Second)
	for {
		br, err := b.Brief(ctx, r.Customer, BriefQuery{})
		require.NoError(t, err)
		v, _ := br.Preference("language")
		require.Equal(t, "nl", v)
		if _, cached := b.profiles.Get(r.Customer); cached {
			break
		}
		require.True(t, time.Now().Before(deadline), "b never serves her brief from its cache")
		provenAfter(t, b, time.Now())
	}

	// a changes her; b sees it once its feed proved a moment after.
	require.NoError(t, a.SetPreference(ctx, r.Customer, "language", "en"))
	acked := time.Now()
	provenAfter(t, b, acked)
	br, err := b.Brief(ctx, r.Customer, BriefQuery{})
	require.NoError(t, err)
	v, _ := br.Preference("language")
	require.Equal(t, "en", v, "b serves the change")

	// a sees its own write at once, whatever its feed.
	require.NoError(t, a.SetPreference(ctx, r.Customer, "language", "de"))
	ba, err := a.Brief(ctx, r.Customer, BriefQuery{})
	require.NoError(t, err)
	v, _ = ba.Preference("language")
	require.Equal(t, "de", v)

	// A merge on b (a verified phone that a holds for another customer)
	// is seen by a: the identifier leads to the survivor.
	p, err := a.Recognize(ctx, Phone("+31612345678").AsVerified())
	require.NoError(t, err)
	m, err := b.Recognize(ctx, Email("ada@example.com").AsVerified(), Phone("+31612345678").AsVerified())
	require.NoError(t, err)
	require.NotEmpty(t, m.Merged)
	provenAfter(t, a, time.Now())
	got, err := a.Lookup(ctx, Phone("+31612345678"))
	require.NoError(t, err)
	require.Equal(t, m.Customer, got)
	require.NotEqual(t, p.Customer, m.Customer)
}

// TestWatchAcrossInstances: a watcher on one instance gets the writes of
// two others, in commit order. A watcher whose feed proved nothing for
// FeedBound is told so (ErrLagged) rather than given a gap, as a machine
// under heavy load can make it: the test then watches anew, a few times,
// each time a customer of its own (a new watcher may still be given the
// events of the customers of earlier tries, which it passes over).
func TestWatchAcrossInstances(t *testing.T) {
	ctx := context.Background()
	st := openInstances(t, 3)
	const tries = 5
	earlier := map[CustomerID]bool{}
	for try := range tries {
		id, lagged := watchAcross(t, ctx, st, fmt.Sprintf("bo%d@example.com", try), earlier)
		if lagged == nil {
			return
		}
		earlier[id] = true
		t.Logf("try %d: %v; watching anew", try+1, lagged)
	}
	t.Fatalf("the watcher fell behind in each of %d tries", tries)
}

// watchAcross writes 60 preferences of a new customer from st[0] and st[1]
// and checks that a watcher on st[2] gets them in commit order, passing
// over the events of the customers in earlier; it returns the customer,
// and the ErrLagged the watcher got instead, if it did.
func watchAcross(t *testing.T, ctx context.Context, st []*Store, email string, earlier map[CustomerID]bool) (CustomerID, error) {
	w, err := st[2].Watch(ctx, EventPreferenceSet)
	require.NoError(t, err)
	defer w.Close()
	r, err := st[0].Recognize(ctx, Email(email).AsVerified())
	require.NoError(t, err)
	const n = 60
	for i := range n {
		require.NoError(t, st[i%2].SetPreference(ctx, r.Customer, "n", fmt.Sprint(i)))
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i := 0; i < n; {
		e, err := w.Next(wctx)
		if errors.Is(err, ErrLagged) {
			return r.Customer, err
		}
		require.NoError(t, err)
		if earlier[e.Customer] {
			continue
		}
		require.Equal(t, r.Customer, e.Customer)
		require.Equal(t, fmt.Sprint(i), e.Value, "event %d in commit order", i)
		i++
	}
	return r.Customer, nil
}

func TestUseOnceAcrossInstances(t *testing.T) {
	ctx := context.Background()
	st := openInstances(t, 2)
	require.NoError(t, st[0].UseOnce(ctx, "token-1", time.Minute))
	require.ErrorIs(t, st[1].UseOnce(ctx, "token-1", time.Minute), ErrUsed)
	require.NoError(t, st[1].UseOnce(ctx, "token-2", time.Minute))
	require.ErrorIs(t, st[0].UseOnce(ctx, "token-2", time.Minute), ErrUsed)
}

// TestInstancesMergeConcurrently writes through two instances at once,
// merging customers both ways: nothing acknowledged is lost, and the store
// stays consistent.
func TestInstancesMergeConcurrently(t *testing.T) {
	ctx := context.Background()
	st := openInstances(t, 2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]CustomerID{}
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := st[g%2]
			for i := range 30 {
				email := Email(fmt.Sprintf("p%d@example.com", i%5)).AsVerified()
				phone := Phone(fmt.Sprintf("+3161234%04d", (i+g)%5)).AsVerified()
				r, err := s.Recognize(ctx, email, phone)
				if err != nil {
					t.Errorf("recognize: %v", err)
					return
				}
				note := fmt.Sprintf("n-%d-%d", g, i)
				if _, err := s.RecordContact(ctx, r.Customer, Contact{Channel: ChannelChat, Summary: note}); err != nil {
					t.Errorf("record: %v", err)
					return
				}
				mu.Lock()
				acked[note] = r.Customer
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	found := map[string]int{}
	for _, id := range acked {
		h, err := st[0].History(ctx, id)
		require.NoError(t, err)
		for _, e := range h {
			if e.Kind == EventContactRecorded && e.Contact != nil {
				found[e.Contact.Summary]++
			}
		}
	}
	for note := range acked {
		require.GreaterOrEqual(t, found[note], 1, "acknowledged contact %s", note)
	}
}

// TestAllowAcrossInstances takes from one bucket through two instances:
// the bound holds for both together, and the key is kept hashed.
func TestAllowAcrossInstances(t *testing.T) {
	ctx := context.Background()
	st := openInstances(t, 2)
	taken := 0
	for i := range 10 {
		ok, _, err := st[i%2].Allow(ctx, "198.51.100.7", time.Hour, 4)
		require.NoError(t, err)
		if ok {
			taken++
		}
	}
	require.Equal(t, 4, taken, "a burst of 4 across both instances")
	var n int
	require.NoError(t, st[0].pg.Pool().QueryRow(ctx, `SELECT count(*) FROM herken_limits WHERE position('198.51.100.7'::bytea in k) > 0`).Scan(&n))
	require.Zero(t, n, "the key is stored hashed")
}

// TestCloseDropsTheFeedsSlot closes an instance: its replication slot is
// gone when Close returns, so that nothing of it holds WAL or the
// database.
func TestCloseDropsTheFeedsSlot(t *testing.T) {
	ctx := context.Background()
	st := openInstances(t, 1)
	other, err := Open(ctx, PostgresOptions(st[0].opts.postgres))
	require.NoError(t, err)
	slots := func() int {
		var n int
		require.NoError(t, st[0].pg.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_replication_slots WHERE database = current_database()`).Scan(&n))
		return n
	}
	require.Equal(t, 2, slots())
	require.NoError(t, other.Close())
	require.Equal(t, 1, slots())
}

// TestForgottenSeenAcrossInstances: a watcher on one instance is told of a
// forget on another with the customer and the receipt, as a watcher on
// the forgetting instance is. A watcher that falls behind (ErrLagged) is
// given another customer to watch, a few times.
func TestForgottenSeenAcrossInstances(t *testing.T) {
	ctx := context.Background()
	st := openInstances(t, 2)
	const tries = 5
	earlier := map[CustomerID]bool{} // of earlier tries: their forgets may still come
	for try := range tries {
		r, err := st[0].Recognize(ctx, Email(fmt.Sprintf("forgotten%d@example.com", try)).AsVerified())
		require.NoError(t, err)
		w, err := st[1].Watch(ctx, EventForgotten)
		require.NoError(t, err)
		receipt, err := st[0].Forget(ctx, r.Customer)
		require.NoError(t, err)
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		e, err := w.Next(wctx)
		for err == nil && earlier[e.Customer] {
			e, err = w.Next(wctx)
		}
		cancel()
		w.Close()
		if errors.Is(err, ErrLagged) {
			earlier[r.Customer] = true
			t.Logf("try %d: %v; watching anew", try+1, err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, EventForgotten, e.Kind)
		require.Equal(t, r.Customer, e.Customer)
		require.NotNil(t, e.Receipt, "the receipt comes with the event")
		require.Equal(t, receipt.ID, e.Receipt.ID)
		require.Equal(t, r.Customer, e.Receipt.Customer)
		return
	}
	t.Fatalf("the watcher fell behind in each of %d tries", tries)
}
