//go:build !wasip1

package memory

import (
	"fmt"
	"slices"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
)

// historyLen is how many events c's history holds: those since its
// compacted event, and that event.
func historyLen(p *profile) uint64 {
	if p.Base == 0 {
		return p.Seq
	}
	return p.Seq - p.Base + 1
}

// maybeCompact compacts c's history when it has passed the limit.
func (w *wtx) maybeCompact(c *wcust) error {
	limit := w.s.opts.limits.History
	if historyLen(c.p) <= uint64(limit) {
		return nil
	}
	return w.compact(c, limit)
}

// compact folds the oldest events of c's history, all but the newest half
// of the limit, into one history.compacted event and the state they left,
// kept under keys.Checkpoint. It stops before the oldest merge in force, so
// that Unmerge can still replay the history without it, unless the history
// has grown to twice the limit: then the merge is folded too and becomes
// final, so that no history grows without bound.
func (w *wtx) compact(c *wcust, limit int) error {
	id := c.p.ID
	events, err := w.history(id)
	if err != nil {
		return err
	}
	undone := undoneMerges(id, events)
	fold := len(events) - limit/2
	var final []string
	for i := 0; i < fold; i++ {
		e := events[i]
		if e.Kind != EventMerged || e.Merge == nil || undone.merges[e.Merge.ID] {
			continue
		}
		if len(events) < 2*limit {
			fold = i
			break
		}
		final = append(final, e.Merge.ID)
	}
	if fold < 2 {
		return nil // nothing worth folding
	}
	r, err := replayWith(id, events[:fold], undone, func(from CustomerID) (*profile, error) {
		o, err := w.loadExact(from)
		if err != nil {
			return nil, err
		}
		return o.p, nil
	})
	if err != nil {
		return err
	}
	lim := w.s.opts.limits
	cp := checkpoint{Profile: r.p, Contacts: newest(r.contacts, lim.Contacts), Resolved: newest(r.resolved, lim.Issues)}
	last := events[fold-1]
	sum := Compaction{Events: fold, From: events[0].At, To: last.At, FinalMerges: final}
	if first := events[0]; first.Kind == EventCompacted && first.Compaction != nil {
		// Folding the fold before: count what it stood for.
		sum.Events += first.Compaction.Events - 1
		sum.From = first.Compaction.From
		sum.FinalMerges = append(slices.Clone(first.Compaction.FinalMerges), final...)
	}
	b, err := codec.Marshal(&cp)
	if err != nil {
		return err
	}
	if _, err := w.put(id, keys.Checkpoint(string(id)), b); err != nil {
		return err
	}
	e := Event{Customer: id, Seq: last.Seq, Kind: EventCompacted, At: w.now, Compaction: &sum}
	if err := w.putEvent(id, e); err != nil {
		return err
	}
	for _, old := range events[:fold-1] {
		if err := w.dropEvent(id, old.Seq); err != nil {
			return err
		}
	}
	c.p.Base = e.Seq
	c.dirty = true
	return nil
}

// newest returns the last n of s (oldest first), as a new slice.
func newest[T any](s []T, n int) []T {
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return slices.Clone(s)
}

// finalMerge reports whether the merge with ID m was folded into a's
// compacted history while in force, so that it can no longer be undone.
func (w *wtx) finalMerge(a *wcust, m string) (bool, error) {
	if a.p.Base == 0 {
		return false, nil
	}
	events, err := w.history(a.p.ID)
	if err != nil {
		return false, err
	}
	if len(events) == 0 || events[0].Kind != EventCompacted || events[0].Compaction == nil {
		return false, fmt.Errorf("%w: the history of %s lacks its compacted event", ErrFormat, a.p.ID)
	}
	return slices.Contains(events[0].Compaction.FinalMerges, m), nil
}
