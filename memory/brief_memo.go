package memory

import (
	"sync/atomic"
	"time"
)

// memoQueries is how many distinct queries (purpose and channel) a cached
// profile keeps a brief for.
const memoQueries = 4

// briefMemo keeps the briefs built from one cached profile, so that a
// repeated brief is a lookup, not a rebuild. A cached profile never
// changes (a write caches a new one), so a brief in the memo stays the one
// its query would build until time alone changes it: each keeps the span
// of instants in which it holds. The zero value is empty and ready.
type briefMemo struct {
	slots [memoQueries]atomic.Pointer[memoEntry]
	next  atomic.Uint32 // the slot a new query takes
}

// memoEntry is a brief and the instants, as Unix nanoseconds on the
// store's clock, in which it is the brief of its query: from from,
// inclusive, to until, exclusive.
type memoEntry struct {
	purpose     Purpose
	channel     Channel
	from, until int64
	brief       Brief
}

// forever is the until of a brief that time alone never changes.
const forever = int64(1<<63 - 1)

// get returns the brief kept for q's purpose and channel at instant now.
func (m *briefMemo) get(purpose Purpose, ch Channel, now int64) (Brief, bool) {
	for i := range m.slots {
		e := m.slots[i].Load()
		if e != nil && e.purpose == purpose && e.channel == ch && e.from <= now && now < e.until {
			return e.brief, true
		}
	}
	return Brief{}, false
}

// put keeps b as the brief of q's purpose and channel from instant from to
// instant until, in the slot the query had or in the next one.
func (m *briefMemo) put(purpose Purpose, ch Channel, from, until int64, b Brief) {
	e := &memoEntry{purpose: purpose, channel: ch, from: from, until: until, brief: b}
	for i := range m.slots {
		if old := m.slots[i].Load(); old != nil && old.purpose == purpose && old.channel == ch {
			m.slots[i].Store(e)
			return
		}
	}
	m.slots[m.next.Add(1)%memoQueries].Store(e)
}

// memoBrief returns the brief of p for q, from p's memo when it holds one
// for q's instant. When q.Now is the store's clock (now, in Unix
// nanoseconds), a brief it builds is kept for the instants in which it
// holds; a brief for another time is built and not kept. p without a memo
// builds every time.
func (p *profile) memoBrief(q BriefQuery, now bool, window time.Duration) Brief {
	at := unixNano(q.Now)
	if p.memo == nil {
		return p.sharedBrief(q, window)
	}
	if b, ok := p.memo.get(q.Purpose, q.Channel, at); ok {
		return b
	}
	b := p.sharedBrief(q, window)
	if now {
		until := forever
		if t := p.briefChanges(q, window); !t.IsZero() {
			until = unixNano(t)
		}
		p.memo.put(q.Purpose, q.Channel, at, until, b)
	}
	return b
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
