//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// maxProblems bounds how many problems Check reports.
const maxProblems = 20

// Check verifies the store's invariants in one snapshot and returns the
// problems it finds, joined, or nil:
//
//   - every identifier points at a live customer that lists it, verified as
//     the index says, and every identifier a live customer lists points at it;
//   - every customer's history is numbered 1..n without gaps, and replaying
//     it gives the stored profile and timelines;
//   - every draft a customer lists has its data, and no key holds a
//     draft's name;
//   - the data does not hold the identifier secret (the key file does);
//   - every customer has its keys, and every key its customer;
//   - no forgotten customer's key is left undestroyed;
//   - every customer that belongs in the work queue is in it, with the
//     entry its profile makes, and the queue holds nobody else.
//
// It reads the whole store; use it in tests, after a crash, or from a tool.
func (s *Store) Check(ctx context.Context) error {
	var problems []error
	var stale *staleKeyError // a key replaced while Check read: it looks again
	report := func(format string, args ...any) {
		for _, a := range args {
			if err, ok := a.(error); ok && stale == nil {
				errors.As(err, &stale)
			}
		}
		if len(problems) < maxProblems {
			problems = append(problems, fmt.Errorf("memory: check: "+format, args...))
		}
	}
	err := s.view(ctx, func(r *reader) error {
		problems, stale = nil, nil
		err := s.check(ctx, r, report)
		if err == nil && stale != nil {
			return stale
		}
		return err
	})
	if err != nil {
		return err
	}
	return errors.Join(problems...)
}

// check is one try of Check, in r.
func (s *Store) check(ctx context.Context, r *reader, report func(string, ...any)) error {
	t := r.t
	profiles := map[CustomerID]*profile{}
	if has, err := t.Has(keys.Secret); err != nil {
		return storeErr(err)
	} else if has {
		report("the data holds the identifier secret")
	}
	err := t.Scan([]byte("c/"), true, func(k, _ []byte) error {
		if len(k) > len("c/")+customerIDLen && bytes.HasPrefix(k, keys.NamedDrafts(string(k[len("c/"):len("c/")+customerIDLen]))) {
			report("customer %s has a draft under its name", k[len("c/"):len("c/")+customerIDLen])
			return nil
		}
		if !bytes.HasSuffix(k, []byte("/p")) || len(k) != len("c/")+customerIDLen+len("/p") {
			return nil
		}
		id := CustomerID(k[len("c/") : len("c/")+customerIDLen])
		p, err := s.readProfile(t, r.start, id)
		if err != nil {
			report("profile of %s: %v", id, err)
			return nil
		}
		profiles[p.ID] = p
		return nil
	})
	if err != nil {
		return err
	}
	// Identifiers are kept under a hash: check them from the profiles.
	listed := map[string]link{} // identifier key → the link that names it
	for _, p := range profiles {
		if p.MergedInto != "" {
			continue
		}
		for _, l := range p.Idents {
			if !l.Typed {
				listed[string(s.identifierKey(l.Identifier))] = l
			}
		}
	}
	err = t.Scan(keys.Identifiers, false, func(k, v []byte) error {
		kind, _, _ := bytes.Cut(k[len(keys.Identifiers):], []byte{0})
		var e indexEntry
		if err := codec.Unmarshal(v, &e); err != nil {
			report("identifier %s: %v", kind, err)
			return nil
		}
		p, ok := profiles[e.Customer]
		switch {
		case !ok:
			report("a %s identifier points at missing customer %s", kind, e.Customer)
		case p.MergedInto != "":
			report("a %s identifier points at %s, merged into %s", kind, p.ID, p.MergedInto)
		default:
			l, ok := listed[string(k)]
			if !ok || !slices.Contains(p.Idents, l) {
				report("a %s identifier points at %s, which does not list it", kind, p.ID)
			} else if l.Verified != e.Verified {
				report("a %s identifier of %s is verified=%v in the index and %v in the profile", kind, p.ID, e.Verified, l.Verified)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Every customer has its keys, and every key its customer.
	refs := map[CustomerID]bool{}
	err = t.Scan(keys.KeyRefs, false, func(k, v []byte) error {
		id := CustomerID(k[len(keys.KeyRefs):])
		refs[id] = true
		var ref keyRef
		if err := codec.Unmarshal(v, &ref); err != nil {
			report("the key reference of %s: %v", id, err)
			return nil
		}
		if _, ok := profiles[id]; !ok {
			report("a key without its customer %s", id)
		} else if _, err := s.loadKeys(id, ref); err != nil {
			report("the keys of %s: %v", id, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for id := range profiles {
		if !refs[id] {
			report("customer %s has no key", id)
		}
	}
	for _, p := range profiles {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.checkCustomer(t, p, profiles, report)
	}
	if err := checkQueue(t, profiles, report); err != nil {
		return err
	}
	// Keys are destroyed before Forget returns; only their sealed
	// data may wait for the background purge.
	marks, err := readPurges(t)
	if err != nil {
		return err
	}
	for id, p := range marks {
		if len(p.Slots) > 0 {
			report("the keys of forgotten %s are not destroyed", id)
		}
	}
	return nil
}

func (s *Store) checkCustomer(t kv.Txn, p *profile, profiles map[CustomerID]*profile, report func(string, ...any)) {
	if p.MergedInto == "" {
		for _, l := range p.Idents {
			if l.Typed {
				continue
			}
			e, ok, err := readIndex(t, s.identifierKey(l.Identifier))
			if err != nil || !ok || e.Customer != p.ID {
				report("customer %s lists a %s identifier that does not point at it", p.ID, l.Kind)
			}
		}
	} else if _, ok := profiles[p.MergedInto]; !ok {
		report("customer %s is merged into missing %s", p.ID, p.MergedInto)
	}
	events, err := s.readHistory(t, s.epoch.Now(), p.ID)
	if err != nil {
		report("history of %s: %v", p.ID, err)
		return
	}
	first := uint64(1)
	if len(events) > 0 && events[0].Kind == EventCompacted {
		first = events[0].Seq
	}
	if first != max(p.Base, 1) {
		report("history of %s: starts at seq %d, its profile says %d", p.ID, first, max(p.Base, 1))
		return
	}
	for i, e := range events {
		if e.Seq != first+uint64(i) {
			report("history of %s: event %d has seq %d", p.ID, i+1, e.Seq)
			return
		}
	}
	r, err := replay(p.ID, events, func(from CustomerID) (*profile, error) {
		if o := profiles[from]; o != nil {
			return o, nil
		}
		return nil, fmt.Errorf("customer %s absorbed missing %s", p.ID, from)
	})
	if err != nil {
		report("%v", err)
		return
	}
	if r.p.Seq != p.Seq {
		report("customer %s: profile at seq %d, history ends at %d", p.ID, p.Seq, r.p.Seq)
		return
	}
	want, _ := codec.Marshal(r.p)
	got, _ := codec.Marshal(p)
	if !bytes.Equal(want, got) {
		report("customer %s: the stored profile is not the projection of its history", p.ID)

	}
	for _, d := range p.Drafts {
		if d.Deleted {
			continue
		}
		if ok, err := t.Has(s.draftKey(d.Owner, d.Name)); err != nil || !ok {
			report("customer %s lists draft %q without data", p.ID, d.Name)
		}
	}
}
