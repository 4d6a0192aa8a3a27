//go:build !wasip1 && unix

package pgkv_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/kv"
	"github.com/herken/herken/memory/internal/pgkv"
	"github.com/herken/herken/memory/pgtest"
)

func open(t *testing.T) *pgkv.DB {
	t.Helper()
	pgtest.Require(t, pgtest.PostgreSQL)
	srv := pgtest.NewServer(t)
	d, err := pgkv.Open(context.Background(), pgkv.Options{DSN: srv.NewDatabase(t)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, d.Close()) })
	return d
}

func get(t *testing.T, tx kv.Txn, key string) (string, bool) {
	t.Helper()
	var v string
	err := tx.Get([]byte(key), func(b []byte) error { v = string(b); return nil })
	if errors.Is(err, kv.ErrNotFound) {
		return "", false
	}
	require.NoError(t, err)
	return v, true
}

// TestPrefetchChangesNoAnswer reads keys named by Prefetch, some absent,
// some written or deleted by the transaction before and after they were
// read ahead: every answer is the one a Get without Prefetch gives.
func TestPrefetchChangesNoAnswer(t *testing.T) {
	d := open(t)
	w := d.Begin(true)
	for _, k := range []string{"a", "b", "c"} {
		require.NoError(t, w.Set([]byte(k), []byte(k+"0")))
	}
	require.NoError(t, w.Commit()) // writes only: BEGIN goes with them
	w.Discard()

	tx := d.Begin(true)
	defer tx.Discard()
	tx.Prefetch([]byte("a"), []byte("b"), []byte("c"), []byte("x"), []byte("a"))
	require.NoError(t, tx.Set([]byte("b"), []byte("b1"))) // before the read ahead
	v, ok := get(t, tx, "a")                              // reads a, c, x together
	require.True(t, ok)
	require.Equal(t, "a0", v)
	v, _ = get(t, tx, "b")
	require.Equal(t, "b1", v, "the transaction's own write")
	require.NoError(t, tx.Delete([]byte("c"))) // after the read ahead
	_, ok = get(t, tx, "c")
	require.False(t, ok, "deleted by the transaction")
	_, ok = get(t, tx, "x")
	require.False(t, ok)
	has, err := tx.Has([]byte("x"))
	require.NoError(t, err)
	require.False(t, has)
	require.NoError(t, tx.Set([]byte("x"), []byte("x1")))
	v, ok = get(t, tx, "x")
	require.True(t, ok, "written after it was read ahead as absent")
	require.Equal(t, "x1", v)
	require.NoError(t, tx.Commit())

	r := d.Begin(false)
	defer r.Discard()
	r.Prefetch([]byte("a"), []byte("b"), []byte("c"), []byte("x"))
	for k, want := range map[string]string{"a": "a0", "b": "b1", "x": "x1"} {
		v, ok := get(t, r, k)
		require.True(t, ok, k)
		require.Equal(t, want, v, k)
	}
	_, ok = get(t, r, "c")
	require.False(t, ok)
}

// TestPrefetchedReadsConflict: a read served from what Prefetch read is a
// read of the transaction, so a concurrent write of the key makes its
// commit fail, as without Prefetch.
func TestPrefetchedReadsConflict(t *testing.T) {
	d := open(t)
	w := d.Begin(true)
	require.NoError(t, w.Set([]byte("k"), []byte("0")))
	require.NoError(t, w.Set([]byte("other"), []byte("0")))
	require.NoError(t, w.Commit())
	w.Discard()

	a := d.Begin(true)
	defer a.Discard()
	a.Prefetch([]byte("k"), []byte("other"))
	_, ok := get(t, a, "other")
	require.True(t, ok)
	_, ok = get(t, a, "k") // served from the read ahead
	require.True(t, ok)

	b := d.Begin(true)
	_, _ = get(t, b, "other")
	require.NoError(t, b.Set([]byte("k"), []byte("b")))
	require.NoError(t, b.Commit())
	b.Discard()

	require.NoError(t, a.Set([]byte("other"), []byte("a")))
	require.ErrorIs(t, a.Commit(), kv.ErrConflict)
}
