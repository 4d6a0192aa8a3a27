//go:build !wasip1

package memory_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// TestErasureUnderLoad hammers what replaces and destroys keys, at once:
//
//   - writers forget facts and remember facts that expire at once, so that
//     customers get new keys in the background, over and over;
//   - others make new customers and forget customers;
//   - Compact runs in a loop (it finishes rekeys and destroys lost keys);
//   - readers brief, view and export every customer all along.
//
// Invariants: no read or write of a customer that was not forgotten fails;
// no key a customer needs is ever destroyed (Check, and every customer
// readable, after the load and after a reopen).
func TestErasureUnderLoad(t *testing.T) {
	ops := 120
	if testing.Short() {
		ops = 30
	}
	ctx := context.Background()
	dir := t.TempDir()
	opts := memory.DefaultOptions(dir).WithSyncWrites(false)
	s, err := memory.Open(ctx, opts)
	require.NoError(t, err)
	var mu sync.Mutex // guards live
	var live []memory.CustomerID
	for i := range 16 {
		live = append(live, recognize(t, s, memory.Email(fmt.Sprintf("c%d@example.com", i))).Customer)
	}
	pick := func(rng *rand.Rand) memory.CustomerID {
		mu.Lock()
		defer mu.Unlock()
		return live[rng.IntN(len(live))]
	}
	deadline := time.Now().Add(20 * time.Second)
	var failed atomic.Bool
	fail := func(what string, err error) {
		if failed.CompareAndSwap(false, true) {
			t.Errorf("%s: %v", what, err)
		}
	}
	var wg sync.WaitGroup
	run := func(name string, n int, fn func(rng *rand.Rand, i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(len(name)), uint64(n)))
			for i := 0; i < n && time.Now().Before(deadline) && !failed.Load(); i++ {
				if err := fn(rng, i); err != nil {
					fail(name, err)
					return
				}
			}
		}()
	}
	run("forget facts", ops, func(rng *rand.Rand, i int) error {
		id := pick(rng)
		key := fmt.Sprintf("f.%d", i)
		if err := s.Remember(ctx, id, memory.Fact{Key: key, Value: "secret"}); err != nil {
			return err
		}
		return s.ForgetFact(ctx, id, key)
	})
	run("expire facts", ops, func(rng *rand.Rand, i int) error {
		return s.Remember(ctx, pick(rng), memory.Fact{Key: fmt.Sprintf("x.%d", i), Value: "brief", Retention: time.Millisecond})
	})
	run("new and forgotten customers", ops, func(rng *rand.Rand, i int) error {
		r, err := s.Recognize(ctx, memory.Email(fmt.Sprintf("n%d@example.com", i)))
		if err != nil {
			return err
		}
		if i%2 == 0 {
			_, err = s.Forget(ctx, r.Customer)
			return err
		}
		mu.Lock()
		live = append(live, r.Customer)
		mu.Unlock()
		return nil
	})
	run("compact", ops/10, func(*rand.Rand, int) error { return s.Compact(ctx) })
	for r := range 2 {
		run(fmt.Sprintf("reader %d", r), 4*ops, func(rng *rand.Rand, _ int) error {
			id := pick(rng)
			if _, err := s.Brief(ctx, id, memory.BriefQuery{}); err != nil {
				return err
			}
			if _, err := s.Export(ctx, id); err != nil {
				return err
			}
			_, err := s.History(ctx, id)
			return err
		})
	}
	wg.Wait()
	if failed.Load() {
		return
	}
	check := func(s *memory.Store) {
		require.NoError(t, s.Check(ctx))
		for _, id := range live {
			_, err := s.Export(ctx, id)
			require.NoError(t, err, "customer %s", id)
		}
	}
	require.NoError(t, s.Compact(ctx))
	check(s)
	require.NoError(t, s.Close())
	s, err = memory.Open(ctx, opts)
	require.NoError(t, err)
	defer s.Close()
	check(s)
	_, err = s.Lookup(ctx, memory.Email("n0@example.com"))
	require.True(t, errors.Is(err, memory.ErrNotFound))
}
