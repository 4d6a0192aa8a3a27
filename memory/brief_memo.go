package memory

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// memoQueries is how many distinct queries (purpose and channel) a cached
// profile keeps a brief for: a widget's and an agent screen's. Each slot is
// counted in the profile's cost (cache_size.go) whether it is used or not;
// with 4, the bench's 10,000 hot customers no longer fitted the default
// 64 MiB and one warm brief in ten was read from disk.
const memoQueries = 2

// briefMemo keeps the briefs built from one cached profile, so that a
// repeated brief is a lookup, not a rebuild. A cached profile never
// changes (a write caches a new one), so a brief in the memo stays the one
// its query would build until time alone changes it: each keeps the span
// of instants in which it holds. The zero value is empty and ready.
type briefMemo struct {
	slots [memoQueries]atomic.Pointer[memoEntry]
	next  atomic.Uint32 // the slot a new query takes

	// mu orders pointing identifiers' cache entries at the memo's briefs
	// (see point) against retire, which takes the pointers back.
	mu      sync.Mutex
	retired bool       // see retire
	pointed []identRef // the identifiers whose entries may point here
}

// memoEntry is a brief and the instants, as Unix nanoseconds on the
// store's clock, in which it is the brief of its query: from from,
// inclusive, to until, exclusive. An identifier's cache entry may point at
// it (indexEntry.hot) while its profile is cached, so that a brief by
// identifier takes one cache lookup.
type memoEntry struct {
	memo        *briefMemo // the memo that keeps it
	purpose     Purpose
	channel     Channel
	from, until int64
	brief       Brief
}

// holds reports whether e is the brief of the query for purpose and ch at
// instant now.
func (e *memoEntry) holds(purpose Purpose, ch Channel, now int64) bool {
	return e.from <= now && now < e.until && e.purpose == purpose && e.channel == ch
}

// forever is the until of a brief that time alone never changes.
const forever = int64(1<<63 - 1)

// get returns the entry kept for the query for purpose and ch at instant
// now, or nil.
func (m *briefMemo) get(purpose Purpose, ch Channel, now int64) *memoEntry {
	for i := range m.slots {
		if e := m.slots[i].Load(); e != nil && e.holds(purpose, ch, now) {
			return e
		}
	}
	return nil
}

// put keeps b as the brief of the query for purpose and ch from instant
// from to instant until, in the slot the query had or in the next one, and
// returns its entry.
func (m *briefMemo) put(purpose Purpose, ch Channel, from, until int64, b Brief) *memoEntry {
	e := &memoEntry{memo: m, purpose: purpose, channel: ch, from: from, until: until, brief: b}
	slot := &m.slots[m.next.Add(1)%memoQueries]
	for i := range m.slots {
		if old := m.slots[i].Load(); old != nil && old.purpose == purpose && old.channel == ch {
			slot = &m.slots[i]
			break
		}
	}
	slot.Store(e)
	return e
}

// maxPointed bounds how many identifiers' entries may point at one memo's
// briefs: a customer has one or two identifiers that briefs are asked by
// (an email, a phone number); briefs by others take one more lookup.
const maxPointed = 2

// point runs set, which points the cache entry of identifier k at one of
// the memo's briefs, unless the memo is retired or enough entries point at
// it already; retire then calls unset with k. A memo's briefs are counted
// with their profile in the cache, so that an entry must not keep one
// after its profile left the cache.
func (m *briefMemo) point(k identRef, set func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.retired {
		return
	}
	if !slices.Contains(m.pointed, k) {
		if len(m.pointed) == maxPointed {
			return
		}
		m.pointed = append(m.pointed, k)
	}
	set()
}

// retire is for a memo whose profile left the cache: it calls unset with
// every identifier whose cache entry may point at one of its briefs, and
// makes point do nothing from then on. Calls that hold the profile may
// still use the memo.
func (m *briefMemo) retire(unset func(identRef, *briefMemo)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.retired = true
	for _, k := range m.pointed {
		unset(k, m)
	}
	m.pointed = nil
}

// memoBrief returns the brief of p for q, from p's memo when it holds one
// for q's instant, and the memo's entry for it. When q.Now is the store's
// clock (now), a brief it builds is kept for the instants in which it
// holds; a brief for another time is built and not kept (its entry is
// nil). p without a memo builds every time.
func (p *profile) memoBrief(q BriefQuery, now bool, window time.Duration) (Brief, *memoEntry) {
	if p.memo == nil {
		return p.sharedBrief(q, window), nil
	}
	at := unixNano(q.Now)
	if e := p.memo.get(q.Purpose, q.Channel, at); e != nil {
		return e.brief, e
	}
	b := p.sharedBrief(q, window)
	if !now {
		return b, nil
	}
	until := forever
	if t := p.briefChanges(q, window); !t.IsZero() {
		until = unixNano(t)
	}
	return b, p.memo.put(q.Purpose, q.Channel, at, until, b)
}

// unixNano is t as Unix nanoseconds, saturated at the ends of int64.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, -1<<63)):
		return -1 << 63
	case t.After(time.Unix(0, forever)):
		return forever
	}
	return t.UnixNano()
}
