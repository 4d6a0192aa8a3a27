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
	c, err := New[string, int](size, 1<<30, unitCost, new(Epoch))
	require.NoError(t, err)
	return c
}

func unitCost[K comparable](K, int) int64 { return 1 }

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
	a, err := New[string, int](64, 1<<20, unitCost, e)
	require.NoError(t, err)
	b, err := New[int, int](64, 1<<20, unitCost, e)
	require.NoError(t, err)
	start := e.Now()
	a.Invalidate("x")
	require.Greater(t, e.Now(), start, "any cache's invalidation advances the shared epoch")
	b.Fill(1, 1, start)
	_, ok := b.Get(1)
	require.True(t, ok, "an invalidation elsewhere does not block this shard")
}

func TestNilCacheCachesNothing(t *testing.T) {
	c, err := New[string, int](0, 1<<20, unitCost, new(Epoch))
	require.NoError(t, err)
	require.Nil(t, c)
	c, err = New[string, int](64, 0, unitCost, new(Epoch))
	require.NoError(t, err)
	require.Nil(t, c, "no bytes, no cache")
	c.Fill("a", 1, 0)
	c.Invalidate("a")
	_, ok := c.Get("a")
	require.False(t, ok)
	require.Zero(t, c.Len())
}

func TestBounded(t *testing.T) {
	c, err := New[int, int](128, 1<<30, unitCost, new(Epoch))
	require.NoError(t, err)
	for i := range 10000 {
		c.Fill(i, i, 0)
	}
	require.LessOrEqual(t, c.Len(), 128)
	c.Purge()
	require.Zero(t, c.Len())
	require.Zero(t, c.Bytes())
}

// TestBoundedInBytes fills a cache that may hold many entries by number
// with entries whose cost the value says: the bytes stay within the bound
// however the entries come, replaced, invalidated or too large.
func TestBoundedInBytes(t *testing.T) {
	const maxBytes = 64 << 10 // 1 KiB a shard
	cost := func(_ int, v int) int64 { return int64(v) }
	c, err := New[int, int](1<<20, maxBytes, cost, new(Epoch))
	require.NoError(t, err)
	for i := range 20000 {
		size := []int{16, 200, 700, 1024 - EntryOverhead, 5000}[i%5]
		c.Fill(i%3000, size, c.epoch.Now())
		if i%7 == 0 {
			c.Invalidate(i % 2000)
		}
		require.LessOrEqual(t, c.Bytes(), int64(maxBytes))
	}
	require.Positive(t, c.Len())

	// What a shard counts is what it holds.
	for i := range c.shards {
		s := &c.shards[i]
		var sum int64
		for _, k := range s.lru.Keys() {
			e, _ := s.lru.Peek(k)
			sum += e.cost
		}
		require.Equal(t, sum, s.bytes, "shard %d", i)
		require.LessOrEqual(t, s.bytes, c.budget)
	}

	// A value larger than a shard's share is not cached, and drops the
	// smaller value its key had.
	c.Fill(1, 16, c.epoch.Now())
	_, ok := c.Get(1)
	require.True(t, ok)
	c.Fill(1, 5000, c.epoch.Now())
	_, ok = c.Get(1)
	require.False(t, ok)
	c.Purge()
	require.Zero(t, c.Bytes())
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

// TestOnRemoveSeesEveryEntryThatLeaves checks that every way an entry
// leaves the cache tells OnRemove's function, and only those.
func TestOnRemoveSeesEveryEntryThatLeaves(t *testing.T) {
	c, err := New[string, int](shards, 1<<30, unitCost, new(Epoch))
	require.NoError(t, err)
	var gone []int
	c.OnRemove(func(_ string, v int) { gone = append(gone, v) })

	require.True(t, c.Fill("a", 1, c.epoch.Now()))
	require.True(t, c.Fill("a", 2, c.epoch.Now()), "a newer value")
	require.Equal(t, []int{1}, gone, "the value a Fill replaced")
	c.Invalidate("a")
	require.Equal(t, []int{1, 2}, gone, "the invalidated value")

	start := c.epoch.Now()
	c.Invalidate("b")
	require.False(t, c.Fill("b", 3, start), "a Fill of a read from before an invalidation")
	require.Equal(t, []int{1, 2}, gone, "nothing was cached, so nothing left")

	// One entry a shard: a second key of a shard evicts the first.
	gone = nil
	var keys []string
	for i := 0; len(keys) < 2; i++ {
		k := strconv.Itoa(i)
		if len(keys) == 0 || c.shard(k) == c.shard(keys[0]) {
			keys = append(keys, k)
		}
	}
	require.True(t, c.Fill(keys[0], 10, c.epoch.Now()))
	require.True(t, c.Fill(keys[1], 11, c.epoch.Now()))
	require.Equal(t, []int{10}, gone, "the evicted value")

	c.Purge()
	require.Equal(t, []int{10, 11}, gone, "the purged value")
	c.Suspend()
	require.False(t, c.Fill("c", 4, c.epoch.Now()), "a suspended cache caches nothing")
}

func TestStampMovesWithEveryInvalidation(t *testing.T) {
	c := newCache(t, 1<<10)
	before, ok := c.Stamp("a")
	require.True(t, ok)
	c.Fill("a", 1, c.epoch.Now())
	same, _ := c.Stamp("a")
	require.Equal(t, before, same, "a fill is no invalidation")

	c.Invalidate("a")
	after, ok := c.Stamp("a")
	require.True(t, ok)
	require.Greater(t, after, before, "a read that began before the invalidation must not answer for one after")

	c.Purge()
	purged, _ := c.Stamp("a")
	require.Greater(t, purged, after)

	c.Suspend()
	_, ok = c.Stamp("a")
	require.False(t, ok, "a suspended cache vouches for no read")
	c.Resume()
	resumed, ok := c.Stamp("a")
	require.True(t, ok)
	require.Greater(t, resumed, purged, "suspending purged")

	var none *Cache[string, int]
	_, ok = none.Stamp("a")
	require.False(t, ok)
}

func TestHeldKeyIsNeverCached(t *testing.T) {
	c := newCache(t, 1<<10)
	c.Fill("a", 1, c.epoch.Now())
	c.Fill("b", 1, c.epoch.Now())
	c.Hold("a") // a writer is about to commit a change of a
	_, ok := c.Get("a")
	require.False(t, ok, "a held key's old value is still served")
	require.False(t, c.Fill("a", 2, c.epoch.Now()), "a read that began while the change is committed may have read either side of it")
	require.True(t, c.Fill("b", 2, c.epoch.Now()), "a hold keeps only its key out")

	c.Hold("a") // a second writer
	c.Release("a")
	require.False(t, c.Fill("a", 3, c.epoch.Now()), "held twice, released once")
	start := c.epoch.Now()
	c.Release("a")
	require.False(t, c.Fill("a", 4, start), "a read that began before the release may have read before the commit")
	require.True(t, c.Fill("a", 5, c.epoch.Now()))
	v, ok := c.Get("a")
	require.True(t, ok)
	require.Equal(t, 5, v)
}
