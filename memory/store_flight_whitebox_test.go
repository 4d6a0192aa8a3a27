//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// gatedDB counts the read-only transactions that BriefFor (or the call
// named by from) begins, and holds the first of them until the gate opens:
// at their start or, with after set, once they have read that key, so that
// the held read goes on with what the store held then.
type gatedDB struct {
	kv.DB
	from  string       // the call whose reads are counted; BriefFor when empty
	after []byte       // hold a read once it read this key, not at its start
	reads atomic.Int64 // BriefFor's
	holds atomic.Int64 // how many more of them to hold
	gate  chan struct{}
	open  func() // opens the gate; safe to call again
}

func (d *gatedDB) Begin(update bool) kv.Txn {
	from := d.from
	if from == "" {
		from = "(*Store).BriefFor"
	}
	if update || !calledFrom(from) {
		return d.DB.Begin(update)
	}
	d.reads.Add(1)
	if d.holds.Add(-1) < 0 {
		return d.DB.Begin(update)
	}
	if d.after == nil {
		<-d.gate
		return d.DB.Begin(update)
	}
	return &gatedTxn{Txn: d.DB.Begin(update), d: d}
}

// gatedTxn holds its caller once it has read its gate's key.
type gatedTxn struct {
	kv.Txn
	d *gatedDB
}

func (t *gatedTxn) Get(key []byte, fn func([]byte) error) error {
	err := t.Txn.Get(key, fn)
	if bytes.Equal(key, t.d.after) {
		<-t.d.gate
	}
	return err
}

// calledFrom reports whether the function named is among the caller's
// callers.
func calledFrom(name string) bool {
	pc := make([]uintptr, 64)
	frames := runtime.CallersFrames(pc[:runtime.Callers(3, pc)])
	for {
		f, more := frames.Next()
		if strings.HasSuffix(f.Function, name) {
			return true
		}
		if !more {
			return false
		}
	}
}

// gateReads makes s's briefs read through the returned DB, holding the
// first holds of their reads, with its caches empty and no filter of known
// identifiers, which would answer for identifiers of no one without a read
// (known.go; PostgreSQL has none).
func gateReads(t *testing.T, s *Store, holds int64) *gatedDB {
	t.Helper()
	for s.known.rebuilding.Load() {
		runtime.Gosched()
	}
	s.gate.Lock() // no call and no background work is in the store
	s.known.filter.Store(nil)
	d := &gatedDB{DB: s.db, gate: make(chan struct{})}
	d.holds.Store(holds)
	d.open = sync.OnceFunc(func() { close(d.gate) })
	t.Cleanup(d.open) // before the store's Close, which waits for the reads
	s.db = d
	s.profiles.Purge()
	s.idents.Purge()
	s.absent.Purge()
	s.gate.Unlock()
	return d
}

// waitingInFlight returns how many goroutines wait for a read another
// started (singleflight's Do, waiting on the call's WaitGroup).
func waitingInFlight() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "singleflight.(*Group).Do") && strings.Contains(g, "sync.(*WaitGroup).Wait") {
			n++
		}
	}
	return n
}

// TestConcurrentMissesReadOnce opens widgets on a customer no cache holds,
// and on an identifier of no one, all at once: each costs one read of the
// store, however many ask, and every caller gets the answer.
func TestConcurrentMissesReadOnce(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, DefaultOptions(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	known := Email("known@example.com").AsVerified()
	r, err := s.Recognize(ctx, known)
	require.NoError(t, err)
	require.NoError(t, s.Remember(ctx, r.Customer, Fact{Key: "size", Value: "42"}))
	stranger := Email("stranger@example.com")

	for _, id := range []Identifier{known, stranger} {
		t.Run(id.Value, func(t *testing.T) {
			const callers = 16
			d := gateReads(t, s, callers)
			answers := make([]error, callers)
			var wg sync.WaitGroup
			for i := range callers {
				wg.Go(func() {
					b, err := s.BriefFor(ctx, id, BriefQuery{})
					if err == nil {
						if v, _ := b.Fact("size"); v != "42" {
							err = fmt.Errorf("the brief says size %q", v)
						}
					}
					answers[i] = err
				})
			}
			require.Eventually(t, func() bool { return d.reads.Load() == 1 && waitingInFlight() == callers-1 },
				time.Minute, time.Millisecond, "the callers did not all wait for one read")
			d.open()
			wg.Wait()
			require.EqualValues(t, 1, d.reads.Load(), "concurrent misses of one key read more than once")
			for _, err := range answers {
				if id == stranger {
					require.ErrorIs(t, err, ErrNotFound)
				} else {
					require.NoError(t, err)
				}
			}
			// And the next one is answered from memory, known or not.
			_, err := s.BriefFor(ctx, id, BriefQuery{})
			require.Equal(t, id == stranger, errors.Is(err, ErrNotFound), "%v", err)
			require.EqualValues(t, 1, d.reads.Load(), "a repeated miss read the store again")
		})
	}
}

// TestMissAfterAWriteReadsAgain: a caller that comes after a write was
// acknowledged never takes the answer of a read that began before it.
func TestMissAfterAWriteReadsAgain(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, DefaultOptions(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	id := Email("soon@example.com").AsVerified()
	d := gateReads(t, s, 1)

	early := make(chan error, 1)
	go func() {
		_, err := s.BriefFor(ctx, id, BriefQuery{})
		early <- err
	}()
	require.Eventually(t, func() bool { return d.reads.Load() == 1 }, time.Minute, time.Millisecond)
	// The early read is held, begun before the customer exists.
	r, err := s.Recognize(ctx, id)
	require.NoError(t, err)
	// A brief after the write answers while the early read is still held:
	// it did not wait for that read's answer.
	late := make(chan error, 1)
	go func() {
		b, err := s.BriefFor(ctx, id, BriefQuery{})
		if err == nil && b.Customer != r.Customer {
			err = fmt.Errorf("a brief of %s, not of %s", b.Customer, r.Customer)
		}
		late <- err
	}()
	var lateErr error
	require.Eventually(t, func() bool {
		select {
		case lateErr = <-late:
			return true
		default:
			return false
		}
	}, 30*time.Second, time.Millisecond, "the call after the write waits for the read from before it")
	require.NoError(t, lateErr)
	require.EqualValues(t, 2, d.reads.Load())
	d.open()
	<-early // either answer is right for a call concurrent with the write
}

// TestMissAfterAProfileWriteReadsAgain: a brief by identifier that comes
// after a write to the customer was acknowledged never takes the answer of
// a read by the same identifier that began before the write, although the
// identifier itself did not change; nor does a brief of a merged customer
// take a read's that began before a write to the customer that holds it.
func TestMissAfterAProfileWriteReadsAgain(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, DefaultOptions(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	id := Email("often@example.com").AsVerified()
	r, err := s.Recognize(ctx, id)
	require.NoError(t, err)
	absorbed, err := s.Recognize(ctx, Email("once@example.com").AsVerified())
	require.NoError(t, err)
	_, err = s.Merge(ctx, r.Customer, absorbed.Customer, "the same person")
	require.NoError(t, err)

	n, err := s.normalize(id)
	require.NoError(t, err)
	for i, tc := range []struct {
		from  string
		brief func() (Brief, error)
		after []byte // the key after whose read the early read is held
	}{
		// Held before it caches the identifier, and so before the brief
		// after the write looks there.
		{"(*Store).BriefFor", func() (Brief, error) { return s.BriefFor(ctx, id, BriefQuery{}) }, s.identifierKey(n)},
		{"(*Store).Brief", func() (Brief, error) { return s.Brief(ctx, absorbed.Customer, BriefQuery{}) }, keys.Profile(string(r.Customer))},
	} {
		t.Run(tc.from, func(t *testing.T) {
			before, after := fmt.Sprint(2*i), fmt.Sprint(2*i+1)
			require.NoError(t, s.Remember(ctx, r.Customer, Fact{Key: "size", Value: before}))
			d := gateReads(t, s, 1)
			d.from, d.after = tc.from, tc.after
			size := func(answer chan<- string) {
				b, err := tc.brief()
				v, _ := b.Fact("size")
				if err != nil {
					v = err.Error()
				}
				answer <- v
			}
			early, late := make(chan string, 1), make(chan string, 1)
			go size(early)
			require.Eventually(t, func() bool { return d.reads.Load() == 1 }, time.Minute, time.Millisecond)
			// The early read is held, its transaction begun before the
			// write.
			require.NoError(t, s.Remember(ctx, r.Customer, Fact{Key: "size", Value: after}))
			// The profile the write cached leaves the cache, as a small
			// cache evicts it: the early read reads the profile of before.
			s.profiles.Invalidate(r.Customer)
			go size(late)
			require.Eventually(t, func() bool { return waitingInFlight() == 1 || len(late) == 1 }, time.Minute, time.Millisecond)
			d.open()
			require.Equal(t, after, <-late, "a brief after the write answers from before it")
			require.Contains(t, []string{before, after}, <-early)
		})
	}
}

// TestStrangersEvictNoCustomer floods a store with lookups of identifiers
// of no one, as a hostile page can: what the store remembers of them stays
// within its own bound, and evicts nothing it remembers of its customers.
func TestStrangersEvictNoCustomer(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, DefaultOptions(t.TempDir()).WithCacheSize(512).WithCacheBytes(4<<20))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	const customers = 64
	for i := range customers {
		_, err := s.Recognize(ctx, Email(fmt.Sprintf("c%d@example.com", i)).AsVerified())
		require.NoError(t, err)
	}
	for i := range customers {
		_, err := s.BriefFor(ctx, Email(fmt.Sprintf("c%d@example.com", i)), BriefQuery{})
		require.NoError(t, err)
	}
	cached := s.idents.Len()
	require.GreaterOrEqual(t, cached, customers)

	pad := strings.Repeat(" ", 4000) // trimmed away, and not kept
	for i := range 20000 {
		_, err := s.BriefFor(ctx, Email(fmt.Sprintf("%sx%d@example.com%s", pad, i, pad)), BriefQuery{})
		require.ErrorIs(t, err, ErrNotFound)
	}
	require.Equal(t, cached, s.idents.Len(), "lookups of strangers evicted customers' identifiers")
	require.LessOrEqual(t, s.absent.Len(), 512)
	require.LessOrEqual(t, s.absent.Bytes(), int64(4<<20)/16, "the strangers' cache grew past its bound")
}

// TestCachedIdentifierOwnsItsStrings: what a cache keeps of an identifier
// shares no memory with the string it was normalized from.
func TestCachedIdentifierOwnsItsStrings(t *testing.T) {
	body := strings.Repeat(" ", 4000) + "ada@example.com" + strings.Repeat(" ", 4000)
	n, err := Normalize(Custom("shop.user", body), "")
	require.NoError(t, err)
	k := identKey(n).own()
	require.Equal(t, identKey(n), k)
	for _, s := range []string{string(k.kind), k.value} {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		from := uintptr(unsafe.Pointer(unsafe.StringData(body)))
		require.False(t, p >= from && p < from+uintptr(len(body)), "the key %q points into the caller's string", s)
	}
	require.Equal(t, KindEmail, identRef{kind: Kind(strings.Clone("email"))}.own().kind)
}
