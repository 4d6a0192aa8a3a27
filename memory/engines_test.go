//go:build !wasip1 && unix

package memory_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/memory/pgtest"
)

// The store tests run on one engine of this table a run, chosen with
// -engine: go test ./memory runs them on Badger, go test ./memory
// -engine=postgres on PostgreSQL (a server the run starts on loopback, a
// database of its own a store). Tests of what only one engine has (Badger's
// files: crashes, power loss, a full disk, golden directories) open their
// stores themselves.
var engines = map[string]func(t testing.TB) memory.Options{
	"badger": func(testing.TB) memory.Options { return memory.InMemoryOptions() },
	"postgres": func(t testing.TB) memory.Options {
		return memory.PostgresOptions(postgres(t).NewDatabase(t))
	},
}

var engineFlag = flag.String("engine", "badger", "the storage engine of the store tests: badger or postgres")

// engineOptions returns the options of a new, empty store on the engine of
// this run.
func engineOptions(t testing.TB) memory.Options {
	t.Helper()
	open, ok := engines[*engineFlag]
	if !ok {
		t.Fatalf("-engine=%s: no such engine; use badger or postgres", *engineFlag)
	}
	return open(t)
}

// onPostgres reports whether the run is on PostgreSQL.
func onPostgres() bool { return *engineFlag == "postgres" }

// The run's PostgreSQL server: started by the first test that needs it,
// stopped by TestMain.
var (
	pgOnce   sync.Once
	pgServer *pgtest.Server
	pgErr    error
)

func postgres(t testing.TB) *pgtest.Server {
	t.Helper()
	pgtest.Require(t, pgtest.PostgreSQL)
	pgOnce.Do(func() { pgServer, pgErr = pgtest.Start(context.Background()) })
	if pgErr != nil {
		t.Fatalf("start PostgreSQL: %v", pgErr)
	}
	return pgServer
}

// stopPostgres stops the run's server, if one started.
func stopPostgres() {
	memory.StopTestServers()
	if pgServer != nil {
		if err := pgServer.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "stop PostgreSQL:", err)
		}
	}
}
