//go:build !wasip1

// Package pgkv is the store's PostgreSQL engine: the keys and values of
// package kv in a table of PostgreSQL, in serializable transactions, so that
// any number of processes share one store. The customers' keys are in a
// table of their own (keys.go), written in the same transactions as the data
// that names them.
//
// A commit whose outcome the connection did not tell (it broke during
// COMMIT, or the server ended it while it waited for its standbys) is
// settled, never guessed: every write transaction inserts its own row into
// herken_commits, and the engine then inserts that row itself, on a new
// connection, on whichever server is the primary by then. The insert waits
// for the transaction if it is still running; when it succeeds, the
// transaction can never commit (its own insert would collide) and the write
// is retried; when the row is there, the transaction committed, and a commit
// of the engine's own that waits for the standbys makes sure it is durable
// before the write is acknowledged (commit.go).
package pgkv

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/herken/herken/memory/internal/kv"
)

// ErrUnavailable is returned when no server that takes writes answered
// within the engine's bound: the database is down or failing over. Nothing
// of the transaction was applied.
var ErrUnavailable = errors.New("pgkv: the database is unavailable")

// ErrUncertain is returned by Commit when the outcome of the commit could
// not be settled within the engine's bound: the write may or may not have
// been applied.
var ErrUncertain = errors.New("pgkv: the outcome of the commit is unknown")

// ErrConfig is returned by Open for a connection string it cannot read, or a
// server that is not set up as the engine needs.
var ErrConfig = errors.New("pgkv: not usable as configured")

// Options configures the engine.
type Options struct {
	DSN    string       // a libpq connection string or URL
	Logger *slog.Logger // nil discards the engine's messages
	// MaxConns bounds the connections of the pool; 0 is pgxpool's
	// default (pool_max_conns in the DSN), at least 16.
	MaxConns int32
	// Unavailable bounds how long a transaction waits for a server that
	// takes writes, and how long a commit of unknown outcome is settled
	// for; 0 is DefaultUnavailable.
	Unavailable time.Duration
	// SyncOff runs the connections with synchronous_commit off: a commit
	// returns before it is on disk (see Store's WithSyncWrites).
	SyncOff bool
}

// DefaultUnavailable is how long the engine waits through a failover by
// default: Patroni's default TTL of 30 s and a margin.
const DefaultUnavailable = 45 * time.Second

// queryTimeout bounds one statement; a longer one fails its transaction.
const queryTimeout = 30 * time.Second

// DB is a store in PostgreSQL. It is safe for concurrent use.
type DB struct {
	pool   *pgxpool.Pool // the connections of transactions
	side   *pgxpool.Pool // of everything else: keys, locks, settling, deletes
	opts   Options
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	id     [16]byte // this process's own, for its connections' names
	keys   *Keys

	sweepMu sync.Mutex // guards swept
	swept   time.Time  // the last Sweep
}

// Open connects to the database that dsn names, creates the engine's
// tables there or checks that they are of a schema this build reads
// (schema.go), and returns the engine.
func Open(ctx context.Context, o Options) (*DB, error) {
	if o.Unavailable <= 0 {
		o.Unavailable = DefaultUnavailable
	}
	pc, err := pgxpool.ParseConfig(o.DSN)
	if err != nil {
		return nil, fmt.Errorf("%w: the connection string: %v", ErrConfig, err)
	}
	if o.MaxConns > 0 {
		pc.MaxConns = o.MaxConns
	} else {
		pc.MaxConns = max(pc.MaxConns, 16)
	}
	rt := pc.ConnConfig.RuntimeParams
	if _, ok := rt["application_name"]; !ok {
		rt["application_name"] = "herken"
	}
	// A commit returns once the standbys the server is configured to wait
	// for have it, whatever the database's default says.
	if v, ok := rt["synchronous_commit"]; !ok || v == "off" || v == "local" {
		rt["synchronous_commit"] = "on"
	}
	if o.SyncOff {
		rt["synchronous_commit"] = "off"
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	// Statements are prepared once a connection and named by their text:
	// the engine's statements are few and fixed.
	pc.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	pool, err := pgxpool.NewWithConfig(context.WithoutCancel(ctx), pc)
	if err != nil {
		return nil, fmt.Errorf("pgkv: %w", err)
	}
	// A transaction reads keys and takes slots while it holds its
	// connection: those come from a pool of their own, so that transactions
	// holding every connection of theirs never wait for one another's.
	sc := pc.Copy()
	sc.MaxConns = 8
	side, err := pgxpool.NewWithConfig(context.WithoutCancel(ctx), sc)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgkv: %w", err)
	}
	d := &DB{pool: pool, side: side, opts: o}
	_, _ = rand.Read(d.id[:])
	d.ctx, d.cancel = context.WithCancel(context.Background())
	if err := d.prepare(ctx); err != nil {
		d.cancel()
		pool.Close()
		side.Close()
		return nil, err
	}
	d.keys = &Keys{db: d}
	return d, nil
}

// Pool returns the engine's connection pool, for the store's change feed
// and its locks.
func (d *DB) Pool() *pgxpool.Pool { return d.pool }

// Keys returns the table of the customers' keys.
func (d *DB) Keys() *Keys { return d.keys }

// Close closes the engine's connections.
func (d *DB) Close() error {
	d.cancel()
	d.pool.Close()
	d.side.Close()
	return nil
}

// Begin starts a transaction; update allows writes. The transaction takes
// its connection at its first statement.
func (d *DB) Begin(update bool) kv.Txn { return &txn{db: d, update: update} }

// Durable returns at once: a commit returns only once the standbys the
// server waits for have it (synchronous_commit is on for the engine's
// connections).
func (d *DB) Durable() error { return nil }

// deleteBatch bounds the rows one statement of DeletePrefixes deletes.
const deleteBatch = 5000

// DeletePrefixes deletes every key under the prefixes, a batch of rows a
// transaction.
func (d *DB) DeletePrefixes(prefixes ...[]byte) error {
	for _, p := range prefixes {
		lo, hi := bounds(p)
		for {
			var tag pgconn.CommandTag
			err := d.run(func(ctx context.Context) (err error) {
				if hi == nil {
					tag, err = d.side.Exec(ctx, `DELETE FROM herken_kv WHERE k IN (SELECT k FROM herken_kv WHERE k >= $1 LIMIT $2)`, lo, deleteBatch)
				} else {
					tag, err = d.side.Exec(ctx, `DELETE FROM herken_kv WHERE k IN (SELECT k FROM herken_kv WHERE k >= $1 AND k < $2 LIMIT $3)`, lo, hi, deleteBatch)
				}
				return err
			})
			if err != nil {
				return err
			}
			if tag.RowsAffected() < deleteBatch {
				break
			}
		}
	}
	return nil
}

// DropPrefixes deletes every key under the prefixes. PostgreSQL keeps the
// deleted rows in its files until a vacuum reuses their space; what must be
// unreadable is sealed with keys that the key table loses (see Compact).
func (d *DB) DropPrefixes(prefixes ...[]byte) error { return d.DeletePrefixes(prefixes...) }

// Compact vacuums the data, and rewrites the key table (VACUUM FULL, which
// holds it for a moment), so that destroyed keys leave its files.
func (d *DB) Compact() error {
	return d.run(func(ctx context.Context) error {
		// A vacuum of a large table takes long: the statement bound is not
		// its.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Hour)
		defer cancel()
		if _, err := d.side.Exec(ctx, `VACUUM herken_kv`); err != nil {
			return err
		}
		_, err := d.side.Exec(ctx, `VACUUM FULL herken_keys`)
		return err
	})
}

// Versions calls fn with the live entries under prefix: PostgreSQL gives
// no reader the versions it has not vacuumed yet.
func (d *DB) Versions(prefix []byte, fn func(key []byte, deleted bool, val []byte) error) error {
	t := d.Begin(false)
	defer t.Discard()
	return t.Scan(prefix, false, func(k, v []byte) error { return fn(k, false, v) })
}

// Backup writes every live entry whose key keep accepts to w, from one
// snapshot (backup.go).
func (d *DB) Backup(w io.Writer, keep func(key []byte) bool) error { return d.backup(w, keep) }

// Load writes the entries of a backup into the database (backup.go).
func (d *DB) Load(r io.Reader) error { return d.load(r) }

// run runs fn, a statement outside the engine's transactions, again while
// no server takes writes, up to the engine's bound.
func (d *DB) run(fn func(ctx context.Context) error) error { return d.runIn(d.ctx, fn) }

// runIn is run for a caller whose ctx ends the tries: ctx must end when
// the engine closes, or be Open's.
func (d *DB) runIn(ctx context.Context, fn func(ctx context.Context) error) error {
	deadline := time.Now().Add(d.opts.Unavailable)
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, queryTimeout)
		err := fn(actx)
		cancel()
		if ctx.Err() != nil && err != nil {
			return fmt.Errorf("%w: %v", ctx.Err(), err)
		}
		if err == nil || !retryable(err) {
			return translate(err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		d.pause(attempt)
	}
}

// pause waits a little before the next try at a server, more each time, at
// most a quarter of a second.
func (d *DB) pause(attempt int) {
	t := time.NewTimer(min(10*time.Millisecond<<min(attempt, 5), 250*time.Millisecond))
	defer t.Stop()
	select {
	case <-t.C:
	case <-d.ctx.Done():
	}
}

// bounds returns the range of keys under prefix: from prefix up to, not
// including, hi; hi is nil when no key bounds it (an empty prefix, or one
// of 0xff bytes only).
func bounds(prefix []byte) (lo, hi []byte) {
	lo = append([]byte{}, prefix...)
	hi = append([]byte(nil), prefix...)
	for len(hi) > 0 && hi[len(hi)-1] == 0xff {
		hi = hi[:len(hi)-1]
	}
	if len(hi) == 0 {
		return lo, nil
	}
	hi[len(hi)-1]++
	return lo, hi
}

// SQLSTATE codes the engine tells apart.
const (
	codeSerialization = "40001"
	codeDeadlock      = "40P01"
	codeUnique        = "23505"
	codeDiskFull      = "53100"
	codeTooBig        = "54000"
	codeReadOnly      = "25006" // a standby, or a primary demoting
)

// retryable reports whether err says that the server did not take the
// statement for a reason that passes: the connection failed, the server is
// starting, stopping or read only (a failover), or no connection came.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == codeReadOnly:
			return true
		case len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code[:2] == "57"):
			// connection exceptions; operator intervention: shutdown,
			// crash shutdown, cannot connect now
			return pe.Code != "57014" // a cancel is the caller's
		}
		return false
	}
	for _, final := range []error{context.Canceled, pgx.ErrNoRows, ErrSchema, ErrConfig, ErrBackup, ErrUncertain,
		kv.ErrNotFound, kv.ErrConflict, kv.ErrTooBig, kv.ErrClosed, kv.ErrCorrupt} {
		if errors.Is(err, final) {
			return false
		}
	}
	// Anything else from the driver is the connection's: refused, reset,
	// timed out, closed.
	return true
}

// translate turns the server's errors into package kv's.
func translate(err error) error {
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return kv.ErrNotFound
	case errors.As(err, &pe):
		switch pe.Code {
		case codeSerialization, codeDeadlock, codeUnique:
			return fmt.Errorf("%w: %s", kv.ErrConflict, pe.Message)
		case codeDiskFull:
			return fmt.Errorf("%w: PostgreSQL: %s", kv.ErrDiskFull, pe.Message)
		case codeTooBig:
			return fmt.Errorf("%w: PostgreSQL: %s", kv.ErrTooBig, pe.Message)
		}
		return fmt.Errorf("pgkv: PostgreSQL: %w", err)
	case errors.Is(err, ErrUnavailable), errors.Is(err, ErrUncertain), errors.Is(err, kv.ErrClosed),
		errors.Is(err, ErrConfig), errors.Is(err, ErrSchema):
		return err
	}
	return fmt.Errorf("pgkv: %w", err)
}

// WALPosition returns the primary's WAL position now.
func (d *DB) WALPosition() (string, error) {
	var lsn string
	err := d.run(func(ctx context.Context) error {
		return d.side.QueryRow(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn)
	})
	return lsn, err
}

// Checkpoint switches the WAL and checkpoints, so that the WAL segments
// before it can go: the primary keeps WAL from before its last checkpoint
// only for wal_keep_size, replication slots (the change feeds' own, which
// confirm at every beat, among them) and archiving. It needs the right to
// checkpoint (the pg_checkpoint role, or a superuser).
func (d *DB) Checkpoint() error {
	return d.run(func(ctx context.Context) error {
		if _, err := d.side.Exec(ctx, `SELECT pg_switch_wal()`); err != nil {
			return err
		}
		_, err := d.side.Exec(ctx, `CHECKPOINT`)
		return err
	})
}

// Gone reports whether the primary holds no WAL from position lsn or
// before. It needs the right to list the WAL (pg_monitor, or a superuser).
func (d *DB) Gone(lsn string) (gone bool, err error) {
	err = d.run(func(ctx context.Context) error {
		return d.side.QueryRow(ctx, `SELECT coalesce(min(name), '') > pg_walfile_name($1::pg_lsn) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'`, lsn).Scan(&gone)
	})
	return gone, err
}
