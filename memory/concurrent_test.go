//go:build !wasip1

package memory_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// TestHammer runs goroutines that recognize, merge, unmerge and record on
// a small set of overlapping customers. Invariants checked afterwards:
//
//   - no lost events: every acknowledged contact and fact is in exactly one
//     customer's history;
//   - consistent indexes and projections: Check passes (every identifier
//     points at a live customer that lists it; every profile is the
//     projection of its history).
func TestHammer(t *testing.T) {
	workers, ops := 8, 150
	if testing.Short() {
		workers, ops = 4, 40
	}
	ctx := context.Background()
	s := openStore(t, func(o memory.Options) memory.Options {
		l := memory.DefaultLimits()
		// Room for every write the workers make: one customer may end
		// up with most of them.
		l.Facts = 400
		l.Contacts = 1200
		return o.WithLimits(l).WithSyncWrites(false)
	})
	emails := make([]memory.Identifier, 10)
	for i := range emails {
		emails[i] = memory.Email(fmt.Sprintf("person%d@example.com", i))
	}

	var mu sync.Mutex
	acked := map[string]bool{} // contact summaries and fact keys written
	seen := map[memory.CustomerID]bool{}
	note := func(token string, id memory.CustomerID) {
		mu.Lock()
		defer mu.Unlock()
		if token != "" {
			acked[token] = true
		}
		seen[id] = true
	}

	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			pick := func() memory.Identifier {
				id := emails[rng.IntN(len(emails))]
				if rng.IntN(3) == 0 {
					id = id.AsVerified()
				}
				return id
			}
			for i := range ops {
				switch rng.IntN(6) {
				case 0, 1:
					r, err := s.Recognize(ctx, pick(), pick())
					if !assertOK(t, err) {
						return
					}
					note("", r.Customer)
					for _, m := range r.Merged {
						note("", m)
					}
				case 2:
					id, err := s.Lookup(ctx, pick())
					if errors.Is(err, memory.ErrNotFound) {
						continue
					}
					if !assertOK(t, err) {
						return
					}
					token := fmt.Sprintf("c-%d-%d", g, i)
					_, err = s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelChat, Summary: token})
					if errors.Is(err, memory.ErrNotFound) {
						continue
					}
					if assertOK(t, err) {
						note(token, id)
					}
				case 3:
					id, err := s.Lookup(ctx, pick())
					if errors.Is(err, memory.ErrNotFound) {
						continue
					}
					if !assertOK(t, err) {
						return
					}
					key := fmt.Sprintf("f.%d.%d", g, i)
					err = s.Remember(ctx, id, memory.Fact{Key: key, Value: "v"})
					if errors.Is(err, memory.ErrNotFound) {
						continue
					}
					if assertOK(t, err) {
						note(key, id)
					}
				case 4:
					id, err := s.Lookup(ctx, pick())
					if err == nil {
						_, err = s.Brief(ctx, id, memory.BriefQuery{})
					}
					if !errors.Is(err, memory.ErrNotFound) {
						assertOK(t, err)
					}
				case 5:
					mu.Lock()
					var victim memory.CustomerID
					for id := range seen {
						victim = id
						break
					}
					mu.Unlock()
					if victim == "" {
						continue
					}
					err := s.Unmerge(ctx, victim)
					if !errors.Is(err, memory.ErrNotMerged) {
						assertOK(t, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, s.Check(ctx))

	found := map[string]int{}
	for id := range seen {
		h, err := s.History(ctx, id)
		require.NoError(t, err)
		for _, e := range h {
			switch {
			case e.Kind == memory.EventContactRecorded && e.Contact != nil:
				found[e.Contact.Summary]++
			case e.Kind == memory.EventFactRemembered && e.Fact != nil:
				found[e.Fact.Key]++
			}
		}
	}
	for token := range acked {
		require.Equal(t, 1, found[token], "acknowledged write %s", token)
	}
	t.Logf("%d acknowledged writes on %d customers, all found once", len(acked), len(seen))
}

func assertOK(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Errorf("unexpected error: %v", err)
		return false
	}
	return true
}

// TestManyWritersOnOneCustomer: writers of one customer take turns; none
// gives up, none is lost.
func TestManyWritersOnOneCustomer(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, func(o memory.Options) memory.Options {
		l := memory.DefaultLimits()
		l.Facts = 400
		return o.WithLimits(l)
	})
	id := recognize(t, s, memory.Email("busy@example.com")).Customer
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				assertOK(t, s.Remember(ctx, id, memory.Fact{Key: fmt.Sprintf("k.%d.%d", g, i), Value: "v"}))
			}
		}()
	}
	wg.Wait()
	c, err := s.Customer(ctx, id)
	require.NoError(t, err)
	require.Len(t, c.Facts, 320)
}
