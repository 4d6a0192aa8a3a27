//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/keys"
	"github.com/herken/herken/memory/internal/kv"
)

// The work queue: the customers an agent has work for, newest contact
// first, kept as an index (q/) beside the profiles and written in the same
// transaction as the profile it follows, in one place (wtx.flush), so that
// it is never behind a change that was acknowledged.
//
// What the index holds and what a query computes: a customer is in the
// index while it is not merged into another and has an open issue or at
// least two negative outcomes on record. The entry holds what does not
// depend on the time or the options: the newest contact's time (its key),
// how many issues are open, whether one is escalated, and the times of the
// newest negative outcomes. Whether the customer is at risk depends on the
// time and on the store's at-risk window (WithAtRiskWindow), so Queue
// decides it when it reads, the way Brief does: an entry whose negatives
// have left the window, without an open issue, stays in the index until the
// customer's next change and is passed over by Queue.

const (
	// DefaultQueuePage is the page size of Queue when QueueQuery.Limit is
	// zero.
	DefaultQueuePage = 50
	// MaxQueuePage is the largest page Queue returns.
	MaxQueuePage = 500
	// maxQueueScan bounds how many index entries one call of Queue reads,
	// so that a query that matches little costs a bounded amount; past it
	// the page ends early, with a cursor to go on.
	maxQueueScan = 4096
)

// QueueQuery selects and pages the work queue (Store.Queue). Its filters
// combine: every one that is set must hold. With none set, it lists every
// customer with an open issue or at risk.
type QueueQuery struct {
	// Open lists only customers with an open issue.
	Open bool
	// Escalated lists only customers with an escalated open issue: they had
	// to come back about it.
	Escalated bool
	// AtRisk lists only customers at risk now: two negative outcomes within
	// the store's at-risk window before Now.
	AtRisk bool
	// NotContactedSince, when set, lists only customers whose newest
	// contact is before it.
	NotContactedSince time.Time
	// Now is the time at-risk is judged at; zero means the store's clock.
	Now time.Time
	// Limit is the most entries a page holds: zero means DefaultQueuePage;
	// at most MaxQueuePage.
	Limit int
	// After is the Next of the page before; empty starts at the newest.
	// A cursor is only good for the store that made it and for a query
	// with the same filters.
	After string
}

// QueueEntry is a customer in the work queue, as of the page's read.
type QueueEntry struct {
	Customer CustomerID `json:"customer"`
	Name     string     `json:"name,omitempty"`
	// OpenIssues are newest first.
	OpenIssues []Issue `json:"open_issues"`
	// LastContact is the customer's newest contact, on any channel: the
	// queue's order.
	LastContact Contact `json:"last_contact"`
	Escalate    bool    `json:"escalate"`
	AtRisk      bool    `json:"at_risk"`
}

// QueuePage is one page of the work queue.
type QueuePage struct {
	Entries []QueueEntry `json:"entries"`
	// Next, when not empty, is where the next page starts (QueueQuery.After).
	// A page may hold fewer than Limit entries and still have a Next.
	Next string `json:"next,omitempty"`
}

// Queue lists the customers an agent has work for, newest contact first
// (customers contacted at the same moment by ID), a page at a time, in one
// snapshot of the store. A customer leaves the queue in the write that
// resolves its last open issue, forgets it, or merges it into another (the
// survivor holds its issues); Unmerge brings both back.
//
// Paging follows the order: a cursor names the last customer shown and its
// newest contact. When nothing changes between pages, every customer in
// the queue is shown exactly once. When something does, a customer whose
// newest contact moves (a new contact) moves to the front: it is not shown
// again in this pass if it was shown, nor in this pass if it was not yet
// (a fresh listing starts with it); a customer that enters the queue
// enters at the front, and one that leaves is not shown. Newest contacts
// only move forward, except at Unmerge, which may give a customer an older
// one: such a customer may be shown twice.
//
// A cursor that this store did not make for a query with these filters is
// refused with ErrInvalidInput.
func (s *Store) Queue(ctx context.Context, q QueueQuery) (QueuePage, error) {
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultQueuePage
	case limit < 0 || limit > MaxQueuePage:
		return QueuePage{}, invalid("queue limit", "must be from 1 to "+strconv.Itoa(MaxQueuePage))
	}
	if t := q.NotContactedSince; !t.IsZero() && (t.Year() < 1970 || t.Year() > 2200) {
		return QueuePage{}, invalid("queue not-contacted-since", "must be a time from 1970 to 2200")
	}
	now := q.Now
	if now.IsZero() {
		now = s.now()
	}
	digest := q.digest()
	from := keys.Queue
	if !q.NotContactedSince.IsZero() {
		from = keys.QueueAt(q.NotContactedSince.UnixNano() - 1)
	}
	if q.After != "" {
		after, err := s.openCursor(q.After, digest)
		if err != nil {
			return QueuePage{}, err
		}
		// Resume just past the last key shown.
		if next := append(after, 0); bytes.Compare(next, from) > 0 {
			from = next
		}
	}
	var page QueuePage
	err := s.view(ctx, func(r *reader) error {
		page = QueuePage{Entries: []QueueEntry{}}
		scanned := 0
		var last []byte // the last key shown or passed over
		err := r.t.ScanFrom(keys.Queue, from, func(k, v []byte) error {
			if scanned == maxQueueScan {
				page.Next = s.sealCursor(last, digest)
				return errStopScan
			}
			scanned++
			var e queued
			if err := codec.Unmarshal(v, &e); err != nil {
				return err
			}
			if !q.matches(&e, now, s.opts.atRiskWindow) {
				last = bytes.Clone(k)
				return nil
			}
			if len(page.Entries) == limit {
				page.Next = s.sealCursor(last, digest)
				return errStopScan
			}
			last = bytes.Clone(k)
			_, id := keys.QueueOf(k)
			cached, _ := s.profiles.Get(CustomerID(id))
			p, err := s.readProfileFrom(r.t, r.start, CustomerID(id), cached)
			if errors.Is(err, ErrNotFound) {
				return nil // an entry without its customer: Check reports it
			}
			if err != nil {
				return err
			}
			b := p.brief(BriefQuery{Purpose: PurposeService, Now: now}, s.opts.atRiskWindow)
			entry := QueueEntry{Customer: p.ID, Name: b.Name, OpenIssues: b.OpenIssues, Escalate: b.Escalate, AtRisk: b.AtRisk}
			if c, ok := b.LastContact(); ok {
				entry.LastContact = c
			}
			page.Entries = append(page.Entries, entry)
			return nil
		})
		if errors.Is(err, errStopScan) {
			err = nil
		}
		return storeErr(err)
	})
	if err != nil {
		return QueuePage{}, err
	}
	return page, nil
}

// matches reports whether an entry of the index is in the queue q asks for
// at now.
func (q *QueueQuery) matches(e *queued, now time.Time, window time.Duration) bool {
	risk := atRisk(e.Negatives, now, window)
	switch {
	case q.Open && e.Open == 0,
		q.Escalated && !e.Escalated,
		q.AtRisk && !risk,
		!q.NotContactedSince.IsZero() && e.At >= q.NotContactedSince.UnixNano():
		return false
	}
	return e.Open > 0 || risk
}

// digest names the filters of q, so that a cursor made for one query is
// not taken by another.
func (q *QueueQuery) digest() [8]byte {
	var b [16]byte
	if q.Open {
		b[0] |= 1
	}
	if q.Escalated {
		b[0] |= 2
	}
	if q.AtRisk {
		b[0] |= 4
	}
	if !q.NotContactedSince.IsZero() {
		b[1] = 1
		binary.BigEndian.PutUint64(b[8:], uint64(q.NotContactedSince.UnixNano()))
	}
	sum := sha256.Sum256(b[:])
	return [8]byte(sum[:8])
}

// A cursor is the last key a page showed, with the query's digest, under a
// MAC keyed by the store's secret: base64url of
// version | digest (8) | the key past "q/" (8 + customerIDLen) | MAC (16).
const (
	cursorVersion = 1
	cursorBody    = 1 + 8 + 8 + customerIDLen
	cursorMAC     = 16
)

func (s *Store) cursorMAC(body []byte) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("\x00queue cursor\x00"))
	m.Write(body)
	return m.Sum(nil)[:cursorMAC]
}

func (s *Store) sealCursor(key []byte, digest [8]byte) string {
	if len(key) != len(keys.Queue)+8+customerIDLen {
		return "" // nothing shown or passed over yet: start again
	}
	body := make([]byte, 0, cursorBody+cursorMAC)
	body = append(body, cursorVersion)
	body = append(body, digest[:]...)
	body = append(body, key[len(keys.Queue):]...)
	return base64.RawURLEncoding.EncodeToString(append(body, s.cursorMAC(body)...))
}

// openCursor returns the key a cursor names, or ErrInvalidInput.
func (s *Store) openCursor(c string, digest [8]byte) ([]byte, error) {
	if len(c) > base64.RawURLEncoding.EncodedLen(cursorBody+cursorMAC) {
		return nil, invalid("queue cursor", "too long: not a cursor of Queue")
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) != cursorBody+cursorMAC {
		return nil, invalid("queue cursor", "not a cursor of Queue")
	}
	body, mac := b[:cursorBody], b[cursorBody:]
	if !hmac.Equal(mac, s.cursorMAC(body)) || body[0] != cursorVersion {
		return nil, invalid("queue cursor", "not made by this store")
	}
	if !bytes.Equal(body[1:9], digest[:]) {
		return nil, invalid("queue cursor", "made for a query with other filters")
	}
	key := append(bytes.Clone(keys.Queue), body[9:]...)
	if _, id := keys.QueueOf(key); CustomerID(id).check() != nil {
		return nil, invalid("queue cursor", "not a cursor of Queue")
	}
	return key, nil
}

// queued is the stored value of a customer's entry in the work queue, under
// keys.QueueEntry and keys.Queued alike.
type queued struct {
	At        int64       `msgpack:"t"` // the newest contact, Unix nanoseconds
	Open      int         `msgpack:"o,omitempty"`
	Escalated bool        `msgpack:"e,omitempty"`
	Negatives []time.Time `msgpack:"n,omitempty"`
}

// inQueue reports whether p has an entry in the work queue.
func inQueue(p *profile) bool {
	return p.MergedInto == "" && (len(p.Open) > 0 || len(p.Negatives) >= 2)
}

// queueOf returns the work queue's entry for p, and whether p has one.
func queueOf(p *profile) (queued, bool) {
	if !inQueue(p) {
		return queued{}, false
	}
	e := queued{At: max(newestContact(p).UnixNano(), 0), Open: len(p.Open), Negatives: slices.Clone(p.Negatives)}
	for i := range p.Open {
		e.Escalated = e.Escalated || p.Open[i].Escalated
	}
	return e, true
}

// newestContact returns when p was last in contact, on any channel or
// about any open issue; when it was made, if never.
func newestContact(p *profile) time.Time {
	var t time.Time
	for _, c := range p.Last {
		if c.At.After(t) {
			t = c.At
		}
	}
	for i := range p.Open {
		if is := &p.Open[i]; is.LastContact.After(t) {
			t = is.LastContact
		}
	}
	if t.IsZero() {
		t = p.Created
	}
	return t
}

// queueBytes returns the stored value of p's entry, nil for none.
func queueBytes(p *profile) ([]byte, queued, error) {
	if p == nil {
		return nil, queued{}, nil
	}
	e, ok := queueOf(p)
	if !ok {
		return nil, queued{}, nil
	}
	b, err := codec.Marshal(&e)
	return b, e, err
}

// putQueue makes customer id's entry in the work queue what p says, in t;
// a nil p takes it out. It writes nothing when the entry is as it was.
func putQueue(t kv.Txn, id CustomerID, p *profile) error {
	var old []byte
	err := t.Get(keys.Queued(string(id)), func(v []byte) error { old = bytes.Clone(v); return nil })
	if err != nil && !errors.Is(err, kv.ErrNotFound) {
		return err
	}
	return replaceQueue(t, id, old, p)
}

// replaceQueue is putQueue for an entry whose stored value is old (nil for
// none).
func replaceQueue(t kv.Txn, id CustomerID, old []byte, p *profile) error {
	want, e, err := queueBytes(p)
	if err != nil {
		return err
	}
	if bytes.Equal(old, want) {
		return nil
	}
	if old != nil {
		// A damaged entry names no key to take out: Check reports what
		// it leaves, and the customer's writes go on.
		var o queued
		if codec.Unmarshal(old, &o) == nil {
			if err := t.Delete(keys.QueueEntry(o.At, string(id))); err != nil {
				return err
			}
		}
	}
	if want == nil {
		return t.Delete(keys.Queued(string(id)))
	}
	// Queue entries are small, always.
	if err := t.SetNew(keys.QueueEntry(e.At, string(id)), want); err != nil {
		return err
	}
	return t.SetNew(keys.Queued(string(id)), want)
}

// requeue keeps c's entry in the work queue what the write leaves of it:
// the write path's one call, for every customer it changed or erased. A
// customer out of the queue before and after the write costs nothing.
func (w *wtx) requeue(c *wcust) error {
	if !c.queued && (c.erased || !inQueue(c.p)) {
		return nil
	}
	p := c.p
	if c.erased {
		p = nil
	}
	if c.stored == nil {
		return putQueue(w.txn, c.p.ID, p)
	}
	// The entry was written with the profile the cache holds: it need not
	// be read.
	old, _, err := queueBytes(c.stored)
	if err != nil {
		return err
	}
	return replaceQueue(w.txn, c.p.ID, old, p)
}

// migrateQueue brings format 3 to 4: it builds the work queue from every
// customer's profile, a batch of customers a transaction, and raises the
// manifest in its last. Run again after a crash, it makes every entry what
// the profile says, whatever an earlier run left.
func migrateQueue(_ context.Context, s *Store) error {
	ids, err := s.customerIDs()
	if err != nil {
		return err
	}
	for {
		n := min(len(ids), 256)
		t := s.db.Begin(true)
		err := func() error {
			for _, id := range ids[:n] {
				p, err := s.readProfile(t, s.epoch.Now(), id)
				if errors.Is(err, ErrNotFound) {
					p, err = nil, nil // forgotten, its remains not yet purged
				}
				if err != nil {
					return err
				}
				if err := putQueue(t, id, p); err != nil {
					return storeErr(err)
				}
			}
			if n == len(ids) {
				return putManifest(t, 4)
			}
			return nil
		}()
		if err == nil {
			err = storeErr(t.Commit())
		}
		t.Discard()
		if err != nil {
			return err
		}
		if n == len(ids) {
			return s.db.Durable()
		}
		ids = ids[n:]
	}
}

// checkQueue reports where the work queue is not what the profiles say: a
// customer missing from it, an entry that is stale, or one of a customer
// who is not there.
func checkQueue(t kv.Txn, profiles map[CustomerID]*profile, report func(string, ...any)) error {
	stored := map[CustomerID][]byte{}
	err := t.Scan(keys.QueuedAll, false, func(k, v []byte) error {
		stored[CustomerID(k[len(keys.QueuedAll):])] = bytes.Clone(v)
		return nil
	})
	if err != nil {
		return storeErr(err)
	}
	for id, p := range profiles {
		want, _, err := queueBytes(p)
		if err != nil {
			return err
		}
		got, ok := stored[id]
		switch {
		case want != nil && !ok:
			report("customer %s is missing from the work queue", id)
		case want == nil && ok:
			report("customer %s is in the work queue and should not be", id)
		case !bytes.Equal(want, got):
			report("customer %s: its entry in the work queue is stale", id)
		}
	}
	for id := range stored {
		if profiles[id] == nil {
			report("the work queue lists missing customer %s", id)
		}
	}
	return storeErr(t.Scan(keys.Queue, false, func(k, v []byte) error {
		at, id := keys.QueueOf(k)
		var e queued
		if got, ok := stored[CustomerID(id)]; !ok || !bytes.Equal(got, v) || codec.Unmarshal(v, &e) != nil || e.At != at {
			report("the work queue holds an entry of %s that its customer does not name", id)
		}
		return nil
	}))
}
