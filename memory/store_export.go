//go:build !wasip1

package memory

import (
	"context"

	"github.com/herken/herken/memory/internal/kv"
)

// Export returns everything held about the customer that holds id now, in
// the documented format (see Export). It reads one consistent snapshot.
func (s *Store) Export(ctx context.Context, id CustomerID) (*Export, error) {
	if err := id.check(); err != nil {
		return nil, err
	}
	x := &Export{Format: ExportFormat, Exported: s.now()}
	err := s.view(ctx, func(r *reader) error {
		t := r.t
		p, err := s.readCurrent(t, r.start, id)
		if err != nil {
			return err
		}
		if x.Customer, err = s.customerIn(t, p); err != nil {
			return err
		}
		if !refused(p.Consents, PurposeProfiling) {
			in := influenceOf(p.Signals)
			x.Influence = &in
		}
		for _, ref := range p.Drafts {
			if ref.Deleted {
				continue
			}
			d, err := s.readDraft(t, r.start, ref)
			if err != nil {
				return err
			}
			x.Drafts = append(x.Drafts, d)
		}
		return timelineOwners(p, func(id CustomerID) (*profile, error) { return s.readProfile(t, r.start, id) }, func(o *profile) error {
			es, err := s.readHistory(t, r.start, o.ID)
			x.History = append(x.History, withoutMoved(o.ID, es)...)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	x.History = hideExpired(x.History, x.Exported)
	return x, nil
}

// readCurrent reads the profile that holds id now, without the cache.
func (s *Store) readCurrent(t kv.Txn, start uint64, id CustomerID) (*profile, error) {
	for range maxRedirects {
		p, err := s.readProfile(t, start, id)
		if err != nil || p.MergedInto == "" {
			return p, err
		}
		id = p.MergedInto
	}
	return nil, ErrFormat
}
