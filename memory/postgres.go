//go:build !wasip1

package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/herken/herken/memory/internal/pgkv"
)

// PostgresOptions returns the options for a store kept in the PostgreSQL
// database that dsn names, a libpq connection string or URL, shared by any
// number of processes. Give a cluster's servers in one DSN, with
// target_session_attrs=read-write, so that the store follows the primary
// through a failover:
//
//	postgres://herken@db1:5432,db2:5432,db3:5432/shop?target_session_attrs=read-write
//
// Open creates the store's tables (herken_kv, herken_keys, herken_commits,
// herken_schema) in the DSN's schema (search_path) when they are not there,
// and refuses with ErrFormat tables of a newer schema. The server needs
// wal_level = logical, for the store's change feed.
//
// Every call behaves as on the embedded default. A commit returns once the
// server's synchronous standbys have it (the store's connections run with
// synchronous_commit on, whatever the database's default). While no server
// takes writes (a failover), calls wait for one up to 45 seconds, then fail
// with ErrUnavailable, having applied nothing; a write whose commit the
// connection lost is settled on the new primary, never reported as failed
// when it was applied (ErrUncertain only when that could not be read
// within the same bound).
//
// Forget destroys the customer's key before it returns, as on disk: what
// is left of them, sealed with it, no longer opens. PostgreSQL keeps the
// deleted row of the key, though, until its files and WAL are rewritten:
// in the table herken_keys (until a VACUUM FULL), in the WAL (until a
// checkpoint after wal_keep_size more of it, and as long as a replication
// slot or the archive needs it), on each standby (until its next
// restartpoint) and in base backups (for their retention). The
// finalization: call Compact (it vacuums, rewrites herken_keys, switches
// the WAL and checkpoints; the store's role needs pg_checkpoint and
// pg_monitor) until the receipts of the customers forgotten say Final,
// then CHECKPOINT on each standby, and let base backups and WAL archives
// from before Final expire. Then no copy of the key is left in any node's
// data directory, as TestForgetLeavesNoKeyOnAnyNode checks.
func PostgresOptions(dsn string) Options {
	o := DefaultOptions("")
	o.onPostgres, o.postgres = true, dsn
	return o
}

// ErrUnavailable is returned when no database server takes writes within
// the store's bound (a PostgreSQL store during a failover that lasts too
// long, or with every server down). Nothing of the call was applied.
var ErrUnavailable = errors.New("memory: the database is unavailable")

// ErrUncertain is returned by a write to a PostgreSQL store whose commit
// may or may not have been applied: the connection was lost during COMMIT,
// and no server answered whether it committed within the store's bound.
// Read the customer back to know.
var ErrUncertain = errors.New("memory: the outcome of the write is unknown")

// exclusive runs fn holding the store's advisory lock id in PostgreSQL,
// waiting for it (wait) or, when another process holds it, not running fn
// at all. In Badger, whose directory one process holds, it runs fn.
func (s *Store) exclusive(id int64, wait bool, fn func() error) error {
	if s.pg == nil {
		return fn()
	}
	release, ok, err := s.pg.Lock(id, wait)
	if err != nil {
		return storeErr(err)
	}
	if !ok {
		return nil
	}
	defer release()
	return fn()
}

// finals are the compactions of a PostgreSQL store whose WAL may still
// hold the keys they vacuumed away: each rewrote the key table after its
// WAL position and is final once the primary holds no WAL from then.
type finals struct {
	mu    sync.Mutex
	marks []final // oldest first
}

type final struct {
	lsn   string    // the WAL position after the key table was rewritten
	began time.Time // keys destroyed before this are gone from the table
}

// compactPostgres vacuums the data and rewrites the key table, checkpoints,
// and stamps Final on the receipts of customers forgotten before a
// compaction whose WAL the primary no longer holds: this one's, or, as the
// primary keeps wal_keep_size of WAL past its checkpoints, an earlier
// one's (the marks are kept in memory: after a restart, the next Compact
// starts them again).
func (s *Store) compactPostgres() error {
	s.finals.mu.Lock()
	defer s.finals.mu.Unlock()
	began := s.now()
	if err := storeErr(s.db.Compact()); err != nil {
		return err
	}
	lsn, err := s.pg.WALPosition()
	if err != nil {
		return storeErr(err)
	}
	marks := append(s.finals.marks, final{lsn, began})
	if len(marks) > 16 {
		marks = marks[len(marks)-16:] // a later one covers what they did
	}
	if err := s.pg.Checkpoint(); err != nil {
		return storeErr(err)
	}
	done := -1
	for i := len(marks) - 1; i >= 0; i-- {
		gone, err := s.pg.Gone(marks[i].lsn)
		if err != nil {
			return storeErr(err)
		}
		if gone {
			done = i
			break
		}
	}
	if done >= 0 {
		if err := s.finalReceipts(marks[done].began); err != nil {
			return err
		}
	}
	s.finals.marks = slices.Clone(marks[done+1:])
	return nil
}

// checkPostgres checks the options of a PostgreSQL store.
func (o *Options) checkPostgres() error {
	switch {
	case strings.TrimSpace(o.postgres) == "":
		return invalid("options", "an empty PostgreSQL connection string")
	case o.dir != "" || o.inMemory:
		// WithDir or WithInMemory after PostgresOptions
		return invalid("options", "a store is either in PostgreSQL or in a directory or in memory, not both")
	case len(o.key) > 0:
		return invalid("options", "WithEncryptionKey encrypts Badger's files; a PostgreSQL store is encrypted at rest by the server's own means (every customer's values are sealed with their own key either way)")
	}
	return nil
}

// openPostgres opens the engine of a PostgreSQL store.
func openPostgres(ctx context.Context, opts Options) (*pgkv.DB, error) {
	db, err := pgkv.Open(ctx, pgkv.Options{DSN: opts.postgres, Logger: opts.logger, SyncOff: opts.syncDisabled})
	if err != nil {
		return nil, fmt.Errorf("memory: open the PostgreSQL store: %w", storeErr(err))
	}
	return db, nil
}

// Shared reports whether other processes may have the store open at the
// same time: a store in PostgreSQL. What a process keeps for a shared
// store's callers (rate buckets, single-use nonces) belongs in the store
// then (Allow, UseOnce).
func (s *Store) Shared() bool { return s.pg != nil }
