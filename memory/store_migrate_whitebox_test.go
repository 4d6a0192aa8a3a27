//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// goldenCopy copies the store of golden set name into a new directory.
func goldenCopy(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "golden", name, "store"))))
	return dir
}

// goldenCustomers returns the customers that golden set name holds.
func goldenCustomers(t *testing.T, name string) []CustomerID {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "golden", name, "expected.json"))
	require.NoError(t, err)
	var want struct {
		Customers map[CustomerID]json.RawMessage `json:"customers"`
	}
	require.NoError(t, json.Unmarshal(raw, &want))
	var ids []CustomerID
	for id := range want.Customers {
		ids = append(ids, id)
	}
	require.NotEmpty(t, ids)
	return ids
}

// identities is what a store of format 2 or before keeps with its data
// that says who its customers are: the identifier secret, and the keys of
// the drafts kept under their names.
type identities struct {
	secret []byte
	drafts [][]byte
}

// identitiesIn returns the identities the data in dir holds, and checks
// that a search of the directory's files finds each.
func identitiesIn(t *testing.T, dir string) identities {
	t.Helper()
	var id identities
	for k, v := range rawContents(t, dir) {
		switch {
		case k == string(keys.Secret):
			id.secret = []byte(v[1:])
		case len(k) > len("c/")+customerIDLen && strings.HasPrefix(k, string(keys.NamedDrafts(k[len("c/"):len("c/")+customerIDLen]))):
			id.drafts = append(id.drafts, []byte(k))
		}
	}
	require.True(t, filesContain(t, dir, id.secret), "the search finds the secret")
	for _, k := range id.drafts {
		require.True(t, filesContain(t, dir, draftNeedle(k)), "the search finds %q", draftNeedle(k))
	}
	return id
}

// draftNeedle is what a search of the files finds of a draft's key in
// store format 2: the engine keeps a key of a table's block as what differs
// from the block's first key, so the end of it, "d/" and the name.
func draftNeedle(key []byte) []byte {
	return key[len("c/")+customerIDLen+len("/"):]
}

// requireNoIdentities checks that the data in dir, and every file of the
// directory, holds none of what before says who the customers are.
func requireNoIdentities(t *testing.T, dir string, before identities) {
	t.Helper()
	raw := rawContents(t, dir)
	require.NotContains(t, raw, string(keys.Secret), "the data holds the identifier secret")
	for k := range raw {
		require.False(t, len(k) > len("c/")+customerIDLen && strings.HasPrefix(k, string(keys.NamedDrafts(k[len("c/"):len("c/")+customerIDLen]))), "a draft under its name: %q", k)
	}
	require.NotContains(t, raw, string(keys.CompactDue), "the compaction is done")
	require.False(t, filesContain(t, dir, before.secret), "the identifier secret is left in the files")
	for _, k := range before.drafts {
		require.False(t, filesContain(t, dir, draftNeedle(k)), "the key %q is left in the files", k)
	}
}

// TestMigrationTakesIdentitiesOutOfTheData opens the golden stores of
// formats 1 and 2, which keep the identifier secret with the data and
// drafts under their names: Open migrates them to the current format, says
// so in the log, and then neither the data nor any file of the directory
// holds the secret or a draft's key of before (the key file keeps the
// secret, padded). The next Open has nothing to migrate.
func TestMigrationTakesIdentitiesOutOfTheData(t *testing.T) {
	for _, set := range []string{"v1", "v2"} {
		t.Run(set, func(t *testing.T) {
			ctx := context.Background()
			dir := goldenCopy(t, set)
			before := identitiesIn(t, dir)
			require.Len(t, before.secret, 32)
			require.NotEmpty(t, before.drafts)
			var log bytes.Buffer
			opts := DefaultOptions(dir).WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo})))
			s, err := Open(ctx, opts)
			require.NoError(t, err)
			require.NoError(t, s.Check(ctx))
			require.Equal(t, before.secret, s.secret, "identifiers hash as before")
			require.NoError(t, s.Close())
			requireNoIdentities(t, dir, before)
			require.Contains(t, log.String(), "from=2 to=3")
			require.Contains(t, log.String(), fmt.Sprintf(`drafts moved under hashed names" drafts=%d named=%d`, len(before.drafts), len(before.drafts)))
			require.Contains(t, log.String(), "memory: compacting the files")

			log.Reset()
			s, err = Open(ctx, opts)
			require.NoError(t, err)
			require.NoError(t, s.Close())
			require.NotContains(t, log.String(), "migrat")
			require.NotContains(t, log.String(), "compacting")
		})
	}
}

var errStopped = errors.New("stopped, as by a crash")

// TestMigrationFinishesAfterAStop stops the migration from format 2 before
// each of its steps, as a crash would, and opens the store again: it opens
// the first time, finishes the migration, and holds every customer as a
// migration that ran through does, with nothing left of the secret or the
// draft names in its files. From its first step, a release of format 2
// would refuse the store (its format key and format file are newer), rather
// than open it without the drafts that moved. A stop within the step that
// moves the drafts, with some moved and some not, is finished too.
func TestMigrationFinishesAfterAStop(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ids := goldenCustomers(t, "v2")
	exportAll := func(dir string) map[CustomerID]string {
		s, err := Open(ctx, DefaultOptions(dir).WithClock(clock))
		require.NoError(t, err, "the store opens the first time after the stop")
		defer s.Close()
		require.NoError(t, s.Check(ctx))
		out := map[CustomerID]string{}
		for _, id := range ids {
			x, err := s.Export(ctx, id)
			require.NoError(t, err)
			b, err := json.Marshal(x)
			require.NoError(t, err)
			out[id] = string(b)
		}
		return out
	}
	want := exportAll(goldenCopy(t, "v2"))
	stopAt := func(dir, step string) {
		opts := DefaultOptions(dir).WithClock(clock)
		opts.stopMigration = func(at string) error {
			if at == step {
				return errStopped
			}
			return nil
		}
		_, err := Open(ctx, opts)
		require.ErrorIs(t, err, errStopped, "the migration reaches %s", step)
	}

	for _, step := range []string{"format", "secret", "drafts", "delete", "manifest", "compact"} {
		t.Run(step, func(t *testing.T) {
			dir := goldenCopy(t, "v2")
			before := identitiesIn(t, dir)
			stopAt(dir, step)
			if step != "format" {
				var v int
				require.NoError(t, codec.Unmarshal([]byte(rawContents(t, dir)[string(keys.Format)]), &v))
				// Stopped at the compaction, the migrations after 3 have run.
				require.GreaterOrEqual(t, v, 3, "a release of format 2 refuses the store")
				b, err := os.ReadFile(filepath.Join(dir, formatFileName))
				require.NoError(t, err)
				require.Equal(t, string(formatFile(3)), string(b))
			}
			require.Equal(t, want, exportAll(dir))
			requireNoIdentities(t, dir, before)
		})
	}

	t.Run("some drafts moved", func(t *testing.T) {
		dir := goldenCopy(t, "v2")
		before := identitiesIn(t, dir)
		stopAt(dir, "delete")
		// Take back the move of every other draft, as if the migration had
		// stopped before the transaction that moved it.
		hasher := &Store{secret: before.secret}
		db, err := kv.Open(kv.Options{Dir: dir})
		require.NoError(t, err)
		txn := db.Begin(true)
		for i, k := range before.drafts {
			if i%2 == 0 {
				owner := CustomerID(k[len("c/") : len("c/")+customerIDLen])
				require.NoError(t, txn.Delete(hasher.draftKey(owner, string(k[len(keys.NamedDrafts(string(owner))):]))))
			}
		}
		require.NoError(t, txn.Commit())
		txn.Discard()
		require.NoError(t, db.Close())
		require.Equal(t, want, exportAll(dir))
		requireNoIdentities(t, dir, before)
	})
}
