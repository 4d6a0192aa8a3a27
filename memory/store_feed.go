//go:build !wasip1

package memory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/pgkv"
)

// FeedBound is how stale a PostgreSQL store's caches may be: an instance
// serves a brief from its cache only while its change feed has proven, in
// the last FeedBound, that it delivered every write committed before
// (pgkv's feed.go). So a write committed on one instance is seen by every
// other within FeedBound, and at once by the instance that made it. When the
// feed lags past the bound or breaks, the instance reads from the database
// until it catches up, and its watchers fail with ErrLagged.
const FeedBound = 250 * time.Millisecond

// change is the message a write to a PostgreSQL store sends to every
// instance, in commit order: what to drop from their caches, and the events
// for their watchers, sealed as they are stored.
type change struct {
	Origin   string       `msgpack:"o"`
	Token    uint64       `msgpack:"t"`
	Profiles []CustomerID `msgpack:"p,omitempty"`
	Idents   []wireIdent  `msgpack:"i,omitempty"`
	Ciphers  []CustomerID `msgpack:"c,omitempty"`
	Events   []sealedOut  `msgpack:"e,omitempty"`
	Plain    []Event      `msgpack:"v,omitempty"` // events that are never stored
	// PlainOf is, for each of Plain, what Event's encoding leaves out:
	// its customer and its receipt. A release before it sent neither.
	PlainOf []plainOf `msgpack:"w,omitempty"`
}

type plainOf struct {
	Customer CustomerID `msgpack:"c"`
	Receipt  *Receipt   `msgpack:"r,omitempty"`
}

type wireIdent struct {
	Kind  Kind   `msgpack:"k"`
	Value string `msgpack:"v"`
}

type sealedOut struct {
	Customer CustomerID `msgpack:"c"`
	Seq      uint64     `msgpack:"s"`
	Sealed   []byte     `msgpack:"b"`
}

// feed is a PostgreSQL store's follower of the change feed.
type feed struct {
	s      *Store
	f      *pgkv.Feed
	origin string
	tokens atomic.Uint64
	fresh  atomic.Int64 // UnixNano of the last proof of freshness
	stale  atomic.Bool  // the caches are suspended

	mu      sync.Mutex
	pending map[uint64][]Event // this instance's events, by token, until released
	proof   chan struct{}      // closed at the next proof of freshness

	stop chan struct{}
	done chan struct{}
}

// startFeed follows the store's changes; Open calls it for PostgreSQL.
func (s *Store) startFeed() error {
	var id [8]byte
	_, _ = rand.Read(id[:])
	fd := &feed{s: s, origin: hex.EncodeToString(id[:]), pending: map[uint64][]Event{},
		stop: make(chan struct{}), done: make(chan struct{})}
	// Until the first proof, the caches hold nothing.
	fd.suspend()
	f, err := s.pg.Follow(pgkv.FeedOptions{
		Change:  fd.change,
		Release: fd.release,
		Fresh:   fd.proven,
		Lost:    fd.lost,
		Logger:  s.opts.logger,
	})
	if err != nil {
		return fmt.Errorf("memory: follow the change feed: %w", storeErr(err))
	}
	fd.f = f
	s.feed = fd
	go fd.watch()
	return nil
}

func (fd *feed) close() {
	close(fd.stop)
	<-fd.done
	fd.f.Close()
}

// watch suspends the caches when the feed has proven nothing for longer
// than FeedBound.
func (fd *feed) watch() {
	defer close(fd.done)
	t := time.NewTicker(FeedBound / 5)
	defer t.Stop()
	for {
		select {
		case <-fd.stop:
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, fd.fresh.Load())) > FeedBound && !fd.stale.Load() {
			fd.suspend()
			fd.s.lagWatchers(fmt.Errorf("%w: the change feed proved nothing for %v", ErrLagged, FeedBound))
		}
	}
}

func (fd *feed) suspend() {
	fd.stale.Store(true)
	fd.s.profiles.Suspend()
	fd.s.idents.Suspend()
	fd.s.absent.Suspend()
	fd.s.ciphers.Suspend()
}

// proven is the feed's proof that every commit acknowledged before at was
// delivered.
func (fd *feed) proven(at time.Time) {
	fd.fresh.Store(at.UnixNano())
	fd.mu.Lock()
	if fd.proof != nil {
		close(fd.proof)
		fd.proof = nil
	}
	fd.mu.Unlock()
	if fd.stale.Load() && time.Since(at) < FeedBound {
		fd.stale.Store(false)
		fd.s.profiles.Resume()
		fd.s.idents.Resume()
		fd.s.absent.Resume()
		fd.s.ciphers.Resume()
	}
}

// nextProof returns a channel closed at the next proof of freshness.
func (fd *feed) nextProof() <-chan struct{} {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.proof == nil {
		fd.proof = make(chan struct{})
	}
	return fd.proof
}

// lost is the feed's word that it may have missed commits.
func (fd *feed) lost(err error) {
	fd.fresh.Store(0)
	fd.suspend()
	fd.s.lagWatchers(fmt.Errorf("%w: the change feed broke: %v", ErrLagged, err))
	fd.s.logf(context.Background(), slog.LevelWarn, "memory: the change feed broke; reads go to the database until it is back", "err", err)
}

// change drops from the caches what another instance's commit changed.
func (fd *feed) change(body []byte) {
	var c change
	if err := codec.Unmarshal(body, &c); err != nil || c.Origin == fd.origin {
		return
	}
	for _, id := range c.Profiles {
		fd.s.profiles.Invalidate(id)
	}
	for _, id := range c.Idents {
		fd.s.identChanged(identRef{id.Kind, id.Value})
	}
	for _, id := range c.Ciphers {
		fd.s.ciphers.Invalidate(id)
	}
}

// release delivers the events of durable commits to the watchers.
func (fd *feed) release(bodies [][]byte) {
	var out []Event
	for _, body := range bodies {
		var c change
		if err := codec.Unmarshal(body, &c); err != nil {
			continue
		}
		if c.Origin == fd.origin {
			fd.mu.Lock()
			out = append(out, fd.pending[c.Token]...)
			delete(fd.pending, c.Token)
			fd.mu.Unlock()
			continue
		}
		out = append(out, fd.open(c.Events)...)
		for i, e := range c.Plain {
			if i < len(c.PlainOf) {
				e.Customer, e.Receipt = c.PlainOf[i].Customer, c.PlainOf[i].Receipt
			}
			out = append(out, e)
		}
	}
	fd.s.publish(out)
}

// open unseals the events of another instance. An event whose customer's
// key is gone by now (forgotten since) is left out: its customer's
// EventForgotten follows.
func (fd *feed) open(sealed []sealedOut) []Event {
	if len(sealed) == 0 || fd.s.enter() != nil {
		return nil
	}
	defer fd.s.leave()
	t := fd.s.db.Begin(false)
	defer t.Discard()
	start := fd.s.epoch.Now()
	var out []Event
	for _, e := range sealed {
		u, err := fd.s.unsealer(t, start, e.Customer)
		if err != nil {
			continue
		}
		plain, err := u.open(keys.Event(string(e.Customer), e.Seq), e.Sealed)
		if err != nil {
			continue
		}
		var ev Event
		if codec.Unmarshal(plain, &ev) == nil {
			ev.Customer = e.Customer // not in the event's encoding: its key names it
			out = append(out, ev)
		}
	}
	return out
}

// announce adds the change message of w to its transaction, and keeps
// w's events to deliver when the feed brings the message back.
func (w *wtx) announce() (token uint64, err error) {
	fd := w.s.feed
	c := change{Origin: fd.origin, Token: fd.tokens.Add(1)}
	erased := map[CustomerID]bool{}
	for _, cu := range w.order {
		erased[cu.p.ID] = cu.erased
	}
	for _, e := range w.sealedOut {
		if !erased[e.Customer] {
			c.Events = append(c.Events, e)
		}
	}
	for _, cu := range w.order {
		if cu.dirty || cu.erased {
			c.Profiles = append(c.Profiles, cu.p.ID)
		}
		if cu.erased {
			c.Ciphers = append(c.Ciphers, cu.p.ID)
		}
	}
	for k := range w.keys {
		c.Idents = append(c.Idents, wireIdent{k.kind, k.value})
	}
	for _, e := range w.out {
		if e.Kind == EventForgotten {
			c.Plain = append(c.Plain, e)
			c.PlainOf = append(c.PlainOf, plainOf{Customer: e.Customer, Receipt: e.Receipt})
		}
	}
	b, err := codec.Marshal(&c)
	if err != nil {
		return 0, err
	}
	if err := pgkv.Announce(w.txn, b); err != nil {
		return 0, err
	}
	fd.mu.Lock()
	fd.pending[c.Token] = w.out
	fd.mu.Unlock()
	return c.Token, nil
}

// forget drops the events of a write that did not commit.
func (fd *feed) forget(token uint64) {
	fd.mu.Lock()
	delete(fd.pending, token)
	fd.mu.Unlock()
}

// lagWatchers fails every watcher with err.
func (s *Store) lagWatchers(err error) {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for w := range s.watchers {
		w.mu.Lock()
		w.lagged = true
		w.queue, w.head = nil, 0
		if w.err == nil {
			w.err = err
		}
		w.mu.Unlock()
		delete(s.watchers, w)
		w.signal()
	}
}
