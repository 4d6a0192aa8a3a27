//go:build !wasip1

package memory_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// clock is a settable clock for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)} // a Monday
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// openStore opens an in-memory store for a test, and when the test ends
// checks the store's invariants and closes it.
func openStore(t testing.TB, change ...func(memory.Options) memory.Options) *memory.Store {
	t.Helper()
	opts := engineOptions(t).WithDefaultRegion("NL")
	for _, c := range change {
		opts = c(opts)
	}
	s, err := memory.Open(context.Background(), opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, s.Check(context.Background()), "store invariants")
		require.NoError(t, s.Close())
	})
	return s
}

// openClocked opens a store with a test clock.
func openClocked(t testing.TB, change ...func(memory.Options) memory.Options) (*memory.Store, *clock) {
	c := newClock()
	change = append([]func(memory.Options) memory.Options{func(o memory.Options) memory.Options { return o.WithClock(c.Now) }}, change...)
	return openStore(t, change...), c
}

// recognize recognizes ids and fails the test on error.
func recognize(t testing.TB, s *memory.Store, ids ...memory.Identifier) memory.Recognition {
	t.Helper()
	r, err := s.Recognize(context.Background(), ids...)
	require.NoError(t, err)
	return r
}

func brief(t testing.TB, s *memory.Store, id memory.CustomerID) memory.Brief {
	t.Helper()
	b, err := s.Brief(context.Background(), id, memory.BriefQuery{})
	require.NoError(t, err)
	return b
}
