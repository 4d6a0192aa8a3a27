//go:build !wasip1

package memory

import (
	"context"
	"fmt"
	"slices"
)

// Merge merges customer from into customer into: they are one person. The
// survivor holds both customers' identifiers, facts, issues, contacts,
// drafts and consent, the newest value winning per field; from's data is
// kept as it was, so that Unmerge can restore it. Calls given from's ID act
// on the survivor from then on.
//
// Recognize merges by itself when verified identifiers prove it; call Merge
// when a person decides, such as an agent who confirmed it.
func (s *Store) Merge(ctx context.Context, into, from CustomerID, reason string) (Merge, error) {
	if err := checkText("merge reason", reason, 256); err != nil {
		return Merge{}, err
	}
	if reason == "" {
		reason = "merged by the application"
	}
	var m Merge
	err := s.write(ctx, func(w *wtx) error {
		a, err := w.load(into)
		if err != nil {
			return err
		}
		b, err := w.load(from)
		if err != nil {
			return err
		}
		if a == b {
			return invalid("merge", "the customers are already one")
		}
		if err := w.merge(a, b, reason); err != nil {
			return err
		}
		m = a.p.Merges[len(a.p.Merges)-1]
		return nil
	})
	return m, err
}

// merge merges absorbed into survivor.
func (w *wtx) merge(survivor, absorbed *wcust, reason string) error {
	lim := w.s.opts.limits
	if len(survivor.p.activeMerges()) >= lim.Merges {
		return &LimitError{What: "merges", Limit: lim.Merges}
	}
	if err := survivor.p.mergeLimit(absorbed.p, lim); err != nil {
		return err
	}
	m := Merge{ID: randomID(10), Into: survivor.p.ID, From: absorbed.p.ID, At: w.now, Reason: reason}
	// The survivor absorbs the profile as it is kept from now on.
	if err := w.sweep(absorbed); err != nil {
		return err
	}
	snapshot := absorbed.p.clone()
	if err := w.emit(absorbed, Event{Kind: EventAbsorbed, Merge: &m}, nil); err != nil {
		return err
	}
	if err := w.emit(survivor, Event{Kind: EventMerged, Merge: &m}, snapshot); err != nil {
		return err
	}
	for _, l := range absorbed.p.Idents {
		if l.Typed {
			continue // never in the index
		}
		if err := w.setIndex(l.Identifier, survivor.p.ID, l.Verified); err != nil {
			return err
		}
	}
	return nil
}

// Unmerge undoes the merge of customer absorbed into another: both are
// restored as they were before it, and changes made to the survivor since
// stay on the survivor. Identifiers the absorbed customer had return to it.
func (s *Store) Unmerge(ctx context.Context, absorbed CustomerID) error {
	if err := absorbed.check(); err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		x, err := w.loadExact(absorbed)
		if err != nil {
			return err
		}
		if x.p.MergedInto == "" {
			return fmt.Errorf("%w: customer %s", ErrNotMerged, absorbed)
		}
		a, err := w.loadExact(x.p.MergedInto)
		if err != nil {
			return err
		}
		var m *Merge
		for i := range a.p.Merges {
			if mm := &a.p.Merges[i]; mm.From == absorbed && mm.Undone.IsZero() {
				m = mm
			}
		}
		if m == nil {
			return fmt.Errorf("%w: customer %s has no merge record on %s", ErrFormat, absorbed, a.p.ID)
		}
		// Every merge that brought x's data up the chain must still be in
		// its survivor's history, to replay without it.
		for c, from := a, m.ID; ; {
			final, err := w.finalMerge(c, from)
			if err != nil {
				return err
			}
			if final {
				return fmt.Errorf("%w: the history of %s was compacted with the merge of %s in it", ErrMergeFinal, c.p.ID, absorbed)
			}
			if c.p.MergedInto == "" {
				break
			}
			up, err := w.loadExact(c.p.MergedInto)
			if err != nil {
				return err
			}
			from = ""
			for _, mm := range up.p.Merges {
				if mm.From == c.p.ID && mm.Undone.IsZero() {
					from = mm.ID
				}
			}
			c = up
		}
		undo := *m
		if err := w.emit(x, Event{Kind: EventUnmerged, Merge: &undo}, nil); err != nil {
			return err
		}
		if err := w.emit(a, Event{Kind: EventUnmerged, Merge: &undo}, nil); err != nil {
			return err
		}
		// Rebuild the survivor, and every customer it was merged into since,
		// from their own events.
		top := a
		for c := a; ; {
			if err := w.rebuild(c); err != nil {
				return err
			}
			top = c
			if c.p.MergedInto == "" {
				break
			}
			if c, err = w.loadExact(c.p.MergedInto); err != nil {
				return err
			}
		}
		// A clone: unlinking changes x.p.Idents.
		for _, l := range slices.Clone(x.p.Idents) {
			if l.Typed {
				continue // never in the index; back with x's own events
			}
			id := l.Identifier
			e, found, err := w.index(id)
			if err != nil {
				return err
			}
			if found && (e.Customer == top.p.ID || e.Customer == a.p.ID) {
				if kept, ok := top.p.linked(id); ok && !kept.Typed {
					// Linked to the survivor by its own events after the
					// merge: a change made since, which stays.
					if err := w.setIndex(id, top.p.ID, kept.Verified); err != nil {
						return err
					}
					if err := w.emit(x, Event{Kind: EventIdentifierUnlinked, Identifier: &id,
						Reason: "kept by the customer it was merged into"}, nil); err != nil {
						return err
					}
					continue
				}
				// Back as it was: verified as the absorbed customer had it.
				if err := w.setIndex(id, x.p.ID, l.Verified); err != nil {
					return err
				}
				continue
			}
			// It went to another customer while merged.
			if err := w.emit(x, Event{Kind: EventIdentifierUnlinked, Identifier: &id,
				Reason: "linked to another customer while merged"}, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// rebuild replays c's history into a new profile, skipping merges that were
// undone: the customers they absorbed are read as they are kept now.
func (w *wtx) rebuild(c *wcust) error {
	events, err := w.history(c.p.ID)
	if err != nil {
		return err
	}
	r, err := replay(c.p.ID, events, func(from CustomerID) (*profile, error) {
		o, err := w.loadExact(from)
		if err != nil {
			return nil, err
		}
		return o.p, nil
	})
	if err != nil {
		return err
	}
	fresh := r.p
	fresh.MergedInto = c.p.MergedInto
	c.p, c.dirty = fresh, true
	return nil
}

// history returns the events of customer id as this write sees them: those
// stored when it loaded the customer, then those it made.
func (w *wtx) history(id CustomerID) ([]Event, error) {
	var loadSeq uint64 = 1<<63 - 1
	if c, ok := w.custs[id]; ok {
		loadSeq = c.loadSeq
	}
	k, err := w.keysFor(id)
	if err != nil {
		return nil, err
	}
	u := &unsealer{s: w.s, t: w.txn, start: w.start, id: id, keys: k, fresh: true}
	events, err := readEvents(w.txn, u, id, loadSeq)
	if err != nil {
		return nil, err
	}
	for _, e := range w.out {
		if e.Customer == id && e.Seq > loadSeq {
			events = append(events, e)
		}
	}
	return events, nil
}
