//go:build !wasip1

package memory_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestBackupWhileWritingAndRestore(t *testing.T) {
	ctx := context.Background()
	src, err := memory.Open(ctx, memory.DefaultOptions(t.TempDir()))
	require.NoError(t, err)
	defer src.Close()
	var ids []memory.CustomerID
	for i := range 50 {
		r := recognize(t, src, memory.Email(fmt.Sprintf("c%d@example.com", i)).AsVerified())
		ids = append(ids, r.Customer)
		require.NoError(t, src.Remember(ctx, r.Customer, memory.Fact{Key: "size", Value: "M"}))
		require.NoError(t, src.SaveDraft(ctx, r.Customer, "cart", []byte(fmt.Sprint("cart ", i))))
	}
	_, err = src.Merge(ctx, ids[0], ids[1], "one person")
	require.NoError(t, err)
	_, err = src.Forget(ctx, ids[2])
	require.NoError(t, err)

	// Writes go on while the backup runs.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var during atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			if _, err := src.RecordContact(ctx, ids[3+i%40], memory.Contact{Channel: memory.ChannelChat, Summary: "during"}); err == nil {
				during.Add(1)
			}
		}
	}()
	require.Eventually(t, func() bool { return during.Load() > 20 }, 5e9, 1e6)
	var backup, keys bytes.Buffer
	require.NoError(t, src.Backup(ctx, &backup, &keys))
	stop.Store(true)
	wg.Wait()
	t.Logf("backup: %d bytes; %d writes ran during it", backup.Len(), during.Load())

	dst, err := memory.Restore(ctx, memory.DefaultOptions(t.TempDir()), bytes.NewReader(backup.Bytes()), bytes.NewReader(keys.Bytes()))
	require.NoError(t, err)
	defer dst.Close()
	require.NoError(t, dst.Check(ctx))
	for i, id := range ids {
		b, err := dst.BriefFor(ctx, memory.Email(fmt.Sprintf("c%d@example.com", i)), memory.BriefQuery{})
		if i == 2 {
			require.ErrorIs(t, err, memory.ErrNotFound, "forgotten before the backup")
			continue
		}
		require.NoError(t, err)
		if i == 1 {
			require.Equal(t, ids[0], b.Customer, "the merge is in the backup")
			continue
		}
		require.Equal(t, id, b.Customer)
		v, _ := b.Fact("size")
		require.Equal(t, "M", v)
		d, err := dst.LoadDraft(ctx, id, "cart")
		require.NoError(t, err)
		want := fmt.Sprint("cart ", i)
		if i == 0 {
			want = "cart 1" // the newest of the merged customers' carts
		}
		require.Equal(t, want, string(d.Data))
	}

	// Only into an empty store, only backups.
	used := t.TempDir()
	busy, err := memory.Open(ctx, memory.DefaultOptions(used))
	require.NoError(t, err)
	require.NoError(t, busy.Close())
	_, err = memory.Restore(ctx, memory.DefaultOptions(used), bytes.NewReader(backup.Bytes()), bytes.NewReader(keys.Bytes()))
	require.ErrorIs(t, err, memory.ErrInvalidInput)
	_, err = memory.Restore(ctx, memory.InMemoryOptions(), bytes.NewReader([]byte("not a backup at all")), bytes.NewReader(keys.Bytes()))
	require.ErrorIs(t, err, memory.ErrInvalidInput)
	_, err = memory.Restore(ctx, memory.InMemoryOptions(), bytes.NewReader(keys.Bytes()), bytes.NewReader(backup.Bytes()))
	require.ErrorIs(t, err, memory.ErrInvalidInput, "swapped")
	_, err = memory.Restore(ctx, memory.InMemoryOptions(), bytes.NewReader(backup.Bytes()), nil)
	require.ErrorIs(t, err, memory.ErrInvalidInput)
	newer := append([]byte(nil), backup.Bytes()...)
	newer[len("herken backup\x00")]++
	_, err = memory.Restore(ctx, memory.InMemoryOptions(), bytes.NewReader(newer), bytes.NewReader(keys.Bytes()))
	require.ErrorIs(t, err, memory.ErrFormat)
}

// TestRestoreNeverBringsBackAForgottenCustomer: a customer forgotten after
// the data backup but before the keys backup is gone from the restore.
func TestRestoreNeverBringsBackAForgottenCustomer(t *testing.T) {
	ctx := context.Background()
	src, err := memory.Open(ctx, memory.InMemoryOptions())
	require.NoError(t, err)
	defer src.Close()
	ada := recognize(t, src, memory.Email("ada@example.com")).Customer
	bob := recognize(t, src, memory.Email("bob@example.com")).Customer
	require.NoError(t, src.Remember(ctx, ada, memory.Fact{Key: "secret", Value: "Ada's secret"}))

	var data1, keys1 bytes.Buffer
	require.NoError(t, src.Backup(ctx, &data1, &keys1))
	_, err = src.Forget(ctx, ada)
	require.NoError(t, err)
	var data2, keys2 bytes.Buffer
	require.NoError(t, src.Backup(ctx, &data2, &keys2))
	require.NotContains(t, data1.String(), "Ada's secret", "sealed in the backup")

	// The old data with the newer keys: Ada's data no longer opens.
	dst, err := memory.Restore(ctx, memory.InMemoryOptions(), bytes.NewReader(data1.Bytes()), bytes.NewReader(keys2.Bytes()))
	require.NoError(t, err)
	defer dst.Close()
	require.NoError(t, dst.Check(ctx))
	_, err = dst.Lookup(ctx, memory.Email("ada@example.com"))
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = dst.Brief(ctx, ada, memory.BriefQuery{})
	require.ErrorIs(t, err, memory.ErrNotFound)
	id, err := dst.Lookup(ctx, memory.Email("bob@example.com"))
	require.NoError(t, err)
	require.Equal(t, bob, id)
}
