package memory

import "time"

// replayed is a customer's history folded again: the profile it projects
// and the timelines it implies.
type replayed struct {
	p        *profile
	contacts []Contact // oldest first
	resolved []Issue   // oldest first
}

// replay folds events, a customer's whole history in order, into a new
// profile. Merges undone later in the history are skipped; absorbed
// returns the profile of a customer a merge that holds absorbed.
func replay(id CustomerID, events []Event, absorbed func(CustomerID) (*profile, error)) (replayed, error) {
	undone := map[string]bool{}
	for _, e := range events {
		if e.Kind == EventUnmerged && e.Merge != nil && e.Merge.Into == id {
			undone[e.Merge.ID] = true
		}
	}
	r := replayed{p: newProfile(id, time.Time{})}
	for i := range events {
		e := &events[i]
		var o *profile
		if e.Kind == EventMerged && e.Merge != nil && !undone[e.Merge.ID] {
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
