//go:build !wasip1

package kv

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func open(t *testing.T) *Badger {
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

// A backup is one moment of the database: a transaction that wrote two keys
// far apart in the key space is in it whole or not at all, even while
// writes go on (Badger's own Stream gives each worker its own moment).
func TestBackupIsOneMoment(t *testing.T) {
	db, err := Open(Options{Dir: t.TempDir(), MemTableSize: 8 << 20})
	require.NoError(t, err)
	defer db.Close()
	const pairs = 2000
	pad := bytes.Repeat([]byte("x"), 512)
	write := func(i, n int) error {
		tx := db.Begin(true)
		defer tx.Discard()
		v := append(binary.BigEndian.AppendUint64(nil, uint64(n)), pad...)
		for _, side := range []string{"a", "z"} {
			if err := tx.Set(fmt.Appendf(nil, "%s/%04d", side, i), v); err != nil {
				return err
			}
		}
		return tx.Commit()
	}
	for i := range pairs {
		require.NoError(t, write(i, 0))
	}
	require.NoError(t, db.Durable())

	stop := make(chan struct{})
	done := make(chan error)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			n++
			if err := write(n%pairs, n); err != nil && !errors.Is(err, ErrConflict) {
				done <- err
				return
			}
		}
	}()
	defer func() {
		close(stop)
		require.NoError(t, <-done)
	}()
	for range 4 {
		var buf bytes.Buffer
		require.NoError(t, db.Backup(&buf, func([]byte) bool { return true }))
		restored := open(t)
		require.NoError(t, restored.Load(&buf))
		tx := restored.Begin(false)
		got := map[string][]byte{}
		require.NoError(t, tx.Scan(nil, false, func(k, v []byte) error {
			got[string(k)] = bytes.Clone(v[:8])
			return nil
		}))
		tx.Discard()
		require.Len(t, got, 2*pairs)
		for i := range pairs {
			a, z := got[fmt.Sprintf("a/%04d", i)], got[fmt.Sprintf("z/%04d", i)]
			require.Equal(t, a, z, "pair %d is torn: the backup saw part of a transaction", i)
		}
		restored.Close()
	}
}
