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
	var backup bytes.Buffer
	require.NoError(t, src.Backup(ctx, &backup))
	stop.Store(true)
	wg.Wait()
	t.Logf("backup: %d bytes; %d writes ran during it", backup.Len(), during.Load())

	dst, err := memory.Open(ctx, memory.DefaultOptions(t.TempDir()))
	require.NoError(t, err)
	defer dst.Close()
	require.NoError(t, dst.Restore(ctx, bytes.NewReader(backup.Bytes())))
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
	require.ErrorIs(t, dst.Restore(ctx, bytes.NewReader(backup.Bytes())), memory.ErrInvalidInput)
	empty, err := memory.Open(ctx, memory.InMemoryOptions())
	require.NoError(t, err)
	defer empty.Close()
	require.ErrorIs(t, empty.Restore(ctx, bytes.NewReader([]byte("not a backup at all"))), memory.ErrInvalidInput)
	newer := append([]byte(nil), backup.Bytes()...)
	newer[len("herken backup\x00")]++
	require.ErrorIs(t, empty.Restore(ctx, bytes.NewReader(newer)), memory.ErrFormat)
}
