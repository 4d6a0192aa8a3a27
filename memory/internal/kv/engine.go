//go:build !wasip1

package kv

import (
	"io"
	"time"
)

// DB is what the store needs of a storage engine: ordered keys and values
// in serializable transactions. Badger (Open) keeps them in a directory for
// one process; package pgkv keeps them in PostgreSQL for many. It is safe
// for concurrent use.
type DB interface {
	// Begin starts a transaction; update allows writes. Discard it when
	// done.
	Begin(update bool) Txn
	// Durable returns once every transaction committed before it was
	// called is as durable as the engine makes writes.
	Durable() error
	// DeletePrefixes deletes every key under the prefixes, in batches that
	// need not fit one transaction. It is not atomic.
	DeletePrefixes(prefixes ...[]byte) error
	// DropPrefixes removes every key under the prefixes from the engine's
	// files, old versions included, as far as the engine can.
	DropPrefixes(prefixes ...[]byte) error
	// Compact rewrites the engine's files so that deleted and overwritten
	// entries leave them.
	Compact() error
	// Backup writes every live entry whose key keep accepts, as of one
	// moment, to w, in the engine's own backup format; Load reads it back.
	Backup(w io.Writer, keep func(key []byte) bool) error
	// Load writes the entries of a backup into the database.
	Load(r io.Reader) error
	// Versions calls fn with every version of every key under prefix that
	// the engine still holds, deleted ones included, where it can tell: for
	// erasure tests.
	Versions(prefix []byte, fn func(key []byte, deleted bool, val []byte) error) error
	// Close closes the database.
	Close() error
}

// Txn is a transaction. It is not safe for concurrent use; values passed to
// Set must not change until Commit. Reads see the transaction's own writes.
// Commit fails with ErrConflict when a concurrent transaction changed what
// this one read.
type Txn interface {
	// Get calls fn with the value of key, valid only during fn, or returns
	// ErrNotFound.
	Get(key []byte, fn func(val []byte) error) error
	// Has reports whether key exists.
	Has(key []byte) (bool, error)
	// Prefetch says that the transaction is about to Get the keys: an
	// engine that answers over a network reads them together at the next
	// Get of one of them, in one round trip. It is a hint, and changes no
	// answer; the keys must not change until the transaction ends.
	Prefetch(keys ...[]byte)
	// Set writes key.
	Set(key, val []byte) error
	// SetNew writes key, a value of at most PartSize, where key is new or
	// has only ever held such values: the engine need not look for an old
	// value kept in parts to replace. A longer value is ErrTooBig.
	SetNew(key, val []byte) error
	// SetExpiring writes key, a small value, until ttl has passed by the
	// engine's clock: then reads no longer see it.
	SetExpiring(key, val []byte, ttl time.Duration) error
	// Delete deletes key.
	Delete(key []byte) error
	// Scan calls fn with every key under prefix in order and, unless
	// keysOnly, its value; both are valid only during fn.
	Scan(prefix []byte, keysOnly bool, fn func(key, val []byte) error) error
	// ScanFrom is Scan starting at the first key under prefix at or after
	// from.
	ScanFrom(prefix, from []byte, fn func(key, val []byte) error) error
	// Commit commits the transaction.
	Commit() error
	// Discard ends the transaction; it is safe after Commit.
	Discard()
}

var (
	_ DB  = (*Badger)(nil)
	_ Txn = (*badgerTxn)(nil)
)
