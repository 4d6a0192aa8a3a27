//go:build !wasip1

package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herken/herken/memory/internal/cache"
	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// storeFormat is the layout version of a store directory; Open refuses a
// directory written by a newer one.
const storeFormat = 1

// Store is a customer memory. It is safe for concurrent use by many
// goroutines; open one per directory and share it. Close it when done.
type Store struct {
	db   *kv.DB
	opts Options

	epoch    cache.Epoch // orders cache fills against invalidations
	profiles *cache.Cache[CustomerID, *profile]
	idents   *cache.Cache[identRef, indexEntry]

	// gate lets Close wait for calls that use the database; calls hold it
	// for reading.
	gate   sync.RWMutex
	closed atomic.Bool

	// commit orders the commits of writes to one customer with their cache
	// invalidation and their delivery to watchers; a write holds the
	// stripes of every customer it changes, in index order.
	commit [256]sync.Mutex
	seed   maphash.Seed

	watchMu  sync.Mutex // guards watchers
	watchers map[*Watcher]struct{}
}

// Open opens the store described by opts, creating it if needed.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	db, err := kv.Open(kv.Options{
		Dir:        opts.dir,
		InMemory:   opts.inMemory,
		SyncWrites: !opts.syncDisabled,
		Logger:     opts.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("memory: open store: %w", err)
	}
	s := &Store{
		db:       db,
		opts:     opts,
		seed:     maphash.MakeSeed(),
		watchers: map[*Watcher]struct{}{},
	}
	if s.profiles, err = cache.New[CustomerID, *profile](opts.cacheSize, &s.epoch); err == nil {
		s.idents, err = cache.New[identRef, indexEntry](opts.cacheSize*2, &s.epoch)
	}
	if err == nil {
		err = s.checkFormat()
	}
	if err == nil {
		err = s.finishForgets()
	}
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) checkFormat() error {
	t := s.db.Begin(true)
	defer t.Discard()
	var v int
	err := t.Get(keys.Format, func(b []byte) error { return codec.Unmarshal(b, &v) })
	switch {
	case errors.Is(err, kv.ErrNotFound):
		b, err := codec.Marshal(storeFormat)
		if err != nil {
			return err
		}
		if err := t.Set(keys.Format, b); err != nil {
			return err
		}
		return t.Commit()
	case err != nil:
		return storeErr(err)
	case v > storeFormat:
		return fmt.Errorf("%w: the store was written by store format %d; this build reads up to %d", ErrFormat, v, storeFormat)
	}
	return nil
}

// Close closes the store, waiting for calls in progress. It is safe to call
// more than once; calls after it fail with ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.closeWatchers()
	s.gate.Lock()
	defer s.gate.Unlock()
	s.profiles.Purge()
	s.idents.Purge()
	return s.db.Close()
}

// enter admits a call that uses the database; leave must follow.
func (s *Store) enter() error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.gate.RLock()
	if s.closed.Load() {
		s.gate.RUnlock()
		return ErrClosed
	}
	return nil
}

func (s *Store) leave() { s.gate.RUnlock() }

func (s *Store) now() time.Time { return s.opts.clock().UTC() }

// storeErr translates what the engine and codec return into the package's
// errors.
func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kv.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, kv.ErrClosed):
		return ErrClosed
	case errors.Is(err, codec.ErrVersion), errors.Is(err, codec.ErrCorrupt):
		return fmt.Errorf("%w: %v", ErrFormat, err)
	}
	return err
}

// Compact rewrites the store's files so that what was deleted or replaced
// (forgotten customers, old profiles) leaves them and their space is given
// back. The store compacts on its own as it goes; call Compact after large
// deletions, or to make a Forget final on disk sooner. It may take long on
// a large store; reads and writes go on meanwhile.
func (s *Store) Compact(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return storeErr(s.db.Compact())
}
