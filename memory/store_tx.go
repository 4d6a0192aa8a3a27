//go:build !wasip1

package memory

import (
	"context"

	"github.com/herken/herken/memory/internal/codec"
)

// Tx is a write to one customer in progress. The changes made through it
// are applied together, in one transaction, when the function given to
// Update returns nil; when it returns an error, or any change fails,
// nothing is applied. A Tx is valid only during that function and is not
// safe for concurrent use.
type Tx struct {
	r onCustomer
}

// Update applies several changes to one customer atomically: the customer
// that holds id now (following merges) is passed to fn as a Tx. Writes to
// one customer take turns. fn may run more than once, when the write must
// be retried after a concurrent merge; it should do nothing but make
// changes through the Tx.
func (s *Store) Update(ctx context.Context, id CustomerID, fn func(tx *Tx) error) error {
	return s.update(ctx, id, func(r onCustomer) error { return fn(&Tx{r: r}) })
}

// Customer returns the customer the Tx changes.
func (tx *Tx) Customer() CustomerID { return tx.r.c.p.ID }

// SetName sets the customer's name directly; an empty name clears it (see
// FactName for how it and the name the customer gave as a fact make one).
func (tx *Tx) SetName(name string) error {
	if err := checkText("name", name, 256); err != nil {
		return err
	}
	return setName(tx.r, name)
}

// Remember records facts, as Store.Remember does.
func (tx *Tx) Remember(facts ...Fact) error {
	fs, err := prepareFacts(tx.r.clock(), facts)
	if err != nil {
		return err
	}
	return rememberFacts(tx.r, fs)
}

// ForgetFact removes one fact, as Store.ForgetFact does.
func (tx *Tx) ForgetFact(key string) error {
	if err := checkToken("fact key", key, maxFactKey); err != nil {
		return err
	}
	return forgetFact(tx.r, key)
}

// SetPreference sets one preference, as Store.SetPreference does.
func (tx *Tx) SetPreference(key, value string) error {
	v, err := checkPreference(key, value)
	if err != nil {
		return err
	}
	return setPreference(tx.r, key, v)
}

// RecordConsent records consent, as Store.RecordConsent does.
func (tx *Tx) RecordConsent(c Consent) error {
	c, err := prepareConsent(tx.r.clock(), c)
	if err != nil {
		return err
	}
	return recordConsent(tx.r, c)
}

// RecordSignal records evidence for the influence score.
func (tx *Tx) RecordSignal(sig Signal) error {
	if err := sig.Kind.check(); err != nil {
		return err
	}
	if sig.Count < 0 {
		return invalid("signal count", "negative")
	}
	if sig.Count == 0 && sig.Kind != SignalAudience {
		sig.Count = 1
	}
	if err := checkText("signal note", sig.Note, 256); err != nil {
		return err
	}
	if sig.At.IsZero() {
		sig.At = tx.r.clock()
	}
	sig.At = sig.At.UTC()
	return tx.r.record(Event{Kind: EventSignalRecorded, Signal: &sig})
}

// OpenIssue opens an issue, as Store.OpenIssue does: when the subject
// matches an open issue of the customer, it records a contact on that one
// and returns it.
func (tx *Tx) OpenIssue(subject string, ch Channel) (Issue, error) {
	if err := checkIssue(subject, ch); err != nil {
		return Issue{}, err
	}
	return openIssue(tx.r, newIssueID(), subject, ch)
}

// RecordContact records a contact, as Store.RecordContact does, attaching
// one without an issue to the open issue its subject matches.
func (tx *Tx) RecordContact(ct Contact) (ContactResult, error) {
	ct, err := prepareContact(tx.r.clock(), ct)
	if err != nil {
		return ContactResult{}, err
	}
	return recordContact(tx.r, ct, tx.r.w.s.opts.atRiskWindow, tx.r.resolved)
}

// ResolveIssue resolves an issue, as Store.ResolveIssue does.
func (tx *Tx) ResolveIssue(issue IssueID, resolution string) error {
	if err := checkText("resolution", resolution, maxResolution); err != nil {
		return err
	}
	p := tx.r.current()
	i := findIssue(p.Open, issue)
	if i < 0 {
		_, err := tx.r.resolved(issue)
		return err
	}
	is := p.Open[i]
	is.Resolution = resolution
	return tx.r.record(Event{Kind: EventIssueResolved, Issue: &is})
}

// SaveDraft saves a draft, as Store.SaveDraft does.
func (tx *Tx) SaveDraft(name string, data []byte) error {
	if err := checkDraftName(name); err != nil {
		return err
	}
	w, c, lim := tx.r.w, tx.r.c, tx.r.limits()
	if len(data) > lim.DraftSize {
		return &LimitError{What: "bytes in one draft", Limit: lim.DraftSize}
	}
	if _, ok := c.p.draft(name); !ok && countDrafts(c.p) >= lim.Drafts {
		return &LimitError{What: "drafts", Limit: lim.Drafts}
	}
	// The stored value is the version byte and a copy of the data.
	val := append([]byte{codec.Version}, data...)
	if _, err := w.put(c.p.ID, w.s.draftKey(c.p.ID, name), val); err != nil {
		return err
	}
	return w.emit(c, Event{Kind: EventDraftSaved, Draft: &DraftInfo{Name: name, Size: len(data), Saved: w.now}}, nil)
}

// DeleteDraft deletes a draft, as Store.DeleteDraft does.
func (tx *Tx) DeleteDraft(name string) error {
	if err := checkDraftName(name); err != nil {
		return err
	}
	w, c := tx.r.w, tx.r.c
	ref, ok := c.p.draft(name)
	if !ok {
		return notFound("draft " + quote(name))
	}
	if ref.Owner == c.p.ID {
		if err := w.txn.Delete(w.s.draftKey(c.p.ID, name)); err != nil {
			return err
		}
	}
	return w.emit(c, Event{Kind: EventDraftDeleted, Draft: &DraftInfo{Name: name}}, nil)
}

// Brief returns the customer's brief as the Tx sees it: its own changes
// included.
func (tx *Tx) Brief(q BriefQuery) Brief {
	if q.Purpose == "" {
		q.Purpose = PurposeService
	}
	if q.Now.IsZero() {
		q.Now = tx.r.clock()
	}
	return tx.r.current().brief(q, tx.r.w.s.opts.atRiskWindow)
}
