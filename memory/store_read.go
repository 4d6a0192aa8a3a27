//go:build !wasip1

package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"time"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
	"github.com/herken/herken/memory/internal/pgkv"
)

// indexEntry is the stored value of an identifier key: whose it is and
// whether it was verified.
type indexEntry struct {
	Customer CustomerID `msgpack:"c"`
	Verified bool       `msgpack:"v,omitempty"`
	// Applied is the Seq of the last change Sync applied from this
	// identifier's device, and Head the digest chained over the changes it
	// applied (see Sync; absent where a release without it applied them);
	// both move with the identifier.
	Applied uint64 `msgpack:"a,omitempty"`
	Head    string `msgpack:"h,omitempty"`
	// hot is, in the identifier cache, the brief last built by this
	// identifier, from the memo of its customer's cached profile, while
	// that profile is cached (see briefMemo.point); nil elsewhere. Never
	// stored.
	hot *memoEntry `msgpack:"-"`
}

// maxRedirects bounds how many merges a lookup follows from a merged
// customer's ID to the customer that holds it now.
const maxRedirects = 64

// normalize normalizes id with the store's region.
func (s *Store) normalize(id Identifier) (Identifier, error) {
	return Normalize(id, s.opts.region)
}

func readIndex(t kv.Txn, key []byte) (indexEntry, bool, error) {
	var e indexEntry
	err := t.Get(key, func(b []byte) error { return codec.Unmarshal(b, &e) })
	if errors.Is(err, kv.ErrNotFound) {
		return e, false, nil
	}
	if err != nil {
		return e, false, storeErr(err)
	}
	return e, true, nil
}

// readProfile reads the profile of id as stored, without following merges
// and without the profile cache; start is the cache epoch taken before t
// began.
func (s *Store) readProfile(t kv.Txn, start uint64, id CustomerID) (*profile, error) {
	return s.readProfileFrom(t, start, id, nil)
}

// readProfileFrom reads the profile of id as stored. When cached was read
// from or written as the same bytes, it returns a copy of it instead of
// opening and decoding them.
func (s *Store) readProfileFrom(t kv.Txn, start uint64, id CustomerID, cached *profile) (*profile, error) {
	var p *profile
	where := keys.Profile(string(id))
	err := t.Get(where, func(sealed []byte) error {
		sum := maphash.Bytes(s.seed, sealed)
		if cached != nil && cached.sum == sum {
			p = cached.clone()
			return nil
		}
		u, err := s.unsealer(t, start, id)
		if err != nil {
			return err
		}
		plain, err := u.open(where, sealed)
		if err != nil {
			return err
		}
		p = new(profile)
		if err := codec.Unmarshal(plain, p); err != nil {
			return err
		}
		p.intern()
		p.sum = sum
		return nil
	})
	if err != nil {
		if errors.Is(err, kv.ErrNotFound) {
			return nil, fmt.Errorf("%w: customer %s", ErrNotFound, id)
		}
		return nil, storeErr(err)
	}
	return p, nil
}

// reader is a read-only transaction and the cache epoch taken before it
// began, so that what it reads may fill the caches.
type reader struct {
	s     *Store
	t     kv.Txn
	start uint64
}

// view runs fn in a read-only transaction.
func (s *Store) view(ctx context.Context, fn func(r *reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	began := time.Now()
	for attempt := 1; ; attempt++ {
		r := &reader{s: s, start: s.epoch.Now()}
		r.t = s.db.Begin(false)
		err := fn(r)
		r.t.Discard()
		if (errors.Is(err, ErrUnavailable) || errors.Is(err, pgkv.ErrUnavailable)) && ctx.Err() == nil && time.Since(began) < pgkv.DefaultUnavailable {
			// The connection broke during the read (a failover): read
			// again, from a server that takes writes.
			attempt--
			continue
		}
		var stale *staleKeyError
		if !errors.As(err, &stale) || attempt == maxStaleRetries {
			return err
		}
	}
}

// index reads a normalized identifier's entry and caches it.
func (r *reader) index(key identRef) (indexEntry, bool, error) {
	e, ok, err := readIndex(r.t, r.s.identifierKey(Identifier{Kind: key.kind, Value: key.value}))
	if err == nil && ok {
		r.s.idents.Fill(key.own(), e, r.start)
	}
	return e, ok, err
}

// current returns the shared profile of the customer that holds id now,
// following merges, and caches it. A cached profile may be newer than the
// transaction: use what current returns, not the transaction, for what
// depends on it. The caller must not change the profile.
func (r *reader) current(id CustomerID) (*profile, error) {
	for range maxRedirects {
		if p, ok := r.s.profiles.Get(id); ok {
			return p, nil
		}
		if _, ok := r.s.ciphers.Get(id); !ok {
			r.t.Prefetch(keys.Profile(string(id)), keys.KeyRef(string(id)))
		}
		p, err := r.s.readProfile(r.t, r.start, id)
		if err != nil {
			return nil, err
		}
		if p.MergedInto == "" {
			r.s.cacheProfile(p, r.start)
			return p, nil
		}
		id = p.MergedInto
	}
	return nil, fmt.Errorf("%w: customer %s: more than %d merges deep", ErrFormat, id, maxRedirects)
}

// cacheProfile caches p, a customer's current profile read or written
// after epoch start, with a memo for its briefs. p must be the caller's
// own until then; it is shared after.
func (s *Store) cacheProfile(p *profile, start uint64) {
	if cur, ok := s.profiles.Get(p.ID); ok && cur == p {
		return
	}
	if p.memo == nil {
		p.memo = new(briefMemo)
	}
	if !s.profiles.Fill(p.ID, p, start) {
		p.memo.retire(s.unpoint)
	}
}

// profileGone is the profile cache's OnRemove: a profile that left the
// cache may be older than the store, so the briefs it kept are stale, and
// no identifier's entry may keep one.
func (s *Store) profileGone(_ CustomerID, p *profile) {
	if p.memo != nil {
		p.memo.retire(s.unpoint)
	}
}

// unpoint takes back the pointer of identifier k's cache entry at a brief
// of memo m, if it has one.
func (s *Store) unpoint(k identRef, m *briefMemo) {
	s.idents.Update(k, func(e *indexEntry) {
		if e.hot != nil && e.hot.memo == m {
			e.hot = nil
		}
	})
}

// customerOf returns the shared profile of the customer that holds id now,
// from the cache or a new transaction.
func (s *Store) customerOf(ctx context.Context, id CustomerID) (*profile, error) {
	if err := id.check(); err != nil {
		return nil, err
	}
	if p, ok := s.profiles.Get(id); ok {
		if s.closed.Load() {
			return nil, ErrClosed
		}
		return p, nil
	}
	return s.readCustomer(ctx, id)
}

// Lookup returns the customer an identifier belongs to, or ErrNotFound. It
// never creates or links anything.
func (s *Store) Lookup(ctx context.Context, id Identifier) (CustomerID, error) {
	n, err := s.normalize(id)
	if err != nil {
		return "", err
	}
	p, err := s.customerByIdent(ctx, n)
	if err != nil {
		return "", err
	}
	return p.ID, nil
}

// customerByIdent returns the profile of the customer a normalized
// identifier belongs to.
func (s *Store) customerByIdent(ctx context.Context, n Identifier) (*profile, error) {
	key := identKey(n)
	if e, ok := s.idents.Get(key); ok {
		// Any transaction customerOf starts is at least as new as the entry.
		return s.customerOf(ctx, e.Customer)
	}
	return s.identMissed(ctx, n, key)
}

// identMissed is customerByIdent for an identifier the identifier cache
// does not hold: no one's, as the filter of known identifiers or the cache
// of absent identifiers says, or read from the store. The filter comes
// first: it answers almost every miss, and a miss then costs its keyed hash
// whether or not the identifier was asked for before, so that its time
// tells nothing of others' lookups. The cache of absent identifiers answers
// the rest again: the filter's false positives, the identifiers forgotten
// since it was built, and every miss of a store without a filter.
func (s *Store) identMissed(ctx context.Context, n Identifier, key identRef) (*profile, error) {
	if s.known.on {
		var h identHash
		s.identHash(n.Kind, n.Value, &h)
		if s.known.lacks(&h) {
			return nil, s.noOne(n.Kind)
		}
	}
	if _, ok := s.absent.Get(key); ok {
		return nil, s.noOne(n.Kind)
	}
	return s.readIdent(ctx, n, key)
}

// noOne is the error of an identifier of kind k that the caches say is no
// one's: ErrClosed once the store is closed.
func (s *Store) noOne(k Kind) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return unknown(k)
}

// identChanged drops what the caches hold of identifier k, after a commit
// that set or deleted it.
func (s *Store) identChanged(k identRef) {
	s.idents.Invalidate(k)
	s.absent.Invalidate(k)
}

// The errors of identifiers of no one, made once for the usual kinds, so
// that a miss costs what a hit does.
var (
	unknownEmail   = unknownOf(KindEmail)
	unknownPhone   = unknownOf(KindPhone)
	unknownAccount = unknownOf(KindAccount)
	unknownDevice  = unknownOf(KindDevice)
)

func unknownOf(k Kind) error { return fmt.Errorf("%w: no customer with this %s", ErrNotFound, k) }

// unknown returns the error of an identifier of kind k that is no one's.
func unknown(k Kind) error {
	switch k {
	case KindEmail:
		return unknownEmail
	case KindPhone:
		return unknownPhone
	case KindAccount:
		return unknownAccount
	case KindDevice:
		return unknownDevice
	}
	return unknownOf(k)
}
