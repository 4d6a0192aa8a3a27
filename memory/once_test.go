//go:build !wasip1

package memory_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestUseOnce(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := memory.Open(ctx, memory.DefaultOptions(dir))
	require.NoError(t, err)
	require.NoError(t, s.UseOnce(ctx, "nonce-1", time.Hour))
	require.ErrorIs(t, s.UseOnce(ctx, "nonce-1", time.Hour), memory.ErrUsed)
	require.NoError(t, s.UseOnce(ctx, "nonce-2", time.Hour), "another nonce is another record")

	for name, bad := range map[string]func() error{
		"empty":           func() error { return s.UseOnce(ctx, "", time.Hour) },
		"too long":        func() error { return s.UseOnce(ctx, strings.Repeat("n", 257), time.Hour) },
		"no time":         func() error { return s.UseOnce(ctx, "nonce-3", 0) },
		"negative":        func() error { return s.UseOnce(ctx, "nonce-3", -time.Second) },
		"too long a time": func() error { return s.UseOnce(ctx, "nonce-3", memory.MaxOnceLifetime+time.Second) },
	} {
		require.ErrorIs(t, bad(), memory.ErrInvalidInput, name)
	}
	require.NoError(t, s.UseOnce(ctx, "nonce-3", time.Hour), "the refused calls recorded nothing")

	// A use survives a restart.
	require.NoError(t, s.Close())
	s, err = memory.Open(ctx, memory.DefaultOptions(dir))
	require.NoError(t, err)
	defer s.Close()
	require.ErrorIs(t, s.UseOnce(ctx, "nonce-1", time.Hour), memory.ErrUsed)
	require.NoError(t, s.Check(ctx))
}

// TestUseOnceConcurrently uses one nonce from many goroutines at once:
// exactly one use succeeds, whatever the interleaving.
func TestUseOnceConcurrently(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	for round := range 20 {
		nonce := "nonce-" + strings.Repeat("r", round+1)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, used := 0, 0
		for range 8 {
			wg.Go(func() {
				err := s.UseOnce(ctx, nonce, time.Minute)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, memory.ErrUsed):
					used++
				default:
					t.Errorf("use: %v", err)
				}
			})
		}
		wg.Wait()
		require.Equal(t, 1, ok, "round %d", round)
		require.Equal(t, 7, used, "round %d", round)
	}
}

// TestUseOnceExpires records a nonce for a second and waits until it can
// be used again: the record is dropped once its time has passed.
func TestUseOnceExpires(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	require.NoError(t, s.UseOnce(ctx, "short", time.Second))
	require.ErrorIs(t, s.UseOnce(ctx, "short", time.Second), memory.ErrUsed)
	require.Eventually(t, func() bool { return s.UseOnce(ctx, "short", time.Second) == nil }, time.Minute, 50*time.Millisecond)
}
