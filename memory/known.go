//go:build !wasip1

package memory

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herken/herken/memory/internal/keys"
)

// A store one process holds (Badger) keeps in memory a filter of every
// identifier it holds: a blocked Bloom filter of their keyed hashes (the
// hashes their store keys end in), 2 to 8 bytes an identifier. An
// identifier the filter lacks belongs to no one, and saying so costs its
// hash and one cache line, not a read of the store: it is what a new
// visitor and a page guessing identifiers cost. The filter never lacks an
// identifier a reader could find in the store:
//
//   - It is built by a scan of the store's identifiers, in the background
//     at open and again when it fills up; until the first build ends, no
//     one asks it.
//   - A write adds the identifiers it sets to the filter in use before it
//     commits, holding known.mu for reading until the commit is done; while
//     a build runs it records them for the build too.
//   - A build starts by taking known.mu, so that every write in progress
//     has committed (and is in the scan that follows) and every later one
//     records its identifiers for it; it publishes its filter holding
//     known.mu again, with those identifiers in it.
//
// An identifier deleted (Forget, unmerge, a retired device, an unlink)
// stays in the filter until the next build, and a lookup of one reads the
// store, as a false positive does: that costs more than a lookup of an
// identifier that never was anyone's, and so would tell, by its time,
// that someone had it. So a write that deletes identifiers asks for a
// build once it committed, and Compact, which erases what Forget left,
// builds the filter before it returns. Builds asked for while one runs
// make one more, not one each, and a background build starts knownGap,
// or four times as long as the last one took, after the last began: a
// stream of forgets costs a scan a second at most (each build makes the
// writes of the moment wait twice for the ones in progress; with builds
// every quarter of a second, others' writes during a stream of forgets
// had a p99 1.35 times their own alone, against 0.85 without and 0.67
// with a second, in one run each of go run ./bench -only forget), and a
// forgotten identifier answers as a stranger's within about that.
//
// The hash is keyed by the store's secret, so a page cannot choose
// identifiers that hit the same bits. In PostgreSQL other instances add
// identifiers that only the change feed tells of, after the fact, so there
// is no filter: misses are served by the cache of absent identifiers.
type known struct {
	on      bool                  // the store keeps a filter (Badger)
	minimum int                   // the fewest identifiers a filter is sized for
	mu      sync.RWMutex          // held for reading by writes from their adds to their commit
	filter  atomic.Pointer[bloom] // nil until the first build ends

	building bool       // a build runs; guarded by mu (read under RLock, written under Lock)
	pmu      sync.Mutex // guards pending
	pending  []identHash

	buildMu    sync.Mutex  // held by a build from start to end: one at a time
	rebuilding atomic.Bool // the background builds run or are about to
	again      atomic.Bool // a build was asked for since the last one started
	builds     sync.WaitGroup
	stop       chan struct{} // closed by Close: the builds waiting for their turn end
	// When the last background build began, and how long after it the
	// next may: the background builds' own, one goroutine at a time.
	began time.Time
	next  time.Duration
}

// identHash is the keyed hash of a normalized identifier, as its store key
// ends.
type identHash [hashLen]byte

// knownMinimum is the fewest identifiers a filter is sized for.
const knownMinimum = 1 << 15

// knownGap is the shortest time between the starts of two background
// builds.
const knownGap = time.Second

// lacks says whether the identifier with hash h surely belongs to no one.
func (k *known) lacks(h *identHash) bool {
	f := k.filter.Load()
	return f != nil && !f.has(h)
}

// adding adds the identifiers a write sets, before it commits; the write
// calls done once its commit returned.
func (s *Store) knownAdding(hs []identHash) (done func()) {
	k := &s.known
	if !k.on || len(hs) == 0 {
		return func() {}
	}
	k.mu.RLock()
	if f := k.filter.Load(); f != nil {
		for i := range hs {
			f.add(&hs[i])
		}
		if f.full() {
			s.rebuildKnown()
		}
	}
	if k.building {
		k.pmu.Lock()
		k.pending = append(k.pending, hs...)
		k.pmu.Unlock()
	}
	return k.mu.RUnlock
}

// rebuildKnown builds the filter anew in the background, after what the
// caller committed: a build that starts after the call. A caller is in the
// store's gate, so that Close, which waits for the builds, comes after.
func (s *Store) rebuildKnown() {
	k := &s.known
	if !k.on {
		return
	}
	k.again.Store(true)
	if !k.rebuilding.CompareAndSwap(false, true) {
		return // the builds running see again
	}
	k.builds.Go(func() {
		for {
			for k.again.Load() {
				if wait := k.next - time.Since(k.began); !k.began.IsZero() && wait > 0 {
					select {
					case <-time.After(wait):
					case <-k.stop:
						k.rebuilding.Store(false)
						return
					}
				}
				k.again.Store(false)
				k.began = time.Now()
				err := s.buildKnown()
				k.next = max(knownGap, 4*time.Since(k.began))
				if err != nil {
					if !s.closed.Load() {
						s.logf(context.Background(), slog.LevelWarn, "memory: the filter of known identifiers was not built; lookups of unknown ones read the store", "err", err)
					}
					k.again.Store(false)
				}
			}
			k.rebuilding.Store(false)
			// Asked for between the last build and the line above, by a
			// caller that saw these builds running.
			if !k.again.Load() || !k.rebuilding.CompareAndSwap(false, true) {
				return
			}
		}
	})
}

// buildKnown scans the store's identifiers into a new filter and puts it
// in use (see known).
func (s *Store) buildKnown() error {
	k := &s.known
	k.buildMu.Lock()
	defer k.buildMu.Unlock()
	k.mu.Lock()
	k.building = true
	k.mu.Unlock()
	published := false
	defer func() {
		if !published {
			k.mu.Lock()
			k.building, k.pending = false, nil
			k.mu.Unlock()
		}
	}()
	// Close waits for builds holding the gate: a build must not wait for
	// the gate behind it.
	if s.closed.Load() || !s.gate.TryRLock() {
		return ErrClosed
	}
	var hs []identHash
	t := s.db.Begin(false)
	err := t.Scan(keys.Identifiers, true, func(key, _ []byte) error {
		if s.closed.Load() {
			return ErrClosed
		}
		if len(key) < len(keys.Identifiers)+2+hashLen || key[len(key)-hashLen-1] != 0 {
			return fmt.Errorf("%w: identifier key %q is not a kind and a hash", ErrFormat, key)
		}
		hs = append(hs, identHash(key[len(key)-hashLen:]))
		return nil
	})
	t.Discard()
	s.leave()
	if err != nil {
		return storeErr(err)
	}
	f := newBloom(max(2*len(hs), k.minimum))
	for i := range hs {
		f.add(&hs[i])
	}
	k.mu.Lock()
	for i := range k.pending {
		f.add(&k.pending[i])
	}
	k.filter.Store(f)
	k.building, k.pending = false, nil
	k.mu.Unlock()
	published = true
	return nil
}

// bloom is a blocked Bloom filter: each hash sets bloomBits bits of one
// 512-bit block, so that a lookup reads one cache line. Its bits are set
// atomically; it is safe for concurrent use.
type bloom struct {
	blocks   [][8]atomic.Uint64
	capacity int          // how many hashes it holds before it is full
	count    atomic.Int64 // how many added hashes set a new bit
}

// bloomBits is how many bits a hash sets; 16 bits a hash at capacity make
// about 1 in 300 lookups of an absent identifier a false positive, and a
// new filter is built at half its capacity.
const (
	bloomBits    = 7
	bitsPerEntry = 16
)

// newBloom returns a filter for at least capacity hashes: its blocks are a
// power of two, so that a hash's block is a mask of it.
func newBloom(capacity int) *bloom {
	need := max(1, (capacity*bitsPerEntry+511)/512)
	n := 1 << bits.Len(uint(need-1))
	return &bloom{blocks: make([][8]atomic.Uint64, n), capacity: n * 512 / bitsPerEntry}
}

// words splits h into the block it falls in and the bits it sets there.
func (f *bloom) words(h *identHash) (*[8]atomic.Uint64, uint64) {
	b := binary.LittleEndian.Uint64(h[0:8])
	return &f.blocks[b&uint64(len(f.blocks)-1)], binary.LittleEndian.Uint64(h[8:16])
}

func (f *bloom) add(h *identHash) {
	block, bitsOf := f.words(h)
	fresh := false
	for range bloomBits {
		i := bitsOf & 511
		bitsOf >>= 9
		m := uint64(1) << (i & 63)
		if block[i>>6].Or(m)&m == 0 {
			fresh = true
		}
	}
	if fresh {
		f.count.Add(1)
	}
}

func (f *bloom) has(h *identHash) bool {
	block, bitsOf := f.words(h)
	for range bloomBits {
		i := bitsOf & 511
		bitsOf >>= 9
		if block[i>>6].Load()&(uint64(1)<<(i&63)) == 0 {
			return false
		}
	}
	return true
}

// full says whether the filter holds as many hashes as it was sized for.
func (f *bloom) full() bool { return f.count.Load() > int64(f.capacity) }
