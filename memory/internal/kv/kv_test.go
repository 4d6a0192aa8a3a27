package kv

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func open(t *testing.T) *DB {
	t.Helper()
	db, err := Open(Options{InMemory: true})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestGetSetScanDelete(t *testing.T) {
	db := open(t)
	tx := db.Begin(true)
	for _, k := range []string{"a/1", "a/2", "b/1"} {
		require.NoError(t, tx.Set([]byte(k), []byte("v"+k)))
	}
	require.NoError(t, tx.Commit())
	tx.Discard()

	tx = db.Begin(false)
	defer tx.Discard()
	var got []string
	require.NoError(t, tx.Scan([]byte("a/"), false, func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	}))
	require.Equal(t, []string{"a/1=va/1", "a/2=va/2"}, got)
	require.ErrorIs(t, tx.Get([]byte("nope"), func([]byte) error { return nil }), ErrNotFound)
	ok, err := tx.Has([]byte("b/1"))
	require.NoError(t, err)
	require.True(t, ok)

	require.NoError(t, db.DeletePrefixes([]byte("a/")))
	tx2 := db.Begin(false)
	defer tx2.Discard()
	ok, err = tx2.Has([]byte("a/1"))
	require.NoError(t, err)
	require.False(t, ok)
}

func TestConflictIsTranslated(t *testing.T) {
	db := open(t)
	t1, t2 := db.Begin(true), db.Begin(true)
	defer t1.Discard()
	defer t2.Discard()
	_, _ = t1.Has([]byte("k"))
	_, _ = t2.Has([]byte("k"))
	require.NoError(t, t1.Set([]byte("k"), []byte("1")))
	require.NoError(t, t2.Set([]byte("k"), []byte("2")))
	require.NoError(t, t1.Commit())
	require.ErrorIs(t, t2.Commit(), ErrConflict)
}

func TestClosed(t *testing.T) {
	db, err := Open(Options{InMemory: true})
	require.NoError(t, err)
	require.NoError(t, db.Close())
	err = db.DeletePrefixes([]byte("a"))
	require.True(t, errors.Is(err, ErrClosed), "%v", err)
}
