//go:build !wasip1

package pgkv

import (
	"context"
	"fmt"
	"time"
)

// Advisory locks of the store, across every process that opens it.
const (
	// LockOpen is held while a store opens: it creates or migrates the
	// data once.
	LockOpen = 0x6865726b656e0002
	// LockWork is held by the one process that does the store's background
	// work at a time (erasure, new keys, settling keys).
	LockWork = 0x6865726b656e0003
)

// Lock takes advisory lock id on a connection of its own, waiting for it
// (wait) up to the engine's bound, or trying once. ok is false when it
// was not free. Call release to let it go; a lost connection lets it go
// too.
func (d *DB) Lock(id int64, wait bool) (release func(), ok bool, err error) {
	deadline := time.Now().Add(d.opts.Unavailable)
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(d.ctx, queryTimeout)
		c, err := d.side.Acquire(ctx)
		if err == nil {
			err = c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, id).Scan(&ok)
			if err != nil {
				c.Release()
			}
		}
		cancel()
		switch {
		case err != nil && (!retryable(err) || time.Now().After(deadline) || d.ctx.Err() != nil):
			return nil, false, translate(err)
		case err != nil:
			d.pause(attempt)
			continue
		case ok:
			return func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if _, err := c.Exec(ctx, `SELECT pg_advisory_unlock($1)`, id); err != nil {
					c.Hijack().Close(ctx)
					return
				}
				c.Release()
			}, true, nil
		}
		c.Release()
		if !wait {
			return nil, false, nil
		}
		if time.Now().After(deadline) {
			return nil, false, fmt.Errorf("%w: advisory lock %#x was held for %v", ErrUnavailable, id, d.opts.Unavailable)
		}
		d.pause(attempt)
	}
}
