//go:build !wasip1

package memory

import (
	"context"
	"errors"
	"strconv"
)

// Concurrent reads of the same customer, or of the same identifier's
// customer, that miss the caches collapse into one read of the store: a
// hundred widgets opening on a customer who is not cached cost one read,
// not a hundred. A caller joins a read in flight only when the read began
// with the same stamp of its cache shard (cache.Cache.Stamp), that is, with
// no invalidation of the key between the read's start and the caller's:
// every write acknowledged before the caller came is in what the read sees,
// as it would be in a read of the caller's own.

// readCustomer reads the profile of the customer that holds id now, in a
// read shared with concurrent callers as above.
func (s *Store) readCustomer(ctx context.Context, id CustomerID) (*profile, error) {
	stamp, ok := s.profiles.Stamp(id)
	if !ok {
		return s.readCustomerAlone(ctx, id)
	}
	key := "c" + strconv.FormatUint(stamp, 36) + ":" + string(id)
	return s.collapse(ctx, key, func(ctx context.Context) (*profile, error) { return s.readCustomerAlone(ctx, id) })
}

func (s *Store) readCustomerAlone(ctx context.Context, id CustomerID) (*profile, error) {
	var p *profile
	err := s.view(ctx, func(r *reader) error {
		var err error
		p, err = r.current(id)
		return err
	})
	return p, err
}

// readIdent reads the profile of the customer the normalized identifier n
// (k its cache key) belongs to, in a read shared with concurrent callers as
// above.
func (s *Store) readIdent(ctx context.Context, n Identifier, k identRef) (*profile, error) {
	stamp, ok := s.idents.Stamp(k)
	if !ok {
		return s.readIdentAlone(ctx, n, k)
	}
	// A kind holds no ':' (checkKind), so the key is unambiguous.
	key := "i" + strconv.FormatUint(stamp, 36) + ":" + string(k.kind) + ":" + k.value
	return s.collapse(ctx, key, func(ctx context.Context) (*profile, error) { return s.readIdentAlone(ctx, n, k) })
}

func (s *Store) readIdentAlone(ctx context.Context, n Identifier, k identRef) (*profile, error) {
	var p *profile
	err := s.view(ctx, func(r *reader) error {
		e, ok, err := r.index(k)
		if err != nil {
			return err
		}
		if !ok {
			r.s.absent.Fill(k.own(), struct{}{}, r.start)
			return unknown(n.Kind)
		}
		p, err = r.current(e.Customer)
		return err
	})
	return p, err
}

// collapse runs read under key, or waits for the run of it in flight, and
// returns its answer. A caller whose context is still live reads again
// alone when the run it waited for ended with its own caller's context.
func (s *Store) collapse(ctx context.Context, key string, read func(context.Context) (*profile, error)) (*profile, error) {
	v, err, shared := s.flight.Do(key, func() (any, error) { return read(ctx) })
	if shared && err != nil && ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return read(ctx)
	}
	p, _ := v.(*profile)
	return p, err
}
