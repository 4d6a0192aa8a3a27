//go:build !wasip1

package memory

import (
	"context"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// Retention: a fact's value is kept for as long as its purpose needs and no
// longer. When a fact is forgotten (ForgetFact), or a value reaches its
// expiry, the value leaves the profile, the history (the fact.remembered
// events keep the key and when, with Event.Erased, and lose the value), the
// compacted history, and those of every customer merged into the customer,
// in the write that forgets it or, for an expiry, in a write the store makes
// itself when the time comes (an index of expiry times, t/, tells it when).
// Reads leave out an expired value from the moment it expires, before that
// write is made. The erased values' old copies in the store's files are
// sealed with the customer's key of the time, so that write also marks the
// customer for a new key (rekey.go): once the old key is destroyed, no copy
// of an erased value opens anywhere.

// eraseIntent is what a write must erase from one customer's history when
// it flushes: every value of each key forgotten before the seq noted for it,
// and every value that has expired.
type eraseIntent struct {
	forgotten map[string]uint64 // fact key → seq of the event that removed it
}

// intendErase notes that the values of key, remembered before the event of
// seq, and every expired value, must leave c's history; key "" notes only
// the expired ones.
func (w *wtx) intendErase(c *wcust, key string, seq uint64) {
	if w.erase == nil {
		w.erase = map[CustomerID]*eraseIntent{}
	}
	in := w.erase[c.p.ID]
	if in == nil {
		in = &eraseIntent{forgotten: map[string]uint64{}}
		w.erase[c.p.ID] = in
	}
	if key != "" {
		in.forgotten[key] = max(in.forgotten[key], seq)
	}
}

// eraseNow carries out the intents: for each customer, and every customer
// merged into it, it takes the values out of the history and the compacted
// history, records in the merged customers' own histories that the fact
// went (so that an unmerge gives them back without it), and marks every
// customer whose stored values changed for a new key.
func (w *wtx) eraseNow() error {
	done := map[CustomerID]bool{}
	for {
		// Recording the fact's end in a merged customer adds its intent:
		// go on until none is new.
		var ids []CustomerID
		for id := range w.erase {
			if !done[id] {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		slices.Sort(ids) // a deterministic order of writes
		for _, id := range ids {
			done[id] = true
			if err := w.eraseOf(id, w.erase[id]); err != nil {
				return err
			}
		}
	}
}

// eraseOf carries out one customer's intent.
func (w *wtx) eraseOf(id CustomerID, in *eraseIntent) error {
	c, ok := w.custs[id]
	if !ok || c.erased {
		return nil
	}
	// The customer and everyone merged into it, recursively.
	members := []*wcust{c}
	for i := 0; i < len(members); i++ {
		for _, m := range members[i].p.activeMerges() {
			mc, err := w.loadExact(m.From)
			if err != nil {
				return err
			}
			members = append(members, mc)
		}
	}
	for i, m := range members {
		changed, err := w.eraseFrom(m, in, i == 0)
		if err != nil {
			return err
		}
		if !changed {
			continue
		}
		// A new mark each time: a rekey running meanwhile, which may
		// have sealed the erased value with the new key, sees it and
		// leaves the mark for another.
		b, err := codec.Marshal(randomID(10))
		if err != nil {
			return err
		}
		if err := w.txn.Set(keys.Rekey(string(m.p.ID)), b); err != nil {
			return err
		}
		w.rekeyed = true
	}
	return nil
}

// erases reports whether the value e recorded must go: a value of a key
// forgotten after it, or one that has expired. own says e is in the history
// of the customer the intent is about, where a value remembered after the
// forget stays; in a merged customer's history every value of the key goes.
func (in *eraseIntent) erases(e *Event, now time.Time, own bool) bool {
	if e.Kind != EventFactRemembered || e.Fact == nil || !e.Erased.IsZero() {
		return false
	}
	if e.Fact.expired(now) {
		return true
	}
	seq, ok := in.forgotten[e.Fact.Key]
	return ok && (!own || e.Seq < seq)
}

// erasesFact reports whether a fact kept in a profile must go.
func (in *eraseIntent) erasesFact(f *Fact, now time.Time) bool {
	_, forgotten := in.forgotten[f.Key]
	return forgotten || f.expired(now)
}

// eraseFrom takes the values in intent out of c's history and its
// compacted history. When c is merged into the customer the intent is about
// (not own), it first records in c's own history that the fact went, as
// the write did for that customer: c's profile is its projection, and is
// what an unmerge gives back. It reports whether a stored value changed.
func (w *wtx) eraseFrom(c *wcust, in *eraseIntent, own bool) (bool, error) {
	changed := false
	if !own {
		if err := w.sweep(c); err != nil { // fact.expired for what expired
			return false, err
		}
		keys := make([]string, 0, len(in.forgotten))
		for k := range in.forgotten {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if _, ok := c.p.fact(k); ok {
				if err := w.emit(c, Event{Kind: EventFactForgotten, Key: k}, nil); err != nil {
					return false, err
				}
				changed = true
			}
		}
	}
	id := c.p.ID
	events, err := w.history(id)
	if err != nil {
		return false, err
	}
	for i := range events {
		e := &events[i]
		if e.Kind == EventCompacted && e.checkpoint != nil {
			cp := e.checkpoint
			n := len(cp.Profile.Facts)
			cp.Profile.Facts = slices.DeleteFunc(slices.Clone(cp.Profile.Facts), func(f Fact) bool { return in.erasesFact(&f, w.now) })
			if len(cp.Profile.Facts) != n {
				b, err := codec.Marshal(cp)
				if err != nil {
					return false, err
				}
				if _, err := w.put(id, keys.Checkpoint(string(id)), b); err != nil {
					return false, err
				}
				changed = true
			}
			continue
		}
		if !in.erases(e, w.now, own) {
			continue
		}
		f := *e.Fact
		f.Value = ""
		e.Fact, e.Erased = &f, w.now
		if err := w.putEvent(id, *e); err != nil {
			return false, err
		}
		// Watchers get the event as it is kept.
		for j := range w.out {
			if o := &w.out[j]; o.Customer == id && o.Seq == e.Seq {
				o.Fact, o.Erased = e.Fact, e.Erased
			}
		}
		changed = true
	}
	return changed, nil
}

// noteExpiry notes in the index of expiry times that a value of customer
// id expires at f.Expires. The index holds one entry a customer, for the
// first value of theirs to expire, so that it grows with the customers, not
// with the values: an entry earlier than f.Expires stays, a later one moves.
func (w *wtx) noteExpiry(id CustomerID, f *Fact) error {
	if f.Expires.IsZero() {
		return nil
	}
	return w.indexExpiry(id, expirySecond(f.Expires), false)
}

// expirySecond returns the second at or after t.
func expirySecond(t time.Time) int64 {
	sec := t.Unix()
	if t.Nanosecond() > 0 {
		sec++
	}
	return sec
}

// indexExpiry puts customer id's entry in the expiry index at sec, unless
// an earlier one is there; with replace, it moves the entry there anyway
// (sec 0: no entry).
func (w *wtx) indexExpiry(id CustomerID, sec int64, replace bool) error {
	where := keys.NextExpiry(string(id))
	var at int64
	found := false
	err := w.txn.Get(where, func(b []byte) error {
		found = true
		return codec.Unmarshal(b, &at)
	})
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return storeErr(err)
	}
	if found && !replace && at <= sec {
		return nil
	}
	if found {
		if err := w.txn.Delete(keys.Expiry(at, string(id))); err != nil {
			return err
		}
	}
	if sec == 0 {
		if found {
			return w.txn.Delete(where)
		}
		return nil
	}
	b, err := codec.Marshal(sec)
	if err != nil {
		return err
	}
	if err := w.txn.Set(where, b); err != nil {
		return err
	}
	return w.txn.Set(keys.Expiry(sec, string(id)), nil)
}

// nextExpiry returns the second at which the first value of customer id
// that has not expired by now will, or 0.
func (w *wtx) nextExpiry(id CustomerID) (int64, error) {
	events, err := w.history(id)
	if err != nil {
		return 0, err
	}
	next := int64(0)
	for _, e := range events {
		if e.Kind == EventFactRemembered && e.Fact != nil && e.Erased.IsZero() && !e.Fact.Expires.IsZero() && !e.Fact.expired(w.now) {
			if sec := expirySecond(e.Fact.Expires); next == 0 || sec < next {
				next = sec
			}
		}
	}
	return next, nil
}

// expireBatch bounds how many customers one pass of expireFacts handles.
const expireBatch = 256

// expireFacts erases the values that have expired by now: for every
// customer the expiry index names up to now, it makes a write that drops
// their expired facts and takes every expired value out of their history.
func (s *Store) expireFacts(ctx context.Context) error {
	for {
		now := s.now()
		type due struct {
			key []byte
			id  CustomerID
		}
		var batch []due
		t := s.db.Begin(false)
		err := t.Scan(keys.Expiries, true, func(k, _ []byte) error {
			sec, id := keys.ExpiryOf(k)
			if sec > now.Unix() || len(batch) == expireBatch {
				return errStopScan
			}
			batch = append(batch, due{slices.Clone(k), CustomerID(id)})
			return nil
		})
		t.Discard()
		if err != nil && !errors.Is(err, errStopScan) {
			return storeErr(err)
		}
		if len(batch) == 0 {
			return nil
		}
		for _, d := range batch {
			err := s.writeIn(ctx, "", func(w *wtx) error {
				if err := w.txn.Delete(d.key); err != nil {
					return err
				}
				c, err := w.load(d.id)
				if errors.Is(err, ErrNotFound) {
					// Forgotten since.
					return w.txn.Delete(keys.NextExpiry(string(d.id)))
				}
				if err != nil {
					return err
				}
				if err := w.sweep(c); err != nil {
					return err
				}
				w.intendErase(c, "", math.MaxUint64)
				// The entry moves to the next value of theirs to expire.
				next, err := w.nextExpiry(d.id)
				if err != nil {
					return err
				}
				return w.indexExpiry(d.id, next, true)
			})
			if err != nil {
				return err
			}
		}
		if len(batch) < expireBatch {
			return nil
		}
	}
}

// hideExpired takes out of events, as they are read, the values that have
// expired by now, before the write that erases them is made: a read never
// shows an expired value.
func hideExpired(events []Event, now time.Time) []Event {
	for i := range events {
		e := &events[i]
		if e.Kind == EventFactRemembered && e.Fact != nil && e.Erased.IsZero() && e.Fact.expired(now) {
			f := *e.Fact
			f.Value = ""
			e.Fact, e.Erased = &f, f.Expires
		}
	}
	return events
}

// liveFacts returns the facts of fs that have not expired by now.
func liveFacts(fs []Fact, now time.Time) []Fact {
	return slices.DeleteFunc(fs, func(f Fact) bool { return f.expired(now) })
}
