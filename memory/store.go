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
	"github.com/herken/herken/memory/internal/kv"
	"github.com/herken/herken/memory/internal/pgkv"
	"golang.org/x/sync/singleflight"
)

// Store is a customer memory. It is safe for concurrent use by many
// goroutines; open one per directory and share it. Close it when done.
type Store struct {
	db   kv.DB
	pg   *pgkv.DB // the engine, when it is PostgreSQL; nil for Badger
	opts Options

	epoch    cache.Epoch // orders cache fills against invalidations
	profiles *cache.Cache[CustomerID, *profile]
	idents   *cache.Cache[identRef, indexEntry]
	absent   *cache.Cache[identRef, struct{}] // identifiers of no one, apart so that they evict no one's
	known    known                            // the filter of identifiers someone has (known.go)
	flight   singleflight.Group               // reads in flight (store_flight.go)
	ciphers  *cache.Cache[CustomerID, keyed]  // of the customers' keys
	secret   []byte                           // keys the hashes of identifiers and draft names
	hashers  *sync.Pool                       // of *identHasher, keyed by secret (store_keys.go)
	keyfile  keyStore                         // the customers' keys

	eraser    eraser    // erases in the background what Forget left
	restoring bool      // Open restores a backup: the key file is made anew
	restored  *restored // what the keys backup of a restore holds, or nil

	// gate lets Close wait for calls that use the database; calls hold it
	// for reading.
	gate   sync.RWMutex
	closed atomic.Bool

	// commit orders the commits of writes to one customer with their cache
	// invalidation and their delivery to watchers; a write holds the
	// stripes of every customer it changes, in index order. A write with
	// sync writes holds its stripe while it waits for the sync: so many
	// that concurrent writers to different customers rarely share one.
	commit [4096]sync.Mutex
	seed   maphash.Seed

	feed   *feed  // PostgreSQL's change feed (store_feed.go); nil for Badger
	finals finals // PostgreSQL's compactions not yet final (postgres.go)
	rates  rates  // the rate buckets of a store one process holds (store_rate.go)
	clock  clock  // the clock briefs read (clock.go)

	watchMu  sync.Mutex // guards watchers
	watchers map[*Watcher]struct{}
}

// Open opens the store described by opts, creating it if needed. It
// finishes what a crash or the last Close left unfinished (see Forget), and
// migrates a store written by an earlier release, logging what it does to
// the options' logger. A directory it cannot read fails with ErrFormat and
// is left as it was.
func Open(ctx context.Context, opts Options) (*Store, error) {
	return open(ctx, opts, nil, nil)
}

// open opens the store; load, if not nil, fills the database before the
// store reads it, and keys, if not nil, is what the keys backup of a
// restore holds.
func open(ctx context.Context, opts Options, load func(db kv.DB) error, keys *restored) (*Store, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if load == nil {
		// A store this build cannot read is refused before the engine
		// writes anything to its directory.
		if err := probeFormat(opts); err != nil {
			return nil, err
		}
	}
	db, pg, err := openEngine(ctx, opts)
	if err != nil {
		return nil, err
	}
	s := &Store{
		db:       db,
		pg:       pg,
		opts:     opts,
		seed:     maphash.MakeSeed(),
		watchers: map[*Watcher]struct{}{},
		restored: keys,
	}
	if s.profiles, err = cache.New(opts.cacheSize, opts.cacheBytes, profileCost, &s.epoch); err == nil {
		s.profiles.OnRemove(s.profileGone)
		s.idents, err = cache.New(opts.cacheSize*2, opts.cacheBytes/4, identCost, &s.epoch)
	}
	if err == nil {
		s.absent, err = cache.New(opts.cacheSize, opts.cacheBytes/16, absentCost, &s.epoch)
	}
	if err == nil {
		s.ciphers, err = cache.New(opts.cacheSize*2, opts.cacheBytes/4, keysCost, &s.epoch)
	}
	if err == nil && load != nil {
		s.restoring = true
		err = load(db)
	}
	if err == nil {
		err = s.exclusive(pgkv.LockOpen, true, func() error { return s.openFormat(ctx) })
	}
	s.restored = nil
	if err == nil && pg == nil {
		// In PostgreSQL, keys are settled by the instance that does the
		// background work (erasePass), never while another may rekey.
		err = s.settleKeys()
	}
	if err == nil {
		err = s.erasePass()
	}
	if err == nil && pg != nil {
		err = s.startFeed()
	}
	if err == nil && pg == nil {
		s.known.on, s.known.minimum, s.known.stop = true, knownMinimum, make(chan struct{})
		s.rebuildKnown()
	}
	if err != nil {
		if s.keyfile != nil {
			err = errors.Join(err, s.keyfile.Close())
		}
		_ = db.Close()
		return nil, err
	}
	s.startEraser()
	return s, nil
}

// openEngine opens the storage engine that opts name.
func openEngine(ctx context.Context, opts Options) (kv.DB, *pgkv.DB, error) {
	if opts.onPostgres {
		pg, err := openPostgres(ctx, opts)
		if err != nil {
			return nil, nil, err
		}
		return pg, pg, nil
	}
	db, err := kv.Open(kv.Options{
		Dir:           opts.dir,
		InMemory:      opts.inMemory,
		SyncWrites:    !opts.syncDisabled,
		Logger:        opts.logger,
		EncryptionKey: opts.key,
		MemTableSize:  opts.memTableSize,
	})
	if errors.Is(err, kv.ErrKey) {
		return nil, nil, fmt.Errorf("%w: the store does not open with this encryption key: %v", ErrInvalidInput, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("memory: open store: %w", storeErr(err))
	}
	return db, nil, nil
}

// Close closes the store, waiting for calls in progress. It is safe to call
// more than once; calls after it fail with ErrClosed.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.closeWatchers()
	s.stopEraser()
	if s.feed != nil {
		s.feed.close()
	}
	s.gate.Lock()
	defer s.gate.Unlock()
	// No call is in the store, so no build of the filter of known
	// identifiers starts; one in progress holds no gate.
	if s.known.stop != nil {
		close(s.known.stop)
	}
	s.known.builds.Wait()
	// What Forget left to erase in the background is erased now.
	err := s.erasePass()
	s.profiles.Purge()
	s.idents.Purge()
	s.absent.Purge()
	s.ciphers.Purge()
	return errors.Join(err, s.keyfile.Close(), s.db.Close())
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
	case errors.Is(err, kv.ErrDiskFull):
		return diskFull(err)
	case errors.Is(err, codec.ErrVersion), errors.Is(err, codec.ErrCorrupt), errors.Is(err, kv.ErrCorrupt):
		return fmt.Errorf("%w: %v", ErrFormat, err)
	case errors.Is(err, kv.ErrTooBig):
		return &LimitError{What: "bytes in one write", Limit: kv.MaxTxnBytes}
	case errors.Is(err, pgkv.ErrConfig):
		return fmt.Errorf("%w: %v", ErrInvalidInput, err)
	case errors.Is(err, pgkv.ErrSchema), errors.Is(err, pgkv.ErrBackup):
		return fmt.Errorf("%w: %v", ErrFormat, err)
	case errors.Is(err, pgkv.ErrUnavailable):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	case errors.Is(err, pgkv.ErrUncertain):
		return fmt.Errorf("%w: %v", ErrUncertain, err)
	}
	return err
}

// Compact finishes what the store does in the background (the sealed
// remains of forgotten customers deleted, values past their expiry erased,
// new keys for customers whose values were erased and the old keys
// destroyed), then rewrites the store's files so that what was deleted or
// replaced (what forgotten customers left, old profiles and events,
// identifiers no longer held) leaves them and their space is given back.
// After Compact, nothing erased can be read back from the directory. The
// store compacts on its own as it goes; call Compact after large deletions,
// or to make erasure final on disk sooner. It may take long on a large
// store; reads go on meanwhile, and writes wait a moment while it writes
// the storage engine's memory tables out.
func (s *Store) Compact(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	if err := s.erasePass(); err != nil {
		return err
	}
	if err := s.collectKeys(); err != nil {
		return err
	}
	if s.pg == nil {
		// The filter of known identifiers forgets the deleted ones too.
		if err := s.buildKnown(); err != nil {
			return err
		}
		return storeErr(s.db.Compact())
	}
	return s.compactPostgres()
}

// RotateEncryptionKey changes the key that the store in dir, closed, is
// encrypted with from oldKey to newKey (see Options.WithEncryptionKey). It
// rewrites only the registry of the data keys that encrypt the files; those
// data keys themselves are replaced as the store runs (every 10 days).
func RotateEncryptionKey(dir string, oldKey, newKey []byte) error {
	for _, k := range [][]byte{oldKey, newKey} {
		if n := len(k); n != 16 && n != 24 && n != 32 {
			return invalid("encryption key", "an encryption key has 16, 24 or 32 bytes")
		}
	}
	if err := kv.RotateKey(dir, oldKey, newKey); err != nil {
		if errors.Is(err, kv.ErrKey) {
			return fmt.Errorf("%w: the old key does not open the store: %v", ErrInvalidInput, err)
		}
		return fmt.Errorf("memory: rotate key: %w", err)
	}
	return nil
}
