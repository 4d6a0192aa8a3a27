//go:build !wasip1

package memory

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keyfile"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// The migrations from each store format to the next; see migrationFrom.

// migrateKeys brings format 1 to 2. Format 1 kept each customer's key in
// Badger (k/<id>), where a deleted key stays in the files until they are
// compacted, and Forget had to rewrite them at once (DropPrefix, which
// stops every writer). The keys move into the key file, Badger keeps where
// they are (s/<id>), and the old keys are dropped from Badger's files, once.
// A forget that a crash left unfinished in format 1 is finished the way of
// format 2: its key does not move and is dropped with the others. Run again
// after a crash, it moves what is left to move.
func migrateKeys(s *Store) error {
	if err := s.openKeys(true); err != nil {
		return err
	}
	var moves []named
	pending := map[CustomerID]bool{}
	t := s.db.Begin(false)
	err := t.Scan(keys.Pending, true, func(k, _ []byte) error {
		pending[CustomerID(k[len(keys.Pending):])] = true
		return nil
	})
	if err == nil {
		err = t.Scan(keys.CustomerKeys, false, func(k, v []byte) error {
			id := CustomerID(k[len(keys.CustomerKeys):])
			if pending[id] {
				return nil
			}
			key, err := codec.Body(v)
			if err != nil {
				return storeErr(err)
			}
			owner, err := ownerOf(id)
			if err != nil {
				return fmt.Errorf("%w: a key of format 1 under %q", ErrFormat, k)
			}
			if ref, err := readKeyRef(t, id); err == nil {
				if have, err := s.keyfile.Get(keyfile.Slot(ref.Slot), owner); err == nil && bytes.Equal(have, key) {
					return nil // moved before a crash
				}
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
			slot, err := s.keyfile.Put(owner, key)
			if err != nil {
				return keyErr(id, err)
			}
			moves = append(moves, named{id, keyRef{Slot: uint32(slot)}})
			return nil
		})
	}
	t.Discard()
	if err != nil {
		return err
	}
	// Where the keys are, then the unfinished forgets as format 2 has them.
	err = s.nameKeys(moves, func(t *kv.Txn) error {
		for id := range pending {
			if err := putPurge(t, id, purge{}); err != nil {
				return storeErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.db.DropPrefixes(keys.CustomerKeys); err != nil {
		return storeErr(err)
	}
	if err := s.indexExpiries(); err != nil {
		return err
	}
	t = s.db.Begin(true)
	defer t.Discard()
	if err := putManifest(t, 2); err != nil {
		return err
	}
	if err := t.Commit(); err != nil {
		return storeErr(err)
	}
	return s.db.Durable()
}

// indexExpiries builds the index of expiry times (retention.go), which
// format 1 did not keep, from every value of every customer's history that
// has an expiry.
func (s *Store) indexExpiries() error {
	var ids []CustomerID
	t := s.db.Begin(false)
	err := t.Scan(keys.KeyRefs, true, func(k, _ []byte) error {
		ids = append(ids, CustomerID(k[len(keys.KeyRefs):]))
		return nil
	})
	t.Discard()
	if err != nil {
		return storeErr(err)
	}
	for len(ids) > 0 {
		n := min(len(ids), 256)
		t := s.db.Begin(true)
		for _, id := range ids[:n] {
			events, err := s.readHistory(t, s.epoch.Now(), id)
			if err != nil {
				t.Discard()
				return err
			}
			w := &wtx{s: s, txn: t}
			for _, e := range events {
				if e.Kind == EventFactRemembered && e.Fact != nil && e.Erased.IsZero() {
					if err := w.noteExpiry(id, e.Fact); err != nil {
						t.Discard()
						return storeErr(err)
					}
				}
			}
		}
		ids = ids[n:]
		err := t.Commit()
		t.Discard()
		if err != nil {
			return storeErr(err)
		}
	}
	return nil
}
