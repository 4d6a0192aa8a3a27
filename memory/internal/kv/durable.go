//go:build !wasip1

package kv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
func (d *Badger) Durable() error {
	if d.opts.InMemory || !d.opts.SyncWrites {
		return nil
	}
	return d.sync.wait(d.syncAll)
}

// errNoLog is returned by a sync that finds no memtable log in an on-disk
// database's directory: it would sync nothing, so durability is gone. A
// Badger that names or places its logs differently must fail loudly here.
var errNoLog = errors.New("kv: no memtable log (*.mem) in the database directory to sync")

// syncAll makes everything committed before the call durable.
//
// Badger's Sync covers two of the files that need it: the active
// memtable's log and the newest value log (the latter only because Badger
// runs without SyncWrites: with it, its vlog sync returns at once). It does
// not cover a memtable rotated out after a commit: that memtable keeps its
// log, unsynced, until it is flushed to a table, and a commit in it would
// be lost to a power cut before the flush. So syncAll then fsyncs every
// memtable log but the newest, found in one read of the directory. Older
// value logs are synced when they are rotated out (Badger truncates them
// through an msync first). fsync writes back the pages Badger wrote through
// its memory maps as well.
func (d *Badger) syncAll() error {
	if d.opts.InMemory {
		return nil
	}
	if err := d.db.Sync(); err != nil {
		return translate(err)
	}
	return syncRotated(d.opts.Dir)
}

// syncRotated fsyncs the memtable logs in dir but the newest. Logs are
// numbered in creation order, and Badger's Sync, run before, synced the
// memtable that was active then, or an older one than the newest now: a
// commit that preceded the Sync is in that memtable or an older one, whose
// log this finds, or in a table, when its log is gone.
func syncRotated(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	var logs []string
	newest, newestFid := "", -1
	for _, name := range names {
		num, ok := strings.CutSuffix(name, ".mem")
		if !ok {
			continue
		}
		fid, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		if fid > newestFid {
			if newest != "" {
				logs = append(logs, newest)
			}
			newest, newestFid = name, fid
			continue
		}
		logs = append(logs, name)
	}
	if newest == "" {
		return fmt.Errorf("%w: %s", errNoLog, dir)
	}
	var errs error
	for _, name := range logs {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			continue // flushed to a table and removed meanwhile
		}
		if err != nil {
			errs = errors.Join(errs, err)
			continue
		}
		errs = errors.Join(errs, f.Sync(), f.Close())
	}
	return errs
}
