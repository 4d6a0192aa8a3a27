//go:build !wasip1

package kv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Durable on an on-disk database syncs the memtable logs it holds and finds
// by number; if the newest went away with none after it, because Badger
// named, numbered or placed its logs otherwise, it would sync nothing and
// acknowledge writes a power cut loses. It must fail instead.
func TestDurableFailsWhenItFindsNoLog(t *testing.T) {
	_, err := openLogs(t.TempDir())
	require.ErrorIs(t, err, errNoLog)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00001.mem"), []byte("x"), 0o600))
	l, err := openLogs(dir)
	require.NoError(t, err)
	defer l.close()
	require.NoError(t, l.sync())
	require.NoError(t, os.Remove(filepath.Join(dir, "00001.mem")))
	require.ErrorIs(t, l.sync(), errNoLog)
	// A successor takes its place: the rounds go on with it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00002.mem"), []byte("y"), 0o600))
	require.NoError(t, l.sync())
	require.Len(t, l.held, 1)
	require.Equal(t, filepath.Join(dir, "00002.mem"), l.held[0].Name())
}

// Durable follows the memtable logs as they rotate: it holds the newest,
// and lets go of the ones before it once synced.
func TestDurableFollowsRotatedLogs(t *testing.T) {
	db, err := Open(Options{Dir: t.TempDir(), SyncWrites: true, MemTableSize: 8 << 20})
	require.NoError(t, err)
	val := make([]byte, 200<<10)
	for i := range 128 {
		tx := db.Begin(true)
		require.NoError(t, tx.Set([]byte{'k', byte(i)}, val))
		require.NoError(t, tx.Commit())
		require.NoError(t, db.Durable())
		require.Len(t, db.logs.held, 1)
	}
	require.Greater(t, db.logs.next, 2, "the memtables rotated")
	mems, err := filepath.Glob(filepath.Join(db.opts.Dir, "*.mem"))
	require.NoError(t, err)
	require.Contains(t, mems, db.logs.held[0].Name(), "the log held is one in the directory")
	require.NoError(t, db.Close())
	require.ErrorIs(t, db.Durable(), ErrClosed)
}
