//go:build !wasip1

package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// Customer returns everything held about the customer that holds id now:
// the full view for an agent, with the contact and issue timelines of every
// customer merged into it.
func (s *Store) Customer(ctx context.Context, id CustomerID) (*Customer, error) {
	if err := id.check(); err != nil {
		return nil, err
	}
	var c *Customer
	err := s.view(ctx, func(r *reader) error {
		t := r.t
		// Not from the cache: the timelines must come from the same snapshot.
		p, err := s.readCurrent(t, r.start, id)
		if err != nil {
			return err
		}
		c, err = s.customerIn(t, p)
		return err
	})
	return c, err
}

func (s *Store) customerIn(t kv.Txn, p *profile) (*Customer, error) {
	start := s.epoch.Now()
	contacts, resolved, err := timelines(p, func(id CustomerID) (*profile, error) { return s.readProfile(t, start, id) },
		func(id CustomerID) ([]Event, error) { return s.readHistory(t, start, id) })
	if err != nil {
		return nil, err
	}
	if len(contacts) > s.opts.limits.Contacts {
		contacts = contacts[:s.opts.limits.Contacts]
	}
	if len(resolved) > s.opts.limits.Issues {
		resolved = resolved[:s.opts.limits.Issues]
	}
	now := s.now()
	c := customerView(p, contacts, resolved, now)
	c.Facts = liveFacts(c.Facts, now)
	return c, nil
}

// timelines is timelines as a write transaction reads it: the profiles
// and histories of p and of the customers merged into it, as this
// transaction has them.
func (w *wtx) timelines(p *profile) ([]Contact, []Issue, error) {
	return timelines(p, func(id CustomerID) (*profile, error) {
		o, err := w.loadExact(id)
		if err != nil {
			return nil, err
		}
		return o.p, nil
	}, w.history)
}

// timelines returns the contacts and the resolved issues of p and of the
// customers merged into it, newest first, by replaying their histories: the
// timelines are not kept apart, the history holds them.
func timelines(p *profile, load func(CustomerID) (*profile, error), history func(CustomerID) ([]Event, error)) ([]Contact, []Issue, error) {
	var contacts []Contact
	var resolved []Issue
	err := timelineOwners(p, load, func(o *profile) error {
		events, err := history(o.ID)
		if err != nil {
			return err
		}
		r, err := replay(o.ID, events, load)
		if err != nil {
			return err
		}
		contacts = append(contacts, r.contacts...)
		for _, is := range r.resolved {
			// An issue resolved on the survivor after a merge may be open
			// in the absorbed customer's kept profile: p says which are open.
			if findIssue(p.Open, is.ID) < 0 {
				resolved = append(resolved, is)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	slices.SortStableFunc(contacts, func(a, b Contact) int { return b.At.Compare(a.At) })
	slices.SortStableFunc(resolved, func(a, b Issue) int { return b.Resolved.Compare(a.Resolved) })
	seen := map[IssueID]bool{}
	resolved = slices.DeleteFunc(resolved, func(is Issue) bool {
		dup := seen[is.ID]
		seen[is.ID] = true
		return dup
	})
	return contacts, resolved, nil
}

// History returns the customer's events in the order they were applied:
// this customer's own history, not that of customers merged into it (their
// histories stay under their own IDs; see Export for all of it).
func (s *Store) History(ctx context.Context, id CustomerID) ([]Event, error) {
	if err := id.check(); err != nil {
		return nil, err
	}
	var es []Event
	err := s.view(ctx, func(r *reader) error {
		t := r.t
		if _, err := s.readProfile(t, r.start, id); err != nil {
			return err
		}
		var err error
		es, err = s.readHistory(t, r.start, id)
		return err
	})
	return hideExpired(withoutMoved(id, es), s.now()), err
}

// withoutMoved leaves out of customer id's events those an unmerge gave
// back to the customer it had absorbed (Event.Moved): theirs, kept in
// their own history, with only an erased trace left here.
func withoutMoved(id CustomerID, events []Event) []Event {
	sk := undoneMerges(id, events)
	if len(sk.moved) == 0 {
		return events
	}
	return slices.DeleteFunc(events, func(e Event) bool { return sk.isMoved(&e) })
}

// readHistory reads customer id's events, in order.
func (s *Store) readHistory(t kv.Txn, start uint64, id CustomerID) ([]Event, error) {
	u, err := s.unsealer(t, start, id)
	if err != nil {
		return nil, err
	}
	return readEvents(t, u, id, ^uint64(0))
}

// readEvents reads customer id's events up to seq last, opening them with u.
func readEvents(t kv.Txn, u *unsealer, id CustomerID, last uint64) ([]Event, error) {
	return readPacks(t, u, id, last, nil)
}

// readPacks is readEvents, calling in, when not nil, with the sequence
// number of each event read and that of the key of the pack that holds it
// (store_pack.go).
func readPacks(t kv.Txn, u *unsealer, id CustomerID, last uint64, in func(pk, seq uint64)) ([]Event, error) {
	var es []Event
	err := t.Scan(keys.Events(string(id)), false, func(key, v []byte) error {
		pk := keys.EventSeq(key)
		if pk > last {
			return nil
		}
		plain, err := u.open(key, v)
		if err != nil {
			return err
		}
		return decodeEvents(plain, func(b []byte) error {
			var e Event
			if err := codec.Unmarshal(b, &e); err != nil {
				return storeErr(err)
			}
			if e.Seq > last {
				return nil
			}
			e.Customer = id
			if e.Kind == EventCompacted {
				cp, err := readCheckpoint(t, u, id)
				if err != nil {
					return err
				}
				e.checkpoint = cp
			}
			if in != nil {
				in(pk, e.Seq)
			}
			es = append(es, e)
			return nil
		})
	})
	return es, err
}

// readCheckpoint reads the state customer id's compacted events left.
func readCheckpoint(t kv.Txn, u *unsealer, id CustomerID) (*checkpoint, error) {
	where := keys.Checkpoint(string(id))
	cp := new(checkpoint)
	err := t.Get(where, func(v []byte) error {
		plain, err := u.open(where, v)
		if err != nil {
			return err
		}
		return codec.Unmarshal(plain, cp)
	})
	if errors.Is(err, kv.ErrNotFound) {
		return nil, fmt.Errorf("%w: the compacted history of %s is missing", ErrFormat, id)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	return cp, nil
}
