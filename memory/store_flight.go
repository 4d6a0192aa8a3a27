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
// as it would be in a read of the caller's own. The stamp is of the key the
// read starts from; the profile it ends with may be another customer's (an
// identifier's, or the one a merged customer's ID leads to), which a write
// may have changed since the read began: a caller takes the read's answer
// only when that profile's shard of the cache was not invalidated since the
// read began, and reads alone otherwise.

// readCustomer reads the profile of the customer that holds id now, in a
// read shared with concurrent callers as above.
func (s *Store) readCustomer(ctx context.Context, id CustomerID) (*profile, error) {
	stamp, ok := s.profiles.Stamp(id)
	if !ok {
		p, _, err := s.readCustomerAlone(ctx, id)
		return p, err
	}
	key := "c" + strconv.FormatUint(stamp, 36) + ":" + string(id)
	return s.collapse(ctx, key, func(ctx context.Context) (*profile, uint64, error) { return s.readCustomerAlone(ctx, id) })
}

// readCustomerAlone is readCustomer's read, and the cache epoch it began
// at.
func (s *Store) readCustomerAlone(ctx context.Context, id CustomerID) (*profile, uint64, error) {
	var p *profile
	var start uint64
	err := s.view(ctx, func(r *reader) error {
		var err error
		start = r.start
		p, err = r.current(id)
		return err
	})
	return p, start, err
}

// readIdent reads the profile of the customer the normalized identifier n
// (k its cache key) belongs to, in a read shared with concurrent callers as
// above.
func (s *Store) readIdent(ctx context.Context, n Identifier, k identRef) (*profile, error) {
	stamp, ok := s.idents.Stamp(k)
	if !ok {
		p, _, err := s.readIdentAlone(ctx, n, k)
		return p, err
	}
	// A kind holds no ':' (checkKind), so the key is unambiguous.
	key := "i" + strconv.FormatUint(stamp, 36) + ":" + string(k.kind) + ":" + k.value
	return s.collapse(ctx, key, func(ctx context.Context) (*profile, uint64, error) { return s.readIdentAlone(ctx, n, k) })
}

// readIdentAlone is readIdent's read, and the cache epoch it began at.
func (s *Store) readIdentAlone(ctx context.Context, n Identifier, k identRef) (*profile, uint64, error) {
	var p *profile
	var start uint64
	err := s.view(ctx, func(r *reader) error {
		start = r.start
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
	return p, start, err
}

// collapse runs read under key, or waits for the run of it in flight, and
// returns its answer; read returns the cache epoch it began at with it. A
// caller reads again alone when the run it waited for ended with its own
// caller's context while the caller's is still live, or when the profile
// the run answered with may have changed since the run began.
func (s *Store) collapse(ctx context.Context, key string, read func(context.Context) (*profile, uint64, error)) (*profile, error) {
	v, err, shared := s.flight.Do(key, func() (any, error) {
		p, start, err := read(ctx)
		return flown{p, start}, err
	})
	f, _ := v.(flown)
	if !shared {
		return f.p, err
	}
	if err != nil {
		if ctx.Err() == nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
			p, _, err := read(ctx)
			return p, err
		}
		return nil, err
	}
	if stamp, ok := s.profiles.Stamp(f.p.ID); !ok || stamp > f.start {
		p, _, err := read(ctx)
		return p, err
	}
	return f.p, nil
}

// flown is the answer of a read in flight: the profile and the cache epoch
// the read began at.
type flown struct {
	p     *profile
	start uint64
}
