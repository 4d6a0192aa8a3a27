//go:build !wasip1

package memory

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/seal"
)

// setRaw writes a value under key, bypassing the store's logic.
func setRaw(t *testing.T, s *Store, key, val []byte) {
	t.Helper()
	txn := s.db.Begin(true)
	defer txn.Discard()
	require.NoError(t, txn.Set(key, val))
	require.NoError(t, txn.Commit())
}

func TestValueOfNewerFormatIsRefused(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, InMemoryOptions().WithCacheSize(0))
	require.NoError(t, err)
	defer s.Close()
	r, err := s.Recognize(ctx, Email("ada@example.com"))
	require.NoError(t, err)

	b, err := codec.Marshal(newProfile(r.Customer, s.now()))
	require.NoError(t, err)
	b[0] = codec.Version + 1
	txn := s.db.Begin(false)
	c, err := s.cipherOf(txn, 0, r.Customer)
	txn.Discard()
	require.NoError(t, err)
	where := keys.Profile(string(r.Customer))
	setRaw(t, s, where, seal.Seal(c, where, b))

	_, err = s.Brief(ctx, r.Customer, BriefQuery{})
	require.ErrorIs(t, err, ErrFormat)
	require.Contains(t, err.Error(), "this build reads up to 1")
	require.ErrorIs(t, s.SetName(ctx, r.Customer, "x"), ErrFormat, "a write must not overwrite what it cannot read")
	require.Error(t, s.Check(ctx))
}

func TestUnfinishedForgetIsFinishedOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, DefaultOptions(dir))
	require.NoError(t, err)
	r, err := s.Recognize(ctx, Email("ada@example.com"))
	require.NoError(t, err)
	require.NoError(t, s.SaveDraft(ctx, r.Customer, "cart", []byte("secret cart")))
	// Crash after the first transaction of Forget: do it by hand.
	err = s.write(ctx, func(w *wtx) error {
		_, _, err := w.forget(r.Customer)
		return err
	})
	require.NoError(t, err)
	require.Error(t, s.Check(ctx), "a forget is unfinished")
	require.NoError(t, s.Close())

	s, err = Open(ctx, DefaultOptions(dir))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Check(ctx))
	txn := s.db.Begin(false)
	defer txn.Discard()
	for _, prefix := range [][]byte{keys.Customer(string(r.Customer)), keys.Events(string(r.Customer)), keys.Pending} {
		n := 0
		require.NoError(t, txn.Scan(prefix, true, func(_, _ []byte) error { n++; return nil }))
		require.Zero(t, n, "keys left under %q", prefix)
	}
}
