//go:build !wasip1

package memory_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestDataSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := memory.Open(ctx, memory.DefaultOptions(dir))
	require.NoError(t, err)
	r, err := s.Recognize(ctx, memory.Email("ada@example.com"))
	require.NoError(t, err)
	require.NoError(t, s.Remember(ctx, r.Customer, memory.Fact{Key: "size", Value: "M"}))
	require.NoError(t, s.SaveDraft(ctx, r.Customer, "cart", []byte("cart")))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")

	s, err = memory.Open(ctx, memory.DefaultOptions(dir))
	require.NoError(t, err)
	defer s.Close()
	b, err := s.BriefFor(ctx, memory.Email("ADA@example.com"), memory.BriefQuery{})
	require.NoError(t, err)
	require.Equal(t, r.Customer, b.Customer)
	v, _ := b.Fact("size")
	require.Equal(t, "M", v)
	d, err := s.LoadDraft(ctx, r.Customer, "cart")
	require.NoError(t, err)
	require.Equal(t, "cart", string(d.Data))
	require.NoError(t, s.Check(ctx))
}

func TestClosedStore(t *testing.T) {
	ctx := context.Background()
	s, err := memory.Open(ctx, memory.InMemoryOptions())
	require.NoError(t, err)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	brief(t, s, id) // cached
	w, err := s.Watch(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	_, err = s.Recognize(ctx, memory.Email("ada@example.com"))
	require.ErrorIs(t, err, memory.ErrClosed)
	_, err = s.Brief(ctx, id, memory.BriefQuery{})
	require.ErrorIs(t, err, memory.ErrClosed)
	_, err = s.BriefFor(ctx, memory.Email("ada@example.com"), memory.BriefQuery{})
	require.ErrorIs(t, err, memory.ErrClosed)
	require.ErrorIs(t, s.SetName(ctx, id, "x"), memory.ErrClosed)
	_, err = w.Next(ctx)
	require.ErrorIs(t, err, memory.ErrClosed)
	_, err = s.Watch(ctx)
	require.ErrorIs(t, err, memory.ErrClosed)
}

func TestOptionsAreChecked(t *testing.T) {
	ctx := context.Background()
	for name, o := range map[string]memory.Options{
		"no dir":        memory.DefaultOptions(""),
		"bad region":    memory.InMemoryOptions().WithDefaultRegion("XX"),
		"zero window":   memory.InMemoryOptions().WithAtRiskWindow(0),
		"negative size": memory.InMemoryOptions().WithCacheSize(-1),
		"tiny drafts":   memory.InMemoryOptions().WithLimits(memory.Limits{Identifiers: 1}),
	} {
		_, err := memory.Open(ctx, o)
		require.ErrorIs(t, err, memory.ErrInvalidInput, name)
	}
	s, err := memory.Open(ctx, memory.InMemoryOptions().WithCacheSize(0).WithLogger(slog.New(slog.DiscardHandler)).WithSyncWrites(false))
	require.NoError(t, err)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	require.Equal(t, id, brief(t, s, id).Customer, "works without a cache")
	require.NoError(t, s.Close())
}

func TestBadCustomerIDs(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	for _, id := range []memory.CustomerID{"", "x", "../../etc/passwd", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"} {
		_, err := s.Brief(ctx, id, memory.BriefQuery{})
		require.ErrorIs(t, err, memory.ErrInvalidInput, id)
		require.ErrorIs(t, s.SetName(ctx, id, "x"), memory.ErrInvalidInput)
	}
	_, err := s.Brief(ctx, "aaaaaaaaaaaaaaaaaaaaaaaaaa", memory.BriefQuery{})
	require.ErrorIs(t, err, memory.ErrNotFound)
	require.ErrorIs(t, s.SetName(ctx, "aaaaaaaaaaaaaaaaaaaaaaaaaa", "x"), memory.ErrNotFound)
}

func TestCacheStaysCorrectAfterWrites(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	for i := range 20 {
		v := string(rune('a' + i))
		require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: "k", Value: v}))
		b, err := s.BriefFor(ctx, memory.Email("ada@example.com"), memory.BriefQuery{})
		require.NoError(t, err)
		got, _ := b.Fact("k")
		require.Equal(t, v, got, "a brief after a write sees the write")
	}
}

// TestCompact forgets half of the customers and overwrites the others'
// facts, then compacts: the space the forgotten customers and the old
// values took is given back, every receipt says their data is gone, and
// everyone else is as they were.
func TestCompact(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := memory.DefaultOptions(dir).WithSyncWrites(false)
	s, err := memory.Open(ctx, opts)
	require.NoError(t, err)
	var kept []memory.CustomerID
	for i := range 60 {
		r := recognize(t, s, memory.Email(fmt.Sprintf("c%d@example.com", i)))
		for v := range 5 {
			require.NoError(t, s.Remember(ctx, r.Customer, memory.Fact{Key: "k", Value: strings.Repeat(fmt.Sprint(v), 2000)}))
		}
		if i%2 == 0 {
			_, err := s.Forget(ctx, r.Customer)
			require.NoError(t, err)
		} else {
			kept = append(kept, r.Customer)
		}
	}
	// Out of the memory tables, into the files.
	require.NoError(t, s.Close())
	before := tableBytes(t, dir)
	s, err = memory.Open(ctx, opts)
	require.NoError(t, err)
	defer s.Close()

	require.NoError(t, s.Compact(ctx))
	after := tableBytes(t, dir)
	t.Logf("tables: %d bytes before Compact, %d after", before, after)
	require.Less(t, after, before/2, "the forgotten customers and the replaced values leave the files")
	require.NoError(t, s.Check(ctx))
	rs, err := s.Receipts(ctx)
	require.NoError(t, err)
	require.Len(t, rs, 30)
	for _, r := range rs {
		require.False(t, r.Purged.IsZero(), "receipt %s", r.ID)
	}
	for _, id := range kept {
		got, _ := brief(t, s, id).Fact("k")
		require.Equal(t, strings.Repeat("4", 2000), got)
	}
	_, err = s.Lookup(ctx, memory.Email("c0@example.com"))
	require.ErrorIs(t, err, memory.ErrNotFound)
	require.NoError(t, s.Close())
	require.ErrorIs(t, s.Compact(ctx), memory.ErrClosed)
}

// tableBytes returns the bytes of the store's table files in dir.
func tableBytes(t *testing.T, dir string) int64 {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	require.NoError(t, err)
	var n int64
	for _, name := range names {
		fi, err := os.Stat(name)
		require.NoError(t, err)
		n += fi.Size()
	}
	return n
}
