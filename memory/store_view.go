//go:build !wasip1

package memory

import (
	"context"
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
		p, err := readCurrent(t, id)
		if err != nil {
			return err
		}
		c, err = s.customerIn(t, p)
		return err
	})
	return c, err
}

func (s *Store) customerIn(t *kv.Txn, p *profile) (*Customer, error) {
	var contacts []Contact
	var resolved []Issue
	err := timelineOwners(p, func(id CustomerID) (*profile, error) { return readProfile(t, id) }, func(o *profile) error {
		if err := readLog(t, keys.Contacts(string(o.ID)), func(c *Contact) { contacts = append(contacts, *c) }); err != nil {
			return err
		}
		return readLog(t, keys.Resolved(string(o.ID)), func(is *Issue) {
			// An issue resolved on the survivor after a merge may also be
			// open in the absorbed customer's frozen profile; the profile
			// p says which issues are open now.
			if findIssue(p.Open, is.ID) < 0 {
				resolved = append(resolved, *is)
			}
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(contacts, func(a, b Contact) int { return b.At.Compare(a.At) })
	if len(contacts) > s.opts.limits.Contacts {
		contacts = contacts[:s.opts.limits.Contacts]
	}
	slices.SortStableFunc(resolved, func(a, b Issue) int { return b.Resolved.Compare(a.Resolved) })
	seen := map[IssueID]bool{}
	resolved = slices.DeleteFunc(resolved, func(is Issue) bool {
		dup := seen[is.ID]
		seen[is.ID] = true
		return dup
	})
	return customerView(p, contacts, resolved), nil
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
		if _, err := readProfile(t, id); err != nil {
			return err
		}
		var err error
		es, err = readHistory(t, id)
		return err
	})
	return es, err
}

func readHistory(t *kv.Txn, id CustomerID) ([]Event, error) {
	var es []Event
	err := t.Scan(keys.Events(string(id)), false, func(_, v []byte) error {
		var e Event
		if err := codec.Unmarshal(v, &e); err != nil {
			return storeErr(err)
		}
		e.Customer = id
		es = append(es, e)
		return nil
	})
	return es, err
}
