//go:build !wasip1

package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keyfile"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
	"github.com/herken/herken/memory/internal/pgkv"
	"github.com/herken/herken/memory/internal/seal"
)

// maxAttempts bounds how often a write is retried after conflicting with
// concurrent writes before it fails with ErrBusy.
const maxAttempts = 64

// maxBlocked bounds how long a write waits for the storage engine to take
// writes again (see Compact) before it fails with ErrBusy.
const maxBlocked = time.Minute

// retry runs fn, a transaction of the store's own (erasure, rekeys), again
// while it conflicts with a concurrent write, and while Compact stops
// writes, within the bounds a write has.
func retry(fn func() error) error {
	blocked := time.Duration(0)
	for attempt := 1; ; attempt++ {
		err := fn()
		switch {
		case errors.Is(err, kv.ErrBlocked) && blocked <= maxBlocked:
			d := min(time.Millisecond<<min(attempt, 5), 20*time.Millisecond)
			time.Sleep(d)
			blocked += d
		case errors.Is(err, kv.ErrConflict) && attempt < maxAttempts:
		default:
			return err
		}
	}
}

// wtx is one attempt at a write: a transaction and the customers it loaded.
// Writers decode their own profiles and never change shared ones.
type wtx struct {
	s     *Store
	txn   kv.Txn
	now   time.Time
	custs map[CustomerID]*wcust
	order []*wcust          // in load order, for deterministic writes
	keys  map[identRef]bool // identifiers written, to invalidate
	added []identHash       // hashes of the identifiers set, for the filter of known ones (known.go)
	drops bool              // whether it deletes identifiers, which the filter then forgets
	out   []Event           // events to deliver to watchers after commit
	// the same events as stored, for the change feed of PostgreSQL
	sealedOut []sealedOut
	held      []int    // commit stripes held for the whole write
	after     []func() // work to run after a successful commit
	start     uint64   // the cache epoch when the write began
	// keys of the customers, new ones included
	ciphers map[CustomerID]*seal.Keys
	// fresh keys this attempt took for new customers: given back when it
	// surely did not commit
	fresh      []keyfile.Fresh
	busy       int  // the stripe another writer held at commit, or -1
	committing bool // the transaction's commit was called
	committed  bool // and returned nil
	// erase is what the write must take out of histories (retention.go)
	erase   map[CustomerID]*eraseIntent
	rekeyed bool // customers were marked for a new key
	// the events the write appends to each customer's history, stored
	// at flush (store_pack.go)
	pend map[CustomerID][]pendEvent
	// the pack that holds each stored event the write read, by customer
	// and sequence number, and the packs it changed
	packs map[CustomerID]map[uint64]uint64
	edits map[CustomerID]histEdits
}

// wcust is a customer as a write sees it.
type wcust struct {
	p       *profile
	loadSeq uint64 // the profile's Seq when loaded
	isNew   bool
	dirty   bool
	swept   bool // expired facts were dropped
	erased  bool // forgotten by this write: write nothing for it
	queued  bool // in the work queue when loaded (store_queue.go)
	// stored is the cached profile p was copied from, when the write
	// owns the customer (wtx.owns): what the store holds for it, and so
	// what its entry in the work queue was written from. Nil when p was
	// read from the store.
	stored *profile
}

// write runs fn in a transaction and commits it, retrying fn from the start
// when the commit conflicts with a concurrent write. fn must not keep state
// between attempts other than through w.
func (s *Store) write(ctx context.Context, fn func(w *wtx) error) error {
	return s.writeOn(ctx, "", fn)
}

// writeOn is write for a change to one customer known in advance: it holds
// that customer's commit stripe for the whole write, so that writes to one
// customer take turns instead of conflicting and retrying.
func (s *Store) writeOn(ctx context.Context, id CustomerID, fn func(w *wtx) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	return s.writeIn(ctx, id, fn)
}

// writeIn is writeOn for a caller that holds the store's gate already, or
// owns the store alone (Open, Close).
func (s *Store) writeIn(ctx context.Context, id CustomerID, fn func(w *wtx) error) error {
	blocked := time.Duration(0) // waited for the engine to take writes again
	began := time.Now()
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		w := &wtx{s: s, now: s.now(), custs: map[CustomerID]*wcust{}, keys: map[identRef]bool{},
			ciphers: map[CustomerID]*seal.Keys{}, busy: -1}
		if id != "" {
			i := s.stripe(id)
			s.commit[i].Lock()
			w.held = []int{i}
		}
		w.start = s.epoch.Now()
		w.txn = s.db.Begin(true)
		err := fn(w)
		if err == nil {
			err = w.commit()
		}
		w.txn.Discard()
		for _, i := range w.held {
			s.commit[i].Unlock()
		}
		switch {
		case err == nil:
			// Their keys are used: what names them is on disk (or as
			// durable as the options make writes).
			for _, f := range w.fresh {
				if cerr := s.keyfile.Confirm(f.Slot); cerr != nil {
					s.logf(ctx, slog.LevelWarn, "memory: a new customer's key was not confirmed; the next Open settles it", "err", cerr)
				}
			}
		case !w.committing || errors.Is(err, kv.ErrConflict):
			// Nothing of this attempt is stored: its new customers' keys
			// are unused.
			for _, f := range w.fresh {
				s.keyfile.Return(f)
			}
		}
		if errors.Is(err, kv.ErrBlocked) {
			// Compact stops writes while it writes the memory tables out:
			// wait for it, without counting this as a conflict.
			if blocked > maxBlocked {
				return fmt.Errorf("%w: the storage engine took no writes for %v", ErrBusy, blocked)
			}
			d := min(time.Millisecond<<min(attempt, 5), 20*time.Millisecond)
			time.Sleep(d)
			blocked += d
			attempt--
			continue
		}
		if (errors.Is(err, pgkv.ErrUnavailable) || errors.Is(err, ErrUnavailable)) && !w.committing && time.Since(began) < pgkv.DefaultUnavailable {
			// The connection broke before the commit (a failover): nothing
			// of the attempt was applied; the engine waits for a server.
			attempt--
			continue
		}
		if w.busy >= 0 && s.pg != nil {
			// Another writer held a stripe this one needed: with this
			// attempt's transaction rolled back, wait for it, then try
			// again, without counting it as a conflict.
			s.commit[w.busy].Lock()
			s.commit[w.busy].Unlock()
			attempt--
			continue
		}
		var stale *staleKeyError
		if !errors.Is(err, kv.ErrConflict) && (!errors.As(err, &stale) || attempt >= maxStaleRetries) {
			return storeErr(err)
		}
		if attempt == maxAttempts {
			return fmt.Errorf("%w: gave up after %d attempts", ErrBusy, attempt)
		}
		// Back off a little, more each time, so that contenders spread out:
		// by a round trip's time in PostgreSQL.
		unit := 50 * time.Microsecond
		if s.pg != nil {
			unit = time.Millisecond
		}
		time.Sleep(time.Duration(rand.Int64N(int64(min(attempt, 16))*int64(unit) + 1)))
	}
}

// loadExact returns customer id as stored, without following merges.
func (w *wtx) loadExact(id CustomerID) (*wcust, error) {
	if c, ok := w.custs[id]; ok {
		if c.erased {
			return nil, fmt.Errorf("%w: customer %s", ErrNotFound, id)
		}
		return c, nil
	}
	cached, _ := w.s.profiles.Get(id)
	if cached != nil && w.owns(id) {
		// No write of id's profile commits while this one holds its
		// stripe, and the cache held the profile as stored when asked:
		// reading it again would find the bytes it was read from.
		c := &wcust{p: cached.clone(), loadSeq: cached.Seq, queued: inQueue(cached), stored: cached}
		w.custs[id] = c
		w.order = append(w.order, c)
		return c, nil
	}
	if _, ok := w.ciphers[id]; !ok {
		// The write reads the key reference after the profile: in one
		// round trip where there are round trips.
		w.txn.Prefetch(keys.Profile(string(id)), keys.KeyRef(string(id)))
	}
	p, err := w.s.readProfileFrom(w.txn, w.start, id, cached)
	if err != nil {
		return nil, err
	}
	c := &wcust{p: p, loadSeq: p.Seq, queued: inQueue(p)}
	w.custs[id] = c
	w.order = append(w.order, c)
	return c, nil
}

// load returns the customer that holds id now, following merges.
func (w *wtx) load(id CustomerID) (*wcust, error) {
	if err := id.check(); err != nil {
		return nil, err
	}
	for range maxRedirects {
		c, err := w.loadExact(id)
		if err != nil {
			return nil, err
		}
		if c.p.MergedInto == "" {
			return c, nil
		}
		id = c.p.MergedInto
	}
	return nil, fmt.Errorf("%w: customer %s: more than %d merges deep", ErrFormat, id, maxRedirects)
}

// create makes a new customer.
func (w *wtx) create() (*wcust, error) {
	id, err := w.newCustomer()
	if err != nil {
		return nil, err
	}
	c := &wcust{p: newProfile(id, w.now), isNew: true, swept: true}
	w.custs[id] = c
	w.order = append(w.order, c)
	return c, w.emit(c, Event{Kind: EventCreated}, nil)
}

// sweep drops c's expired facts, once per write, before its first event.
func (w *wtx) sweep(c *wcust) error {
	if c.swept {
		return nil
	}
	c.swept = true
	for _, f := range slices.Clone(c.p.Facts) {
		if f.expired(w.now) {
			if err := w.emit(c, Event{Kind: EventFactExpired, Key: f.Key}, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// emit appends an event to c's history and applies it to c's profile.
func (w *wtx) emit(c *wcust, e Event, absorbed *profile) error {
	if err := w.sweep(c); err != nil {
		return err
	}
	e.Customer = c.p.ID
	e.Seq = c.p.Seq + 1
	if e.At.IsZero() {
		e.At = w.now
	}
	c.p.apply(&e, absorbed)
	c.dirty = true
	switch e.Kind {
	case EventFactRemembered:
		if e.Fact != nil {
			if err := w.noteExpiry(c.p.ID, e.Fact); err != nil {
				return err
			}
		}
	case EventFactForgotten:
		w.intendErase(c, e.Key, e.Seq) // every value of the fact
	case EventFactExpired:
		w.intendErase(c, "", e.Seq) // the values that expired

	}
	b, err := codec.Marshal(&e)
	if err != nil {
		return err
	}
	if len(b) > MaxEventSize {
		return &LimitError{What: "bytes in one event", Limit: MaxEventSize}
	}
	if w.pend == nil {
		w.pend = map[CustomerID][]pendEvent{}
	}
	w.pend[e.Customer] = append(w.pend[e.Customer], pendEvent{e: e, b: b})
	w.out = append(w.out, e)
	if w.s.feed != nil {
		// Other instances' watchers get it sealed alone.
		k, err := w.keysFor(e.Customer)
		if err != nil {
			return err
		}
		sealed := k.Seal(keys.Event(string(e.Customer), e.Seq), b)
		w.sealedOut = append(w.sealedOut, sealedOut{e.Customer, e.Seq, sealed})
	}
	return nil
}

// index reads the index entry of a normalized identifier.
func (w *wtx) index(id Identifier) (indexEntry, bool, error) {
	return readIndex(w.txn, w.s.identifierKey(id))
}

// setIndex points an identifier at a customer, keeping its sync mark.
func (w *wtx) setIndex(id Identifier, c CustomerID, verified bool) error {
	old, _, err := w.index(id)
	if err != nil {
		return err
	}
	return w.putIndex(id, indexEntry{Customer: c, Verified: verified, Applied: old.Applied, Head: old.Head})
}

func (w *wtx) putIndex(id Identifier, e indexEntry) error {
	b, err := codec.Marshal(e)
	if err != nil {
		return err
	}
	w.keys[identKey(id)] = true
	k := w.s.identifierKey(id)
	w.added = append(w.added, identHash(k[len(k)-hashLen:]))
	return w.txn.Set(k, b)
}

func (w *wtx) deleteIndex(id Identifier) error {
	w.keys[identKey(id)] = true
	w.drops = true
	return w.txn.Delete(w.s.identifierKey(id))
}

// flush takes erased values out of histories, and writes the profiles and
// histories of the customers the write changed, and their entries in the
// work queue (store_queue.go): this is the one place profiles and events
// are written.
func (w *wtx) flush() error {
	if err := w.eraseNow(); err != nil {
		return err
	}
	for _, c := range w.order {
		if c.erased {
			if err := w.requeue(c); err != nil {
				return err
			}
			continue
		}
		if c.dirty {
			if err := w.maybeCompact(c); err != nil {
				return err
			}
		}
		if err := w.storeEvents(c); err != nil {
			return err
		}
		if !c.dirty {
			continue
		}
		id := string(c.p.ID)
		b, err := codec.Marshal(c.p)
		if err != nil {
			return err
		}
		sealed, err := w.put(c.p.ID, keys.Profile(id), b)
		if err != nil {
			return err
		}
		c.p.sum = maphash.Bytes(w.s.seed, sealed)
		if err := w.requeue(c); err != nil {
			return err
		}
	}
	return nil
}

// commit writes and commits, then, holding the commit stripes of the
// customers it changed, drops their cached entries and delivers the events,
// so that watchers see one customer's events in commit order.
func (w *wtx) commit() error {
	if err := w.flush(); err != nil {
		return err
	}
	var stripes []int
	for _, c := range w.order {
		if (c.dirty || c.erased) && !slices.Contains(w.held, w.s.stripe(c.p.ID)) {
			stripes = append(stripes, w.s.stripe(c.p.ID))
		}
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for n, i := range stripes {
		if len(w.held) == 0 && w.s.pg == nil {
			w.s.commit[i].Lock()
			continue
		}
		// Holding a stripe already, taking more in order could deadlock:
		// try, and retry the write if another writer has one. So too in
		// PostgreSQL, where the transaction holds the locks of the rows it
		// wrote, which the holder of the stripe may be waiting for.
		if !w.s.commit[i].TryLock() {
			for _, j := range stripes[:n] {
				w.s.commit[j].Unlock()
			}
			w.busy = i
			return kv.ErrConflict
		}
	}
	defer func() {
		for _, i := range stripes {
			w.s.commit[i].Unlock()
		}
	}()
	if w.s.feed != nil {
		token, err := w.announce()
		if err != nil {
			return err
		}
		defer func() {
			if !w.committed {
				w.s.feed.forget(token)
			}
		}()
	}
	// From the commit on, a reader of the store may see the change: until
	// the caches drop what it changed, they hold none of it.
	w.hold(true)
	held := true
	defer func() {
		if held {
			w.hold(false)
		}
	}()
	w.committing = true
	added := w.s.knownAdding(w.added)
	err := w.txn.Commit()
	added()
	if err != nil {
		return err
	}
	w.committed = true
	if w.drops {
		w.s.rebuildKnown()
	}
	// Acknowledged only once on disk; concurrent writers share the sync.
	if err := w.s.db.Durable(); err != nil {
		return fmt.Errorf("memory: the write was committed but could not be synced to disk: %w", err)
	}
	w.hold(false)
	held = false
	// What this write stored is what the next brief or write of these
	// customers needs: keep it, unless another write invalidated it since.
	epoch := w.s.epoch.Now()
	for _, c := range w.order {
		if c.dirty && !c.erased && c.p.MergedInto == "" {
			w.s.cacheProfile(c.p, epoch)
		}
	}
	if w.s.feed == nil {
		// In PostgreSQL the feed delivers them, in commit order among
		// every instance's.
		w.s.publish(w.out)
	}
	for _, f := range w.after {
		f()
	}
	if w.rekeyed {
		w.s.wakeEraser()
	}
	return nil
}

// hold holds, or releases and so invalidates, the cache entries of what
// the write changes: its customers' profiles and its identifiers.
func (w *wtx) hold(on bool) {
	for _, c := range w.order {
		if c.dirty || c.erased {
			if on {
				w.s.profiles.Hold(c.p.ID)
			} else {
				w.s.profiles.Release(c.p.ID)
			}
		}
	}
	for k := range w.keys {
		if on {
			w.s.idents.Hold(k)
			w.s.absent.Hold(k)
		} else {
			w.s.idents.Release(k)
			w.s.absent.Release(k)
		}
	}
}

// stripe returns the index of the commit stripe of customer id.
func (s *Store) stripe(id CustomerID) int {
	return int(maphash.String(s.seed, string(id)) % uint64(len(s.commit)))
}

// owns reports whether no other write can commit a change to customer id
// while this one runs: the write holds id's commit stripe from its start,
// which every write that changes id takes to commit, and the store is this
// process's alone (an engine that other instances write to has no such
// guard).
func (w *wtx) owns(id CustomerID) bool {
	return w.s.pg == nil && slices.Contains(w.held, w.s.stripe(id))
}
