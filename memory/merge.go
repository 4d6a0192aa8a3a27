package memory

import (
	"time"
)

// Merge records that one customer was merged into another because they are
// one person. The absorbed customer's data stays as it was, so that Unmerge
// can give it back; the survivor shows both.
type Merge struct {
	ID     string     `json:"id" msgpack:"id"`
	Into   CustomerID `json:"into" msgpack:"i"`
	From   CustomerID `json:"from" msgpack:"f"`
	At     time.Time  `json:"at" msgpack:"t"`
	Reason string     `json:"reason" msgpack:"r"`
	// Undone is when the merge was undone; zero while it holds.
	Undone time.Time `json:"undone,omitzero" msgpack:"u,omitempty"`
}

// absorb folds another customer's profile into this one: identifiers,
// issues and drafts are joined; for facts, preferences, consent, name and
// last contacts the newest wins per field.
func (p *profile) absorb(o *profile) {
	if o.Created.Before(p.Created) {
		p.Created = o.Created
	}
	if o.NameAt.After(p.NameAt) {
		p.Name, p.NameAt = o.Name, o.NameAt
	}
	for _, l := range o.Idents {
		if _, ok := p.linked(l.Identifier); !ok {
			p.Idents = append(p.Idents, l)
		} else if !l.Typed {
			p.link(l.Identifier, l.At)
		}
	}
	for _, f := range o.Facts {
		p.Facts = upsertFact(p.Facts, f)
	}
	for _, pr := range o.Prefs {
		p.Prefs = upsertPref(p.Prefs, pr)
	}
	for _, c := range o.Consents {
		p.Consents = joinConsent(p.Consents, c)
	}
	for _, is := range o.Open {
		if findIssue(p.Open, is.ID) < 0 {
			p.Open = insertOpen(p.Open, is)
		}
	}
	for _, c := range o.Last {
		p.Last = upsertLast(p.Last, c)
	}
	for _, t := range o.Negatives {
		p.Negatives = addNegative(p.Negatives, t)
	}
	for _, s := range o.Signals {
		p.Signals = addSignal(p.Signals, Signal{Kind: s.Kind, Count: s.Count, At: s.At})
	}
	for _, d := range o.Drafts {
		p.Drafts = upsertDraft(p.Drafts, d)
	}
}

// mergeLimit returns the limit that p would pass by absorbing o, or nil.
func (p *profile) mergeLimit(o *profile, lim Limits) error {
	idents := len(p.Idents)
	for _, l := range o.Idents {
		if _, ok := p.linked(l.Identifier); !ok {
			idents++
		}
	}
	facts := len(p.Facts)
	for _, f := range o.Facts {
		if _, ok := p.fact(f.Key); !ok {
			facts++
		}
	}
	prefs := len(p.Prefs)
	for _, pr := range o.Prefs {
		if _, ok := findPref(p.Prefs, pr.Key); !ok {
			prefs++
		}
	}
	open := len(p.Open)
	for _, is := range o.Open {
		if findIssue(p.Open, is.ID) < 0 {
			open++
		}
	}
	drafts := countDrafts(p)
	for _, d := range o.Drafts {
		if _, ok := p.draft(d.Name); !ok && !d.Deleted {
			drafts++
		}
	}
	var chs []Channel
	for _, c := range o.Consents {
		chs = append(chs, c.Channel)
	}
	for _, c := range []struct {
		what  string
		n     int
		limit int
	}{
		{"identifiers", idents, lim.Identifiers},
		{"facts", facts, lim.Facts},
		{"preferences", prefs, lim.Preferences},
		{"open issues", open, lim.OpenIssues},
		{"drafts", drafts, lim.Drafts},
		{"channels with consent", consentChannels(p.Consents, chs...), MaxChannels},
	} {
		if c.n > c.limit {
			return &LimitError{What: c.what, Limit: c.limit}
		}
	}
	return nil
}

// survivorOf picks which of two customers survives a merge: the older one,
// so that the ID most systems already hold stays.
func survivorOf(a, b *profile) (survivor, absorbed *profile) {
	if b.Created.Before(a.Created) || b.Created.Equal(a.Created) && b.ID < a.ID {
		return b, a
	}
	return a, b
}
