//go:build !wasip1

package memory

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// MaxRateKey bounds the key of a rate bucket (see Store.Allow).
const MaxRateKey = 256

// Allow takes one request from the rate bucket named key: a bucket of burst
// requests, refilled at one every every. It reports whether the bucket had
// one and, when not, how long until it has one again. Buckets are shared by
// every process that opens the store: in PostgreSQL, a table of them (not
// replicated: after a failover every bucket starts full); on disk or in
// memory, this process's, the store's only one. Keys are kept hashed with
// the store's secret. In PostgreSQL a bucket full again is deleted within a
// minute; one process keeps at most 65536 buckets, the least recently used
// forgotten first (they come back full).
//
// The plugin's handler bounds its requests per device and per client
// address this way on a PostgreSQL store, so that a bound holds across the
// shop's instances.
func (s *Store) Allow(ctx context.Context, key string, every time.Duration, burst int) (bool, time.Duration, error) {
	switch {
	case len(key) == 0 || len(key) > MaxRateKey:
		return false, 0, invalid("rate key", "from 1 to 256 bytes")
	case every <= 0 || every > 24*time.Hour:
		return false, 0, invalid("rate", "a request every positive duration of at most a day")
	case burst < 1 || burst > 1<<20:
		return false, 0, invalid("burst", "from 1 to 1048576")
	}
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	if err := s.enter(); err != nil {
		return false, 0, err
	}
	defer s.leave()
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("\x00rate\x00"))
	m.Write([]byte(key))
	h := m.Sum(nil)[:16]
	if s.pg != nil {
		ok, wait, err := s.pg.Allow(h, every, burst)
		return ok, wait, storeErr(err)
	}
	ok, wait := s.rates.allow([16]byte(h), time.Now(), every, burst)
	return ok, wait, nil
}

// maxRates bounds the buckets a store on disk or in memory keeps; the least
// recently used go first, and start full when they come back.
const maxRates = 1 << 16

// rates are the buckets of a store that one process holds.
type rates struct {
	mu  sync.Mutex
	lru *simplelru.LRU[[16]byte, time.Time] // the next request's theoretical arrival
}

func (r *rates) allow(key [16]byte, now time.Time, every time.Duration, burst int) (bool, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lru == nil {
		r.lru, _ = simplelru.NewLRU[[16]byte, time.Time](maxRates, nil)
	}
	tat, _ := r.lru.Get(key)
	if tat.Before(now) {
		tat = now
	}
	tat = tat.Add(every)
	if limit := now.Add(every * time.Duration(burst)); tat.After(limit) {
		return false, tat.Sub(limit)
	}
	r.lru.Add(key, tat)
	return true, 0
}
