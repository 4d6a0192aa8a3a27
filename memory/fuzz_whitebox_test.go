//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
)

// FuzzStoredValue puts arbitrary bytes, sealed as the store seals them,
// where a customer's profile or one of its history events is kept, and then
// reads and writes that customer through the public calls that decode them.
// The store must answer or refuse with an error that says the data is bad;
// it must never panic, hang or touch another customer.
//
// The first byte of each input chooses the value: 0 the profile, 1 the
// state its compacted history left, n the history event n-1.
func FuzzStoredValue(f *testing.F) {
	ctx := context.Background()
	lim := DefaultLimits()
	lim.History = 64
	s, err := Open(ctx, InMemoryOptions().WithCacheSize(0).WithLimits(lim).WithClock(func() time.Time {
		return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	}))
	require.NoError(f, err)
	f.Cleanup(func() { s.Close() })

	other, err := s.Recognize(ctx, Email("grace@example.com").AsVerified())
	require.NoError(f, err)
	r, err := s.Recognize(ctx, Email("ada@example.com").AsVerified(), Phone("+31 20 555 0100"))
	require.NoError(f, err)
	id := r.Customer
	require.NoError(f, s.Remember(ctx, id, Fact{Key: "shipping.postcode", Value: "1011 AB", Purpose: PurposeService, Channel: ChannelWeb}))
	require.NoError(f, s.SetPreference(ctx, id, "language", "nl"))
	require.NoError(f, s.RecordConsent(ctx, id, Consent{Purpose: PurposeMarketing, Channel: ChannelEmail, Granted: true}))
	is, err := s.OpenIssue(ctx, id, "parcel late", ChannelEmail)
	require.NoError(f, err)
	_, err = s.RecordContact(ctx, id, Contact{Channel: ChannelPhone, Outcome: OutcomeNegative, Issue: is.ID})
	require.NoError(f, err)
	require.NoError(f, s.ResolveIssue(ctx, id, is.ID, "sent again"))
	require.NoError(f, s.SaveDraft(ctx, id, "cart", []byte("two books")))
	for i := range 60 { // past the history limit: compacted
		_, err = s.RecordContact(ctx, id, Contact{Channel: ChannelChat, Summary: strconv.Itoa(i)})
		require.NoError(f, err)
	}
	otherBefore, err := s.Export(ctx, other.Customer)
	require.NoError(f, err)

	// The stored values, opened, are the seeds.
	txn := s.db.Begin(false)
	c, err := s.keysOf(txn, 0, id)
	require.NoError(f, err)
	plain := func(k, v []byte) []byte {
		b, err := c.Open(k, v)
		require.NoError(f, err)
		return b
	}
	where := [][]byte{keys.Profile(string(id)), keys.Checkpoint(string(id))}
	for i, k := range where {
		require.NoError(f, txn.Get(k, func(v []byte) error {
			f.Add(byte(i), plain(k, v))
			return nil
		}))
	}
	require.NoError(f, txn.Scan(keys.Events(string(id)), false, func(k, v []byte) error {
		f.Add(byte(len(where)), plain(k, v))
		where = append(where, bytes.Clone(k))
		return nil
	}))
	txn.Discard()
	saved := rawUnder(f, s, keys.Customer(string(id)), keys.Events(string(id)))

	f.Fuzz(func(t *testing.T, at byte, value []byte) {
		defer restoreRaw(t, s, saved, keys.Customer(string(id)), keys.Events(string(id)))
		k := where[int(at)%len(where)]
		setRaw(t, s, k, c.Seal(k, value))

		ok := func(what string, err error) {
			t.Helper()
			if err != nil && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrNotFound) &&
				!errors.Is(err, ErrInvalidInput) && !errors.Is(err, ErrLimit) {
				t.Fatalf("%s: an error that does not say what is wrong: %v", what, err)
			}
		}
		// Bytes that do not decode are refused by the first read, like
		// every other; only those that do are worth the longer tour.
		var decodeErr error
		switch at := int(at) % len(where); at {
		case 0:
			decodeErr = codec.Unmarshal(value, new(profile))
		case 1:
			decodeErr = codec.Unmarshal(value, new(checkpoint))
		default:
			_, decodeErr = decodePack(id, value) // a pack, or one event as format 4 kept them
		}
		_, err := s.History(ctx, id)
		if decodeErr != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("History read bytes that do not decode (%v): %v", decodeErr, err)
			}
			return
		}
		ok("History", err)
		_, err = s.Brief(ctx, id, BriefQuery{})
		ok("Brief", err)
		_, err = s.BriefFor(ctx, Email("ada@example.com"), BriefQuery{})
		ok("BriefFor", err)
		_, err = s.Customer(ctx, id)
		ok("Customer", err)
		_, err = s.Snapshot(ctx, id)
		ok("Snapshot", err)
		_, err = s.MayContact(ctx, id, ChannelEmail, PurposeMarketing, s.now())
		ok("MayContact", err)
		_, err = s.Influence(ctx, id)
		ok("Influence", err)
		_, err = s.Drafts(ctx, id)
		ok("Drafts", err)
		_, err = s.Export(ctx, id)
		ok("Export", err)
		ok("Remember", s.Remember(ctx, id, Fact{Key: "size", Value: "M", Purpose: PurposeService, Channel: ChannelWeb}))
		_, err = s.RecordContact(ctx, id, Contact{Channel: ChannelEmail, Outcome: OutcomePositive})
		ok("RecordContact", err)
		_ = s.Check(ctx) // may report the damage; must not panic

		got, err := s.Export(ctx, other.Customer)
		require.NoError(t, err, "another customer was touched")
		require.Equal(t, otherBefore, got, "another customer was touched")
	})
}

// rawUnder returns every stored value under the prefixes.
func rawUnder(tb testing.TB, s *Store, prefixes ...[]byte) map[string][]byte {
	tb.Helper()
	m := map[string][]byte{}
	txn := s.db.Begin(false)
	defer txn.Discard()
	for _, p := range prefixes {
		require.NoError(tb, txn.Scan(p, false, func(k, v []byte) error {
			m[string(k)] = bytes.Clone(v)
			return nil
		}))
	}
	return m
}

// restoreRaw puts back under the prefixes exactly what rawUnder saved.
func restoreRaw(tb testing.TB, s *Store, saved map[string][]byte, prefixes ...[]byte) {
	tb.Helper()
	err := func() error {
		txn := s.db.Begin(true)
		defer txn.Discard()
		for k := range rawUnder(tb, s, prefixes...) {
			if _, keep := saved[k]; !keep {
				if err := txn.Delete([]byte(k)); err != nil {
					return err
				}
			}
		}
		for k, v := range saved {
			if err := txn.Set([]byte(k), v); err != nil {
				return err
			}
		}
		return txn.Commit()
	}()
	require.NoError(tb, err)
}
