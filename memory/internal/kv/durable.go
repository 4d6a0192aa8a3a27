//go:build !wasip1

package kv

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Group commit. Badger with SyncWrites syncs its memtable log once for every
// transaction in a batch (writeToLSM calls SyncWAL per request), so
// concurrent writers do not share a flush. The DB runs Badger without it and
// makes commits durable itself: a writer that needs its commit on disk calls
// Durable, which joins the next round; one goroutine runs each round's sync
// for every writer waiting in it.

// group runs sync rounds. The zero value is ready.
type group struct {
	mu      sync.Mutex // guards the fields below
	running bool       // a leader is running rounds
	next    *round     // the round that starts next; its waiters committed before it starts
}

type round struct {
	done chan struct{}
	err  error
}

// wait returns once a sync that started after the call has finished.
func (g *group) wait(sync func() error) error {
	g.mu.Lock()
	if g.next == nil {
		g.next = &round{done: make(chan struct{})}
	}
	r := g.next
	if g.running {
		g.mu.Unlock()
		<-r.done
		return r.err
	}
	g.running = true
	g.mu.Unlock()
	// Lead: run rounds until nobody waits.
	for {
		g.mu.Lock()
		cur := g.next
		g.next = nil
		if cur == nil {
			g.running = false
			g.mu.Unlock()
			break
		}
		g.mu.Unlock()
		cur.err = sync()
		close(cur.done)
	}
	<-r.done
	return r.err
}

// Durable returns once everything committed before the call is on disk.
func (d *DB) Durable() error {
	if d.opts.InMemory || !d.opts.SyncWrites {
		return nil
	}
	return d.sync.wait(d.syncAll)
}

// syncAll fsyncs every memtable log in the directory and the newest value
// log: what Badger's Sync does for the active memtable and the value log,
// and more, since a memtable rotated out after a commit keeps its log,
// unsynced, until it is flushed to a table. Older value logs were synced
// when they were closed. (fsync writes back the pages Badger wrote through
// its memory maps.)
func (d *DB) syncAll() error {
	mems, err := filepath.Glob(filepath.Join(d.opts.Dir, "*.mem"))
	if err != nil {
		return err
	}
	vlogs, err := filepath.Glob(filepath.Join(d.opts.Dir, "*.vlog"))
	if err != nil {
		return err
	}
	if len(vlogs) > 0 {
		slices.Sort(vlogs) // fixed-width numbers: the newest sorts last
		mems = append(mems, vlogs[len(vlogs)-1])
	}
	var errs error
	for _, name := range mems {
		f, err := os.OpenFile(name, os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue // flushed and removed meanwhile
		}
		if err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		errs = errors.Join(errs, f.Sync(), f.Close())
	}
	return errs
}
