//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"fmt"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/kv"
)

// SaveDraft saves work in progress under name, replacing the draft of that
// name. Drafts hold up to Limits.DraftSize bytes (default 1 MiB).
func (s *Store) SaveDraft(ctx context.Context, id CustomerID, name string, data []byte) error {
	return s.Update(ctx, id, func(tx *Tx) error { return tx.SaveDraft(name, data) })
}

// LoadDraft returns the draft saved under name, or ErrNotFound.
func (s *Store) LoadDraft(ctx context.Context, id CustomerID, name string) (Draft, error) {
	if err := checkDraftName(name); err != nil {
		return Draft{}, err
	}
	p, err := s.customerOf(ctx, id)
	if err != nil {
		return Draft{}, err
	}
	ref, ok := p.draft(name)
	if !ok {
		return Draft{}, fmt.Errorf("%w: draft %q", ErrNotFound, name)
	}
	// The transaction starts after the profile was read, so it holds the
	// draft the profile lists, unless it was deleted since.
	var d Draft
	err = s.view(ctx, func(r *reader) error {
		d, err = s.readDraft(r.t, r.start, ref)
		return err
	})
	return d, err
}

func (s *Store) readDraft(t kv.Txn, start uint64, ref draftRef) (Draft, error) {
	d := Draft{Name: ref.Name, Saved: ref.Saved}
	err := s.open(t, start, ref.Owner, s.draftKey(ref.Owner, ref.Name), func(b []byte) error {
		body, err := codec.Body(b)
		if err != nil {
			return err
		}
		d.Data = bytes.Clone(body)
		return nil
	})
	if err != nil {
		return Draft{}, fmt.Errorf("draft %q: %w", ref.Name, storeErr(err))
	}
	return d, nil
}

// DeleteDraft deletes the draft saved under name, or returns ErrNotFound.
func (s *Store) DeleteDraft(ctx context.Context, id CustomerID, name string) error {
	return s.Update(ctx, id, func(tx *Tx) error { return tx.DeleteDraft(name) })
}

// Drafts lists the customer's drafts.
func (s *Store) Drafts(ctx context.Context, id CustomerID) ([]DraftInfo, error) {
	p, err := s.customerOf(ctx, id)
	if err != nil {
		return nil, err
	}
	var ds []DraftInfo
	for _, d := range p.Drafts {
		if !d.Deleted {
			ds = append(ds, d.DraftInfo)
		}
	}
	return ds, nil
}
