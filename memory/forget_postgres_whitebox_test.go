//go:build !wasip1 && unix

package memory

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/keyfile"
)

// TestForgetLeavesNoKeyOnAnyNode forgets a customer of a store on a
// Patroni cluster, runs the finalization the docs give (Compact, once
// wal_keep_size of WAL was written after the forget, until the receipt
// says Final; then CHECKPOINT on each standby once it has replayed the
// primary's WAL), and reads every file of every node's data directory:
// the customer's key is in none, neither as the key nor as the stored row's
// bytes, while the key of a customer who stays is still found.
func TestForgetLeavesNoKeyOnAnyNode(t *testing.T) {
	ctx := context.Background()
	c := testCluster(t)
	hctx, cancel := context.WithTimeout(ctx, faultBound)
	defer cancel()
	require.NoError(t, c.WaitHealthy(hctx))
	dsn, nodes := trialDatabase(t, c)
	s, err := Open(ctx, PostgresOptions(dsn).WithDefaultRegion("NL"))
	require.NoError(t, err)
	defer s.Close()

	keyOf := func(id CustomerID) (raw, stored []byte) {
		t.Helper()
		tx := s.db.Begin(false)
		defer tx.Discard()
		ref, err := readKeyRef(tx, id)
		require.NoError(t, err)
		owner, err := ownerOf(id)
		require.NoError(t, err)
		raw, err = s.keyfile.Get(keyfile.Slot(ref.Slot), owner)
		require.NoError(t, err)
		conn, err := pgx.Connect(ctx, dsn)
		require.NoError(t, err)
		defer conn.Close(ctx)
		require.NoError(t, conn.QueryRow(ctx, `SELECT key FROM herken_keys WHERE slot = $1`, int64(ref.Slot)).Scan(&stored))
		return raw, stored
	}
	gone, err := s.Recognize(ctx, Email("gone@example.com").AsVerified())
	require.NoError(t, err)
	require.NoError(t, s.Remember(ctx, gone.Customer, Fact{Key: "note", Value: "something personal"}))
	stays, err := s.Recognize(ctx, Email("stays@example.com").AsVerified())
	require.NoError(t, err)
	goneRaw, goneStored := keyOf(gone.Customer)
	_, staysStored := keyOf(stays.Customer)

	receipt, err := s.Forget(ctx, gone.Customer)
	require.NoError(t, err)
	require.True(t, receipt.Final.IsZero(), "PostgreSQL holds the key until the finalization")
	// The primary keeps wal_keep_size of WAL (16MB here) past its last
	// checkpoint: until that much was written after the forget, a Compact
	// leaves the receipt as it is. Other customers' writes make it; here,
	// a table of filler does.
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	final := false
	for attempt := 0; attempt < 8 && !final; attempt++ {
		require.NoError(t, s.Compact(ctx))
		rs, err := s.Receipts(ctx)
		require.NoError(t, err)
		require.Len(t, rs, 1)
		if final = !rs[0].Final.IsZero(); !final {
			_, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS filler (i int, s text);
				INSERT INTO filler SELECT i, md5(i::text) FROM generate_series(1, 200000) i; TRUNCATE filler`)
			require.NoError(t, err)
		}
	}
	require.True(t, final, "no Compact made the receipt final")

	// Each standby replays up to now, then checkpoints (a restartpoint).
	requireSameOnEveryNode(t, nodes, false)
	for _, m := range c.Members() {
		conn, err := pgx.Connect(ctx, m.DSN())
		require.NoError(t, err)
		_, err = conn.Exec(ctx, `CHECKPOINT`)
		require.NoError(t, err)
		require.NoError(t, conn.Close(ctx))
	}
	foundStays := false
	for _, m := range c.Members() {
		err := filepath.WalkDir(m.DataDir(), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) {
					return nil // removed meanwhile
				}
				return err
			}
			if d.IsDir() || strings.HasSuffix(path, ".sock") {
				return nil
			}
			b, err := os.ReadFile(path)
			if os.IsNotExist(err) {
				return nil
			}
			require.NoError(t, err)
			require.False(t, bytes.Contains(b, goneRaw), "the forgotten key in %s", path)
			require.False(t, bytes.Contains(b, goneStored), "the forgotten key's row in %s", path)
			foundStays = foundStays || bytes.Contains(b, staysStored)
			return nil
		})
		require.NoError(t, err, m.Name)
	}
	require.True(t, foundStays, "the scan finds a key that is there")
}
