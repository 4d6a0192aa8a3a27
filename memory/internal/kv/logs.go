//go:build !wasip1

package kv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The memtable logs that the group commit syncs (durable.go). Badger writes
// every entry of a commit into the log of the active memtable (its *.mem
// file, through a memory map) before the commit returns: values stay in
// the tree, never in a value log, because Open refuses a value threshold at
// or below PartSize, the longest value handed to Badger. A memtable log is
// numbered above the one before it (DB.nextMemFid, one more each time), and
// the single write goroutine creates it before it writes anything into it,
// so once a newer log exists, the older ones take no more writes; they are
// removed in order, once flushed to tables.
//
// logs keeps the logs open from Open on, and finds a new one by trying to
// open the next number, one failed open a round, instead of reading the
// directory; only where the newest it holds was removed (a memtable can
// come and go between two rounds) does it read the directory. A round fdatasyncs every log it holds: the newest, and those
// rotated out since the last round, which it then closes (a log rotated
// out keeps its commits unsynced until its memtable is flushed to a table,
// which Badger's own Sync does not cover). fdatasync writes back the pages
// written through the maps, as msync would, but costs what was written,
// not what is mapped: Badger maps each memtable log at twice MemTableSize
// and each value log at 2 GiB, and DB.Sync msyncs both whole under the
// DB's lock. A log found new is named in the directory by an fsync of the
// directory, which Badger leaves out when it creates one.

// logs is the open memtable logs of a database. It is safe for concurrent
// use.
type logs struct {
	dir  string
	mu   sync.Mutex // guards the fields below
	held []*os.File // in order of number; the last is the newest
	next int        // the number of the log after the newest
	shut bool       // closed with the database
}

// errNoLog is returned by a sync that finds no memtable log to sync: it
// would sync nothing, so durability is gone. A Badger that names, numbers
// or places its logs differently must fail loudly here.
var errNoLog = errors.New("kv: no memtable log (*.mem) in the database directory to sync")

// openLogs opens the memtable logs in dir, where Badger has just opened a
// database to write.
func openLogs(dir string) (*logs, error) {
	names, err := readNames(dir)
	if err != nil {
		return nil, err
	}
	var fids []int
	for _, name := range names {
		if fid, ok := memFid(name); ok {
			fids = append(fids, fid)
		}
	}
	if len(fids) == 0 {
		return nil, fmt.Errorf("%w: %s", errNoLog, dir)
	}
	l := &logs{dir: dir}
	slices.Sort(fids)
	for _, fid := range fids {
		f, err := os.Open(l.name(fid))
		if errors.Is(err, os.ErrNotExist) {
			continue // an old one flushed meanwhile
		}
		if err != nil {
			l.close()
			return nil, err
		}
		l.held = append(l.held, f)
		l.next = fid + 1
	}
	if len(l.held) == 0 {
		return nil, fmt.Errorf("%w: %s", errNoLog, dir)
	}
	return l, nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// memFid returns the number of a memtable log's file name.
func memFid(name string) (int, bool) {
	num, ok := strings.CutSuffix(name, ".mem")
	if !ok {
		return 0, false
	}
	fid, err := strconv.Atoi(num)
	return fid, err == nil && fid >= 0
}

func (l *logs) name(fid int) string { return filepath.Join(l.dir, fmt.Sprintf("%05d.mem", fid)) }

// sync makes every commit that returned before the call durable.
func (l *logs) sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.shut {
		return ErrClosed
	}
	found, err := l.discover()
	if err != nil {
		return err
	}
	if !found {
		// The newest log must still be the active one: a log is removed
		// only once flushed, after a newer one took the writes.
		_, err := os.Stat(l.held[len(l.held)-1].Name())
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err != nil {
			// A memtable can come and go between two rounds (Badger's
			// DropPrefix flushes the active one and opens another): look
			// in the directory, which is rare.
			if found, err = l.rescan(); err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("%w: %s: the newest log was removed and none took its place", errNoLog, l.dir)
			}
		}
	}
	if found {
		if err := syncDir(l.dir); err != nil {
			return err
		}
	}
	var errs error
	for _, f := range l.held {
		errs = errors.Join(errs, datasync(f))
	}
	if errs != nil {
		return errs
	}
	// Every log but the newest took its last write before the newest was
	// created, before this round began: synced now, it is done.
	for _, f := range l.held[:len(l.held)-1] {
		f.Close()
	}
	l.held = append(l.held[:0], l.held[len(l.held)-1])
	return nil
}

// discover opens the logs created since the last look, and reports whether
// there were any.
func (l *logs) discover() (bool, error) {
	found := false
	for {
		f, err := os.Open(l.name(l.next))
		if errors.Is(err, os.ErrNotExist) {
			return found, nil
		}
		if err != nil {
			return found, err
		}
		l.held = append(l.held, f)
		l.next++
		found = true
	}
}

// rescan opens the logs numbered from next on that the directory holds, and
// reports whether there were any.
func (l *logs) rescan() (bool, error) {
	names, err := readNames(l.dir)
	if err != nil {
		return false, err
	}
	var fids []int
	for _, name := range names {
		if fid, ok := memFid(name); ok && fid >= l.next {
			fids = append(fids, fid)
		}
	}
	slices.Sort(fids)
	found := false
	for _, fid := range fids {
		f, err := os.Open(l.name(fid))
		if errors.Is(err, os.ErrNotExist) {
			continue // come and gone
		}
		if err != nil {
			return found, err
		}
		l.held = append(l.held, f)
		l.next = fid + 1
		found = true
	}
	more, err := l.discover()
	return found || more, err
}

// close closes the logs.
func (l *logs) close() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.held {
		f.Close()
	}
	l.held, l.shut = nil, true
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
