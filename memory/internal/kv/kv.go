//go:build !wasip1

// Package kv is the store's seam to its storage engine. The memory package
// reads and writes through DB and Txn only (engine.go), and sees the
// engine's errors translated to the ones below. This file and the others of
// the package are the embedded engine, Badger; package pgkv is PostgreSQL.
package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

var (
	// ErrNotFound is returned when a key does not exist.
	ErrNotFound = errors.New("kv: key not found")
	// ErrConflict is returned by Commit when another transaction changed what
	// this one read; the caller retries.
	ErrConflict = errors.New("kv: transaction conflict")
	// ErrTooBig is returned when a transaction holds more than the engine
	// commits at once.
	ErrTooBig = errors.New("kv: transaction too big")
	// ErrClosed is returned after the database was closed.
	ErrClosed = errors.New("kv: database closed")
	// ErrKey is returned when the encryption key is wrong or malformed.
	ErrKey = errors.New("kv: wrong encryption key")
	// ErrBlocked is returned by a commit while DropPrefixes runs; the
	// caller retries.
	ErrBlocked = errors.New("kv: writes are blocked for a moment")
	// ErrCorrupt is returned when what the files hold is not what was
	// written: a value kept in parts lacks one.
	ErrCorrupt = errors.New("kv: damaged value")
)

// DefaultMemTableSize is the size of Badger's memory tables unless
// Options.MemTableSize says otherwise.
const DefaultMemTableSize = 64 << 20

// MaxKeySize bounds a key; Badger takes up to 65000 bytes.
const MaxKeySize = 1 << 10

// MaxTxnBytes is about how many bytes of keys and values one transaction
// commits at most with the default memory table size: Badger commits a
// transaction in one batch of at most 15% of a memory table. Count a value
// kept in parts with PartOverhead a part.
const MaxTxnBytes = 15 * DefaultMemTableSize / 100

// PartOverhead bounds what one part of a value or one entry adds to the
// bytes a transaction counts: its key and Badger's own bytes.
const PartOverhead = 2 * MaxKeySize

// Options configures the engine.
type Options struct {
	Dir            string // empty with InMemory
	InMemory       bool
	EncryptionKey  []byte       // AES key of 16, 24 or 32 bytes; nil: not encrypted
	SyncWrites     bool         // Durable syncs; otherwise it does nothing
	ReadOnly       bool         // open to read only, writing nothing to Dir
	Logger         *slog.Logger // nil discards the engine's messages
	MemTableSize   int64
	BlockCacheSize int64
}

// Badger is the embedded engine: an open Badger database. It is safe for
// concurrent use.
type Badger struct {
	db   *badger.DB
	opts Options
	sync group      // group commit of Durable
	drop sync.Mutex // one DropPrefixes at a time
	room *space     // the free-space guard: see space.go
	logs *logs      // the memtable logs Durable syncs: see logs.go

	// commits is held for reading by every commit, and for writing by a
	// drop. Badger's DropPrefix stops writes and then waits for every
	// commit begun before to be done; a commit that passed its check for
	// stopped writes just before, and reached the write queue just after the
	// drop emptied it, is never done, and the database hangs. So no commit
	// runs while a drop does.
	commits sync.RWMutex
}

// Open opens or creates the database.
func Open(o Options) (*Badger, error) {
	if o.ReadOnly {
		return openReadOnly(o)
	}
	if err := repair(o); err != nil { // what a crash left that Badger cannot open: repair.go
		return nil, fmt.Errorf("kv: open %s: %w", o.Dir, err)
	}
	bo := badger.DefaultOptions(o.Dir).
		WithInMemory(o.InMemory).
		// Durability is Durable's: see durable.go.
		WithSyncWrites(false).
		WithLogger(logger{o.Logger}).
		WithMetricsEnabled(false).
		WithNumVersionsToKeep(1).
		// A flipped bit in the value log must be an error, not a value.
		WithVerifyValueChecksum(true).
		WithCompression(options.Snappy)
	if o.InMemory {
		bo = bo.WithDir("").WithValueDir("")
	}
	if len(o.EncryptionKey) > 0 {
		// Badger needs an index cache with encryption.
		bo = bo.WithEncryptionKey(o.EncryptionKey).WithIndexCacheSize(64 << 20)
	}
	if o.MemTableSize > 0 {
		bo = bo.WithMemTableSize(o.MemTableSize)
	} else {
		bo = bo.WithMemTableSize(DefaultMemTableSize)
	}
	if o.BlockCacheSize > 0 {
		bo = bo.WithBlockCacheSize(o.BlockCacheSize)
	}
	if bo.ValueThreshold <= PartSize {
		// Durable syncs the memtable logs only: every value must stay in
		// them, not in a value log.
		return nil, fmt.Errorf("kv: open %s: a value threshold of %d bytes would put values of up to %d bytes in the value log, which Durable does not sync", o.Dir, bo.ValueThreshold, PartSize)
	}
	if err := checkOpen(bo, freeBytes); err != nil {
		return nil, err
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("kv: open %s: %w", o.Dir, translate(err))
	}
	d := &Badger{db: db, opts: o, room: newSpace(bo, db)}
	if !o.InMemory {
		if d.logs, err = openLogs(o.Dir); err != nil {
			db.Close()
			return nil, fmt.Errorf("kv: open %s: %w", o.Dir, err)
		}
	}
	return d, nil
}

// openReadOnly opens the database in o.Dir to read only: nothing in the
// directory is written, not even a repair. It fails where the files need
// one (the logs of a crash to replay and cut).
func openReadOnly(o Options) (*Badger, error) {
	bo := badger.DefaultOptions(o.Dir).
		WithReadOnly(true).
		WithLogger(logger{o.Logger}).
		WithMetricsEnabled(false).
		WithVerifyValueChecksum(true).
		WithCompression(options.Snappy).
		WithMemTableSize(DefaultMemTableSize)
	if len(o.EncryptionKey) > 0 {
		bo = bo.WithEncryptionKey(o.EncryptionKey).WithIndexCacheSize(64 << 20)
	}
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("kv: open %s to read: %w", o.Dir, translate(err))
	}
	return &Badger{db: db, opts: o, room: newSpace(bo, db)}, nil
}

// Close flushes and closes the database.
func (d *Badger) Close() error {
	err := translate(d.db.Close())
	d.logs.close()
	return err
}

// Begin starts a transaction; update allows writes. Discard it when done.
func (d *Badger) Begin(update bool) Txn {
	return &badgerTxn{t: d.db.NewTransaction(update), room: d.room, db: d}
}

// DeletePrefixes deletes every key under the given prefixes in batches that
// need not fit one transaction. It is not atomic. While a drop (Compact,
// DropPrefixes) stops writes, it waits and deletes again, up to a minute.
func (d *Badger) DeletePrefixes(prefixes ...[]byte) error {
	if err := d.room.room("a delete", 0); err != nil {
		return err
	}
	for waited := time.Duration(0); ; {
		// A batch whose flush failed keeps its error: a new one each time.
		err := d.deletePrefixes(withParts(prefixes))
		if !errors.Is(err, ErrBlocked) || d.db.IsClosed() || waited > time.Minute {
			if err != nil {
				return err
			}
			return d.Durable()
		}
		time.Sleep(time.Millisecond)
		waited += time.Millisecond
	}
}

func (d *Badger) deletePrefixes(prefixes [][]byte) error {
	d.commits.RLock() // see Badger.commits
	defer d.commits.RUnlock()
	wb := d.db.NewWriteBatch()
	defer wb.Cancel()
	for _, p := range prefixes {
		var ks [][]byte
		err := d.db.View(func(t *badger.Txn) error {
			it := t.NewIterator(badger.IteratorOptions{Prefix: p})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				ks = append(ks, it.Item().KeyCopy(nil))
			}
			return nil
		})
		if err != nil {
			return translate(err)
		}
		for _, k := range ks {
			if err := wb.Delete(k); err != nil {
				return translate(err)
			}
		}
	}
	return translate(wb.Flush())
}

// compactMark is a key that Compact writes and drops at once.
var compactMark = []byte{0xfe, 'c'}

// Compact writes the memory tables out, merges the tree's levels into the
// last one and rewrites value logs that are mostly garbage, so that deleted
// and overwritten entries leave the files. It is slow on a large store;
// reads go on meanwhile, and writes wait a moment while the memory tables
// are written out (see DropPrefixes).
func (d *Badger) Compact() error {
	if err := d.room.room("a compaction", d.room.rewrite()); err != nil {
		return err
	}
	// Flatten never writes the memory tables out, and leaves a tree whose
	// tables are all in level 0 as it is, with every deleted entry in it.
	// Dropping a live key writes every memory table out and compacts level
	// 0 into the base level; then Flatten merges the rest.
	t := d.Begin(true)
	err := t.Set(compactMark, nil)
	if err == nil {
		err = t.Commit()
	}
	t.Discard()
	if err != nil {
		return err
	}
	if err := d.dropPrefixes([][]byte{compactMark}); err != nil {
		return err
	}
	if err := d.db.Flatten(2); err != nil {
		return translate(err)
	}
	if d.opts.InMemory {
		return nil
	}
	for {
		err := d.db.RunValueLogGC(0.01)
		switch {
		case err == nil:
			continue
		case errors.Is(err, badger.ErrNoRewrite), errors.Is(err, badger.ErrRejected):
			return nil
		default:
			return translate(err)
		}
	}
}

// Backup writes every live entry whose key keep accepts, as of one moment,
// to w, while reads and writes go on.
func (d *Badger) Backup(w io.Writer, keep func(key []byte) bool) error {
	st := d.db.NewStream()
	st.LogPrefix = "backup"
	st.ChooseKey = func(item *badger.Item) bool {
		if key, ok := IsPart(item.Key()); ok {
			return keep(key)
		}
		return keep(item.Key())
	}
	// Each of the Stream's producers opens its own read transaction when it
	// starts, so with several a transaction that commits meanwhile can be
	// half in the backup (dgraph-io/badger#2049). One producer reads the
	// whole key space at one moment.
	st.NumGo = 1
	_, err := st.Backup(w, 0)
	return translate(err)
}

// Load writes the entries of a backup into the database, then syncs it.
func (d *Badger) Load(r io.Reader) error {
	d.commits.RLock() // see Badger.commits
	defer d.commits.RUnlock()
	if err := d.db.Load(d.room.reader(r), 256); err != nil {
		return translate(err)
	}
	return d.syncAll()
}

// DropPrefixes removes every key under the prefixes from the database's
// files, old versions included: Badger rewrites the tables that hold them.
// Unlike a delete, which leaves the deleted bytes in older tables, this
// erases, as long as the keys are live when it runs. Writes fail with
// ErrBlocked while it runs, and are retried by their callers.
func (d *Badger) DropPrefixes(prefixes ...[]byte) error {
	return d.dropPrefixes(withParts(prefixes))
}

func (d *Badger) dropPrefixes(prefixes [][]byte) error {
	d.drop.Lock()
	defer d.drop.Unlock()
	if err := d.room.room("an erasure", d.room.holding(prefixes)); err != nil {
		return err
	}
	for {
		d.commits.Lock() // see Badger.commits
		err := translate(d.db.DropPrefix(prefixes...))
		d.commits.Unlock()
		if !errors.Is(err, ErrBlocked) {
			if err != nil {
				return err
			}
			return d.Durable()
		}
		if d.db.IsClosed() {
			return ErrClosed
		}
		time.Sleep(time.Millisecond) // another drop is running
	}
}

// Versions calls fn with every version of every key under prefix that the
// files still hold, deleted ones included: what a reader of the files could
// find. For erasure tests.
func (d *Badger) Versions(prefix []byte, fn func(key []byte, deleted bool, val []byte) error) error {
	return translate(d.db.View(func(t *badger.Txn) error {
		it := t.NewIterator(badger.IteratorOptions{Prefix: prefix, AllVersions: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			val, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := fn(item.KeyCopy(nil), item.IsDeletedOrExpired(), val); err != nil {
				return err
			}
		}
		return nil
	}))
}

// RotateKey rewrites the key registry of the database in dir, closed, so
// that it opens with newKey instead of oldKey. The data keys it holds, which
// encrypt the files, stay as they are.
func RotateKey(dir string, oldKey, newKey []byte) error {
	opt := badger.KeyRegistryOptions{Dir: dir, ReadOnly: true, EncryptionKey: oldKey,
		EncryptionKeyRotationDuration: 10 * 24 * time.Hour}
	kr, err := badger.OpenKeyRegistry(opt)
	if err != nil {
		return translate(err)
	}
	defer kr.Close()
	opt.EncryptionKey = newKey
	return translate(badger.WriteKeyRegistry(kr, opt))
}

// badgerTxn is a transaction of Badger. It is not safe for concurrent use; values passed
// to Set must not change until Commit.
type badgerTxn struct {
	db   *Badger
	t    *badger.Txn
	room *space
	n    int64 // bytes the commit writes, for room
}

// Get calls fn with the value of key, valid only during fn.
func (t *badgerTxn) Get(key []byte, fn func(val []byte) error) error {
	item, err := t.t.Get(key)
	if err != nil {
		return translate(err)
	}
	return t.value(item, fn)
}

// value calls fn with the value of item, put together when it is kept in
// parts.
func (t *badgerTxn) value(item *badger.Item, fn func(val []byte) error) error {
	if item.UserMeta()&metaParts == 0 {
		return item.Value(fn)
	}
	val, err := t.readParts(item)
	if err != nil {
		return err
	}
	return fn(val)
}

// Prefetch does nothing: Badger reads from memory and local files.
func (t *badgerTxn) Prefetch(...[]byte) {}

// Has reports whether key exists.
func (t *badgerTxn) Has(key []byte) (bool, error) {
	_, err := t.t.Get(key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	}
	return false, translate(err)
}

// Set writes key; a value longer than PartSize is kept in parts.
func (t *badgerTxn) Set(key, val []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	t.n += entrySize(key, val)
	old, err := t.partsOf(key)
	if err != nil {
		return err
	}
	if len(val) > PartSize {
		return t.setParts(key, val, old)
	}
	if err := t.deleteParts(key, 0, old.parts); err != nil {
		return err
	}
	return translate(t.t.Set(key, val))
}

// SetNew writes key, a value of at most PartSize, without reading it: the
// caller knows it holds nothing kept in parts.
func (t *badgerTxn) SetNew(key, val []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(val) > PartSize {
		return fmt.Errorf("%w: a value of %d bytes written as new; at most %d", ErrTooBig, len(val), PartSize)
	}
	t.n += entrySize(key, val)
	return translate(t.t.Set(key, val))
}

// SetExpiring writes key, a small value, until ttl has passed by the
// machine's clock: then the engine drops it, and reads no longer see it.
func (t *badgerTxn) SetExpiring(key, val []byte, ttl time.Duration) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(val) > PartSize {
		return fmt.Errorf("%w: an expiring value of %d bytes; at most %d", ErrTooBig, len(val), PartSize)
	}
	t.n += entrySize(key, val)
	return translate(t.t.SetEntry(badger.NewEntry(key, val).WithTTL(ttl)))
}

// Delete deletes key.
func (t *badgerTxn) Delete(key []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	t.n += entrySize(key, nil)
	old, err := t.partsOf(key)
	if err != nil {
		return err
	}
	if err := t.deleteParts(key, 0, old.parts); err != nil {
		return err
	}
	return translate(t.t.Delete(key))
}

func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: an empty key", ErrCorrupt)
	case len(key) > MaxKeySize:
		return fmt.Errorf("%w: a key of %d bytes; at most %d", ErrTooBig, len(key), MaxKeySize)
	case key[0] == partSpace:
		return fmt.Errorf("%w: a key in the space of parts", ErrCorrupt)
	}
	return nil
}

// Scan calls fn with every key under prefix in order and, unless keysOnly,
// its value; both are valid only during fn.
func (t *badgerTxn) Scan(prefix []byte, keysOnly bool, fn func(key, val []byte) error) error {
	it := t.t.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: !keysOnly, PrefetchSize: 16})
	defer it.Close()
	for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		if len(prefix) == 0 && item.Key()[0] == partSpace {
			break // parts sort last
		}
		if keysOnly {
			if err := fn(item.Key(), nil); err != nil {
				return err
			}
			continue
		}
		err := t.value(item, func(v []byte) error { return fn(item.Key(), v) })
		if err != nil {
			return translate(err)
		}
	}
	return nil
}

// ScanFrom is Scan starting at the first key under prefix at or after from.
func (t *badgerTxn) ScanFrom(prefix, from []byte, fn func(key, val []byte) error) error {
	it := t.t.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 16})
	defer it.Close()
	if bytes.Compare(from, prefix) < 0 {
		from = prefix
	}
	for it.Seek(from); it.ValidForPrefix(prefix); it.Next() {
		item := it.Item()
		err := t.value(item, func(v []byte) error { return fn(item.Key(), v) })
		if err != nil {
			return translate(err)
		}
	}
	return nil
}

// Commit commits the transaction, or returns a *DiskFullError.
func (t *badgerTxn) Commit() error {
	if err := t.room.admit(t.n); err != nil {
		return err
	}
	defer t.room.done(t.n)
	t.db.commits.RLock()
	defer t.db.commits.RUnlock()
	t.db.sync.committing.Add(1)
	defer t.db.sync.committing.Add(-1)
	return translate(t.t.Commit())
}

// Discard ends the transaction; it is safe after Commit.
func (t *badgerTxn) Discard() { t.t.Discard() }

func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, badger.ErrKeyNotFound):
		return ErrNotFound
	case errors.Is(err, badger.ErrConflict):
		return ErrConflict
	case errors.Is(err, badger.ErrTxnTooBig):
		return ErrTooBig
	case errors.Is(err, badger.ErrDBClosed):
		return fmt.Errorf("%w: %v", ErrClosed, err)
	case errors.Is(err, badger.ErrBlockedWrites):
		return ErrBlocked
	case errors.Is(err, badger.ErrEncryptionKeyMismatch), errors.Is(err, badger.ErrInvalidEncryptionKey):
		return fmt.Errorf("%w: %v", ErrKey, err)
	}
	return err
}

// logger hands Badger's messages to slog; Badger's INFO is chatty, so it
// becomes DEBUG.
type logger struct{ l *slog.Logger }

func (l logger) Errorf(f string, a ...any)   { l.log(slog.LevelError, f, a) }
func (l logger) Warningf(f string, a ...any) { l.log(slog.LevelWarn, f, a) }
func (l logger) Infof(f string, a ...any)    { l.log(slog.LevelDebug, f, a) }
func (l logger) Debugf(f string, a ...any)   { l.log(slog.LevelDebug-4, f, a) }

func (l logger) log(level slog.Level, f string, a []any) {
	ctx := context.Background()
	if l.l == nil || !l.l.Enabled(ctx, level) {
		return
	}
	l.l.Log(ctx, level, fmt.Sprintf(f, a...), "component", "badger")
}
