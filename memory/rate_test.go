//go:build !wasip1

package memory_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestAllowTakesFromABucket(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	for range 3 {
		ok, wait, err := s.Allow(ctx, "device-1", time.Hour, 3)
		require.NoError(t, err)
		require.True(t, ok)
		require.Zero(t, wait)
	}
	ok, wait, err := s.Allow(ctx, "device-1", time.Hour, 3)
	require.NoError(t, err)
	require.False(t, ok, "the fourth within the hour")
	require.Greater(t, wait, 50*time.Minute)
	require.LessOrEqual(t, wait, time.Hour)
	// Another key has a bucket of its own.
	ok, _, err = s.Allow(ctx, "device-2", time.Hour, 3)
	require.NoError(t, err)
	require.True(t, ok)

	for _, bad := range []struct {
		key   string
		every time.Duration
		burst int
	}{
		{"", time.Second, 1},
		{strings.Repeat("k", memory.MaxRateKey+1), time.Second, 1},
		{"k", 0, 1},
		{"k", -time.Second, 1},
		{"k", 48 * time.Hour, 1},
		{"k", time.Second, 0},
		{"k", time.Second, 1 << 21},
	} {
		_, _, err := s.Allow(ctx, bad.key, bad.every, bad.burst)
		require.ErrorIs(t, err, memory.ErrInvalidInput, "%q %v %d", bad.key, bad.every, bad.burst)
	}
}
