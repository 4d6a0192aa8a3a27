//go:build !wasip1

package pgkv

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/herken/herken/memory/internal/kv"
)

// txn is a transaction on one connection: serializable when it writes,
// repeatable read when it only reads, so that every read of it sees one
// snapshot. Writes are queued and sent together before the next read and
// with the commit, in one round trip.
type txn struct {
	db     *DB
	update bool
	conn   *pgxpool.Conn
	err    error // the first failure: the transaction is over
	queue  []write
	n      int64 // bytes of keys and values written, against kv.MaxTxnBytes
	done   bool
}

// write is a queued change: a set, an expiring set (ttl > 0) or a delete.
type write struct {
	del bool
	key []byte
	val []byte
	ttl time.Duration
	sql string // a statement of its own, with args (keys.go)
	arg []any
}

// Statements of the transactions.
const (
	sqlGet    = `SELECT v FROM herken_kv WHERE k = $1 AND (expires IS NULL OR expires > now())`
	sqlHas    = `SELECT true FROM herken_kv WHERE k = $1 AND (expires IS NULL OR expires > now())`
	sqlSet    = `INSERT INTO herken_kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, expires = NULL`
	sqlExpire = `INSERT INTO herken_kv (k, v, expires) VALUES ($1, $2, now() + $3 * interval '1 microsecond') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, expires = EXCLUDED.expires`
	sqlDelete = `DELETE FROM herken_kv WHERE k = $1`
	sqlCommit = `INSERT INTO herken_commits (id, applied) VALUES ($1, true)`
)

// begin takes a connection and begins the transaction, waiting through a
// failover up to the engine's bound: nothing has been done yet, so a
// broken connection costs only a new one.
func (t *txn) begin() error {
	if t.err != nil {
		return t.err
	}
	if t.done {
		return fmt.Errorf("pgkv: the transaction is over")
	}
	if t.conn != nil {
		return nil
	}
	begin := `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`
	if t.update {
		begin = `BEGIN ISOLATION LEVEL SERIALIZABLE`
	}
	err := t.db.run(func(ctx context.Context) error {
		c, err := t.db.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, begin); err != nil {
			c.Release()
			return err
		}
		t.conn = c
		return nil
	})
	if err != nil {
		t.err = t.closedOr(err)
	}
	return t.err
}

// fail ends the transaction with err, which a statement of it returned: a
// transaction with a failed statement is aborted in PostgreSQL.
func (t *txn) fail(err error) error {
	switch {
	case t.db.ctx.Err() != nil:
		t.err = kv.ErrClosed
	case retryable(err):
		// The connection is gone, or the server is failing over: the
		// transaction did not commit.
		t.err = fmt.Errorf("%w: %v", ErrUnavailable, err)
	default:
		t.err = translate(err)
	}
	return t.err
}

func (t *txn) closedOr(err error) error {
	if t.db.ctx.Err() != nil {
		return kv.ErrClosed
	}
	return err
}

// ctx bounds one statement.
func (t *txn) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.db.ctx, queryTimeout)
}

// flush sends the queued writes.
func (t *txn) flush() error {
	if len(t.queue) == 0 {
		return nil
	}
	if err := t.begin(); err != nil {
		return err
	}
	ctx, cancel := t.ctx()
	defer cancel()
	b := &pgx.Batch{}
	t.add(b)
	if err := t.conn.SendBatch(ctx, b).Close(); err != nil {
		return t.fail(err)
	}
	return nil
}

// add adds the queued writes to b and empties the queue.
func (t *txn) add(b *pgx.Batch) {
	for _, w := range t.queue {
		switch {
		case w.sql != "":
			b.Queue(w.sql, w.arg...)
		case w.del:
			b.Queue(sqlDelete, w.key)
		case w.ttl > 0:
			b.Queue(sqlExpire, w.key, w.val, w.ttl.Microseconds())
		default:
			b.Queue(sqlSet, w.key, w.val)
		}
	}
	t.queue = t.queue[:0]
}

// ready begins the transaction and sends what is queued, before a read.
func (t *txn) ready() error {
	if err := t.begin(); err != nil {
		return err
	}
	return t.flush()
}

func (t *txn) Get(key []byte, fn func(val []byte) error) error {
	if err := t.ready(); err != nil {
		return err
	}
	ctx, cancel := t.ctx()
	defer cancel()
	var v []byte
	err := t.conn.QueryRow(ctx, sqlGet, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return kv.ErrNotFound
	}
	if err != nil {
		return t.fail(err)
	}
	return fn(v)
}

func (t *txn) Has(key []byte) (bool, error) {
	if err := t.ready(); err != nil {
		return false, err
	}
	ctx, cancel := t.ctx()
	defer cancel()
	var ok bool
	err := t.conn.QueryRow(ctx, sqlHas, key).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, t.fail(err)
	}
	return true, nil
}

// maxQueue is how many writes wait for the next round trip at most.
const maxQueue = 256

func (t *txn) put(w write) error {
	if t.err != nil {
		return t.err
	}
	if !t.update {
		return fmt.Errorf("pgkv: a write in a read-only transaction")
	}
	if w.sql == "" {
		if err := checkKey(w.key); err != nil {
			return err
		}
		if w.val == nil && !w.del {
			w.val = []byte{} // not NULL
		}
		t.n += int64(len(w.key)+len(w.val)) + 64
	}
	t.queue = append(t.queue, w)
	if len(t.queue) >= maxQueue {
		return t.flush()
	}
	return nil
}

func (t *txn) Set(key, val []byte) error { return t.put(write{key: key, val: val}) }

func (t *txn) SetExpiring(key, val []byte, ttl time.Duration) error {
	return t.put(write{key: key, val: val, ttl: max(ttl, time.Microsecond)})
}

func (t *txn) Delete(key []byte) error { return t.put(write{del: true, key: key}) }

func checkKey(key []byte) error {
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: an empty key", kv.ErrCorrupt)
	case len(key) > kv.MaxKeySize:
		return fmt.Errorf("%w: a key of %d bytes; at most %d", kv.ErrTooBig, len(key), kv.MaxKeySize)
	}
	return nil
}

// Scan reads a page of rows at a time, and calls fn between the round
// trips, so that fn may read and write in the transaction.
func (t *txn) Scan(prefix []byte, keysOnly bool, fn func(key, val []byte) error) error {
	return t.scan(prefix, nil, keysOnly, fn)
}

func (t *txn) ScanFrom(prefix, from []byte, fn func(key, val []byte) error) error {
	return t.scan(prefix, from, false, fn)
}

// Page sizes of Scan: values may be large, keys are small.
const (
	pageRows = 128
	pageKeys = 2048
)

func (t *txn) scan(prefix, from []byte, keysOnly bool, fn func(key, val []byte) error) error {
	lo, hi := bounds(prefix)
	if string(from) > string(lo) {
		lo = from
	}
	cols, limit := "k, v", pageRows
	if keysOnly {
		cols, limit = "k, NULL::bytea", pageKeys
	}
	// The first page starts at lo, the next ones past the last key read.
	where := ` FROM herken_kv WHERE (expires IS NULL OR expires > now())`
	args := []any{lo, limit}
	if hi != nil {
		where += ` AND k < $3`
		args = append(args, hi)
	}
	q := `SELECT ` + cols + where + ` AND k >= $1 ORDER BY k LIMIT $2`
	next := `SELECT ` + cols + where + ` AND k > $1 ORDER BY k LIMIT $2`
	type row struct{ k, v []byte }
	page := make([]row, 0, limit)
	for stmt := q; ; stmt = next {
		if err := t.ready(); err != nil {
			return err
		}
		page = page[:0]
		err := func() error {
			ctx, cancel := t.ctx()
			defer cancel()
			rows, err := t.conn.Query(ctx, stmt, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.k, &r.v); err != nil {
					return err
				}
				page = append(page, r)
			}
			return rows.Err()
		}()
		if err != nil {
			return t.fail(err)
		}
		for _, r := range page {
			if err := fn(r.k, r.v); err != nil {
				return err
			}
		}
		if len(page) < limit {
			return nil
		}
		args[0] = page[len(page)-1].k
	}
}

// Commit sends the queued writes, the transaction's row in herken_commits
// and COMMIT in one round trip. When the connection leaves the outcome
// unknown, settle finds it out.
func (t *txn) Commit() error {
	if t.err != nil {
		return t.err
	}
	if t.done {
		return fmt.Errorf("pgkv: the transaction is over")
	}
	if t.n > kv.MaxTxnBytes {
		return fmt.Errorf("%w: %d bytes", kv.ErrTooBig, t.n)
	}
	if !t.update || t.conn == nil && len(t.queue) == 0 {
		t.Discard()
		return nil
	}
	if err := t.begin(); err != nil {
		return err
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	b := &pgx.Batch{}
	t.add(b)
	b.Queue(sqlCommit, id[:])
	b.Queue(`COMMIT`)
	// A commit is never cancelled: a cancel while the server waits for its
	// standbys would end the wait and commit without them.
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	err := t.conn.SendBatch(ctx, b).Close()
	cancel()
	t.done = true
	if err == nil {
		t.release()
		return nil
	}
	// The connection is of no use after a failed commit.
	t.conn.Hijack().Close(context.Background())
	t.conn = nil
	if !retryable(err) {
		// The server refused the transaction: nothing was applied.
		t.err = translate(err)
		return t.err
	}
	t.err = t.db.settle(id[:], err)
	return t.err
}

// Discard rolls back what was not committed and gives the connection back.
func (t *txn) Discard() {
	t.done = true
	t.queue = nil
	if t.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := t.conn.Exec(ctx, `ROLLBACK`); err != nil {
		t.conn.Hijack().Close(ctx)
		t.conn = nil
		return
	}
	t.release()
}

func (t *txn) release() {
	if t.conn != nil {
		t.conn.Release()
		t.conn = nil
	}
}

// settle finds out whether the transaction that inserted commit row id
// committed, after its connection failed with cause during COMMIT: nil
// when it did (and is durable now), kv.ErrConflict when it did not and
// never will (the write is tried again), ErrUncertain when no server told
// within the engine's bound.
func (d *DB) settle(id []byte, cause error) error {
	var applied bool
	err := d.run(func(ctx context.Context) error {
		tx, err := d.side.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.Background()) }()
		// Waits for the transaction while it runs; once this row is in,
		// the transaction's own insert can never commit.
		tag, err := tx.Exec(ctx, `INSERT INTO herken_commits (id, applied) VALUES ($1, false) ON CONFLICT (id) DO NOTHING`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			if err := tx.QueryRow(ctx, `SELECT applied FROM herken_commits WHERE id = $1`, id).Scan(&applied); err != nil {
				return err
			}
		}
		// A commit of our own that writes, so that it waits for the
		// standbys: then everything before it, the transaction included,
		// is on them.
		if _, err := tx.Exec(ctx, `SELECT pg_logical_emit_message(true, 'herken.settle', '')`); err != nil {
			return err
		}
		return tx.Commit(context.WithoutCancel(ctx))
	})
	switch {
	case err != nil:
		return fmt.Errorf("%w: the connection failed during COMMIT (%v) and the outcome could not be read: %v", ErrUncertain, cause, err)
	case applied:
		return nil
	}
	return fmt.Errorf("%w: the connection failed during COMMIT (%v); the transaction did not commit", kv.ErrConflict, cause)
}
