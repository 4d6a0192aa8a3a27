package memory

import (
	"slices"
	"time"
)

// replayed is a customer's history folded again: the profile it projects
// and the timelines it implies.
type replayed struct {
	p        *profile
	contacts []Contact // oldest first
	resolved []Issue   // oldest first
}

// checkpoint is the state the events a history.compacted event stands for
// left: where a replay of the rest starts.
type checkpoint struct {
	Profile  *profile  `msgpack:"p"`
	Contacts []Contact `msgpack:"c,omitempty"` // the newest, oldest first
	Resolved []Issue   `msgpack:"r,omitempty"` // the newest, oldest first
}

// skipped is what a replay of a history leaves out, as its later events
// say: the merges into the customer that were undone, and the events an
// unmerge gave back to the absorbed customer (Event.Moved).
type skipped struct {
	merges map[string]bool
	moved  []movedSpan
}

// movedSpan is one Event.Moved: the events after after and before upto
// about one of issues.
type movedSpan struct {
	after, upto uint64
	issues      map[IssueID]bool
}

// undoneMerges returns what events, a history of customer id, undo.
func undoneMerges(id CustomerID, events []Event) skipped {
	sk := skipped{merges: map[string]bool{}}
	for _, e := range events {
		if e.Kind != EventUnmerged {
			continue
		}
		if e.Merge != nil && e.Merge.Into == id {
			sk.merges[e.Merge.ID] = true
		}
		// On the survivor, or on a customer it was merged into since.
		if m := e.Moved; m != nil && len(m.Issues) > 0 {
			span := movedSpan{after: m.After, upto: e.Seq, issues: map[IssueID]bool{}}
			for _, is := range m.Issues {
				span.issues[is] = true
			}
			sk.moved = append(sk.moved, span)
		}
	}
	return sk
}

// isMoved reports whether an unmerge gave e back to the absorbed customer.
func (sk *skipped) isMoved(e *Event) bool {
	if len(sk.moved) == 0 {
		return false
	}
	is := issueOf(e)
	if is == "" {
		return false
	}
	for _, m := range sk.moved {
		if e.Seq > m.after && e.Seq < m.upto && m.issues[is] {
			return true
		}
	}
	return false
}

// issueOf returns the issue an event that an unmerge can give back is
// about: a contact, an escalation, a reopening or a resolution.
func issueOf(e *Event) IssueID {
	switch e.Kind {
	case EventContactRecorded:
		if e.Contact != nil {
			return e.Contact.Issue
		}
	case EventIssueEscalated, EventIssueResolved, EventIssueReopened:
		if e.Issue != nil {
			return e.Issue.ID
		}
	}
	return ""
}

// replay folds events, a customer's whole history in order, into a new
// profile. Merges undone later in the history are skipped; absorbed
// returns the profile of a customer a merge that holds absorbed.
func replay(id CustomerID, events []Event, absorbed func(CustomerID) (*profile, error)) (replayed, error) {
	return replayWith(id, events, undoneMerges(id, events), absorbed)
}

// replayWith is replay with the undone merges given: those of the whole
// history when events are its beginning.
func replayWith(id CustomerID, events []Event, undone skipped, absorbed func(CustomerID) (*profile, error)) (replayed, error) {
	r := replayed{p: newProfile(id, time.Time{})}
	for i := range events {
		e := &events[i]
		if e.Kind == EventCompacted {
			cp := e.checkpoint
			if i != 0 || cp == nil || cp.Profile == nil {
				return replayed{}, &formatError{"the history of " + string(id) + " has a compacted event without its state"}
			}
			r.p = cp.Profile.clone()
			r.p.ID, r.p.Seq, r.p.Base = id, e.Seq, e.Seq
			r.contacts = slices.Clone(cp.Contacts)
			r.resolved = slices.Clone(cp.Resolved)
			continue
		}
		if undone.isMoved(e) {
			r.p.Seq = e.Seq // the event is the absorbed customer's again
			continue
		}
		var o *profile
		if e.Kind == EventMerged && e.Merge != nil && !undone.merges[e.Merge.ID] {
			var err error
			if o, err = absorbed(e.Merge.From); err != nil {
				return replayed{}, err
			}
		}
		fx := r.p.apply(e, o)
		if fx.contact != nil {
			r.contacts = append(r.contacts, *fx.contact)
		}
		if fx.resolved != nil {
			r.resolved = append(r.resolved, *fx.resolved)
		}
	}
	return r, nil
}
