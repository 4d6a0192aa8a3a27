//go:build !wasip1

// Package cache keeps decoded values in memory, bounded in number, and keeps
// them correct while the store beneath them changes.
//
// Caches that describe one store share an Epoch, a counter that every
// invalidation advances. A reader that misses reads Epoch.Now before it
// starts reading the store, and hands the value to Fill with it. A writer
// calls Invalidate after its change is committed. Fill stores nothing when
// the key's shard was invalidated after the reader started, so a value read
// before a commit is never cached after it. Every operation takes effect
// before it returns.
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

// Cache is safe for concurrent use. A nil *Cache caches nothing.
type Cache[K comparable, V any] struct {
	epoch  *Epoch
	seed   maphash.Seed
	shards [shards]shard[K, V]
}

type shard[K comparable, V any] struct {
	mu   sync.Mutex // guards lru, last and hits; orders Fill against Invalidate
	lru  *simplelru.LRU[K, V]
	last uint64   // the epoch of the shard's last invalidation
	hits uint32   // counts hits, to refresh recency on some of them
	_    [36]byte // keep shards on separate cache lines
}

// New returns a cache of about size entries ordered by epoch, or nil when
// size is not positive.
func New[K comparable, V any](size int, epoch *Epoch) (*Cache[K, V], error) {
	if size <= 0 {
		return nil, nil
	}
	c := &Cache[K, V]{epoch: epoch, seed: maphash.MakeSeed()}
	per := max(size/shards, 1)
	for i := range c.shards {
		lru, err := simplelru.NewLRU[K, V](per, nil)
		if err != nil {
			return nil, err
		}
		c.shards[i].lru = lru
	}
	return c, nil
}

func (c *Cache[K, V]) shard(key K) *shard[K, V] {
	return &c.shards[maphash.Comparable(c.seed, key)%shards]
}

// Get returns the cached value of key. Recency, for eviction, is kept
// approximately.
func (c *Cache[K, V]) Get(key K) (V, bool) {
	if c == nil {
		var zero V
		return zero, false
	}
	s := c.shard(key)
	s.mu.Lock()
	// Moving an entry to the front of the recency list on every hit costs
	// more than the lookup (it touches the neighbours); a hot entry is
	// refreshed often enough on one hit in eight.
	s.hits++
	var v V
	var ok bool
	if s.hits&7 == 0 {
		v, ok = s.lru.Get(key)
	} else {
		v, ok = s.lru.Peek(key)
	}
	s.mu.Unlock()
	return v, ok
}

// Fill caches v, read from the source after epoch start, unless key's
// shard was invalidated since.
func (c *Cache[K, V]) Fill(key K, v V, start uint64) {
	if c == nil {
		return
	}
	s := c.shard(key)
	s.mu.Lock()
	if s.last <= start {
		s.lru.Add(key, v)
	}
	s.mu.Unlock()
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
