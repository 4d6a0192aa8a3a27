//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
)

// Forget erases a customer: profile, identifiers, facts, preferences,
// consent, issues, contacts, drafts and history, and those of every customer
// merged into it. Afterwards no lookup by any of its identifiers finds
// anything, and a returning device is a stranger. The returned receipt,
// also kept in the store (see Receipts), says what was erased and holds no
// personal data.
//
// Every value of a customer is sealed with the customer's own key, and
// Forget destroys the key before it returns: from then on nothing of the
// customer opens, wherever a copy of it lies (in the store's files until
// they are compacted, in backups). The sealed remains are deleted in the
// background, in batches, without stopping other writes; Close, Compact and
// the next Open finish what is left, and the receipt's Purged says when.
// A crash before the key is destroyed is finished by the next Open.
func (s *Store) Forget(ctx context.Context, id CustomerID) (Receipt, error) {
	var r Receipt
	var members []CustomerID
	err := s.write(ctx, func(w *wtx) error {
		var err error
		r, members, err = w.forget(id)
		return err
	})
	if err != nil {
		return Receipt{}, err
	}
	if err := s.destroyKeys(members); err != nil {
		return r, fmt.Errorf("memory: forget %s: the keys will be destroyed when the store opens next: %w", r.Customer, err)
	}
	s.wakeEraser()
	return r, nil
}

func (w *wtx) forget(id CustomerID) (Receipt, []CustomerID, error) {
	top, err := w.load(id)
	if err != nil {
		return Receipt{}, nil, err
	}
	// The customer and everyone merged into it, recursively.
	members := []*wcust{top}
	for i := 0; i < len(members); i++ {
		for _, m := range members[i].p.activeMerges() {
			c, err := w.loadExact(m.From)
			if err != nil {
				return Receipt{}, nil, err
			}
			members = append(members, c)
		}
	}
	r := Receipt{ID: randomID(10), Customer: top.p.ID, At: w.now, Erased: map[string]int{}}
	if w.s.pg == nil {
		r.Final = w.now // the key file destroys keys in place
	}
	p := top.p
	r.Erased["customers"] = len(members)
	r.Erased["identifiers"] = len(p.Idents)
	r.Erased["facts"] = len(p.Facts)
	r.Erased["preferences"] = len(p.Prefs)
	r.Erased["consents"] = len(p.Consents)
	r.Erased["signals"] = len(p.Signals)
	contacts, resolved, err := w.timelines(p)
	if err != nil {
		return Receipt{}, nil, err
	}
	r.Erased["issues"] = len(p.Open) + len(resolved)
	r.Erased["contacts"] = len(contacts)
	ids := make([]CustomerID, len(members))
	inSet := map[CustomerID]bool{}
	for i, c := range members {
		ids[i] = c.p.ID
		inSet[c.p.ID] = true
	}
	for _, c := range members {
		cid := string(c.p.ID)
		for _, l := range c.p.Idents {
			if l.Typed {
				continue // never in the index
			}
			e, found, err := w.index(l.Identifier)
			if err != nil {
				return Receipt{}, nil, err
			}
			if found && inSet[e.Customer] {
				if err := w.deleteIndex(l.Identifier); err != nil {
					return Receipt{}, nil, err
				}
			}
		}
		n, err := w.countKeys(keys.Drafts(cid))
		if err != nil {
			return Receipt{}, nil, err
		}
		r.Erased["drafts"] += n
		events, err := w.history(c.p.ID)
		if err != nil {
			return Receipt{}, nil, err
		}
		r.Erased["events"] += len(events)
		ref, err := readKeyRef(w.txn, c.p.ID)
		if err != nil {
			return Receipt{}, nil, err
		}
		if err := w.txn.Delete(keys.Profile(cid)); err != nil {
			return Receipt{}, nil, err
		}
		if err := w.txn.Delete(keys.KeyRef(cid)); err != nil {
			return Receipt{}, nil, err
		}
		if err := putPurge(w.txn, c.p.ID, purge{Receipt: r.ID, Slots: ref.slots()}); err != nil {
			return Receipt{}, nil, err
		}
		c.erased, c.dirty = true, false
	}
	b, err := codec.Marshal(&r)
	if err != nil {
		return Receipt{}, nil, err
	}
	if err := w.txn.Set(keys.Receipt(r.ID), b); err != nil {
		return Receipt{}, nil, err
	}
	// Nothing of the customer reaches watchers but the receipt.
	w.out = append(w.out[:0], Event{Customer: top.p.ID, Kind: EventForgotten, At: w.now, Receipt: &r})
	return r, ids, nil
}

func (w *wtx) countKeys(prefix []byte) (int, error) {
	n := 0
	err := w.txn.Scan(prefix, true, func(_, _ []byte) error { n++; return nil })
	return n, err
}

// finalReceipts stamps Final on the receipts of customers whose keys were
// destroyed before a Compact that began at began (PostgreSQL, postgres.go).
func (s *Store) finalReceipts(began time.Time) error {
	return storeErr(retry(func() error {
		t := s.db.Begin(true)
		defer t.Discard()
		var due [][2][]byte
		err := t.Scan(keys.Receipts, false, func(k, v []byte) error {
			var r Receipt
			if err := codec.Unmarshal(v, &r); err != nil {
				return err
			}
			if !r.Final.IsZero() || r.At.After(began) {
				return nil
			}
			r.Final = s.now()
			b, err := codec.Marshal(&r)
			if err != nil {
				return err
			}
			due = append(due, [2][]byte{bytes.Clone(k), b})
			return nil
		})
		if err != nil || len(due) == 0 {
			return err
		}
		for _, kv := range due {
			if err := t.Set(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return t.Commit()
	}))
}

// Receipts returns the receipts of every Forget, oldest first.
func (s *Store) Receipts(ctx context.Context) ([]Receipt, error) {
	var rs []Receipt
	err := s.view(ctx, func(r *reader) error {
		t := r.t
		return t.Scan(keys.Receipts, false, func(_, v []byte) error {
			var r Receipt
			if err := codec.Unmarshal(v, &r); err != nil {
				return storeErr(err)
			}
			if r.Final.IsZero() && s.pg == nil {
				r.Final = r.At // written before receipts said so
			}
			rs = append(rs, r)
			return nil
		})
	})
	slices.SortStableFunc(rs, func(a, b Receipt) int { return a.At.Compare(b.At) })
	return rs, err
}
