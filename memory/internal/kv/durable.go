//go:build !wasip1

package kv

import "sync"

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
func (d *Badger) Durable() error {
	if d.opts.InMemory || !d.opts.SyncWrites {
		return nil
	}
	return d.sync.wait(d.syncAll)
}

// syncAll makes everything committed before the call durable: it
// fdatasyncs the memtable logs that may hold it (logs.go).
func (d *Badger) syncAll() error {
	if d.opts.InMemory || d.opts.ReadOnly {
		return nil // nothing written
	}
	return d.logs.sync()
}
