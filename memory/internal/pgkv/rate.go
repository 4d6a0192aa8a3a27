//go:build !wasip1

package pgkv

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Allow takes one request from the bucket key, shared by every process of
// the store: a bucket of burst requests refilled at one each every
// (GCRA: the row keeps the theoretical arrival time of the next request).
// When the bucket is empty it returns false and how long until it holds
// one again. The table is unlogged: it is not in the WAL, costs no wait for
// the standbys, and starts empty after a crash or a failover, which lets
// every bucket start full.
func (d *DB) Allow(key []byte, every time.Duration, burst int) (ok bool, wait time.Duration, err error) {
	inc := every.Microseconds()
	tolerance := inc * int64(burst)
	err = d.run(func(ctx context.Context) error {
		var tat time.Time
		err := d.side.QueryRow(ctx, `INSERT INTO herken_limits AS l (k, tat) VALUES ($1, now() + $2 * interval '1 microsecond')
			ON CONFLICT (k) DO UPDATE SET tat = greatest(l.tat, now()) + $2 * interval '1 microsecond'
			WHERE greatest(l.tat, now()) + $2 * interval '1 microsecond' <= now() + $3 * interval '1 microsecond'
			RETURNING tat`, key, inc, tolerance).Scan(&tat)
		if err == nil {
			ok, wait = true, 0
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var micros int64
		if err := d.side.QueryRow(ctx, `SELECT extract(epoch FROM greatest(tat, now()) + $2 * interval '1 microsecond' - now() - $3 * interval '1 microsecond') * 1e6
			FROM herken_limits WHERE k = $1`, key, inc, tolerance).Scan(&micros); err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		ok, wait = false, time.Duration(max(micros, 1))*time.Microsecond
		return nil
	})
	return ok, wait, translate(err)
}

// sweepEvery is how often Sweep does its work at most.
const sweepEvery = time.Minute

// Sweep deletes, at most once a minute, what no longer counts: buckets that
// are full again, commit rows older than a day (a commit of unknown outcome
// is settled within the engine's bound), and values past their expiry.
func (d *DB) Sweep() error {
	d.sweepMu.Lock()
	defer d.sweepMu.Unlock()
	if time.Since(d.swept) < sweepEvery {
		return nil
	}
	d.swept = time.Now()
	for _, stmt := range []string{
		`DELETE FROM herken_limits WHERE tat < now()`,
		`DELETE FROM herken_commits WHERE id IN (SELECT id FROM herken_commits WHERE at < now() - interval '1 day' LIMIT 10000)`,
		`DELETE FROM herken_kv WHERE k IN (SELECT k FROM herken_kv WHERE expires < now() LIMIT 10000)`,
	} {
		if err := d.run(func(ctx context.Context) error {
			_, err := d.side.Exec(ctx, stmt)
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}
