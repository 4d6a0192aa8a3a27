package memory

import (
	"slices"
	"time"
)

// profile is the projection of a customer's events: everything a brief
// needs, and nothing it does not. The contact and resolved-issue timelines
// are not kept: replaying the history gives them (see effects, replay), and
// drafts are kept under their own keys.
//
// A profile read from the store or the cache is shared and must not change;
// writers decode their own copy.
type profile struct {
	ID         CustomerID    `msgpack:"id"`
	Created    time.Time     `msgpack:"cr"`
	Seq        uint64        `msgpack:"sq"`
	Base       uint64        `msgpack:"bs,omitempty"` // Seq of the history.compacted event, if any
	MergedInto CustomerID    `msgpack:"mi,omitempty"`
	Name       string        `msgpack:"nm,omitempty"`
	NameAt     time.Time     `msgpack:"na,omitempty"`
	Idents     []link        `msgpack:"ids,omitempty"`
	Facts      []Fact        `msgpack:"fa,omitempty"` // sorted by key
	Prefs      []Preference  `msgpack:"pr,omitempty"`
	Consents   []Consent     `msgpack:"co,omitempty"`
	Open       []Issue       `msgpack:"oi,omitempty"` // newest first
	Last       []Contact     `msgpack:"lc,omitempty"` // newest on each channel, newest first
	Negatives  []time.Time   `msgpack:"ng,omitempty"` // newest negative outcomes, oldest first
	Signals    []signalTotal `msgpack:"sg,omitempty"`
	Drafts     []draftRef    `msgpack:"dr,omitempty"`
	Merges     []Merge       `msgpack:"mg,omitempty"` // customers this one absorbed

	// sum is a hash of the stored bytes this profile was read from or
	// written as, so that a writer can tell a cached profile is the stored
	// one without decoding; 0 when unknown.
	sum uint64
	// memo keeps the briefs built from this profile once it is cached;
	// nil for a profile that is not.
	memo *briefMemo
}

// link is an identifier of the customer and when it was linked. A typed
// link is a claim the customer typed in a page: it is kept on the profile
// only, never in the identifier index, so that nothing is recognized by it
// until it is linked for real (see Store.Sync).
type link struct {
	Identifier `msgpack:",inline"`
	At         time.Time `msgpack:"t"`
	Typed      bool      `msgpack:"ty,omitempty"`
}

// effects are what applying an event adds to the timelines its history
// implies.
type effects struct {
	contact  *Contact
	resolved *Issue
}

func newProfile(id CustomerID, at time.Time) *profile {
	return &profile{ID: id, Created: at}
}

// clone returns a deep copy that a writer may change.
func (p *profile) clone() *profile {
	c := *p
	c.memo = nil
	c.Idents = slices.Clone(p.Idents)
	c.Facts = slices.Clone(p.Facts)
	c.Prefs = slices.Clone(p.Prefs)
	c.Consents = slices.Clone(p.Consents)
	c.Open = slices.Clone(p.Open)
	c.Last = slices.Clone(p.Last)
	c.Negatives = slices.Clone(p.Negatives)
	c.Signals = slices.Clone(p.Signals)
	c.Drafts = slices.Clone(p.Drafts)
	c.Merges = slices.Clone(p.Merges)
	return &c
}

// apply folds e into the profile. It never fails: whether a change is
// allowed is decided before its event is made, and replaying old events
// must always work. A merge event is applied with the absorbed customer's
// profile as it was (absorbed); nil skips its contents.
func (p *profile) apply(e *Event, absorbed *profile) effects {
	p.Seq = e.Seq
	var fx effects
	switch e.Kind {
	case EventCreated:
		if p.Created.IsZero() {
			p.Created = e.At
		}
	case EventIdentifierLinked:
		if e.Identifier != nil {
			p.link(*e.Identifier, e.At)
		}
	case EventIdentifierTyped:
		if e.Identifier != nil {
			if _, ok := p.linked(*e.Identifier); !ok {
				p.Idents = append(p.Idents, link{Identifier: *e.Identifier, At: e.At, Typed: true})
			}
		}
	case EventIdentifierVerified:
		// Only an identifier the customer has; replaying a history after
		// an unmerge may meet one that went back to its own customer.
		if e.Identifier != nil {
			if _, ok := p.linked(*e.Identifier); ok {
				p.link(*e.Identifier, e.At)
			}
		}
	case EventIdentifierUnlinked:
		if e.Identifier != nil {
			p.unlink(*e.Identifier)
		}
	case EventNamed:
		if !e.At.Before(p.NameAt) {
			p.Name, p.NameAt = e.Name, e.At
		}
	case EventFactRemembered:
		if e.Fact != nil && e.Erased.IsZero() {
			p.Facts = upsertFact(p.Facts, *e.Fact)
		}
	case EventFactForgotten, EventFactExpired:
		p.Facts = slices.DeleteFunc(p.Facts, func(f Fact) bool { return f.Key == e.Key })
	case EventPreferenceSet:
		p.Prefs = upsertPref(p.Prefs, Preference{Key: e.Key, Value: e.Value, At: e.At})
	case EventConsentRecorded:
		if e.Consent != nil {
			p.Consents = applyConsent(p.Consents, *e.Consent)
		}
	case EventIssueOpened:
		// Opening an issue is the customer's first contact about it.
		if e.Issue != nil && findIssue(p.Open, e.Issue.ID) < 0 {
			is := *e.Issue
			is.Status, is.Contacts, is.LastContact, is.LastChannel = IssueOpen, 1, e.At, is.Channel
			p.Open = insertOpen(p.Open, is)
			c := Contact{Channel: is.Channel, At: e.At, Issue: is.ID, Outcome: OutcomeNeutral, Summary: is.Subject}
			p.Last = upsertLast(p.Last, c)
			fx.contact = &c
		}
	case EventIssueReopened:
		if e.Issue != nil && findIssue(p.Open, e.Issue.ID) < 0 {
			is := *e.Issue
			is.Status = IssueOpen
			p.Open = insertOpen(p.Open, is)
		}
	case EventIssueJoined:
		// Only while both are here: replaying a survivor after an unmerge
		// meets joins with an issue that went back.
		if e.Issue != nil {
			p.joinIssues(e.Issue.ID, IssueID(e.Key))
		}
	case EventIssueEscalated:
		if e.Issue != nil {
			if i := findIssue(p.Open, e.Issue.ID); i >= 0 {
				p.Open[i].Escalated = true
			}
		}
	case EventIssueResolved:
		if e.Issue != nil {
			if i := findIssue(p.Open, e.Issue.ID); i >= 0 {
				is := p.Open[i]
				is.Status, is.Resolved, is.Resolution = IssueResolved, e.At, e.Issue.Resolution
				p.Open = slices.Delete(p.Open, i, i+1)
				fx.resolved = &is
			}
		}
	case EventContactRecorded:
		if e.Contact != nil {
			c := *e.Contact
			// The brief's last contacts need no subject: the timeline has it.
			last := c
			last.Subject, last.Matched = "", ""
			p.Last = upsertLast(p.Last, last)
			if c.Outcome == OutcomeNegative {
				p.Negatives = addNegative(p.Negatives, c.At)
			}
			if i := findIssue(p.Open, c.Issue); c.Issue != "" && i >= 0 {
				is := &p.Open[i]
				is.Contacts++
				if !c.At.Before(is.LastContact) {
					is.LastContact, is.LastChannel = c.At, c.Channel
				}
			}
			fx.contact = &c
		}
	case EventDraftSaved:
		if e.Draft != nil {
			p.Drafts = upsertDraft(p.Drafts, draftRef{DraftInfo: *e.Draft, Owner: p.ID})
		}
	case EventDraftDeleted:
		if e.Draft != nil {
			for i := range p.Drafts {
				d := &p.Drafts[i]
				if d.Name != e.Draft.Name {
					continue
				}
				if d.Owner == p.ID {
					p.Drafts = slices.Delete(p.Drafts, i, i+1)
				} else {
					// The data is the absorbed customer's; hide it here.
					d.Deleted, d.Saved, d.Size = true, e.At, 0
				}
				break
			}
		}
	case EventSignalRecorded:
		if e.Signal != nil {
			p.Signals = addSignal(p.Signals, *e.Signal)
		}
	case EventMerged:
		if e.Merge != nil {
			p.Merges = append(p.Merges, *e.Merge)
			if absorbed != nil {
				p.absorb(absorbed)
			}
		}
	case EventAbsorbed:
		if e.Merge != nil {
			p.MergedInto = e.Merge.Into
		}
	case EventUnmerged:
		if e.Merge != nil {
			if e.Merge.From == p.ID {
				p.MergedInto = ""
			}
			for i := range p.Merges {
				if p.Merges[i].ID == e.Merge.ID {
					p.Merges[i].Undone = e.At
				}
			}
		}
	}
	return fx
}

// joinIssues makes the open issue joined part of the open issue kept: its
// contacts count on kept, and kept is escalated if either was.
func (p *profile) joinIssues(kept, joined IssueID) {
	k, j := findIssue(p.Open, kept), findIssue(p.Open, joined)
	if k < 0 || j < 0 || k == j {
		return
	}
	o, is := p.Open[j], &p.Open[k]
	is.Contacts += o.Contacts
	is.Escalated = is.Escalated || o.Escalated
	if o.LastContact.After(is.LastContact) {
		is.LastContact, is.LastChannel = o.LastContact, o.LastChannel
	}
	p.Open = slices.Delete(p.Open, j, j+1)
}

// link links id for real: in the index, no longer only typed.
func (p *profile) link(id Identifier, at time.Time) {
	for i := range p.Idents {
		l := &p.Idents[i]
		if l.Kind == id.Kind && l.Value == id.Value {
			l.Verified = l.Verified || id.Verified
			l.Typed = false
			return
		}
	}
	p.Idents = append(p.Idents, link{Identifier: id, At: at})
}

// identified reports whether the customer is someone: has a verified
// identifier other than a device. A customer known by devices only is
// anonymous, the memory of a browser.
func (p *profile) identified() bool {
	for _, l := range p.Idents {
		if l.Verified && !l.Typed && l.Kind != KindDevice {
			return true
		}
	}
	return false
}

func (p *profile) unlink(id Identifier) {
	p.Idents = slices.DeleteFunc(p.Idents, func(l link) bool {
		return l.Kind == id.Kind && l.Value == id.Value
	})
}

func (p *profile) linked(id Identifier) (link, bool) {
	for _, l := range p.Idents {
		if l.Kind == id.Kind && l.Value == id.Value {
			return l, true
		}
	}
	return link{}, false
}

func (p *profile) fact(key string) (Fact, bool) {
	i, ok := slices.BinarySearchFunc(p.Facts, key, func(f Fact, k string) int {
		switch {
		case f.Key < k:
			return -1
		case f.Key > k:
			return 1
		}
		return 0
	})
	if !ok {
		return Fact{}, false
	}
	return p.Facts[i], true
}

func (p *profile) draft(name string) (draftRef, bool) {
	for _, d := range p.Drafts {
		if d.Name == name && !d.Deleted {
			return d, true
		}
	}
	return draftRef{}, false
}

// activeMerges returns the customers this one absorbed and still holds.
func (p *profile) activeMerges() []Merge {
	var ms []Merge
	for _, m := range p.Merges {
		if m.Undone.IsZero() {
			ms = append(ms, m)
		}
	}
	return ms
}

// upsertFact keeps facts sorted by key, one per key, the newest.
func upsertFact(fs []Fact, f Fact) []Fact {
	i, ok := slices.BinarySearchFunc(fs, f.Key, func(x Fact, k string) int {
		switch {
		case x.Key < k:
			return -1
		case x.Key > k:
			return 1
		}
		return 0
	})
	if ok {
		if !f.At.Before(fs[i].At) {
			fs[i] = f
		}
		return fs
	}
	return slices.Insert(fs, i, f)
}
