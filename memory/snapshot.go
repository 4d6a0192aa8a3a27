package memory

import (
	"slices"
	"time"
)

// Snapshot is the customer-facing part of a customer's memory: what the
// customer may see, and all that a browser may hold. It leaves out what is
// internal: influence and its signals, the at-risk flag and the outcomes
// behind it, contact summaries and resolutions written by agents, merges,
// and device and custom identifiers.
type Snapshot struct {
	// Name is the customer's name (see FactName), the same as a Brief's.
	Name string `json:"name,omitempty"`
	// Identifiers are the customer's verified email addresses, phone
	// numbers and accounts. Claims are left out: whether a typed address
	// was linked or belonged to someone else must not show.
	Identifiers []Identifier `json:"identifiers"`
	// Facts are the answers the customer gave that are kept now.
	Facts       []Fact       `json:"facts"`
	Preferences []Preference `json:"preferences"`
	Consents    []Consent    `json:"consents"`
	// OpenIssues are newest first.
	OpenIssues []Issue `json:"open_issues"`
	// LastContacts are the newest contact on each channel: channel, time and
	// issue.
	LastContacts []Contact   `json:"last_contacts"`
	Drafts       []DraftInfo `json:"drafts"`
}

// snapshot returns the customer-facing part of p as of now.
func (p *profile) snapshot(now time.Time) Snapshot {
	s := Snapshot{Name: p.name(now, nil)}
	for _, l := range p.Idents {
		switch l.Kind {
		case KindEmail, KindPhone, KindAccount:
			if l.Verified {
				s.Identifiers = append(s.Identifiers, l.Identifier)
			}
		}
	}
	for _, f := range p.Facts {
		if !f.expired(now) {
			s.Facts = append(s.Facts, f)
		}
	}
	s.Preferences = slices.Clone(p.Prefs)
	s.Consents = slices.Clone(p.Consents)
	for _, is := range p.Open {
		is.Resolution = ""
		s.OpenIssues = append(s.OpenIssues, is)
	}
	for _, c := range p.Last {
		s.LastContacts = append(s.LastContacts, Contact{Channel: c.Channel, At: c.At, Issue: c.Issue})
	}
	for _, d := range p.Drafts {
		if !d.Deleted {
			s.Drafts = append(s.Drafts, d.DraftInfo)
		}
	}
	return s
}

// profile returns a profile holding what the snapshot holds, for a Local
// memory to project its changes on.
func (s *Snapshot) profile() *profile {
	p := &profile{}
	for _, id := range s.Identifiers {
		p.Idents = append(p.Idents, link{Identifier: id})
	}
	for _, f := range s.Facts {
		p.Facts = upsertFact(p.Facts, f)
	}
	p.nameFromSnapshot(s.Name)
	for _, pr := range s.Preferences {
		p.Prefs = upsertPref(p.Prefs, pr)
	}
	for _, c := range s.Consents {
		p.Consents = upsertConsent(p.Consents, c)
	}
	for _, is := range s.OpenIssues {
		if findIssue(p.Open, is.ID) < 0 {
			is.Status = IssueOpen
			p.Open = insertOpen(p.Open, is)
		}
	}
	for _, c := range s.LastContacts {
		p.Last = upsertLast(p.Last, c)
	}
	for _, d := range s.Drafts {
		p.Drafts = upsertDraft(p.Drafts, draftRef{DraftInfo: d})
	}
	return p
}
