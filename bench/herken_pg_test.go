//go:build unix

package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/pgtest"
)

// TestBenchHerkenOnPostgres runs herken's PostgreSQL scenarios briefly,
// beside the PostgreSQL peer on the same server, and checks that each
// reported and that the run left no database behind.
func TestBenchHerkenOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark; skipped with -short")
	}
	srv := pgtest.NewServer(t)
	var buf bytes.Buffer
	err := bench(context.Background(), []string{"-quick", "-quiet", "-engine", "postgres", "-customers", "1000", "-pg-customers", "300", "-duration", "100ms",
		"-writers", "8", "-hot", "100", "-visibility-writes", "20", "-only", "brief-warm,miss,brief-cold,contact,visibility,postgres",
		"-postgres", srv.DSN()}, &buf)
	require.NoError(t, err, buf.String())
	text := buf.String()
	for _, want := range []string{
		"herken-pg recognize+brief, warm", "herken-pg recognize+brief, cold (cache off)", "herken-pg lookup of an unknown email",
		"herken-pg identifier to customer, cold", "herken-pg brief of a customer id, cold", "herken-pg round trip to the server",
		"herken-pg record-contact, sync writes on, 8 writers", "herken-pg record-contact, sync writes off, 8 writers",
		"herken-pg write on one instance seen on another (20 writes)", "herken on PostgreSQL against the others",
		"herken-pg: a write on one instance seen on another after p50", "postgres recognize+brief",
	} {
		require.Contains(t, text, want)
	}
	require.NotContains(t, text, "not run")
	require.NotContains(t, text, "failed:")
	require.NotContains(t, text, "recognize+brief, warm, 1 goroutines", "-engine postgres ran herken on Badger")

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.DSN())
	require.NoError(t, err)
	defer conn.Close(ctx)
	var left bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", pgDatabase).Scan(&left))
	require.False(t, left, "the bench left its database behind")
	t.Log("\n" + text)
}

// TestBenchEngineWithoutPostgres checks that herken-pg says why it did not
// run when there is no server, and that -engine takes only its values.
func TestBenchEngineWithoutPostgres(t *testing.T) {
	var buf bytes.Buffer
	err := bench(context.Background(), []string{"-quick", "-quiet", "-engine", "postgres", "-only", "brief-warm",
		"-postgres", "postgres://postgres@127.0.0.1:1/x?sslmode=disable"}, &buf)
	require.NoError(t, err)
	require.Contains(t, buf.String(), "not run: no PostgreSQL at")
	require.Error(t, bench(context.Background(), []string{"-engine", "sqlite"}, &buf))
}
