//go:build !wasip1 && unix

package memory_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/memory/pgtest"
)

// TestPostgresOptionsAreChecked opens PostgreSQL stores with what a user
// may get wrong: each is refused with an error that says what, and no
// server is needed to tell.
func TestPostgresOptionsAreChecked(t *testing.T) {
	ctx := context.Background()
	for name, opts := range map[string]memory.Options{
		"empty DSN":         memory.PostgresOptions(" "),
		"and a directory":   memory.PostgresOptions("postgres://127.0.0.1/x").WithDir(t.TempDir()),
		"and in memory":     memory.PostgresOptions("postgres://127.0.0.1/x").WithInMemory(true),
		"Badger's key":      memory.PostgresOptions("postgres://127.0.0.1/x").WithEncryptionKey(make([]byte, 32)),
		"unreadable DSN":    memory.PostgresOptions("postgres://%zz"),
		"unknown parameter": memory.PostgresOptions("host=127.0.0.1 nonsense"),
	} {
		_, err := memory.Open(ctx, opts)
		require.ErrorIs(t, err, memory.ErrInvalidInput, name)
	}
}

// TestPostgresOpenEndsWithItsContext opens a store on a port where nothing
// listens: Open waits for a server, as through a failover, but no longer
// than its context.
func TestPostgresOpenEndsWithItsContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = memory.Open(ctx, memory.PostgresOptions("postgres://postgres@"+addr+"/postgres?sslmode=disable"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestPostgresRefusesWhatItCannotRead opens stores on databases that are
// not stores of this build: a newer schema and tables of something else
// are refused with ErrFormat and left as they were; a server without
// logical decoding with ErrInvalidInput, saying what to set.
func TestPostgresRefusesWhatItCannotRead(t *testing.T) {
	ctx := context.Background()
	srv := postgres(t)
	exec := func(dsn, sql string) {
		t.Helper()
		c, err := pgx.Connect(ctx, dsn)
		require.NoError(t, err)
		defer c.Close(ctx)
		_, err = c.Exec(ctx, sql)
		require.NoError(t, err)
	}

	newer := srv.NewDatabase(t)
	s, err := memory.Open(ctx, memory.PostgresOptions(newer))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	exec(newer, `UPDATE herken_schema SET version = 99`)
	_, err = memory.Open(ctx, memory.PostgresOptions(newer))
	require.ErrorIs(t, err, memory.ErrFormat)
	require.ErrorContains(t, err, "schema 99")

	other := srv.NewDatabase(t)
	exec(other, `CREATE TABLE herken_kv (k bytea PRIMARY KEY, v bytea)`)
	_, err = memory.Open(ctx, memory.PostgresOptions(other))
	require.ErrorIs(t, err, memory.ErrFormat)

	pgtest.Require(t, pgtest.PostgreSQL)
	replica, err := pgtest.Start(ctx, pgtest.WithSetting("wal_level", "replica"))
	require.NoError(t, err)
	defer replica.Close()
	_, err = memory.Open(ctx, memory.PostgresOptions(replica.DSN()))
	require.ErrorIs(t, err, memory.ErrInvalidInput)
	require.ErrorContains(t, err, "wal_level = logical")
}
