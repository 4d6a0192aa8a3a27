//go:build !wasip1

package memory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keyfile"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
	"github.com/herken/herken/memory/internal/pgkv"
)

// Erasure in two steps. Forget destroys the keys of the customers it
// forgets before it returns, which makes everything of theirs unreadable at
// once; what is left, sealed with keys that no longer exist, is deleted in
// the background, many customers in one batch of deletes, which other
// writes never wait for. Each forgotten customer has a purge mark until
// both steps are done; Open, Compact and Close finish every mark they find.

// purge is the stored value of keys.PendingForget(id): a customer forgotten
// by the Forget of Receipt, whose keys in Slots are still to be destroyed,
// or, with no Slots, whose sealed data is still to be deleted.
type purge struct {
	Receipt string   `msgpack:"r,omitempty"`
	Slots   []uint32 `msgpack:"s,omitempty"`
}

func putPurge(t kv.Txn, id CustomerID, p purge) error {
	b, err := codec.Marshal(p)
	if err != nil {
		return err
	}
	return t.Set(keys.PendingForget(string(id)), b)
}

// readPurges returns every purge mark.
func readPurges(t kv.Txn) (map[CustomerID]purge, error) {
	out := map[CustomerID]purge{}
	err := t.Scan(keys.Pending, false, func(k, v []byte) error {
		var p purge
		body, err := codec.Body(v)
		if err != nil {
			return storeErr(err)
		}
		// Format 1 marked an unfinished forget with the version byte alone.
		if len(body) > 0 {
			if err := codec.Decode(body, &p); err != nil {
				return storeErr(err)
			}
		}
		out[CustomerID(k[len(keys.Pending):])] = p
		return nil
	})
	return out, err
}

// eraser runs the second step in the background.
type eraser struct {
	destroyMu sync.Mutex   // one destruction of keys at a time: see destroyKeys
	purgeMu   sync.Mutex   // one purge at a time
	rekeyMu   sync.RWMutex // one rekey at a time; held for reading, no key is destroyed by a rekey (Backup)

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

// eraseTick is how often the eraser looks for work that nobody woke it
// for: facts that expired, and work a failure left.
const eraseTick = time.Second

func (s *Store) startEraser() {
	e := &s.eraser
	e.wake, e.stop, e.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(e.done)
		tick := time.NewTicker(eraseTick)
		defer tick.Stop()
		var logged time.Time // failures are logged once a minute at most
		for {
			select {
			case <-e.stop:
				return
			case <-e.wake:
			case <-tick.C:
			}
			if err := s.enter(); err != nil {
				return
			}
			err := s.erasePass()
			s.leave()
			if err != nil && !errors.Is(err, ErrClosed) && time.Since(logged) > time.Minute {
				logged = time.Now()
				s.logf(context.Background(), slog.LevelError, "memory: background erasure failed; it is tried again", "err", err)
			}
		}
	}()
}

func (s *Store) wakeEraser() {
	select {
	case s.eraser.wake <- struct{}{}:
	default:
	}
}

// stopEraser stops the background eraser and waits for it.
func (s *Store) stopEraser() {
	if s.eraser.stop == nil {
		return
	}
	close(s.eraser.stop)
	<-s.eraser.done
}

// erasePass finishes what is pending: keys of forgotten customers to
// destroy, other keys marked to destroy, facts that expired, customers to
// give a new key, and the sealed data of forgotten customers to delete.
func (s *Store) erasePass() error {
	if s.pg == nil {
		return s.erasePassHeld()
	}
	// In PostgreSQL one instance at a time does this work; it settles the
	// keys a stopped instance's rekey left first.
	return s.exclusive(pgkv.LockWork, false, func() error {
		if err := s.settleKeys(); err != nil {
			return err
		}
		if err := storeErr(s.pg.Sweep()); err != nil {
			return err
		}
		return s.erasePassHeld()
	})
}

// erasePassHeld is erasePass for the one process that does it.
func (s *Store) erasePassHeld() error {
	if err := s.destroyKeys(nil); err != nil {
		return err
	}
	if err := s.destroyMarked(); err != nil {
		return err
	}
	if err := s.expireFacts(context.Background()); err != nil {
		return err
	}
	if err := s.rekeyAll(); err != nil {
		return err
	}
	return s.purgeData()
}

// destroyKeys destroys the keys that the purge marks of ids (nil: of every
// mark) still name, then takes them off the marks. A slot is free for a
// new key only after that, so that a mark never destroys a key it did not
// name; one destruction runs at a time, so that two never free one slot.
func (s *Store) destroyKeys(ids []CustomerID) error {
	s.eraser.destroyMu.Lock()
	defer s.eraser.destroyMu.Unlock()
	// A slot destroyed twice is harmless: it is not free until Release.
	return storeErr(retry(func() error { return s.destroyKeysOnce(ids) }))
}

func (s *Store) destroyKeysOnce(ids []CustomerID) error {
	t := s.db.Begin(true)
	defer t.Discard()
	marks, err := readPurges(t)
	if err != nil {
		return err
	}
	var slots []keyfile.Slot
	var done []CustomerID
	for id, p := range marks {
		if len(p.Slots) == 0 || ids != nil && !slices.Contains(ids, id) {
			continue
		}
		for _, sl := range p.Slots {
			slots = append(slots, keyfile.Slot(sl))
		}
		p.Slots = nil
		if err := putPurge(t, id, p); err != nil {
			return storeErr(err)
		}
		done = append(done, id)
	}
	if len(done) == 0 {
		return nil
	}
	if err := s.keyfile.Destroy(slots...); err != nil {
		return keyErr("", err)
	}
	for _, id := range done {
		s.ciphers.Invalidate(id)
	}
	if err := t.Commit(); err != nil {
		return err
	}
	if err := s.db.Durable(); err != nil {
		return err
	}
	s.keyfile.Release(slots...)
	return nil
}

// purgeBatch bounds how many customers one batch of deletes erases.
const purgeBatch = 256

// purgeData deletes the sealed data of forgotten customers whose keys are
// destroyed, in batches, and notes on each receipt when its customers'
// data is gone.
func (s *Store) purgeData() error {
	s.eraser.purgeMu.Lock()
	defer s.eraser.purgeMu.Unlock()
	for {
		t := s.db.Begin(false)
		marks, err := readPurges(t)
		t.Discard()
		if err != nil {
			return err
		}
		var batch []CustomerID
		var prefixes [][]byte
		for id, p := range marks {
			if len(p.Slots) == 0 && len(batch) < purgeBatch {
				batch = append(batch, id)
				prefixes = append(prefixes, keys.Customer(string(id)), keys.Events(string(id)))
			}
		}
		if len(batch) == 0 {
			return nil
		}
		if err := s.db.DeletePrefixes(prefixes...); err != nil {
			return storeErr(err)
		}
		// A mark changes meanwhile when a Forget destroys its keys.
		if err := retry(func() error { return s.finishPurges(batch) }); err != nil {
			return fmt.Errorf("memory: purge: %w", storeErr(err))
		}
	}
}

// finishPurges takes the purge marks of ids away, and stamps the receipts
// whose customers are all purged.
func (s *Store) finishPurges(ids []CustomerID) error {
	t := s.db.Begin(true)
	defer t.Discard()
	marks, err := readPurges(t)
	if err != nil {
		return err
	}
	receipts := map[string]bool{}
	for _, id := range ids {
		if p, ok := marks[id]; ok && len(p.Slots) == 0 {
			if err := t.Delete(keys.PendingForget(string(id))); err != nil {
				return storeErr(err)
			}
			if p.Receipt != "" {
				receipts[p.Receipt] = true
			}
			delete(marks, id)
		}
	}
	for _, p := range marks {
		delete(receipts, p.Receipt) // another customer of it is still to purge
	}
	now := s.now()
	for id := range receipts {
		var r Receipt
		where := keys.Receipt(id)
		err := t.Get(where, func(b []byte) error { return codec.Unmarshal(b, &r) })
		if errors.Is(err, kv.ErrNotFound) {
			continue
		}
		if err != nil {
			return storeErr(err)
		}
		r.Purged = now
		b, err := codec.Marshal(&r)
		if err != nil {
			return err
		}
		if err := t.Set(where, b); err != nil {
			return storeErr(err)
		}
	}
	if err := t.Commit(); err != nil {
		return err
	}
	return s.db.Durable()
}
