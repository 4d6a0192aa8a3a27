//go:build !wasip1

package kv

import (
	"sync"
	"sync/atomic"
	"time"
)

// Group commit. Badger with SyncWrites syncs its memtable log once for every
// transaction in a batch (writeToLSM calls SyncWAL per request), so
// concurrent writers do not share a flush. The DB runs Badger without it and
// makes commits durable itself: a writer that needs its commit on disk calls
// Durable, which joins the next round of syncs. One of the round's writers
// leads it: it runs the round's sync for every writer waiting in it, and
// then hands the lead of the round after it to one of that round's writers,
// so that no writer syncs for others longer than its own round.
//
// A round does not start while other commits are on their way to it: it
// waits for them, up to roundDelay. Rounds that start at once ran back to
// back, two writers each, and the writers waited in Badger's pipeline (a
// new transaction's read timestamp, a commit's turn), not for the syncs;
// most likely each sync makes the memtable log's pages clean, and Badger's
// one writing goroutine faults on them again while every transaction waits
// for it. Fewer rounds that each take more writers spend less of it. A
// writer alone waits for nothing. Measured with 64 writers (go run ./bench
// -only contact -customers 100000 -no-peers), starting each round at once
// took 9.2 k writes/s at 6.4 ms p50; waiting 200, 500 and 1000 µs took
// 13.4, 16.5 and 15.6 k/s at 4.5, 3.6 and 3.9 ms.
const roundDelay = 500 * time.Microsecond

// roundPoll is how often a round about to start looks whether the commits
// it waits for came.
const roundPoll = 50 * time.Microsecond

// group runs sync rounds. The zero value is ready.
type group struct {
	mu      sync.Mutex // guards the fields below
	running bool       // a round has a leader
	next    *round     // the round that starts next; its writers committed before it starts

	// committing counts the commits under way (Badger.Begin's
	// transactions in Commit): the writers a round about to start waits
	// for.
	committing atomic.Int64
}

type round struct {
	done chan struct{} // closed once the round's sync finished
	lead chan struct{} // one of the round's writers takes the lead from it
	err  error
}

func newRound() *round {
	return &round{done: make(chan struct{}), lead: make(chan struct{}, 1)}
}

// wait returns once a sync that started after the call has finished.
func (g *group) wait(sync func() error) error {
	g.mu.Lock()
	if g.next == nil {
		g.next = newRound()
	}
	r := g.next
	if g.running {
		g.mu.Unlock()
		select {
		case <-r.done:
			return r.err
		case <-r.lead:
		}
	} else {
		g.running = true
		g.mu.Unlock()
	}
	// Lead r: let the commits on their way join it, start it (a writer
	// that comes later waits for the next), sync, and hand the lead on.
	g.settle()
	g.mu.Lock()
	g.next = nil
	g.mu.Unlock()
	r.err = sync()
	close(r.done)
	g.mu.Lock()
	if g.next != nil {
		g.next.lead <- struct{}{}
	} else {
		g.running = false
	}
	g.mu.Unlock()
	return r.err
}

// settle waits until no commit is under way, for at most roundDelay.
func (g *group) settle() {
	if g.committing.Load() == 0 {
		return
	}
	deadline := time.Now().Add(roundDelay)
	for g.committing.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(roundPoll)
	}
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
