//go:build !wasip1

package memory

import "unsafe"

// The store's caches are bounded in bytes by these estimates of what their
// entries hold in memory (see Options.WithCacheBytes). They are cheap, a
// walk over the profile's lists once per fill and never per hit, and
// conservative: every string counts as allocated on its own, the ones
// intern shares included, and every allocation as rounded up to the next
// size class (at most an eighth more, and 16 bytes for the smallest). A
// whitebox test checks them against the heap.

// allocSize bounds the heap an allocation of n bytes takes.
func allocSize(n int) int64 {
	if n == 0 {
		return 0
	}
	return int64(n + n/8 + 16)
}

// sliceSize bounds the heap a slice's backing array takes.
func sliceSize[T any](s []T) int64 {
	var zero T
	return allocSize(cap(s) * int(unsafe.Sizeof(zero)))
}

// size bounds the heap a decoded profile takes.
func (p *profile) size() int64 {
	n := allocSize(int(unsafe.Sizeof(*p))) +
		allocSize(len(p.ID)) + allocSize(len(p.MergedInto)) + allocSize(len(p.Name))
	n += sliceSize(p.Idents)
	for _, l := range p.Idents {
		n += allocSize(len(l.Kind)) + allocSize(len(l.Value))
	}
	n += sliceSize(p.Facts)
	for _, f := range p.Facts {
		n += allocSize(len(f.Key)) + allocSize(len(f.Value)) + allocSize(len(f.Channel)) + allocSize(len(f.Purpose))
	}
	n += sliceSize(p.Prefs)
	for _, f := range p.Prefs {
		n += allocSize(len(f.Key)) + allocSize(len(f.Value))
	}
	n += sliceSize(p.Consents)
	for _, c := range p.Consents {
		n += allocSize(len(c.Purpose)) + allocSize(len(c.Channel)) + allocSize(len(c.Source))
	}
	n += sliceSize(p.Open)
	for _, is := range p.Open {
		n += issueStrings(&is)
	}
	n += sliceSize(p.Last)
	for _, c := range p.Last {
		n += allocSize(len(c.Channel)) + allocSize(len(c.Issue)) + allocSize(len(c.Outcome)) + allocSize(len(c.Summary))
	}
	n += sliceSize(p.Negatives) + sliceSize(p.Signals)
	for _, s := range p.Signals {
		n += allocSize(len(s.Kind))
	}
	n += sliceSize(p.Drafts)
	for _, d := range p.Drafts {
		n += allocSize(len(d.Name)) + allocSize(len(d.Owner))
	}
	n += sliceSize(p.Merges)
	for _, m := range p.Merges {
		n += allocSize(len(m.ID)) + allocSize(len(m.Into)) + allocSize(len(m.From)) + allocSize(len(m.Reason))
	}
	return n
}

func issueStrings(is *Issue) int64 {
	return allocSize(len(is.ID)) + allocSize(len(is.Subject)) + allocSize(len(is.Channel)) +
		allocSize(len(is.Status)) + allocSize(len(is.LastChannel)) + allocSize(len(is.Resolution))
}

// memoSize bounds the heap p's brief memo takes when it is full: each of
// its briefs shares p's slices and strings but for its own facts and the
// reason it gives not to contact the customer now, which quotes a
// preference (the pause, the hours or the channel) or the channel's
// preference in "no consent for service on ...". The memo also names the
// identifiers whose cache entries point at its briefs.
func (p *profile) memoSize() int64 {
	if p.memo == nil {
		return 0
	}
	longest := 0
	for _, f := range p.Prefs {
		longest = max(longest, len(f.Value))
	}
	reason := len("asked not to be contacted until ") + longest // the longest of the reasons
	one := allocSize(int(unsafe.Sizeof(memoEntry{}))) + allocSize(len(p.Facts)*int(unsafe.Sizeof(Fact{}))) + allocSize(reason)
	pointed := allocSize(maxPointed*int(unsafe.Sizeof(identRef{}))) + maxPointed*(allocSize(maxKindLen)+allocSize(maxValueLen))
	return allocSize(int(unsafe.Sizeof(briefMemo{}))) + memoQueries*one + pointed
}

// profileCost is the profile cache's cost function.
func profileCost(id CustomerID, p *profile) int64 {
	return allocSize(len(id)) + p.size() + p.memoSize()
}

// identCost is the identifier cache's cost function: the key's strings and
// the entry's customer. The brief an entry may point at is counted with
// its profile, in the profile cache, which the entry never outlives (see
// briefMemo.point).
func identCost(k identRef, e indexEntry) int64 {
	return int64(unsafe.Sizeof(k)+unsafe.Sizeof(e)) + allocSize(len(k.kind)) + allocSize(len(k.value)) + allocSize(len(e.Customer))
}

// absentCost is the cost function of the cache of identifiers of no one:
// the key's strings.
func absentCost(k identRef, _ struct{}) int64 {
	return int64(unsafe.Sizeof(k)) + allocSize(len(k.kind)) + allocSize(len(k.value))
}

// aeadSize bounds the heap of one customer key made ready to seal with
// (AES-GCM: the expanded key schedules and the multiplication table); about
// 800 bytes were measured.
const aeadSize = 1 << 10

// keysCost is the key cache's cost function: one key, or two while the key
// is being replaced.
func keysCost(_ CustomerID, k keyed) int64 {
	n := int64(unsafe.Sizeof(k)) + allocSize(customerIDLen) + 64 + aeadSize
	if k.ref.Old != 0 {
		n += aeadSize
	}
	return n
}
