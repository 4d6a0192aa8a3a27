//go:build !wasip1

package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
)

// Merge merges customer from into customer into: they are one person. The
// survivor holds both customers' identifiers, facts, issues, contacts,
// drafts and consent, the newest value winning per field; from's data is
// kept as it was, so that Unmerge can restore it. Calls given from's ID act
// on the survivor from then on. Open issues of the two that are about the
// same thing (by the rule of Match, the window counted between their last
// contacts) become one, the survivor's, with the contacts of both, and
// escalated: the customer came about it twice.
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
	own := slices.Clone(survivor.p.Open)
	if err := w.emit(survivor, Event{Kind: EventMerged, Merge: &m}, snapshot); err != nil {
		return err
	}
	if err := joinSameIssues(onCustomer{w: w, c: survivor}, own, snapshot.Open); err != nil {
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

// joinSameIssues joins, after a merge, each open issue the absorbed
// customer brought (theirs) with the survivor's open issue (own) that it is
// about the same thing as (sameIssue): the customer came about it on both
// records, so the two are one issue, with both issues' contacts, and it is
// escalated. The survivor's issue is kept. Each join is an event, so that
// replaying the history gives the same issues, and replaying it without the
// merge (Unmerge) leaves both apart.
func joinSameIssues(r onCustomer, own, theirs []Issue) error {
	for i := len(theirs) - 1; i >= 0; i-- { // oldest first
		t := theirs[i]
		best, how := -1, Match("")
		for j := range own {
			m := sameIssue(&own[j], &t)
			if m != "" && (best < 0 || rank(m) < rank(how)) {
				best, how = j, m
			}
		}
		if best < 0 {
			continue
		}
		// The survivor's issue is kept, whichever was opened first: what
		// is said about the one issue while merged is said on the
		// survivor's record, and an unmerge gives the absorbed customer
		// back only what was about issues that are unambiguously theirs
		// (its issue joined here comes back as it was at the merge), so
		// that neither customer gets the other's words.
		kept, joined := own[best], t
		if findIssue(r.current().Open, kept.ID) < 0 || findIssue(r.current().Open, joined.ID) < 0 {
			continue
		}
		if err := r.record(Event{Kind: EventIssueJoined, Issue: &kept, Key: string(joined.ID), Reason: string(how)}); err != nil {
			return err
		}
		if _, err := escalateRepeat(r, kept.ID, false); err != nil {
			return err
		}
		// Later issues of theirs may be about the same: the kept one stands
		// for both now.
		own[best] = r.current().Open[findIssue(r.current().Open, kept.ID)]
	}
	return nil
}

// Unmerge undoes the merge of customer absorbed into another: both are
// restored as they were before it, and changes made to the survivor since
// stay on the survivor. Identifiers the absorbed customer had return to it.
// So do the contacts about its issues made while merged (and the
// escalations, resolutions and reopenings they brought): an issue goes back
// with every contact the customer made about it, and escalated if they
// came back about it; issues a merge joined are apart again. They are
// recorded again on the absorbed customer in the same write: an unmerge
// that would give back more than one write holds (thousands of contacts)
// fails with a *LimitError and changes nothing.
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
		var chain []chainLink
		for c, from := a, m.ID; ; {
			chain = append(chain, chainLink{c: c, merge: from})
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
		moves, moved, err := w.issueEventsOf(x, chain)
		if err != nil {
			return err
		}
		undo := *m
		if err := w.emit(x, Event{Kind: EventUnmerged, Merge: &undo}, nil); err != nil {
			return err
		}
		for _, mv := range moves {
			e := mv.e
			if err := w.emit(x, Event{Kind: e.Kind, At: e.At, Issue: e.Issue, Contact: e.Contact,
				Reason: "recorded on " + string(mv.on.p.ID) + " while merged"}, nil); err != nil {
				return err
			}
		}
		if err := w.eraseMoved(moves); err != nil {
			return err
		}
		for i, l := range chain {
			if l.c != a && moved[i] == nil {
				continue
			}
			if err := w.emit(l.c, Event{Kind: EventUnmerged, Merge: &undo, Moved: moved[i]}, nil); err != nil {
				return err
			}
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

// chainLink is a customer that holds an absorbed customer's data, and the
// merge by which that data came to it.
type chainLink struct {
	c     *wcust
	merge string
}

// movedEvent is an event about an absorbed customer's issue that was
// recorded on a customer holding it.
type movedEvent struct {
	on *wcust
	e  Event
}

// eraseMoved erases, in the histories they were recorded in, the text of
// the events an unmerge gave back to the absorbed customer: they are that
// customer's words now, kept in their own history, and must not stay
// readable in the survivor's (its export, its files) after that customer
// is forgotten. Each event stays, its text gone and Erased set, as an
// erased fact's does; replay skips it anyway (Event.Moved). Each such
// history's customer is marked for a new key, so that the old sealed
// copies open nowhere once the old key is destroyed.
func (w *wtx) eraseMoved(moves []movedEvent) error {
	marked := map[CustomerID]bool{}
	for _, mv := range moves {
		e := mv.e
		if e.Contact != nil {
			c := *e.Contact
			c.Summary, c.Subject = "", ""
			e.Contact = &c
		}
		if e.Issue != nil {
			is := *e.Issue
			is.Subject, is.Resolution = "", ""
			e.Issue = &is
		}
		e.Erased = w.now
		id := mv.on.p.ID
		if err := w.putEvent(id, e); err != nil {
			return err
		}
		if marked[id] {
			continue
		}
		marked[id] = true
		mark, err := codec.Marshal(randomID(10))
		if err != nil {
			return err
		}
		if err := w.txn.Set(keys.Rekey(string(id)), mark); err != nil {
			return err
		}
		w.rekeyed = true
	}
	return nil
}

// issueEventsOf returns the events about x's issues (open or resolved)
// that the customers of chain recorded since x's data came to each, in the
// order they happened: what an unmerge of x gives back to it. moved says,
// per customer of chain, which they are (Event.Moved), or nil.
func (w *wtx) issueEventsOf(x *wcust, chain []chainLink) (out []movedEvent, moved []*Moved, err error) {
	mine := map[IssueID]bool{}
	for _, is := range x.p.Open {
		mine[is.ID] = true
	}
	_, resolved, err := w.timelines(x.p)
	if err != nil {
		return nil, nil, err
	}
	for _, is := range resolved {
		mine[is.ID] = true
	}
	for _, l := range chain {
		events, err := w.history(l.c.p.ID)
		if err != nil {
			return nil, nil, err
		}
		sk := undoneMerges(l.c.p.ID, events)
		var mv *Moved
		seen := map[IssueID]bool{}
		for i := range events {
			e := &events[i]
			if mv == nil {
				if e.Kind == EventMerged && e.Merge != nil && e.Merge.ID == l.merge {
					mv = &Moved{After: e.Seq}
				}
				continue
			}
			if about := issueOf(e); about != "" && mine[about] && !sk.isMoved(e) {
				out = append(out, movedEvent{on: l.c, e: *e})
				if !seen[about] {
					seen[about] = true
					mv.Issues = append(mv.Issues, about)
				}
			}
		}
		if mv != nil && len(mv.Issues) == 0 {
			mv = nil
		}
		moved = append(moved, mv)
	}
	slices.SortStableFunc(out, func(a, b movedEvent) int { return a.e.At.Compare(b.e.At) })
	return out, moved, nil
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
	if w.packs == nil {
		w.packs = map[CustomerID]map[uint64]uint64{}
	}
	where := map[uint64]uint64{}
	w.packs[id] = where
	events, err := readPacks(w.txn, u, id, loadSeq, func(pk, seq uint64) { where[seq] = pk })
	if err != nil {
		return nil, err
	}
	// What this write changed in its packs so far.
	for pk, es := range w.edits[id] {
		events = slices.DeleteFunc(events, func(e Event) bool { return where[e.Seq] == pk })
		for _, e := range es {
			if e.Kind == EventCompacted && e.checkpoint == nil {
				if e.checkpoint, err = readCheckpoint(w.txn, u, id); err != nil {
					return nil, err
				}
			}
			events = append(events, e)
		}
	}
	if len(w.edits[id]) > 0 {
		slices.SortFunc(events, func(a, b Event) int { return cmp.Compare(a.Seq, b.Seq) })
	}
	for _, p := range w.pend[id] {
		events = append(events, p.e)
	}
	return events, nil
}
