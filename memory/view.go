package memory

import "time"

// Customer is everything the store holds about a customer, as an agent or
// an export sees it. Its slices are the caller's own.
type Customer struct {
	ID      CustomerID `json:"id"`
	Created time.Time  `json:"created"`
	// Name is the customer's name (see FactName), the same as a Brief's.
	Name        string       `json:"name,omitempty"`
	Identifiers []Identifier `json:"identifiers"`
	Facts       []Fact       `json:"facts"`
	Preferences []Preference `json:"preferences"`
	Consents    []Consent    `json:"consents"`
	// Issues are the open issues, newest first, then the resolved ones,
	// newest first.
	Issues []Issue `json:"issues"`
	// Contacts is the contact timeline, newest first.
	Contacts []Contact   `json:"contacts"`
	Drafts   []DraftInfo `json:"drafts"`
	Signals  []Signal    `json:"signals"`
	Merges   []Merge     `json:"merges"`
}

// customerView builds the view of p with the timelines of p and of those
// merged into it.
func customerView(p *profile, contacts []Contact, resolved []Issue, now time.Time) *Customer {
	c := &Customer{ID: p.ID, Created: p.Created, Name: p.name(now, nil)}
	for _, l := range p.Idents {
		c.Identifiers = append(c.Identifiers, l.Identifier)
	}
	c.Facts = append(c.Facts, p.Facts...)
	c.Preferences = append(c.Preferences, p.Prefs...)
	c.Consents = append(c.Consents, p.Consents...)
	c.Issues = append(c.Issues, p.Open...)
	c.Issues = append(c.Issues, resolved...)
	c.Contacts = contacts
	for _, d := range p.Drafts {
		if !d.Deleted {
			c.Drafts = append(c.Drafts, d.DraftInfo)
		}
	}
	for _, s := range p.Signals {
		c.Signals = append(c.Signals, Signal{Kind: s.Kind, Count: s.Count, At: s.At})
	}
	c.Merges = append(c.Merges, p.Merges...)
	return c
}
