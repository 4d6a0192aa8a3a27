package memory

import (
	"slices"
	"time"
)

// BriefQuery says what a brief is for. The zero value asks for a service
// brief now.
type BriefQuery struct {
	// Purpose filters the facts to those the customer's consent allows for
	// it; zero means PurposeService.
	Purpose Purpose
	// Channel, when set, applies the customer's consent on that channel.
	Channel Channel
	// Now is the time the brief is for; zero means the store's clock.
	Now time.Time
}

// Brief is what an agent screen or a help widget needs about a customer
// now. A Store's briefs share their slices with its cache, so that a
// repeated brief costs no copy: read them, and clone a slice
// (slices.Clone) before changing it. Appending to one never changes the
// cache.
type Brief struct {
	Customer CustomerID `json:"customer"`
	// Name is the customer's name: the newer of the name set directly and
	// the one the customer gave as the FactName fact (see FactName), when
	// the query's purpose may use that fact.
	Name string `json:"name,omitempty"`
	// OpenIssues are newest first.
	OpenIssues []Issue `json:"open_issues"`
	// LastContacts holds the newest contact on each channel, newest first;
	// LastContact returns the first.
	LastContacts []Contact `json:"last_contacts"`
	// Facts are the customer's answers that must not be asked again, as far
	// as the query's purpose and the customer's consent allow.
	Facts       []Fact       `json:"facts"`
	Preferences []Preference `json:"preferences"`
	// Escalate is set when an open issue is escalated: the customer had to
	// come back about it.
	Escalate bool `json:"escalate"`
	// AtRisk is set after two negative experiences within the at-risk
	// window: act before the third. Internal.
	AtRisk bool `json:"at_risk"`
	// DoNotContact is set when the customer must not be contacted now for
	// service; DoNotContactReason says why.
	DoNotContact       bool   `json:"do_not_contact"`
	DoNotContactReason string `json:"do_not_contact_reason,omitempty"`
}

// LastContact returns the customer's newest contact on any channel.
func (b Brief) LastContact() (Contact, bool) {
	if len(b.LastContacts) == 0 {
		return Contact{}, false
	}
	return b.LastContacts[0], true
}

// Fact returns the value of a fact in the brief.
func (b Brief) Fact(key string) (string, bool) {
	for _, f := range b.Facts {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Preference returns the value of a preference in the brief.
func (b Brief) Preference(key string) (string, bool) { return findPref(b.Preferences, key) }

// briefChanges returns the first instant after q.Now at which the brief of
// p for q may be other than at q.Now with no write in between, or the zero
// time when it stays as it is: a fact's expiry, a negative experience
// entering or leaving the at-risk window, the end of a pause, a minute of
// the contact hours' zone (or a change of its offset). It may be earlier
// than the real change, never later.
func (p *profile) briefChanges(q BriefQuery, window time.Duration) time.Time {
	var next time.Time
	at := func(t time.Time) {
		if t.After(q.Now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for i := range p.Facts {
		if e := p.Facts[i].Expires; !e.IsZero() {
			at(e)
		}
	}
	for _, t := range p.Negatives {
		at(t)
		at(t.Add(window))
	}
	if v, ok := findPref(p.Prefs, PrefPauseUntil); ok {
		if until, ok := parsePause(v); ok {
			at(until)
		}
	}
	if v, ok := findPref(p.Prefs, PrefHours); ok {
		if h, err := parseHours(v); err == nil {
			at(h.nextMinute(q.Now))
		}
	}
	return next
}

// brief builds the brief of p. It reads p and copies what it returns.
func (p *profile) brief(q BriefQuery, window time.Duration) Brief {
	b := p.sharedBrief(q, window)
	b.OpenIssues = slices.Clone(b.OpenIssues)
	b.LastContacts = slices.Clone(b.LastContacts)
	b.Preferences = slices.Clone(b.Preferences)
	return b
}

// sharedBrief builds the brief of p with p's own slices in it, capped so
// that appending to them copies: p and the brief must not change.
func (p *profile) sharedBrief(q BriefQuery, window time.Duration) Brief {
	b := Brief{
		Customer:     p.ID,
		OpenIssues:   p.Open[:len(p.Open):len(p.Open)],
		LastContacts: p.Last[:len(p.Last):len(p.Last)],
		Preferences:  p.Prefs[:len(p.Prefs):len(p.Prefs)],
		AtRisk:       atRisk(p.Negatives, q.Now, window),
	}
	purpose := q.Purpose
	if purpose == "" {
		purpose = PurposeService
	}
	b.Name = p.name(q.Now, func(f *Fact) bool { return f.usableFor(purpose, q.Channel, p.Consents) })
	n := 0
	for i := range p.Facts {
		if f := &p.Facts[i]; !f.expired(q.Now) && f.usableFor(purpose, q.Channel, p.Consents) {
			n++
		}
	}
	if n > 0 {
		b.Facts = make([]Fact, 0, n)
		for i := range p.Facts {
			if f := &p.Facts[i]; !f.expired(q.Now) && f.usableFor(purpose, q.Channel, p.Consents) {
				b.Facts = append(b.Facts, *f)
			}
		}
	}
	for i := range p.Open {
		if p.Open[i].Escalated {
			b.Escalate = true
			break
		}
	}
	ch, _ := findPref(p.Prefs, PrefChannel)
	if d := p.mayContact(Channel(ch), PurposeService, q.Now); !d.Allowed {
		b.DoNotContact, b.DoNotContactReason = true, d.Explain
	}
	return b
}
