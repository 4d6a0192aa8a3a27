//go:build unix

package pgtest_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/pgtest"
)

func TestServer(t *testing.T) {
	s := pgtest.NewServer(t)
	require.FileExists(t, filepath.Join(s.DataDir(), "PG_VERSION"))

	ctx := context.Background()
	c, err := pgx.Connect(ctx, s.DSN())
	require.NoError(t, err)
	defer c.Close(ctx)
	var walLevel string
	require.NoError(t, c.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel))
	require.Equal(t, "logical", walLevel)

	// Two databases made in parallel are distinct and each keeps its own rows.
	var wg sync.WaitGroup
	dsns := make([]string, 2)
	for i := range dsns {
		wg.Go(func() {
			dsn := s.NewDatabase(t)
			dsns[i] = dsn
			c, err := pgx.Connect(ctx, dsn)
			if !assertNoError(t, err) {
				return
			}
			defer c.Close(ctx)
			_, err = c.Exec(ctx, "CREATE TABLE t (v int)")
			if !assertNoError(t, err) {
				return
			}
			_, err = c.Exec(ctx, "INSERT INTO t VALUES ($1)", i)
			if !assertNoError(t, err) {
				return
			}
			var v int
			assertNoError(t, c.QueryRow(ctx, "SELECT v FROM t").Scan(&v))
			if v != i {
				t.Errorf("database %d reads %d", i, v)
			}
		})
	}
	wg.Wait()
	require.NotEqual(t, dsns[0], dsns[1])

	// A logical replication connection is let in.
	rc, err := pgx.Connect(ctx, s.DSN()+"&replication=database")
	require.NoError(t, err)
	require.NoError(t, rc.Close(ctx))
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

// TestServerCleanup checks that the databases a test makes are dropped at
// its cleanup and that Close removes the server's files.
func TestServerCleanup(t *testing.T) {
	pgtest.Require(t)
	s, err := pgtest.Start(context.Background())
	require.NoError(t, err)
	dir := s.DataDir()
	var name string
	t.Run("make", func(t *testing.T) {
		c, err := pgx.Connect(context.Background(), s.NewDatabase(t))
		require.NoError(t, err)
		require.NoError(t, c.QueryRow(context.Background(), "SELECT current_database()").Scan(&name))
		// Left open: the drop must force it closed.
	})
	c, err := pgx.Connect(context.Background(), s.DSN())
	require.NoError(t, err)
	var n int
	require.NoError(t, c.QueryRow(context.Background(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n))
	require.Zero(t, n, name)
	require.NoError(t, c.Close(context.Background()))
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = os.Stat(filepath.Dir(dir))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// BenchmarkNewDatabase measures what a test's database costs.
func BenchmarkNewDatabase(b *testing.B) {
	s := pgtest.NewServer(b)
	for b.Loop() {
		s.NewDatabase(b)
	}
}
