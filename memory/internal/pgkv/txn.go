//go:build !wasip1

package pgkv

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/herken/herken/memory/internal/kv"
)

// txn is a transaction on one connection: serializable when it writes,
// repeatable read when it only reads, so that every read of it sees one
// snapshot. Statements go in as few round trips as the transaction's reads
// allow: BEGIN goes with the first statement, queued writes go with the
// next read or with the commit, and keys named by Prefetch are read
// together.
type txn struct {
	db     *DB
	update bool
	conn   *pgxpool.Conn
	begun  bool  // BEGIN was sent on conn
	err    error // the first failure: the transaction is over
	queue  []write
	n      int64 // bytes of keys and values written, against kv.MaxTxnBytes
	done   bool
	want   [][]byte         // keys to read at the next Get of one of them
	ahead  map[string]ahead // what was read of them, until written
}

// ahead is a value read before its Get, or its absence.
type ahead struct {
	val   []byte
	found bool
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
	sqlGetAll = `SELECT k, v FROM herken_kv WHERE k = ANY($1) AND (expires IS NULL OR expires > now())`
	sqlHas    = `SELECT true FROM herken_kv WHERE k = $1 AND (expires IS NULL OR expires > now())`
	sqlSet    = `INSERT INTO herken_kv (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, expires = NULL`
	sqlExpire = `INSERT INTO herken_kv (k, v, expires) VALUES ($1, $2, now() + $3 * interval '1 microsecond') ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, expires = EXCLUDED.expires`
	sqlDelete = `DELETE FROM herken_kv WHERE k = $1`
	sqlCommit = `INSERT INTO herken_commits (id, applied) VALUES ($1, true)`
)

// beginSQL is the statement that begins the transaction.
func (t *txn) beginSQL() string {
	if t.update {
		return `BEGIN ISOLATION LEVEL SERIALIZABLE`
	}
	return `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`
}

// usable reports why the transaction takes no more statements.
func (t *txn) usable() error {
	if t.err != nil {
		return t.err
	}
	if t.done {
		return fmt.Errorf("pgkv: the transaction is over")
	}
	return nil
}

// roundTrip sends the queued writes and then what build queues, in one
// round trip, and hands the results of build's statements to read. The
// first round trip begins the transaction too; until it is answered
// nothing of the transaction is done, so through a failover it is sent
// again, on a new connection, up to the engine's bound.
func (t *txn) roundTrip(build func(b *pgx.Batch), read func(br pgx.BatchResults) error) error {
	if err := t.usable(); err != nil {
		return err
	}
	send := func(ctx context.Context, c *pgxpool.Conn) error {
		b := &pgx.Batch{}
		if !t.begun {
			b.Queue(t.beginSQL())
		}
		t.add(b)
		writes := b.Len()
		if build != nil {
			build(b)
		}
		br := c.SendBatch(ctx, b)
		var err error
		for range writes {
			if _, err = br.Exec(); err != nil {
				break
			}
		}
		if err == nil && read != nil {
			err = read(br)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		return err
	}
	if t.begun {
		ctx, cancel := t.ctx()
		defer cancel()
		if err := send(ctx, t.conn); err != nil {
			return t.fail(err)
		}
		t.queue = t.queue[:0]
		return nil
	}
	var failed error // a failure that ends the transaction, not the try
	err := t.db.run(func(ctx context.Context) error {
		c, err := t.db.pool.Acquire(ctx)
		if err != nil {
			return err
		}
		if err := send(ctx, c); err != nil {
			if retryable(err) {
				c.Release() // a broken connection, or one in a failed transaction: the pool drops it
				return err
			}
			t.conn, t.begun, failed = c, true, err // Discard rolls it back
			return nil
		}
		t.conn, t.begun = c, true
		return nil
	})
	if err == nil && failed != nil {
		return t.fail(failed)
	}
	if err != nil {
		t.err = t.closedOr(err)
		return t.err
	}
	t.queue = t.queue[:0]
	return nil
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
	return t.roundTrip(nil, nil)
}

// add adds the queued writes to b; the queue is emptied once they are
// sent.
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
}

// ready begins the transaction and sends what is queued, before a read of
// its own.
func (t *txn) ready() error {
	if t.begun && len(t.queue) == 0 {
		return t.usable()
	}
	return t.roundTrip(nil, nil)
}

// Prefetch notes keys to read together at the next Get of one of them.
func (t *txn) Prefetch(keys ...[]byte) {
	for _, k := range keys {
		if _, ok := t.ahead[string(k)]; !ok && len(k) > 0 && len(k) <= kv.MaxKeySize {
			t.want = append(t.want, k)
		}
	}
}

// wanted reports whether key is one Prefetch named and was not read yet.
func (t *txn) wanted(key []byte) bool {
	for _, k := range t.want {
		if string(k) == string(key) {
			return true
		}
	}
	return false
}

// readAhead reads the keys Prefetch named, with the queued writes.
func (t *txn) readAhead() error {
	want := t.want
	got := map[string]ahead{}
	err := t.roundTrip(func(b *pgx.Batch) {
		b.Queue(sqlGetAll, want)
	}, func(br pgx.BatchResults) error {
		clear(got)
		rows, err := br.Query()
		if err != nil {
			return err
		}
		for rows.Next() {
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return err
			}
			got[string(k)] = ahead{val: v, found: true}
		}
		rows.Close()
		return rows.Err()
	})
	if err != nil {
		return err
	}
	if t.ahead == nil {
		t.ahead = make(map[string]ahead, len(want))
	}
	for _, k := range want {
		t.ahead[string(k)] = got[string(k)]
	}
	t.want = t.want[:0]
	return nil
}

// lookup returns the value of key, from what was read ahead or in one
// round trip with the queued writes.
func (t *txn) lookup(key []byte) ([]byte, bool, error) {
	if a, ok := t.ahead[string(key)]; ok {
		if err := t.usable(); err != nil {
			return nil, false, err
		}
		return a.val, a.found, nil
	}
	if t.wanted(key) {
		if err := t.readAhead(); err != nil {
			return nil, false, err
		}
		a := t.ahead[string(key)]
		return a.val, a.found, nil
	}
	var v []byte
	found := false
	err := t.roundTrip(func(b *pgx.Batch) {
		b.Queue(sqlGet, key)
	}, func(br pgx.BatchResults) error {
		found = false
		err := br.QueryRow().Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	return v, found, err
}

func (t *txn) Get(key []byte, fn func(val []byte) error) error {
	v, found, err := t.lookup(key)
	if err != nil {
		return err
	}
	if !found {
		return kv.ErrNotFound
	}
	return fn(v)
}

func (t *txn) Has(key []byte) (bool, error) {
	if _, ok := t.ahead[string(key)]; ok || t.wanted(key) {
		_, found, err := t.lookup(key)
		return found, err
	}
	var found bool
	err := t.roundTrip(func(b *pgx.Batch) {
		b.Queue(sqlHas, key)
	}, func(br pgx.BatchResults) error {
		var ok bool
		err := br.QueryRow().Scan(&ok)
		if errors.Is(err, pgx.ErrNoRows) {
			found = false
			return nil
		}
		found = err == nil
		return err
	})
	return found, err
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
	if w.sql == "" {
		delete(t.ahead, string(w.key))
		t.want = slices.DeleteFunc(t.want, func(k []byte) bool { return string(k) == string(w.key) })
	}
	t.queue = append(t.queue, w)
	if len(t.queue) >= maxQueue {
		return t.flush()
	}
	return nil
}

func (t *txn) Set(key, val []byte) error { return t.put(write{key: key, val: val}) }

// SetNew is Set: PostgreSQL keeps every value in one row.
func (t *txn) SetNew(key, val []byte) error {
	if len(val) > kv.PartSize {
		return fmt.Errorf("%w: a value of %d bytes written as new; at most %d", kv.ErrTooBig, len(val), kv.PartSize)
	}
	return t.Set(key, val)
}

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
	if !t.update || !t.begun && len(t.queue) == 0 {
		t.Discard()
		return nil
	}
	if !t.begun {
		// A transaction of writes only: BEGIN goes with them. Nothing is
		// sent before the connection is there.
		err := t.db.run(func(ctx context.Context) (err error) {
			t.conn, err = t.db.pool.Acquire(ctx)
			return err
		})
		if err != nil {
			t.err = t.closedOr(err)
			return t.err
		}
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	b := &pgx.Batch{}
	if !t.begun {
		b.Queue(t.beginSQL())
		t.begun = true
	}
	t.add(b)
	t.queue = nil
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
