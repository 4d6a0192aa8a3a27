//go:build !wasip1

package kv

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/stretchr/testify/require"
)

// crashed returns a database directory holding k=v and, as a crash between
// creating a log and sizing it leaves, an empty log with the next number
// after the existing ones of its kind (ext ".mem" or ".vlog").
func crashed(t *testing.T, ext string) string {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir, SyncWrites: true})
	require.NoError(t, err)
	tx := db.Begin(true)
	require.NoError(t, tx.Set([]byte("k"), []byte("v")))
	require.NoError(t, tx.Commit())
	tx.Discard()
	require.NoError(t, db.Durable())
	require.NoError(t, db.Close())

	next := 1
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		if num, ok := strings.CutSuffix(e.Name(), ext); ok {
			if n, err := strconv.Atoi(num); err == nil && n >= next {
				next = n + 1
			}
		}
	}
	width := map[string]int{".mem": 5, ".vlog": 6}[ext] // as Badger names them
	require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%0*d%s", width, next, ext)), nil, 0o644))
	return dir
}

// An empty log left by a crash makes Badger's first Open fail
// (dgraph-io/badger#2207); Open repairs it and opens the first time, with
// what was committed before, and says so at Warn.
func TestOpenRepairsAnEmptyLogACrashLeft(t *testing.T) {
	for _, ext := range []string{".mem", ".vlog"} {
		t.Run(ext, func(t *testing.T) {
			// The condition is real: Badger alone fails to open it. When
			// this fails, Badger has fixed the bug and repair can go.
			_, err := badger.Open(badger.DefaultOptions(crashed(t, ext)).WithLogger(nil))
			require.ErrorContains(t, err, "Create a new file")

			dir := crashed(t, ext)
			var logs bytes.Buffer
			db, err := Open(Options{Dir: dir, SyncWrites: true,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			require.NoError(t, err, "the first Open after the crash")
			defer db.Close()
			tx := db.Begin(false)
			defer tx.Discard()
			require.NoError(t, tx.Get([]byte("k"), func(v []byte) error {
				require.Equal(t, "v", string(v))
				return nil
			}))
			require.Contains(t, logs.String(), "level=WARN")
			require.Contains(t, logs.String(), "removed an empty log")
			require.Contains(t, logs.String(), ext)
		})
	}
}

// Repair never removes a log that a process holding the database open may
// be creating: it needs the directory's lock, as Badger does.
func TestRepairLeavesALockedDirectory(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "aix" {
		t.Skip("Badger does not lock the directory by flock here: repair_other.go")
	}
	dir := t.TempDir()
	db, err := Open(Options{Dir: dir, SyncWrites: true})
	require.NoError(t, err)
	defer db.Close()
	making := filepath.Join(dir, "00099.mem")
	require.NoError(t, os.WriteFile(making, nil, 0o644))
	require.NoError(t, repair(Options{Dir: dir}))
	require.FileExists(t, making)
}
