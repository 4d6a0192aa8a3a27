//go:build !wasip1

package memory

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keyfile"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
	"github.com/herken/herken/memory/internal/seal"
)

// A new key for a customer. When a value of a customer is erased while
// the customer stays (retention.go), its old copies in the store's files,
// which compaction removes only in time, and in backups, are sealed with
// the customer's key. So the customer gets a new key: a new generation is
// put beside the old one, every value still sealed with the old one is
// sealed again with the new one, in transactions of a bounded size, then
// the old key is taken off the customer and destroyed. Writes go on
// meanwhile: a write reads the customer's key reference in its own
// transaction, so that one that began before a step conflicts with it and
// is tried again; reads open either generation while both are held. Each
// step can be run again after a crash: the mark under keys.Rekey stays
// until the last, and a key to destroy is marked under keys.Destroy.

// resealBytes bounds the bytes one transaction of a rekey seals again.
const resealBytes = 2 << 20

// rekeyAll gives a new key to every customer marked for one.
func (s *Store) rekeyAll() error {
	t := s.db.Begin(false)
	var ids []CustomerID
	err := t.Scan(keys.Rekeys, true, func(k, _ []byte) error {
		ids = append(ids, CustomerID(k[len(keys.Rekeys):]))
		return nil
	})
	t.Discard()
	if err != nil {
		return storeErr(err)
	}
	for _, id := range ids {
		if err := s.rekey(id); err != nil {
			return err
		}
	}
	return nil
}

// rekey gives customer id a new key.
func (s *Store) rekey(id CustomerID) error {
	s.eraser.rekeyMu.Lock()
	defer s.eraser.rekeyMu.Unlock()
	mark, err := s.readMark(keys.Rekey(string(id)))
	if err != nil || mark == nil {
		// No mark: another pass, which read the marks at the same time,
		// gave the customer its new key already.
		return err
	}
	ref, err := s.beginRekey(id)
	if errors.Is(err, ErrNotFound) {
		return s.dropMark(keys.Rekey(string(id))) // forgotten since
	}
	if err != nil {
		return err
	}
	for {
		n, err := s.resealBatch(id, ref)
		if err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		done, err := s.finishRekey(id, ref, mark)
		if err != nil || done {
			return err
		}
	}
}

// beginRekey puts a new key beside customer id's key, unless a rekey that
// a crash stopped did already, and returns the reference to both.
func (s *Store) beginRekey(id CustomerID) (keyRef, error) {
	for attempt := 1; ; attempt++ {
		t := s.db.Begin(true)
		ref, err := readKeyRef(t, id)
		if err != nil || ref.Old != 0 {
			t.Discard()
			return ref, err
		}
		owner, err := ownerOf(id)
		if err != nil {
			t.Discard()
			return ref, err
		}
		slot, err := s.keyfile.Put(owner, seal.NewKey())
		if err == nil {
			err = s.keyfile.Sync()
		}
		if err != nil {
			t.Discard()
			return ref, keyErr(id, err)
		}
		next := keyRef{Slot: uint32(slot), Gen: ref.Gen + 1, Old: ref.Slot, OldGen: ref.Gen}
		if err := putKeyRef(t, id, next); err != nil {
			t.Discard()
			return ref, storeErr(err)
		}
		err = t.Commit()
		t.Discard()
		if (errors.Is(err, kv.ErrConflict) || errors.Is(err, kv.ErrBlocked)) && attempt < maxAttempts {
			// The new key was never named: destroy it and try again.
			if err := s.keyfile.Destroy(slot); err != nil {
				return ref, keyErr(id, err)
			}
			s.keyfile.Release(slot)
			if errors.Is(err, kv.ErrBlocked) {
				time.Sleep(10 * time.Millisecond) // while Compact stops writes
			}
			continue
		}
		if err != nil {
			return ref, storeErr(err)
		}
		if err := s.db.Durable(); err != nil {
			return ref, err
		}
		s.ciphers.Invalidate(id)
		if err := s.keyfile.Confirm(slot); err != nil {
			return ref, keyErr(id, err)
		}
		return next, nil
	}
}

// values calls fn with the key and value of everything of customer id that
// is sealed, from after (exclusive) on, in key order.
func values(t kv.Txn, id CustomerID, after []byte, fn func(k, v []byte) error) error {
	for _, prefix := range [][]byte{keys.Customer(string(id)), keys.Events(string(id))} {
		err := t.Scan(prefix, false, func(k, v []byte) error {
			if after != nil && bytes.Compare(k, after) <= 0 {
				return nil
			}
			return fn(k, v)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// resealBatch seals again, with the new key, values of customer id still
// sealed with the old one, up to resealBytes, and returns how many.
func (s *Store) resealBatch(id CustomerID, ref keyRef) (int, error) {
	k, err := s.loadKeys(id, ref)
	if err != nil {
		return 0, err
	}
	n := 0
	err = retry(func() error {
		t := s.db.Begin(true)
		defer t.Discard()
		n = 0
		size := 0
		err := values(t, id, nil, func(key, v []byte) error {
			if gen, ok := seal.Gen(v); !ok || gen != ref.OldGen {
				return nil
			}
			plain, err := k.Open(key, v)
			if err != nil {
				return storeErr(err)
			}
			if err := t.Set(slices.Clone(key), k.Seal(key, plain)); err != nil {
				return err
			}
			n++
			if size += len(v); size >= resealBytes {
				return errStopScan
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStopScan) {
			return err
		}
		return t.Commit()
	})
	return n, storeErr(err)
}

// finishRekey takes the old key off customer id once nothing is sealed with
// it, marks it to destroy and destroys it. It takes the customer's mark
// away if it is still mark, the one the rekey began with. It reports false
// when values sealed with the old key are left.
func (s *Store) finishRekey(id CustomerID, ref keyRef, mark []byte) (bool, error) {
	t := s.db.Begin(true)
	defer t.Discard()
	// Read, so that a Forget meanwhile makes this conflict instead of
	// bringing the reference back.
	now, err := readKeyRef(t, id)
	if errors.Is(err, ErrNotFound) {
		return true, s.dropMark(keys.Rekey(string(id))) // forgotten since
	}
	if err != nil {
		return false, err
	}
	if now != ref {
		return false, fmt.Errorf("memory: rekey %s: its key reference changed meanwhile", id)
	}
	left := false
	err = values(t, id, nil, func(_, v []byte) error {
		if gen, ok := seal.Gen(v); ok && gen == ref.OldGen {
			left = true
			return errStopScan
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return false, storeErr(err)
	}
	if left {
		return false, nil
	}
	if err := putKeyRef(t, id, keyRef{Slot: ref.Slot, Gen: ref.Gen}); err != nil {
		return false, storeErr(err)
	}
	if err := t.Set(keys.Destroy(ref.Old), []byte{codec.Version}); err != nil {
		return false, storeErr(err)
	}
	current, err := markIn(t, keys.Rekey(string(id)))
	if err != nil {
		return false, err
	}
	if bytes.Equal(current, mark) {
		if err := t.Delete(keys.Rekey(string(id))); err != nil {
			return false, storeErr(err)
		}
	}
	if err := t.Commit(); err != nil {
		switch {
		case errors.Is(err, kv.ErrConflict):
			return false, nil // a write came between: look again
		case errors.Is(err, kv.ErrBlocked):
			time.Sleep(10 * time.Millisecond) // while Compact stops writes
			return false, nil
		}
		return false, storeErr(err)
	}
	if err := s.db.Durable(); err != nil {
		return false, err
	}
	s.ciphers.Invalidate(id)
	return true, s.destroyMarked()
}

// destroyMarked destroys the keys marked under keys.Destroy, then takes the
// marks away and frees their slots.
func (s *Store) destroyMarked() error {
	s.eraser.destroyMu.Lock()
	defer s.eraser.destroyMu.Unlock()
	t := s.db.Begin(false)
	var marks [][]byte
	var slots []keyfile.Slot
	err := t.Scan(keys.Destroys, true, func(k, _ []byte) error {
		marks = append(marks, slices.Clone(k))
		slots = append(slots, keyfile.Slot(keys.DestroySlot(k)))
		return nil
	})
	t.Discard()
	if err != nil || len(marks) == 0 {
		return storeErr(err)
	}
	if err := s.keyfile.Destroy(slots...); err != nil {
		return keyErr("", err)
	}
	if err := s.db.DeletePrefixes(marks...); err != nil {
		return storeErr(err)
	}
	s.keyfile.Release(slots...)
	return nil
}

// readMark returns the value of a mark, nil when there is none.
func (s *Store) readMark(key []byte) ([]byte, error) {
	t := s.db.Begin(false)
	defer t.Discard()
	return markIn(t, key)
}

func markIn(t kv.Txn, key []byte) ([]byte, error) {
	var v []byte
	err := t.Get(key, func(b []byte) error { v = bytes.Clone(b); return nil })
	if errors.Is(err, kv.ErrNotFound) {
		return nil, nil
	}
	return v, storeErr(err)
}

// dropMark deletes one mark.
func (s *Store) dropMark(key []byte) error {
	return storeErr(retry(func() error {
		t := s.db.Begin(true)
		defer t.Discard()
		if err := t.Delete(key); err != nil {
			return err
		}
		return t.Commit()
	}))
}
