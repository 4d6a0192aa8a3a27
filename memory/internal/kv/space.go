//go:build !wasip1

package kv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/badger/v4/y"
)

// Free space. Badger writes its files through memory maps: it creates each
// one sparse with ftruncate and then copies into the mapping (the memtable
// logs, *.mem; the value logs, *.vlog; the tables, *.sst, both those a
// memtable flush writes and those compactions write; DISCARD). On a full
// file system the kernel cannot back the page being written, and the
// process gets SIGBUS instead of ENOSPC. Go turns a fault into a panic only
// for a goroutine that asked for it (runtime/debug.SetPanicOnFault), and
// Badger writes from its own goroutines: flushes and compactions in the
// background, commits in its write goroutine. So the store cannot recover
// from a fault; it must not let Badger reach one. Before each commit, and
// before Open, the space guard compares the free space of the directory
// (statfs) with what Badger may still write through its maps before the next
// check, and refuses with ErrDiskFull when it is short:
//
//   - the commit itself, and the commits admitted but not yet done: their
//     bytes in the logs now, and later in the tables the logs flush to;
//   - the tables that the memtables' logs will be flushed to, in the
//     background or by Close: no larger than the logs (measured: a table
//     takes from 0.05 of its log, for small or compressible values, to 0.98,
//     for incompressible ones; 0.86 for the store's own writes), so the
//     allocated bytes of the *.mem files, plus the bytes committed since the
//     last look;
//   - the compactions that may then run, since a compaction writes all its
//     output before it deletes its input: the next compaction of level 0
//     into the base level (all of both), and, for each other compactor, the
//     largest compaction of one table into the next level (the table and
//     the next level's tables its key range covers, or LevelSizeMultiplier+2
//     of the next level's largest, whichever is more); never more than the
//     whole tree;
//   - a sixteenth more, for tables' indexes and filters, and a megabyte for
//     the small files Badger creates as it goes (a new memtable log at
//     rotation and at open, a value log at open, DISCARD) and for the pages
//     that reading a log's holes takes on tmpfs.
//
// The estimate is taken from Badger's table list and the files' sizes, and
// refreshed at most every second or after MemTableSize/16 bytes of commits;
// a commit that would be refused refreshes it first. A statfs costs 1.3 µs
// and more (14 µs on an overlay file system under load), so a commit with
// room to spare takes the last reading, up to freeEvery old, less what was
// admitted since, and needs freeSlack more than otherwise; one without
// reads it afresh, and every refusal comes from a fresh reading. Value-log GC runs only in Compact, which checks room for
// rewriting the whole tree and the largest value log first.

// ErrDiskFull is returned when the file system that holds the database has
// less free space than the engine may need for the operation and the work
// it starts in the background. The error is a *DiskFullError.
var ErrDiskFull = errors.New("kv: disk full")

// DiskFullError describes a refusal for want of space.
type DiskFullError struct {
	Dir  string
	Op   string // such as "a write" or "opening the database"
	Free int64  // bytes free in Dir
	Need int64  // bytes Op needs free
}

func (e *DiskFullError) Error() string { return "kv: disk full: " + e.Detail() }

// Detail says what was short, without the "disk full" that wrappers add.
func (e *DiskFullError) Detail() string {
	return fmt.Sprintf("%s has %d bytes (%s) free; %s needs %d bytes (%s) free for it and for the engine's background work",
		e.Dir, e.Free, mib(e.Free), e.Op, e.Need, mib(e.Need))
}

// Is reports whether target is ErrDiskFull.
func (e *DiskFullError) Is(target error) bool { return target == ErrDiskFull }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

const (
	// filesSlack is room for the small files and pages the engine writes
	// through its maps besides logs and tables.
	filesSlack = 1 << 20
	// entryOverhead bounds what the logs add to an entry's key and value
	// (header, version, checksum), and txnOverhead what they add per commit
	// (the commit's end marker).
	entryOverhead = 64
	txnOverhead   = 64
	// refreshEvery bounds the age of the estimate of background work.
	refreshEvery = time.Second
	// freeEvery bounds the age of a free-space reading that a commit is
	// admitted on without a statfs of its own, and freeSlack is the room
	// beyond what it needs, and beyond what was admitted since, that the
	// reading must show: so a disk that other processes fill needs to
	// lose freeSlack in freeEvery to pass the guard, and a commit near the
	// limit always reads it afresh.
	freeEvery = 10 * time.Millisecond
	freeSlack = 64 << 20
)

// entrySize bounds the bytes the engine's logs take for an entry.
func entrySize(key, val []byte) int64 { return int64(len(key)+len(val)) + entryOverhead }

// shape is what the estimate of background work needs of the engine's
// options.
type shape struct {
	compactors int // NumCompactors
	multiplier int // LevelSizeMultiplier
}

func shapeOf(o badger.Options) shape {
	return shape{compactors: o.NumCompactors, multiplier: o.LevelSizeMultiplier}
}

// tree is what the estimate needs of the engine's state.
type tree struct {
	levels [][]span // the tables of each level; 0 is L0
	logs   int64    // allocated bytes of the memtables' logs
}

// span is a table: its file size and, where known, its key range (Badger's
// keys, with their version).
type span struct {
	size        int64
	left, right []byte
}

func (tr *tree) add(level int, t span) {
	for len(tr.levels) <= level {
		tr.levels = append(tr.levels, nil)
	}
	tr.levels[level] = append(tr.levels[level], t)
}

// background bounds what the engine may write through its maps, from tr,
// with no commit in between: the tables of the logs, then the compactions.
// See the comment at the top of the file.
func (sh shape) background(tr tree) int64 {
	level := func(l int) (ts []span, sum, biggest int64) {
		if l >= len(tr.levels) {
			return nil, 0, 0
		}
		for _, t := range tr.levels[l] {
			sum += t.size
			biggest = max(biggest, t.size)
		}
		return tr.levels[l], sum, biggest
	}
	for _, ts := range tr.levels[min(1, len(tr.levels)):] {
		slices.SortFunc(ts, func(a, b span) int { return compareKeys(a.left, b.left) })
	}
	_, l0, _ := level(0)
	l0 += tr.logs
	total := l0
	var base, pair int64
	for l := 1; l < len(tr.levels); l++ {
		ts, sum, _ := level(l)
		total += sum
		if sum > 0 && base == 0 {
			base = sum // the base level: the first below L0 that holds tables
		}
		next, nextSum, nextTop := level(l + 1)
		for _, t := range ts {
			bot := t.size // the last level compacts a table with neighbours up to a table's size
			if l+1 < len(tr.levels) {
				// What a table's key range typically covers of the next
				// level, or more where its key range is known to cover
				// more. The first is all that Open knows, and a store that
				// was refused for want of room must open in what it kept.
				bot = min(nextSum, int64(sh.multiplier+2)*nextTop)
				if t.left != nil {
					bot = max(bot, overlap(next, t))
				}
			}
			pair = max(pair, t.size+bot)
		}
	}
	return min(l0+base+int64(max(sh.compactors-1, 0))*pair, total)
}

// overlap returns the bytes of the tables of a level below L0, sorted by
// key, that t's key range touches: what compacting t into it rewrites.
func overlap(level []span, t span) int64 {
	// The tables of such a level do not overlap, so their right ends are
	// in order too.
	i := sort.Search(len(level), func(i int) bool { return compareKeys(level[i].right, t.left) >= 0 })
	var n int64
	for ; i < len(level) && compareKeys(level[i].left, t.right) <= 0; i++ {
		n += level[i].size
	}
	return n
}

// compareKeys orders Badger's keys, which end in an 8-byte version, as
// Badger does (y.CompareKeys), and any shorter ones bytewise, where
// y.CompareKeys would panic.
func compareKeys(a, b []byte) int {
	if len(a) < 8 || len(b) < 8 {
		return bytes.Compare(a, b)
	}
	return y.CompareKeys(a, b)
}

// userKey strips the version from a Badger key.
func userKey(k []byte) []byte { return k[:max(len(k)-8, 0)] }

// margin adds the slack of the estimate: tables carry an index and a
// filter, and outputs of a compaction can be a little larger than inputs.
func margin(n int64) int64 { return n + n/16 + filesSlack }

// space guards the free space of a database's directory. It is safe for
// concurrent use; nil guards nothing (in-memory databases, and platforms
// without statfs).
type space struct {
	dir   string
	sh    shape
	db    *badger.DB
	free  func() (int64, error) // statfs of dir
	every int64                 // bytes of commits between refreshes

	inflight atomic.Int64 // bytes of commits admitted and not yet done
	since    atomic.Int64 // bytes committed since the estimate was taken
	bg       atomic.Int64 // the estimate of background work
	at       atomic.Int64 // when it was taken, in Unix nanoseconds

	mu    sync.Mutex       // one refresh at a time; guards sizes
	sizes map[uint64]int64 // table file sizes by id: tables never change

	// The last free-space reading (see freeEvery): its bytes, when it was
	// taken (Unix nanoseconds), and the bytes admitted since.
	freeAge   time.Duration // freeEvery; 0 reads free space for every commit
	lastFree  atomic.Int64
	lastAt    atomic.Int64
	lastSince atomic.Int64
}

// newSpace returns the guard of db, opened with o, or nil where free space
// cannot be read.
func newSpace(o badger.Options, db *badger.DB) *space {
	if o.InMemory || !statfsSupported {
		return nil
	}
	s := &space{dir: o.Dir, sh: shapeOf(o), db: db, free: func() (int64, error) { return freeBytes(o.Dir) },
		every: max(o.MemTableSize/16, 1<<20), sizes: map[uint64]int64{}, freeAge: freeEvery}
	s.refresh()
	return s
}

// admit reserves n bytes for a commit, or returns a *DiskFullError when
// free space is short of them and of the background work. done must follow
// a nil return.
func (s *space) admit(n int64) error {
	if s == nil || n == 0 {
		return nil
	}
	n += txnOverhead
	if s.since.Load() >= s.every || time.Now().UnixNano()-s.at.Load() >= int64(refreshEvery) {
		s.tryRefresh()
	}
	in := s.inflight.Add(n)
	need := s.need(in)
	if s.freeAge > 0 && time.Now().UnixNano()-s.lastAt.Load() < int64(s.freeAge) &&
		s.lastFree.Load()-s.lastSince.Add(n) >= need+freeSlack {
		return nil // a recent reading shows room to spare
	}
	free, err := s.free()
	if err != nil {
		s.inflight.Add(-n)
		return fmt.Errorf("kv: free space of %s: %w", s.dir, err)
	}
	s.lastFree.Store(free)
	s.lastSince.Store(0)
	s.lastAt.Store(time.Now().UnixNano())
	if free < need && s.refresh() {
		// The estimate was old; a compaction may have shrunk it.
		if free, err = s.free(); err == nil {
			need = s.need(s.inflight.Load())
		}
	}
	if err == nil && free < need {
		err = &DiskFullError{Dir: s.dir, Op: "a write", Free: free, Need: need}
	}
	if err != nil {
		s.inflight.Add(-n)
		return err
	}
	return nil
}

// done ends a commit that admit let through.
func (s *space) done(n int64) {
	if s == nil || n == 0 {
		return
	}
	n += txnOverhead
	s.since.Add(n)
	s.inflight.Add(-n)
}

// need is the free space that commits of in bytes need, in flight: room
// for their logs now, and later for the tables those are flushed to, and
// for the rest of the engine's background work, as last estimated. (A
// store refused for want of it has room to open again: see checkOpen.)
func (s *space) need(in int64) int64 { return margin(s.bg.Load()+s.since.Load()+in) + in }

// room returns a *DiskFullError unless free space covers extra bytes that
// op writes besides the background work.
func (s *space) room(op string, extra int64) error {
	if s == nil {
		return nil
	}
	s.refresh()
	free, err := s.free()
	if err != nil {
		return fmt.Errorf("kv: free space of %s: %w", s.dir, err)
	}
	if need := s.need(s.inflight.Load()) + margin(extra); free < need {
		return &DiskFullError{Dir: s.dir, Op: op, Free: free, Need: need}
	}
	return nil
}

// tryRefresh refreshes the estimate unless another goroutine is at it.
func (s *space) tryRefresh() {
	if s.mu.TryLock() {
		s.refreshLocked()
		s.mu.Unlock()
	}
}

// refresh takes a new estimate, unless one was taken in the last few
// milliseconds, and reports whether it did.
func (s *space) refresh() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Now().UnixNano()-s.at.Load() < int64(10*time.Millisecond) {
		return false
	}
	s.refreshLocked()
	return true
}

func (s *space) refreshLocked() {
	if s.db.IsClosed() {
		return // its tables are unmapped; Badger refuses the write anyway
	}
	since := s.since.Load() // counted twice until subtracted: errs on the safe side
	tr := tree{logs: logBytes(s.dir)}
	sizes := make(map[uint64]int64, len(s.sizes))
	for _, t := range s.db.Tables() {
		sz, ok := s.sizes[t.ID]
		if !ok {
			sz = fileBytes(table.NewFilename(t.ID, s.dir))
		}
		sizes[t.ID] = sz
		tr.add(t.Level, span{size: sz, left: t.Left, right: t.Right})
	}
	s.sizes = sizes
	s.bg.Store(s.sh.background(tr))
	s.since.Add(-since)
	s.at.Store(time.Now().UnixNano())
}

// checkOpen returns a *DiskFullError unless the directory of o has the
// room that opening the database takes: the tables that the logs it
// replays are flushed to, and the compactions its tree is due, as read from
// the manifest and the files before Badger maps anything. Without key
// ranges the estimate is no more than the one writes were refused by, so a
// store refused for want of room opens again in the room it kept. free
// reads the free space of a directory.
func checkOpen(o badger.Options, free func(dir string) (int64, error)) error {
	if o.InMemory || o.ReadOnly || !statfsSupported {
		return nil
	}
	n, err := free(o.Dir)
	for dir := o.Dir; errors.Is(err, os.ErrNotExist) && filepath.Dir(dir) != dir; {
		dir = filepath.Dir(dir) // a new database: Badger makes the directory
		n, err = free(dir)
	}
	if err != nil {
		return fmt.Errorf("kv: free space of %s: %w", o.Dir, err)
	}
	tr := tree{logs: logBytes(o.Dir)}
	if f, err := os.Open(filepath.Join(o.Dir, badger.ManifestFilename)); err == nil {
		m, _, err := badger.ReplayManifestFile(f, o.ExternalMagicVersion, o)
		f.Close()
		if err != nil {
			return nil // Badger reports a bad manifest better
		}
		for id, t := range m.Tables {
			tr.add(int(t.Level), span{size: fileBytes(table.NewFilename(id, o.Dir))}) // key ranges are in the tables
		}
	}
	if need := margin(shapeOf(o).background(tr)); n < need {
		return &DiskFullError{Dir: o.Dir, Op: "opening the database", Free: n, Need: need}
	}
	return nil
}

// logBytes returns the bytes allocated to the memtables' logs in dir. They
// are sparse files, twice MemTableSize long, filled from the start.
func logBytes(dir string) int64 {
	mems, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
	var n int64
	for _, m := range mems {
		n += allocated(m)
	}
	return n
}

// fileBytes returns the size of the file, or 0 if it is gone.
func fileBytes(name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// holding returns the bytes of the tables that may hold keys under the
// prefixes, which DropPrefixes rewrites.
func (s *space) holding(prefixes [][]byte) int64 {
	if s == nil {
		return 0
	}
	var n int64
	for _, t := range s.db.Tables() {
		left, right := userKey(t.Left), userKey(t.Right)
		for _, p := range prefixes {
			if bytes.Compare(right, p) >= 0 && bytes.Compare(left[:min(len(left), len(p))], p) <= 0 {
				n += fileBytes(table.NewFilename(t.ID, s.dir))
				break
			}
		}
	}
	return n
}

// rewrite returns what Compact may write: the whole tree, and the largest
// value log, whose live entries value-log GC writes again.
func (s *space) rewrite() int64 {
	if s == nil {
		return 0
	}
	var n, vlog int64
	for _, t := range s.db.Tables() {
		n += fileBytes(table.NewFilename(t.ID, s.dir))
	}
	vlogs, _ := filepath.Glob(filepath.Join(s.dir, "*.vlog"))
	for _, v := range vlogs {
		vlog = max(vlog, allocated(v))
	}
	return n + vlog
}

// reader returns r, checking every loadCheck bytes read that free space
// covers what was read and is not yet on disk, as far as the drop in free
// space since the start shows. For Load, whose writes the engine makes in
// the background as it reads.
func (s *space) reader(r io.Reader) io.Reader {
	if s == nil {
		return r
	}
	return &loadReader{s: s, r: r}
}

const loadCheck = 1 << 20

type loadReader struct {
	s          *space
	r          io.Reader
	read, next int64
	free0      int64 // free space at the first check
}

func (l *loadReader) Read(p []byte) (int, error) {
	if l.read >= l.next {
		free, err := l.s.free()
		if err != nil {
			return 0, fmt.Errorf("kv: free space of %s: %w", l.s.dir, err)
		}
		if l.next == 0 {
			l.free0 = free
		}
		pending := max(l.read-(l.free0-free), 0) + loadCheck
		l.s.tryRefresh()
		if need := l.s.need(pending); free < need {
			return 0, &DiskFullError{Dir: l.s.dir, Op: "a restore", Free: free, Need: need}
		}
		l.next = l.read + loadCheck
	}
	n, err := l.r.Read(p[:min(int64(len(p)), l.next-l.read)])
	l.read += int64(n)
	return n, err
}
