//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keyfile"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// rawContents returns every key and value the database in dir holds,
// opened with the engine alone.
func rawContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	db, err := kv.Open(kv.Options{Dir: dir})
	require.NoError(t, err)
	defer db.Close()
	out := map[string]string{}
	txn := db.Begin(false)
	defer txn.Discard()
	require.NoError(t, txn.Scan(nil, false, func(k, v []byte) error {
		out[string(k)] = string(v)
		return nil
	}))
	return out
}

// rawSet writes key and value into the database in dir with the engine
// alone.
func rawSet(t *testing.T, dir string, kvs ...[]byte) {
	t.Helper()
	db, err := kv.Open(kv.Options{Dir: dir})
	require.NoError(t, err)
	defer db.Close()
	txn := db.Begin(true)
	defer txn.Discard()
	for i := 0; i < len(kvs); i += 2 {
		require.NoError(t, txn.Set(kvs[i], kvs[i+1]))
	}
	require.NoError(t, txn.Commit())
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := codec.Marshal(v)
	require.NoError(t, err)
	return b
}

// newStoreDir makes a store with one customer and closes it.
func newStoreDir(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, DefaultOptions(dir))
	require.NoError(t, err)
	_, err = s.Recognize(ctx, Email("ada@example.com"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	return dir
}

// dirContents returns the name and bytes of every file in dir.
func dirContents(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = string(b)
	}
	return out
}

// setFormatFile writes the format file of dir.
func setFormatFile(t *testing.T, dir, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, formatFileName), []byte(text), 0o644))
}

// TestUnreadableLayoutsAreRefused opens directories whose layout this build
// cannot read: newer ones, unknown ones, and the one from before values
// were sealed. Each fails with ErrFormat that says which, and nothing is
// written to it: not a file of the directory changes where the format file
// or a look at the data opened to read only tells (untouched), and not a
// key of the data where only the store's own manifest does. (They opened as
// empty stores, and the next Recognize wrote a duplicate customer over the
// data.)
func TestUnreadableLayoutsAreRefused(t *testing.T) {
	for _, c := range []struct {
		name      string
		make      func(t *testing.T) string
		want      string
		untouched bool
	}{
		{"newer format file", func(t *testing.T) string {
			dir := newStoreDir(t)
			setFormatFile(t, dir, fmt.Sprintf("herken store\nformat %d\nlayout future\nkeyhash future\n", storeFormat+1))
			return dir
		}, fmt.Sprintf("written by store format %d, newer than this build reads (%d)", storeFormat+1, storeFormat), true},
		{"unknown layout in the format file", func(t *testing.T) string {
			dir := newStoreDir(t)
			setFormatFile(t, dir, fmt.Sprintf("herken store\nformat %d\nlayout rows\nkeyhash %s\n", storeFormat, keyHashName))
			return dir
		}, `unknown layout "rows"`, true},
		{"a format file that does not read", func(t *testing.T) string {
			dir := newStoreDir(t)
			setFormatFile(t, dir, "what is this\n")
			return dir
		}, "herken.format does not read", true},
		{"before values were sealed", func(t *testing.T) string {
			dir := t.TempDir()
			require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "unreadable", "before-sealing", "store"))))
			return dir
		}, "from before values were sealed", true},
		{"data without a format", func(t *testing.T) string {
			dir := t.TempDir()
			rawSet(t, dir, []byte("c/somebody/p"), []byte("not ours"))
			return dir
		}, "data without a store format", true},
		{"newer manifest", func(t *testing.T) string {
			dir := newStoreDir(t)
			rawSet(t, dir, keys.Manifest, marshal(t, manifest{Format: storeFormat + 1, Layout: "future", KeyHash: "future"}),
				keys.Format, marshal(t, storeFormat+1))
			return dir
		}, fmt.Sprintf("written by store format %d, newer than this build reads (%d)", storeFormat+1, storeFormat), false},
		{"newer format key", func(t *testing.T) string {
			dir := newStoreDir(t)
			rawSet(t, dir, keys.Format, marshal(t, storeFormat+1))
			return dir
		}, fmt.Sprintf("store format %d, newer", storeFormat+1), false},
		{"manifest of a newer encoding", func(t *testing.T) string {
			dir := newStoreDir(t)
			b := marshal(t, manifest{Format: storeFormat, Layout: layoutName, KeyHash: keyHashName})
			b[0] = codec.Version + 1
			rawSet(t, dir, keys.Manifest, b)
			return dir
		}, "manifest was written by a newer release", false},
		{"unknown layout", func(t *testing.T) string {
			dir := newStoreDir(t)
			rawSet(t, dir, keys.Manifest, marshal(t, manifest{Format: storeFormat, Layout: "rows", KeyHash: keyHashName}))
			return dir
		}, `unknown layout "rows"`, false},
		{"unknown key hash", func(t *testing.T) string {
			dir := newStoreDir(t)
			rawSet(t, dir, keys.Manifest, marshal(t, manifest{Format: storeFormat, Layout: layoutName, KeyHash: "md5"}))
			return dir
		}, `key hash "md5"`, false},
		{"manifest and format disagree", func(t *testing.T) string {
			dir := newStoreDir(t)
			rawSet(t, dir, keys.Format, marshal(t, 1))
			return dir
		}, fmt.Sprintf("the manifest says store format %d and the format key 1", storeFormat), false},
		{"the key file lost", func(t *testing.T) string {
			dir := newStoreDir(t)
			require.NoError(t, os.Remove(filepath.Join(dir, keyFileName)))
			return dir
		}, "the key file", false},
		{"the key file without the identifier secret", func(t *testing.T) string {
			dir := newStoreDir(t)
			path := filepath.Join(dir, keyFileName)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			found := false
			for at := keyfile.SlotSize; at+keyfile.SlotSize <= len(b); at += keyfile.SlotSize {
				if b[at] == 4 { // the secret's slot (internal/keyfile)
					clear(b[at : at+keyfile.SlotSize])
					found = true
				}
			}
			require.True(t, found)
			require.NoError(t, os.WriteFile(path, b, 0o600))
			return dir
		}, "holds no identifier secret", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := c.make(t)
			files, data := dirContents(t, dir), rawContents(t, dir)
			if c.untouched {
				files = dirContents(t, dir) // as rawContents left them
			}
			for range 2 {
				_, err := Open(context.Background(), DefaultOptions(dir))
				require.ErrorIs(t, err, ErrFormat)
				require.Contains(t, err.Error(), c.want)
			}
			if c.untouched {
				require.Equal(t, files, dirContents(t, dir), "no file of a refused store changes")
			}
			require.Equal(t, data, rawContents(t, dir), "a refused store is left as it was")
		})
	}
}

// TestNewStoreRecordsItsLayout checks what a new store writes: a manifest,
// and the format number alone under m/format, which the release before
// manifests reads and refuses because it is newer than its own (1).
func TestNewStoreRecordsItsLayout(t *testing.T) {
	dir := newStoreDir(t)
	raw := rawContents(t, dir)
	var m manifest
	require.NoError(t, codec.Unmarshal([]byte(raw[string(keys.Manifest)]), &m))
	require.Equal(t, manifest{Format: storeFormat, Layout: layoutName, KeyHash: keyHashName}, m)
	var v int
	require.NoError(t, codec.Unmarshal([]byte(raw[string(keys.Format)]), &v))
	require.Equal(t, storeFormat, v)
	require.Greater(t, v, 1)
	b, err := os.ReadFile(filepath.Join(dir, formatFileName))
	require.NoError(t, err)
	require.Equal(t, fmt.Sprintf("herken store\nformat %d\nlayout customers-sealed\nkeyhash hmac-sha256-160\n", storeFormat), string(b))
}

// TestOlderFormatIsMigratedAndLogged opens the golden store of format 1:
// Open migrates it, says so in the log, and the next Open has nothing to
// migrate.
func TestOlderFormatIsMigratedAndLogged(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "golden", "v1", "store"))))
	var oldKeys [][]byte // format 1 kept them in the engine
	for k, v := range rawContents(t, dir) {
		if strings.HasPrefix(k, string(keys.CustomerKeys)) {
			oldKeys = append(oldKeys, []byte(v[1:]))
		}
	}
	require.NotEmpty(t, oldKeys)
	var log bytes.Buffer
	opts := DefaultOptions(dir).WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo})))
	s, err := Open(ctx, opts)
	require.NoError(t, err)
	require.NoError(t, s.Check(ctx))
	require.NoError(t, s.Close())
	for _, k := range oldKeys {
		require.False(t, filesContain(t, dir, k), "a key of format 1 is left in the engine's files")
	}
	b, err := os.ReadFile(filepath.Join(dir, formatFileName))
	require.NoError(t, err, "the migration writes the format file")
	require.Equal(t, string(formatFile(storeFormat)), string(b))
	require.Contains(t, log.String(), "memory: migrating the store")
	require.Contains(t, log.String(), "from=1 to=2")
	require.Contains(t, log.String(), "memory: store migrated")

	log.Reset()
	s, err = Open(ctx, opts)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NotContains(t, log.String(), "migrat")
}

// TestMigrationIndexesExpiries opens a store of format 1 whose customer has
// a fact that expired since: the migration indexes it, and the store erases
// the value from the history on its own.
func TestMigrationIndexesExpiries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "migrate", "v1-expiring", "store"))))
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	s, err := Open(ctx, DefaultOptions(dir).WithClock(func() time.Time { return now }))
	require.NoError(t, err)
	defer s.Close()
	id, err := s.Lookup(ctx, Email("ada@example.com"))
	require.NoError(t, err)
	// Open finished what was due: the value is erased in the history.
	txn := s.db.Begin(false)
	events, err := s.readHistory(txn, s.epoch.Now(), id)
	txn.Discard()
	require.NoError(t, err)
	kinds := map[EventKind]int{}
	for _, e := range events {
		kinds[e.Kind]++
		if e.Kind == EventFactRemembered && e.Fact.Key == "shipping.street" {
			require.Empty(t, e.Fact.Value)
			require.Equal(t, now, e.Erased.UTC())
		}
	}
	require.Equal(t, 1, kinds[EventFactExpired])
	b, err := s.Brief(ctx, id, BriefQuery{})
	require.NoError(t, err)
	got, _ := b.Fact("size")
	require.Equal(t, "M", got)
	require.NoError(t, s.Check(ctx))
}
