//go:build !wasip1

package cache

import (
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func newCache(t *testing.T, size int) *Cache[string, int] {
	t.Helper()
	c, err := New[string, int](size, new(Epoch))
	require.NoError(t, err)
	return c
}

func TestFillAndInvalidate(t *testing.T) {
	c := newCache(t, 1<<10)
	c.Fill("a", 1, c.epoch.Now())
	v, ok := c.Get("a")
	require.True(t, ok)
	require.Equal(t, 1, v)

	c.Invalidate("a")
	_, ok = c.Get("a")
	require.False(t, ok)
}

func TestFillAfterInvalidateIsDropped(t *testing.T) {
	c := newCache(t, 1<<10)
	start := c.epoch.Now() // a reader starts
	c.Invalidate("a")      // a writer commits
	c.Fill("a", 1, start)  // and the reader finishes with what it read before
	_, ok := c.Get("a")
	require.False(t, ok, "a stale value was cached")

	c.Fill("a", 2, c.epoch.Now()) // a reader that started after the write
	v, ok := c.Get("a")
	require.True(t, ok)
	require.Equal(t, 2, v)
}

func TestSharedEpoch(t *testing.T) {
	e := new(Epoch)
	a, err := New[string, int](64, e)
	require.NoError(t, err)
	b, err := New[int, int](64, e)
	require.NoError(t, err)
	start := e.Now()
	a.Invalidate("x")
	require.Greater(t, e.Now(), start, "any cache's invalidation advances the shared epoch")
	b.Fill(1, 1, start)
	_, ok := b.Get(1)
	require.True(t, ok, "an invalidation elsewhere does not block this shard")
}

func TestNilCacheCachesNothing(t *testing.T) {
	c, err := New[string, int](0, new(Epoch))
	require.NoError(t, err)
	require.Nil(t, c)
	c.Fill("a", 1, 0)
	c.Invalidate("a")
	_, ok := c.Get("a")
	require.False(t, ok)
	require.Zero(t, c.Len())
}

func TestBounded(t *testing.T) {
	c, err := New[int, int](128, new(Epoch))
	require.NoError(t, err)
	for i := range 10000 {
		c.Fill(i, i, 0)
	}
	require.LessOrEqual(t, c.Len(), 128)
	c.Purge()
	require.Zero(t, c.Len())
}

// Invariant: once a writer has set the source to v and invalidated, no reader
// that started after that sees an older value.
func TestHammerNeverServesStale(t *testing.T) {
	c := newCache(t, 1<<10)
	var mu sync.Mutex
	source := map[string]int{}
	read := func(k string) int {
		if v, ok := c.Get(k); ok {
			return v
		}
		start := c.epoch.Now()
		mu.Lock()
		v := source[k]
		mu.Unlock()
		c.Fill(k, v, start)
		return v
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := strconv.Itoa(i % 8)
				mu.Lock()
				source[k]++
				want := source[k]
				mu.Unlock()
				c.Invalidate(k)
				if got := read(k); got < want {
					t.Errorf("writer %d: read %d after writing %d", w, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
