//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keyfile"
	"github.com/herken/herken/memory/internal/keys"
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
	c, err := s.keysOf(txn, 0, r.Customer)
	txn.Discard()
	require.NoError(t, err)
	where := keys.Profile(string(r.Customer))
	setRaw(t, s, where, c.Seal(where, b))

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
	key, stored, _ := customerKey(t, s, r.Customer)
	// Crash after the first transaction of Forget: do it by hand.
	err = s.write(ctx, func(w *wtx) error {
		_, _, err := w.forget(r.Customer)
		return err
	})
	require.NoError(t, err)
	require.Error(t, s.Check(ctx), "a forget is unfinished")
	crash(t, s)
	require.True(t, filesContain(t, dir, stored), "the key outlived the crash")

	s, err = Open(ctx, DefaultOptions(dir))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Check(ctx))
	require.False(t, filesContain(t, dir, stored), "Open destroyed the key")
	require.False(t, filesContain(t, dir, key))
	txn := s.db.Begin(false)
	defer txn.Discard()
	for _, prefix := range [][]byte{keys.Customer(string(r.Customer)), keys.Events(string(r.Customer)), keys.Pending} {
		n := 0
		require.NoError(t, txn.Scan(prefix, true, func(_, _ []byte) error { n++; return nil }))
		require.Zero(t, n, "keys left under %q", prefix)
	}
}

// TestKeyFileDoesNotGrowAcrossOpens opens a store again and again, making a
// few customers each time: the fresh keys a Close leaves are taken back by
// the next Open, so the key file holds the customers and one batch.
func TestKeyFileDoesNotGrowAcrossOpens(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n := 0
	for round := range 5 {
		s, err := Open(ctx, DefaultOptions(dir))
		require.NoError(t, err)
		for range 10 {
			_, err := s.Recognize(ctx, Email(fmt.Sprintf("c%d@example.com", n)))
			require.NoError(t, err)
			n++
		}
		require.NoError(t, s.Check(ctx))
		size := s.keyfile.(fileKeys).Size()
		require.NoError(t, s.Close())
		require.LessOrEqual(t, size, int64(1+n+128)*keyfile.SlotSize, "round %d", round)
	}
}

// crash closes the store as a crash would leave it: nothing that Close
// finishes is finished.
func crash(t *testing.T, s *Store) {
	t.Helper()
	s.closed.Store(true)
	s.stopEraser()
	s.gate.Lock()
	defer s.gate.Unlock()
	require.NoError(t, s.keyfile.Close())
	require.NoError(t, s.db.Close())
}

// TestRestoreIgnoresTheSourcesSlots restores a backup that caught a forget
// before its keys were destroyed, and a rekey before the old key was: the
// marks name slots of the backed-up store's key file, which in the restored
// one hold other customers' keys. None is destroyed.
func TestRestoreIgnoresTheSourcesSlots(t *testing.T) {
	ctx := context.Background()
	src, err := Open(ctx, InMemoryOptions())
	require.NoError(t, err)
	defer src.Close()
	var ids []CustomerID
	for i := range 20 {
		r, err := src.Recognize(ctx, Email(fmt.Sprintf("c%d@example.com", i)))
		require.NoError(t, err)
		ids = append(ids, r.Customer)
	}
	src.stopEraser() // the marks below are for the backup only
	src.eraser.stop = nil
	var all []uint32
	for sl := range uint32(300) {
		all = append(all, sl+1)
	}
	b, err := codec.Marshal(purge{Receipt: "r", Slots: all})
	require.NoError(t, err)
	setRaw(t, src, keys.PendingForget("aaaaaaaaaaaaaaaaaaaaaaaaaa"), b)
	for _, sl := range all {
		setRaw(t, src, keys.Destroy(sl), []byte{codec.Version})
	}
	var data, keysOut bytes.Buffer
	require.NoError(t, src.Backup(ctx, &data, &keysOut))

	dst, err := Restore(ctx, InMemoryOptions(), &data, &keysOut)
	require.NoError(t, err)
	defer dst.Close()
	require.NoError(t, dst.Check(ctx))
	for _, id := range ids {
		_, err := dst.Brief(ctx, id, BriefQuery{})
		require.NoError(t, err)
	}
}
