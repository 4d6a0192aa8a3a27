//go:build !wasip1

// Package cache keeps decoded values in memory, bounded in number and in
// bytes, and keeps them correct while the store beneath them changes.
//
// Caches that describe one store share an Epoch, a counter that every
// invalidation advances. A reader that misses reads Epoch.Now before it
// starts reading the store, and hands the value to Fill with it. A writer
// calls Invalidate after its change is committed. Fill stores nothing when
// the key's shard was invalidated after the reader started, so a value read
// before a commit is never cached after it. Every operation takes effect
// before it returns.
//
// The bound in bytes is kept per shard: each of the cache's shards holds at
// most a shard's share of it, by the sizes the cache's cost function
// estimates, and a value larger than that share is not cached at all.
package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

const shards = 64

// Epoch orders invalidations against reads. The zero value is ready.
type Epoch struct{ n atomic.Uint64 }

// Now returns the epoch to pass to Fill; read it before reading the source.
func (e *Epoch) Now() uint64 { return e.n.Load() }

// EntryOverhead is what the cache itself takes for one entry, beyond what
// the cost function counts: the recency list's element and the map's slot.
const EntryOverhead = 128

// Cache is safe for concurrent use. A nil *Cache caches nothing.
type Cache[K comparable, V any] struct {
	epoch  *Epoch
	seed   maphash.Seed
	cost   func(K, V) int64 // the bytes an entry takes, EntryOverhead aside
	budget int64            // the bytes one shard may hold
	off    atomic.Bool      // Suspend: nothing is cached
	gone   func(K, V)       // see OnRemove
	shards [shards]shard[K, V]
}

// entry is a cached value and the bytes it was counted for.
type entry[V any] struct {
	v    V
	cost int64
}

type shard[K comparable, V any] struct {
	mu    sync.Mutex // guards lru, bytes, last and hits; orders Fill against Invalidate
	lru   *simplelru.LRU[K, entry[V]]
	bytes int64     // the costs of the entries in lru
	last  uint64    // the epoch of the shard's last invalidation
	hits  uint32    // counts hits, to refresh recency on some of them
	held  map[K]int // keys held by writers (Hold), with how many hold each
	_     [20]byte  // keep shards on separate cache lines
}

// New returns a cache of about size entries and at most maxBytes bytes, as
// cost estimates them, ordered by epoch; nil when size or maxBytes is not
// positive. cost must not be less than what an entry holds in memory, and
// must give the same answer for the same entry every time.
func New[K comparable, V any](size int, maxBytes int64, cost func(K, V) int64, epoch *Epoch) (*Cache[K, V], error) {
	if size <= 0 || maxBytes <= 0 {
		return nil, nil
	}
	c := &Cache[K, V]{epoch: epoch, seed: maphash.MakeSeed(), cost: cost, budget: max(maxBytes/shards, 1)}
	per := max(size/shards, 1)
	for i := range c.shards {
		s := &c.shards[i]
		lru, err := simplelru.NewLRU[K, entry[V]](per, func(k K, e entry[V]) {
			s.bytes -= e.cost
			if c.gone != nil {
				c.gone(k, e.v)
			}
		})
		if err != nil {
			return nil, err
		}
		s.lru = lru
	}
	return c, nil
}

// OnRemove makes the cache call fn with every entry that leaves it, by
// Invalidate, eviction, Purge, Suspend or a Fill that replaces it, before
// the call that removes it returns; fn runs with the entry's shard locked
// and must not use the cache. Call it before the cache is used.
func (c *Cache[K, V]) OnRemove(fn func(K, V)) {
	if c != nil {
		c.gone = fn
	}
}

func (c *Cache[K, V]) shard(key K) *shard[K, V] {
	return &c.shards[maphash.Comparable(c.seed, key)%shards]
}

// Get returns the cached value of key. Recency, for eviction, is kept
// approximately.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	if c == nil || c.off.Load() {
		var zero V
		return zero, false
	}
	s := c.shard(key)
	s.mu.Lock()
	// Moving an entry to the front of the recency list on every hit costs
	// more than the lookup (it touches the neighbours); a hot entry is
	// refreshed often enough on one hit in eight.
	s.hits++
	var e entry[V]
	var ok bool
	if s.hits&7 == 0 {
		e, ok = s.lru.Get(key)
	} else {
		e, ok = s.lru.Peek(key)
	}
	s.mu.Unlock()
	return e.v, ok
}

// Fill caches v, read from the source after epoch start, unless key's
// shard was invalidated since, evicting the least recently used entries of
// the shard as its bound in bytes needs, and reports whether it did. A
// value larger than a shard's share of the bound is not cached, and drops
// what key held.
func (c *Cache[K, V]) Fill(key K, v V, start uint64) bool {
	if c == nil || c.off.Load() {
		return false
	}
	cost := EntryOverhead + c.cost(key, v)
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last > start || s.held[key] > 0 {
		return false
	}
	if cost > c.budget {
		s.lru.Remove(key)
		return false
	}
	s.lru.Remove(key) // Add would replace it without telling OnRemove's fn
	s.lru.Add(key, entry[V]{v, cost})
	s.bytes += cost
	// Each pass evicts an entry other than key's, which is the newest.
	for s.bytes > c.budget && s.lru.Len() > 1 {
		s.lru.RemoveOldest()
	}
	return true
}

// Update calls fn with key's cached value, if any, under its shard's lock,
// for a change that neither makes the value older nor changes what the
// cost function counts of it.
func (c *Cache[K, V]) Update(key K, fn func(*V)) {
	if c == nil {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.lru.Peek(key); ok {
		fn(&e.v)
		s.lru.Add(key, e) // replaces the value in place, recency aside
	}
}

// Invalidate drops key and makes Fills of reads that started before it do
// nothing in its shard.
func (c *Cache[K, V]) Invalidate(key K) {
	if c == nil {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	s.last = c.epoch.n.Add(1)
	s.lru.Remove(key)
	s.mu.Unlock()
}

// Hold drops key and keeps the cache from holding it again until as many
// Releases: a writer holds what it changes while its commit becomes
// visible, so that no reader is answered from the cache with what the
// source no longer holds once another reader may have seen the change
// there.
func (c *Cache[K, V]) Hold(key K) {
	if c == nil {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	if s.held == nil {
		s.held = map[K]int{}
	}
	s.held[key]++
	s.last = c.epoch.n.Add(1)
	s.lru.Remove(key)
	s.mu.Unlock()
}

// Release ends a Hold of key, and invalidates it as Invalidate does.
func (c *Cache[K, V]) Release(key K) {
	if c == nil {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	if n := s.held[key]; n > 1 {
		s.held[key] = n - 1
	} else {
		delete(s.held, key)
	}
	s.last = c.epoch.n.Add(1)
	s.lru.Remove(key)
	s.mu.Unlock()
}

// Stamp returns the epoch of the last invalidation of key's shard, and
// false while the cache caches nothing (nil or suspended). Two reads of the
// source that began with the same stamp of key began with no Invalidate of
// key between them, so the later may take the earlier's answer.
func (c *Cache[K, V]) Stamp(key K) (uint64, bool) {
	if c == nil || c.off.Load() {
		return 0, false
	}
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, !c.off.Load()
}

// Share returns the bytes one shard may hold: an entry that costs more is
// never cached; 0 for a nil cache.
func (c *Cache[K, V]) Share() int64 {
	if c == nil {
		return 0
	}
	return c.budget
}

// Len returns the number of cached entries.
func (c *Cache[K, V]) Len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}

// Bytes returns the bytes the cached entries take, as estimated.
func (c *Cache[K, V]) Bytes() int64 {
	if c == nil {
		return 0
	}
	var n int64
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += s.bytes
		s.mu.Unlock()
	}
	return n
}

// Suspend purges the cache and makes it cache nothing until Resume: for a
// source whose changes it may have missed.
func (c *Cache[K, V]) Suspend() {
	if c == nil {
		return
	}
	c.off.Store(true)
	c.Purge()
}

// Resume caches again after Suspend.
func (c *Cache[K, V]) Resume() {
	if c != nil {
		c.off.Store(false)
	}
}

// Purge drops every entry.
func (c *Cache[K, V]) Purge() {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		s.last = c.epoch.n.Add(1)
		s.lru.Purge()
		s.mu.Unlock()
	}
}
