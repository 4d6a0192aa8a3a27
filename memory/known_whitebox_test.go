//go:build !wasip1

package memory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// waitKnown waits for the builds of s's filter of known identifiers to
// end, and returns the filter in use.
func waitKnown(t *testing.T, s *Store) *bloom {
	t.Helper()
	for s.known.rebuilding.Load() {
		runtime.Gosched()
	}
	f := s.known.filter.Load()
	require.NotNil(t, f, "the filter of known identifiers was not built")
	return f
}

func knownHash(s *Store, id Identifier) *identHash {
	n, err := s.normalize(id)
	if err != nil {
		panic(err)
	}
	var h identHash
	s.identHash(n.Kind, n.Value, &h)
	return &h
}

// TestKnownFilterAfterOpen: the filter built by the scan at open holds
// every identifier of the store, and a lookup of one it lacks answers
// without reading the store.
func TestKnownFilterAfterOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, DefaultOptions(dir).WithSyncWrites(false))
	require.NoError(t, err)
	var ids []Identifier
	for i := range 40 {
		e, d := Email(fmt.Sprintf("known%d@example.com", i)), Device(fmt.Sprintf("known-device-%04d", i))
		_, err := s.Recognize(ctx, e.AsVerified(), d.AsVerified())
		require.NoError(t, err)
		ids = append(ids, e, d)
	}
	require.NoError(t, s.Close())

	s, err = Open(ctx, DefaultOptions(dir).WithSyncWrites(false))
	require.NoError(t, err)
	defer s.Close()
	f := waitKnown(t, s)
	require.EqualValues(t, len(ids), f.count.Load(), "every identifier is in the filter once")
	for _, id := range ids {
		require.False(t, s.known.lacks(knownHash(s, id)), "the filter lacks %v", id)
		_, err := s.Lookup(ctx, id)
		require.NoError(t, err)
	}
	// Many identifiers of no one, as a page guessing them asks: not
	// found, none of them read from the store (a read would fill the cache
	// of absent ones), and nothing grows.
	for i := range 2000 {
		_, err := s.Lookup(ctx, Email(fmt.Sprintf("guess%d@example.com", i)))
		require.ErrorIs(t, err, ErrNotFound)
		_, err = s.BriefFor(ctx, Phone(fmt.Sprintf("+3161%07d", i)), BriefQuery{})
		require.ErrorIs(t, err, ErrNotFound)
	}
	require.LessOrEqual(t, s.absent.Len(), 2, "lookups of unknown identifiers read the store")
	require.Same(t, f, s.known.filter.Load())
	require.EqualValues(t, len(ids), f.count.Load())
}

// TestKnownFilterNeverLacksAWrittenIdentifier writes new customers from
// several goroutines while the filter is built again and again, and grows:
// once a write is acknowledged, the filter in use holds its identifiers,
// and lookups find them.
func TestKnownFilterNeverLacksAWrittenIdentifier(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, DefaultOptions(t.TempDir()).WithSyncWrites(false))
	require.NoError(t, err)
	defer s.Close()
	waitKnown(t, s)
	s.known.minimum = 8 // so that the writes below fill it, and it grows
	require.NoError(t, s.buildKnown())
	first := s.known.filter.Load().capacity

	const writers, each = 4, 60
	var (
		builder, wg sync.WaitGroup
		done        atomic.Bool
		builds      atomic.Int64
		failed      atomic.Value
		written     = make([][]Identifier, writers)
	)
	builder.Go(func() { // builds the filter anew while the writers write
		for i := 0; !done.Load(); i++ {
			builds.Add(1)
			if i%2 == 0 {
				s.rebuildKnown()
				runtime.Gosched()
			} else if err := s.buildKnown(); err != nil {
				failed.Store(err)
			}
		}
	})
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e := Email(fmt.Sprintf("w%d-%d@example.com", w, i))
				a := Account(fmt.Sprintf("acct-%d-%d", w, i))
				if _, err := s.Recognize(ctx, e.AsVerified(), a); err != nil {
					failed.Store(err)
					return
				}
				for _, id := range []Identifier{e, a} {
					if s.known.lacks(knownHash(s, id)) {
						failed.Store(fmt.Errorf("the filter lacks %v, acknowledged", id))
						return
					}
					if _, err := s.Lookup(ctx, id); err != nil {
						failed.Store(fmt.Errorf("lookup of %v, acknowledged: %w", id, err))
						return
					}
				}
				written[w] = append(written[w], e, a)
			}
		})
	}
	wg.Wait()
	done.Store(true)
	builder.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	f := waitKnown(t, s)
	require.Greater(t, f.capacity, first, "the filter grew")
	require.Positive(t, builds.Load())
	for _, ids := range written {
		require.Len(t, ids, 2*each)
		for _, id := range ids {
			require.False(t, s.known.lacks(knownHash(s, id)), "the filter lacks %v", id)
		}
	}
}

// TestBloom: no false negatives, few false positives at capacity, and
// full past it.
func TestBloom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	random := func() *identHash {
		var h identHash
		for i := range h {
			h[i] = byte(r.Uint32())
		}
		return &h
	}
	f := newBloom(1 << 12)
	var in []*identHash
	for range f.capacity {
		h := random()
		f.add(h)
		in = append(in, h)
	}
	require.False(t, f.full())
	for _, h := range in {
		require.True(t, f.has(h))
	}
	fp := 0
	const probes = 100000
	for range probes {
		if f.has(random()) {
			fp++
		}
	}
	require.Less(t, fp, probes/100, "false positives at capacity")
	for range 64 {
		f.add(random())
	}
	require.True(t, f.full())
}

// TestKnownFilterForgetsDeletedIdentifiers: once a customer is forgotten,
// or an identifier unlinked, a lookup of its identifier costs what one of
// an identifier that never was anyone's costs, answered by the filter
// without a read of the store, which would tell by its time that someone
// had it: at once after Compact, and after the build the deletion started.
func TestKnownFilterForgetsDeletedIdentifiers(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, DefaultOptions(t.TempDir()).WithSyncWrites(false))
	require.NoError(t, err)
	defer s.Close()
	waitKnown(t, s)
	never := Email("never-a-customer@example.com")

	// answersAsStranger says whether lookups of id answer as never's do:
	// not found, with no read of the store (a read fills the cache of
	// absent identifiers).
	answersAsStranger := func(id Identifier) {
		t.Helper()
		require.True(t, s.known.lacks(knownHash(s, id)), "the filter still holds %v", id)
		before := s.absent.Len()
		for _, id := range []Identifier{never, id} {
			_, err := s.Lookup(ctx, id)
			require.ErrorIs(t, err, ErrNotFound)
		}
		require.Equal(t, before, s.absent.Len(), "a lookup of %v read the store", id)
	}

	gone := Email("was-a-customer@example.com")
	r, err := s.Recognize(ctx, gone.AsVerified(), Account("acct-gone"))
	require.NoError(t, err)
	_, err = s.Forget(ctx, r.Customer)
	require.NoError(t, err)
	require.NoError(t, s.Compact(ctx))
	answersAsStranger(gone)
	answersAsStranger(Account("acct-gone"))

	kept := Email("stays@example.com")
	r, err = s.Recognize(ctx, kept.AsVerified(), Phone("+31612345678"))
	require.NoError(t, err)
	require.NoError(t, s.Unlink(ctx, r.Customer, Phone("+31612345678")))
	waitKnown(t, s) // the build the unlink started
	answersAsStranger(Phone("+31612345678"))
	_, err = s.Lookup(ctx, kept)
	require.NoError(t, err)
}
