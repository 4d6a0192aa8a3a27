//go:build !wasip1

package memory

import (
	"log/slog"
	"time"
)

// Options configures a Store. Start from DefaultOptions or InMemoryOptions
// and change what you need with the With methods; Open checks them.
//
// A store on disk keeps free space in reserve for its storage engine.
// Badger writes its logs and tables through memory maps, where a full disk
// ends the process instead of failing a write, so the store refuses a write
// with ErrDiskFull while the file system's free space is short of the write
// and of what Badger may still write in the background: the tables its
// memtable logs are flushed to (a memtable holds up to 64 MiB), and the
// compactions those may start (level 0 into the next level that holds
// tables, and one table into the level below it for each of three more
// compactors), but never more than the whole store. The reserve is not set
// but taken from the store's files as it grows: a store of a few hundred
// megabytes needs about as much again, since a compaction may rewrite all
// of it; in tests, stores that filled a 2 GiB disk stopped at 1.1 to 1.2 GB
// and one that filled 6 GiB at 5 GB, keeping 1.3 GiB. Open likewise needs room for the work it starts (the tables of
// the logs it replays, the compactions due) and returns ErrDiskFull without
// it; once open with less than a write needs, the store reads but refuses
// writes. Something else that fills the disk can still take the reserve:
// give the store a file system of its own, or watch its free space. The
// guard reads free space with statfs on Linux; elsewhere it is off.
type Options struct {
	dir          string
	inMemory     bool
	onPostgres   bool   // a PostgreSQL store (postgres.go) ...
	postgres     string // ... in the database of this DSN
	syncDisabled bool   // negative so that the zero value syncs
	cacheSize    int
	cacheBytes   int64
	region       string
	atRiskWindow time.Duration
	logger       *slog.Logger
	limits       Limits
	clock        func() time.Time
	wallClock    bool // clock is time.Now, which the store may read coarsely (see Store.instant)
	key          []byte
	memTableSize int64 // the engine's; 0 is its default (64 MiB); for tests on small disks
	// stopMigration, for tests, is asked before each step of a migration;
	// an error stops it there, as a crash would.
	stopMigration func(step string) error
}

// DefaultOptions returns the options for a store kept on disk in dir.
func DefaultOptions(dir string) Options {
	return Options{
		dir:          dir,
		cacheSize:    65536,
		cacheBytes:   DefaultCacheBytes,
		atRiskWindow: DefaultAtRiskWindow,
		limits:       DefaultLimits(),
	}
}

// InMemoryOptions returns the options for a store kept in memory only, for
// tests and tools; its data is gone when it is closed.
func InMemoryOptions() Options {
	o := DefaultOptions("")
	o.inMemory = true
	return o
}

// WithDir returns a copy that keeps the store in dir.
func (o Options) WithDir(dir string) Options {
	o.dir = dir
	return o
}

// WithInMemory returns a copy that keeps the store in memory (true) or on
// disk (false). Default false for DefaultOptions.
func (o Options) WithInMemory(inMemory bool) Options {
	o.inMemory = inMemory
	return o
}

// WithSyncWrites returns a copy that makes every write wait until it is on
// disk (true) before it returns. Concurrent writes share one flush (group
// commit). With false, an acknowledged write survives a crash of the process
// but may be lost when the machine loses power. Default true.
func (o Options) WithSyncWrites(sync bool) Options {
	o.syncDisabled = !sync
	return o
}

// WithCacheSize returns a copy that keeps up to n customers' profiles and
// identifiers decoded in memory for fast briefs, within the bound in bytes
// of WithCacheBytes; 0 turns the cache off. Default 65536.
func (o Options) WithCacheSize(n int) Options {
	o.cacheSize = n
	return o
}

// DefaultCacheBytes is the default bound in bytes of the profile cache (see
// Options.WithCacheBytes).
const DefaultCacheBytes = 64 << 20

// WithCacheBytes returns a copy whose caches hold at most about n bytes of
// decoded profiles, and at most n/4 each of identifiers and of customers'
// keys, whichever of this bound and the cache size comes first; 0 turns the
// caches off. The sizes are estimated, conservatively, from what each entry
// holds: a customer at every default limit about 1.5 MiB, a typical one a
// few KiB. A profile larger than 1/64 of n (1 MiB by default) is not cached:
// its briefs read it from the store. Identifiers of no one take at most
// n/16 more. Default DefaultCacheBytes, 64 MiB, which with the others makes
// at most 100 MiB. Apart from the caches, a store on Badger keeps a filter
// of the identifiers it holds, whatever the cache size, so that a lookup of
// one no one has costs no read: 2 to 8 bytes an identifier (at most 16 MiB
// for a million customers with two each).
func (o Options) WithCacheBytes(n int64) Options {
	o.cacheBytes = n
	return o
}

// WithDefaultRegion returns a copy that reads phone numbers without a
// country code as numbers of region, an ISO 3166 code such as "NL". Default
// none: such numbers are refused.
func (o Options) WithDefaultRegion(region string) Options {
	o.region = region
	return o
}

// WithAtRiskWindow returns a copy in which two negative outcomes within d
// mark a customer at risk. Default 90 days.
func (o Options) WithAtRiskWindow(d time.Duration) Options {
	o.atRiskWindow = d
	return o
}

// WithLogger returns a copy that logs to l; the store logs only what its
// storage engine reports, at Debug and above. Default none.
func (o Options) WithLogger(l *slog.Logger) Options {
	o.logger = l
	return o
}

// WithLimits returns a copy with the given per-customer limits. Default
// DefaultLimits().
func (o Options) WithLimits(l Limits) Options {
	if l.History == 0 {
		l.History = DefaultLimits().History
	}
	o.limits = l
	return o
}

// WithEncryptionKey returns a copy that encrypts the store's files at rest
// with key, an AES key of 16, 24 or 32 bytes, which the application keeps
// outside the store. Open then needs the same key; RotateEncryptionKey
// changes it. Default none: the files are not encrypted as a whole (every
// customer's values are still sealed with the customer's own key).
func (o Options) WithEncryptionKey(key []byte) Options {
	o.key = append([]byte(nil), key...)
	return o
}

// WithClock returns a copy that takes the time from now, for tests and
// replays. Default time.Now.
func (o Options) WithClock(now func() time.Time) Options {
	o.clock = now
	return o
}

func (o *Options) check() error {
	if o.onPostgres {
		if err := o.checkPostgres(); err != nil {
			return err
		}
	} else if !o.inMemory && o.dir == "" {
		return invalid("options", "no directory; use DefaultOptions(dir), InMemoryOptions() or PostgresOptions(dsn)")
	}
	if o.cacheSize < 0 {
		return invalid("options", "negative cache size")
	}
	if o.cacheBytes < 0 {
		return invalid("options", "negative cache bytes")
	}
	if o.atRiskWindow <= 0 {
		return invalid("options", "the at-risk window must be positive")
	}
	if !validRegion(o.region) {
		return invalid("options", "unknown phone region "+quote(o.region)+"; use an ISO 3166 code such as \"NL\"")
	}
	if err := o.limits.check(); err != nil {
		return err
	}
	if err := o.limits.checkFit(); err != nil {
		return err
	}
	if n := len(o.key); n != 0 && n != 16 && n != 24 && n != 32 {
		return invalid("options", "an encryption key has 16, 24 or 32 bytes")
	}
	if o.clock == nil {
		o.clock, o.wallClock = time.Now, true
	}
	return nil
}
