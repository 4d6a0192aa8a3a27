//go:build !wasip1

package memory

import (
	"github.com/herken/herken/memory/internal/keyfile"
	"github.com/herken/herken/memory/internal/kv"
)

// keyStore is where the customers' keys are, apart from the data they seal:
// the key file beside Badger (package keyfile), the table herken_keys
// beside the data in PostgreSQL (package pgkv). See keyfile's package doc
// for what each method does.
type keyStore interface {
	// Fresh returns a new customer's key, made durable before t commits
	// (the key file) or by t's commit (PostgreSQL).
	Fresh(t kv.Txn) (keyfile.Fresh, error)
	Return(f keyfile.Fresh)
	Adopt(f keyfile.Fresh)
	Get(s keyfile.Slot, owner []byte) ([]byte, error)
	Put(owner, key []byte) (keyfile.Slot, error)
	Secret() ([]byte, bool)
	PutSecret(secret []byte) error
	Confirm(slots ...keyfile.Slot) error
	Unconfirmed() []keyfile.Unconfirmed
	Destroy(slots ...keyfile.Slot) error
	Release(slots ...keyfile.Slot)
	Sync() error
	Each(fn func(s keyfile.Slot, owner []byte, confirmed bool) error) error
	Close() error
}

// fileKeys is the key file as a keyStore.
type fileKeys struct{ *keyfile.File }

// Fresh takes a key the file made and synced before; t plays no part.
func (f fileKeys) Fresh(kv.Txn) (keyfile.Fresh, error) { return f.File.Fresh() }
