package memory

import (
	"time"
)

// recorder records events on one customer's profile. The Store's writes
// and a Local memory both make their changes through the functions below,
// so that a browser applies the same rules as the server.
type recorder interface {
	current() *profile
	record(e Event) error
	limits() Limits
	clock() time.Time
}

// prepareFacts checks facts and fills in their defaults; one bad fact fails
// them all.
func prepareFacts(now time.Time, facts []Fact) ([]Fact, error) {
	if len(facts) == 0 {
		return nil, invalid("facts", "none given")
	}
	fs := make([]Fact, len(facts))
	for i, f := range facts {
		if f.Purpose == "" {
			f.Purpose = PurposeService
		}
		if err := f.check(); err != nil {
			return nil, err
		}
		if f.At.IsZero() {
			f.At = now
		}
		f.At = f.At.UTC()
		if f.At.After(now.Add(maxClockSkew)) {
			return nil, invalid("fact "+quote(f.Key)+" time", "in the future")
		}
		if f.Retention > 0 {
			f.Expires = f.At.Add(f.Retention)
		}
		f.Retention = 0
		fs[i] = f
	}
	return fs, nil
}

func rememberFacts(r recorder, fs []Fact) error {
	p, lim := r.current(), r.limits()
	added := 0
	for _, f := range fs {
		if _, ok := p.fact(f.Key); !ok {
			added++
		}
	}
	if len(p.Facts)+added > lim.Facts {
		return &LimitError{What: "facts", Limit: lim.Facts}
	}
	for i := range fs {
		f := fs[i]
		if old, ok := r.current().fact(f.Key); ok && old.Value == f.Value && old.Purpose == f.Purpose &&
			old.Channel == f.Channel && old.Expires.Equal(f.Expires) {
			continue // already known; nothing to record
		}
		if err := r.record(Event{Kind: EventFactRemembered, Fact: &f}); err != nil {
			return err
		}
	}
	return nil
}

func forgetFact(r recorder, key string) error {
	if _, ok := r.current().fact(key); !ok {
		return notFound("fact " + quote(key))
	}
	return r.record(Event{Kind: EventFactForgotten, Key: key})
}

func setName(r recorder, name string) error {
	if r.current().Name == name {
		return nil
	}
	return r.record(Event{Kind: EventNamed, Name: name})
}

// setPreference records a preference checked by checkPreference.
func setPreference(r recorder, key, value string) error {
	p, lim := r.current(), r.limits()
	old, ok := findPref(p.Prefs, key)
	if ok && old == value || !ok && value == "" {
		return nil
	}
	if !ok && len(p.Prefs) >= lim.Preferences {
		return &LimitError{What: "preferences", Limit: lim.Preferences}
	}
	return r.record(Event{Kind: EventPreferenceSet, Key: key, Value: value})
}

func prepareConsent(now time.Time, c Consent) (Consent, error) {
	if err := c.check(); err != nil {
		return c, err
	}
	if c.At.IsZero() {
		c.At = now
	}
	c.At = c.At.UTC()
	if c.At.After(now.Add(maxClockSkew)) {
		return c, invalid("consent time", "in the future")
	}
	return c, nil
}

func recordConsent(r recorder, c Consent) error {
	if chs := consentChannels(r.current().Consents, c.Channel); chs > MaxChannels {
		return &LimitError{What: "channels with consent", Limit: MaxChannels}
	}
	return r.record(Event{Kind: EventConsentRecorded, Consent: &c})
}

func checkIssue(subject string, ch Channel) error {
	if subject == "" {
		return invalid("issue subject", "empty")
	}
	if err := checkText("issue subject", subject, maxSubject); err != nil {
		return err
	}
	return ch.check("issue channel")
}

// openIssue opens an issue checked by checkIssue; opening it is the
// customer's first contact about it, which the projection records. When
// the subject matches an open issue of the customer (matchIssue), the
// customer came back about it: that is recorded as a contact on it, which
// escalates it, and it is returned instead of a new issue.
func openIssue(r recorder, id IssueID, subject string, ch Channel) (Issue, error) {
	lim, now := r.limits(), r.clock()
	if i, how := matchIssue(r.current().Open, subject, now); i >= 0 {
		is := r.current().Open[i]
		ct := Contact{Channel: ch, At: now, Issue: is.ID, Outcome: OutcomeNeutral, Summary: subject, Subject: subject, Matched: how}
		if err := r.record(Event{Kind: EventContactRecorded, At: now, Contact: &ct}); err != nil {
			return Issue{}, err
		}
		return escalateRepeat(r, is.ID, false)
	}
	if len(r.current().Open) >= lim.OpenIssues {
		return Issue{}, &LimitError{What: "open issues", Limit: lim.OpenIssues}
	}
	is := Issue{ID: id, Subject: subject, Channel: ch, Opened: now, Status: IssueOpen}
	if err := r.record(Event{Kind: EventIssueOpened, At: now, Issue: &is}); err != nil {
		return Issue{}, err
	}
	p := r.current()
	return p.Open[findIssue(p.Open, id)], nil
}

// escalateRepeat escalates the open issue id once the customer contacted
// about it more than once, or when it was reopened, and returns it.
func escalateRepeat(r recorder, id IssueID, reopened bool) (Issue, error) {
	p := r.current()
	i := findIssue(p.Open, id)
	is := p.Open[i]
	if !is.Escalated && (is.Contacts >= 2 || reopened) {
		if err := r.record(Event{Kind: EventIssueEscalated, Issue: &is}); err != nil {
			return Issue{}, err
		}
	}
	return r.current().Open[i], nil
}

func prepareContact(now time.Time, ct Contact) (Contact, error) {
	if ct.Matched != "" {
		return ct, invalid("contact match", "decided by the rules, not given")
	}
	if ct.Outcome == "" {
		ct.Outcome = OutcomeNeutral
	}
	if err := ct.check(); err != nil {
		return ct, err
	}
	if ct.At.IsZero() {
		ct.At = now
	}
	ct.At = ct.At.UTC()
	if ct.At.After(now.Add(maxClockSkew)) {
		return ct, invalid("contact time", "in the future")
	}
	return ct, nil
}

// maxClockSkew is how far in the future a given time may lie.
const maxClockSkew = 5 * time.Minute

// Times returns the times an event says things happened: when it was
// made, and when the fact, consent or contact it carries was given (zero
// ones included). An issue's times are the store's, and a fact's expiry is
// how long to keep it, not when anything happened. Sync bounds them; an
// application that takes changes from elsewhere can check them the same
// way.
func (e *Event) Times() []time.Time {
	ts := []time.Time{e.At}
	if e.Fact != nil {
		ts = append(ts, e.Fact.At)
	}
	if e.Consent != nil {
		ts = append(ts, e.Consent.At)
	}
	if e.Contact != nil {
		ts = append(ts, e.Contact.At)
	}
	return ts
}

// recordContact records a contact checked by prepareContact, escalating
// a repeat contact about an issue. A contact that names no issue is
// attached to the open issue its subject matches (matchIssue), the match
// recorded in it. resolved finds an issue that is not open, to reopen it;
// it returns ErrNotFound for an unknown one.
func recordContact(r recorder, ct Contact, window time.Duration, resolved func(IssueID) (Issue, error)) (ContactResult, error) {
	var res ContactResult
	now, lim := r.clock(), r.limits()
	wasAtRisk := atRisk(r.current().Negatives, now, window)
	reopened := false
	if ct.Issue == "" && ct.Subject != "" {
		if i, how := matchIssue(r.current().Open, ct.Subject, ct.At); i >= 0 {
			ct.Issue, ct.Matched = r.current().Open[i].ID, how
		}
	}
	if ct.Issue != "" && findIssue(r.current().Open, ct.Issue) < 0 {
		is, err := resolved(ct.Issue)
		if err != nil {
			return res, err
		}
		if len(r.current().Open) >= lim.OpenIssues {
			return res, &LimitError{What: "open issues", Limit: lim.OpenIssues}
		}
		is.Status, is.Resolved, is.Resolution = IssueOpen, time.Time{}, ""
		if err := r.record(Event{Kind: EventIssueReopened, Issue: &is}); err != nil {
			return res, err
		}
		reopened = true
	}
	if err := r.record(Event{Kind: EventContactRecorded, Contact: &ct}); err != nil {
		return res, err
	}
	if ct.Issue != "" {
		is, err := escalateRepeat(r, ct.Issue, reopened)
		if err != nil {
			return res, err
		}
		res.Issue, res.Escalated = &is, is.Escalated
	}
	res.AtRisk = atRisk(r.current().Negatives, now, window)
	if res.AtRisk && !wasAtRisk {
		return res, r.record(Event{Kind: EventAtRisk})
	}
	return res, nil
}

func notFound(what string) error { return &notFoundError{what: what} }

// notFoundError says what was not found; it is ErrNotFound.
type notFoundError struct{ what string }

func (e *notFoundError) Error() string        { return ErrNotFound.Error() + ": " + e.what }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// formatError says what stored data cannot be read; it is ErrFormat. (The
// model builds for wasm, where fmt would add to the module for nothing.)
type formatError struct{ what string }

func (e *formatError) Error() string        { return ErrFormat.Error() + ": " + e.what }
func (e *formatError) Is(target error) bool { return target == ErrFormat }

// isChangeKind reports whether a customer may make events of kind k
// themselves, through a browser or an app. Everything else is the
// organization's to record, or the rules' to derive.
func isChangeKind(k EventKind) bool {
	switch k {
	case EventIdentifierLinked, EventNamed, EventFactRemembered, EventFactForgotten,
		EventPreferenceSet, EventConsentRecorded, EventIssueOpened, EventContactRecorded:
		return true
	}
	return false
}

// checkChange checks an event a customer made, as it arrives from a browser.
// With derived, it also accepts the escalation the rules derive from a
// contact, which a Local memory keeps but never sends.
func checkChange(e *Event, derived bool) error {
	field := "change " + string(e.Kind)
	missing := func(what string) error { return invalid(field, "no "+what) }
	switch e.Kind {
	case EventIdentifierLinked:
		if e.Identifier == nil {
			return missing("identifier")
		}
		id := *e.Identifier
		if id.Verified {
			return invalid(field, "a customer's own identifier is a claim, never verified")
		}
		if id.Kind == KindDevice {
			return invalid(field, "a device is not claimed")
		}
		n, err := Normalize(id, "")
		if err != nil {
			return err
		}
		if n != id {
			return &IdentifierError{Kind: id.Kind, Value: id.Value, Reason: "not in its normal form " + quote(n.Value)}
		}
	case EventNamed:
		return checkText("name", e.Name, 256)
	case EventFactRemembered:
		if e.Fact == nil {
			return missing("fact")
		}
		if e.Fact.Retention != 0 {
			return invalid(field, "retention is given as an expiry")
		}
		return e.Fact.check()
	case EventFactForgotten:
		return checkToken("fact key", e.Key, maxFactKey)
	case EventPreferenceSet:
		v, err := checkPreference(e.Key, e.Value)
		if err != nil {
			return err
		}
		if v != e.Value {
			return invalid(field, "value not in its normal form "+quote(v))
		}
	case EventConsentRecorded:
		if e.Consent == nil {
			return missing("consent")
		}
		return e.Consent.check()
	case EventIssueOpened:
		if e.Issue == nil {
			return missing("issue")
		}
		if err := checkToken("issue id", string(e.Issue.ID), 64); err != nil {
			return err
		}
		return checkIssue(e.Issue.Subject, e.Issue.Channel)
	case EventContactRecorded:
		if e.Contact == nil {
			return missing("contact")
		}
		if e.Contact.Outcome != OutcomeNeutral {
			return invalid(field, "a customer's own contact is neutral")
		}
		if e.Contact.Issue != "" {
			if err := checkToken("contact issue", string(e.Contact.Issue), 64); err != nil {
				return err
			}
		}
		return e.Contact.check()
	case EventIssueEscalated:
		if !derived || e.Issue == nil {
			return invalid(field, "a customer cannot escalate")
		}
	default:
		return invalid("change", "events of kind "+quote(string(e.Kind))+" cannot come from a customer")
	}
	return nil
}
