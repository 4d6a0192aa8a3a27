//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

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
func migrateKeys(_ context.Context, s *Store) error {
	if err := s.openKeys(1, true); err != nil {
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
	err = s.nameKeys(moves, func(t kv.Txn) error {
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

// customerIDs lists the customers the store holds a key reference for.
func (s *Store) customerIDs() ([]CustomerID, error) {
	var ids []CustomerID
	t := s.db.Begin(false)
	defer t.Discard()
	err := t.Scan(keys.KeyRefs, true, func(k, _ []byte) error {
		ids = append(ids, CustomerID(k[len(keys.KeyRefs):]))
		return nil
	})
	if err != nil {
		return nil, storeErr(err)
	}
	return ids, nil
}

// indexExpiries builds the index of expiry times (retention.go), which
// format 1 did not keep, from every value of every customer's history that
// has an expiry.
func (s *Store) indexExpiries() error {
	ids, err := s.customerIDs()
	if err != nil {
		return err
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

// migrateSecret brings format 2 to 3. Format 2 kept the identifier secret
// in the data (m/secret), so that a data backup alone hashed any identifier
// an attacker knew and found its customer, and drafts under their names
// (c/<id>/d/<name>), in plain text in the keys. The secret moves into the
// key file, each draft is sealed again under a keyed hash of its name
// (c/<id>/w/<h>), and the old keys are deleted, then compacted out of the
// files (compactIfDue). Its first step raises the format key alone, so
// that the releases of format 2 refuse the store from then on rather than
// open it without its drafts; the manifest is raised last, with the secret
// deleted. Run again after a crash, it goes on from where it was: a draft
// already under its hash is left as it is.
func migrateSecret(ctx context.Context, s *Store) error {
	if err := s.migrationStep("format"); err != nil {
		return err
	}
	t := s.db.Begin(true)
	b, err := codec.Marshal(3)
	if err == nil {
		err = storeErr(t.Set(keys.Format, b))
	}
	if err == nil {
		err = storeErr(t.Commit())
	}
	t.Discard()
	if err == nil {
		err = s.db.Durable()
	}
	if err == nil {
		err = s.writeFormatFile(3)
	}
	if err != nil {
		return err
	}

	if err := s.migrationStep("secret"); err != nil {
		return err
	}
	if _, ok := s.keyfile.Secret(); !ok {
		if err := s.keyfile.PutSecret(s.secret); err != nil {
			return keyErr("", err)
		}
	}

	if err := s.migrationStep("drafts"); err != nil {
		return err
	}
	named, err := s.namedDrafts()
	if err != nil {
		return err
	}
	moved, err := s.hashDraftNames(named)
	if err != nil {
		return err
	}
	s.logf(ctx, slog.LevelInfo, "memory: drafts moved under hashed names", "drafts", moved, "named", len(named))

	if err := s.migrationStep("delete"); err != nil {
		return err
	}
	var prefixes [][]byte
	for _, d := range named {
		if p := keys.NamedDrafts(string(d.owner)); len(prefixes) == 0 || !bytes.Equal(prefixes[len(prefixes)-1], p) {
			prefixes = append(prefixes, p)
		}
	}
	if err := storeErr(s.db.DeletePrefixes(prefixes...)); err != nil {
		return err
	}

	if err := s.migrationStep("manifest"); err != nil {
		return err
	}
	t = s.db.Begin(true)
	defer t.Discard()
	if err := t.Delete(keys.Secret); err != nil {
		return storeErr(err)
	}
	if err := t.Set(keys.CompactDue, []byte{codec.Version}); err != nil {
		return storeErr(err)
	}
	if err := putManifest(t, 3); err != nil {
		return err
	}
	if err := t.Commit(); err != nil {
		return storeErr(err)
	}
	return s.db.Durable()
}

// migrationStep asks the options' stopMigration, for tests, whether the
// migration goes on to step.
func (s *Store) migrationStep(step string) error {
	if s.opts.stopMigration == nil {
		return nil
	}
	return s.opts.stopMigration(step)
}

// namedDraft is a draft kept under its name, as store format 2 kept them.
type namedDraft struct {
	owner CustomerID
	name  string
}

// namedDrafts lists the drafts kept under their names, in key order.
func (s *Store) namedDrafts() ([]namedDraft, error) {
	var out []namedDraft
	t := s.db.Begin(false)
	defer t.Discard()
	err := t.Scan([]byte("c/"), true, func(k, _ []byte) error {
		if len(k) <= len("c/")+customerIDLen+len("/d/") {
			return nil
		}
		owner := CustomerID(k[len("c/") : len("c/")+customerIDLen])
		if !bytes.HasPrefix(k, keys.NamedDrafts(string(owner))) {
			return nil
		}
		out = append(out, namedDraft{owner, string(k[len(keys.NamedDrafts(string(owner))):])})
		return nil
	})
	return out, storeErr(err)
}

// hashDraftNames seals every named draft again under the keyed hash of its
// name, in transactions of up to resealBytes, and returns how many it
// moved. It leaves the named drafts; a draft already under its hash, or of
// a customer forgotten (whose key is gone), is left as it is.
func (s *Store) hashDraftNames(named []namedDraft) (int, error) {
	moved := 0
	for len(named) > 0 {
		t := s.db.Begin(true)
		n, size := 0, 0
		err := func() error {
			for ; n < len(named) && size < resealBytes; n++ {
				d := named[n]
				to := s.draftKey(d.owner, d.name)
				if has, err := t.Has(to); err != nil {
					return storeErr(err)
				} else if has {
					continue // moved before a crash
				}
				ref, err := readKeyRef(t, d.owner)
				if errors.Is(err, ErrNotFound) {
					continue // forgotten: deleted with the rest
				}
				if err != nil {
					return err
				}
				k, err := s.loadKeys(d.owner, ref)
				if err != nil {
					return err
				}
				from := keys.NamedDraft(string(d.owner), d.name)
				err = t.Get(from, func(v []byte) error {
					plain, err := k.Open(from, v)
					if err != nil {
						return fmt.Errorf("%w: draft %q of %s: %v", ErrFormat, d.name, d.owner, err)
					}
					size += len(v)
					return t.Set(to, k.Seal(to, plain))
				})
				if err != nil {
					return storeErr(err)
				}
				moved++
			}
			return storeErr(t.Commit())
		}()
		t.Discard()
		if err != nil {
			return 0, err
		}
		named = named[n:]
	}
	return moved, nil
}

// compactIfDue compacts the store's files when a migration deleted keys
// that must leave them (keys.CompactDue), then takes the mark away. A crash
// before that leaves the mark, and the next Open compacts.
func (s *Store) compactIfDue(ctx context.Context) error {
	t := s.db.Begin(false)
	due, err := t.Has(keys.CompactDue)
	t.Discard()
	if err != nil || !due {
		return storeErr(err)
	}
	if err := s.migrationStep("compact"); err != nil {
		return err
	}
	s.logf(ctx, slog.LevelInfo, "memory: compacting the files, so that what the migration deleted leaves them")
	if err := storeErr(s.db.Compact()); err != nil {
		return err
	}
	t = s.db.Begin(true)
	defer t.Discard()
	if err := t.Delete(keys.CompactDue); err != nil {
		return storeErr(err)
	}
	if err := t.Commit(); err != nil {
		return storeErr(err)
	}
	return s.db.Durable()
}
