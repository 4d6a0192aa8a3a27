//go:build !wasip1

package kv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// Durable on an on-disk database syncs files it finds by name; if it found
// none, because Badger named or placed its logs otherwise, it would sync
// nothing and acknowledge writes a power cut loses. It must fail instead.
func TestDurableFailsWhenItFindsNoLog(t *testing.T) {
	db, err := Open(Options{Dir: t.TempDir(), SyncWrites: true})
	require.NoError(t, err)
	defer db.Close()
	tx := db.Begin(true)
	require.NoError(t, tx.Set([]byte("k"), []byte("v")))
	require.NoError(t, tx.Commit())
	require.NoError(t, db.Durable())

	dir := db.opts.Dir
	db.opts.Dir = t.TempDir() // a directory with no logs in it
	require.NoError(t, os.WriteFile(filepath.Join(db.opts.Dir, "000001.sst"), nil, 0o600))
	require.ErrorIs(t, db.Durable(), errNoLog)
	db.opts.Dir = dir
	require.NoError(t, db.Durable())
}
