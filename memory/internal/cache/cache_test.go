package cache

import (
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFillAndInvalidate(t *testing.T) {
	c, err := New[string, int](1 << 10)
	require.NoError(t, err)

	g := c.Gen("a")
	c.Fill("a", 1, g)
	v, ok := c.Get("a")
	require.True(t, ok)
	require.Equal(t, 1, v)

	c.Invalidate("a")
	_, ok = c.Get("a")
	require.False(t, ok)
}

func TestFillAfterInvalidateIsDropped(t *testing.T) {
	c, err := New[string, int](1 << 10)
	require.NoError(t, err)

	g := c.Gen("a") // a reader starts
	c.Invalidate("a")
	c.Fill("a", 1, g) // and finishes with a value read before the write
	_, ok := c.Get("a")
	require.False(t, ok, "a stale value was cached")
}

func TestNilCacheCachesNothing(t *testing.T) {
	c, err := New[string, int](0)
	require.NoError(t, err)
	require.Nil(t, c)
	c.Fill("a", 1, c.Gen("a"))
	c.Invalidate("a")
	_, ok := c.Get("a")
	require.False(t, ok)
}

// Invariant: once a writer has set the source to v and invalidated, no reader
// that started after that sees an older value.
func TestHammerNeverServesStale(t *testing.T) {
	c, err := New[string, int](1 << 10)
	require.NoError(t, err)

	var mu sync.Mutex
	source := map[string]int{}
	read := func(k string) int {
		if v, ok := c.Get(k); ok {
			return v
		}
		g := c.Gen(k)
		mu.Lock()
		v := source[k]
		mu.Unlock()
		c.Fill(k, v, g)
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

func TestBounded(t *testing.T) {
	c, err := New[int, int](128)
	require.NoError(t, err)
	for i := range 10000 {
		c.Fill(i, i, c.Gen(i))
	}
	require.LessOrEqual(t, c.Len(), 128)
	c.Purge()
	require.Zero(t, c.Len())
}
