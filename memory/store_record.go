//go:build !wasip1

package memory

import (
	"context"
	"time"
)

// update runs fn on the customer that holds id now, in a write.
func (s *Store) update(ctx context.Context, id CustomerID, fn func(r onCustomer) error) error {
	if err := id.check(); err != nil {
		return err
	}
	return s.writeOn(ctx, id, func(w *wtx) error {
		c, err := w.load(id)
		if err != nil {
			return err
		}
		return fn(onCustomer{w: w, c: c})
	})
}

// onCustomer records a write's events on one customer.
type onCustomer struct {
	w *wtx
	c *wcust
}

func (o onCustomer) current() *profile                  { return o.c.p }
func (o onCustomer) record(e Event) error               { return o.w.emit(o.c, e, nil) }
func (o onCustomer) limits() Limits                     { return o.w.s.opts.limits }
func (o onCustomer) clock() time.Time                   { return o.w.now }
func (o onCustomer) resolved(id IssueID) (Issue, error) { return o.w.findResolved(o.c, id) }

// SetName sets the customer's name directly; an empty name clears it. The
// name briefs and views give is the newer of this one and the FactName
// fact the customer gave (see FactName).
func (s *Store) SetName(ctx context.Context, id CustomerID, name string) error {
	return s.Update(ctx, id, func(tx *Tx) error { return tx.SetName(name) })
}

// Remember records facts the customer gave, so that nobody asks for them
// again. A fact replaces the customer's fact of the same key if it is at
// least as new; the replaced value stays in history. Facts are checked
// first: one bad fact fails the call and nothing is remembered.
func (s *Store) Remember(ctx context.Context, id CustomerID, facts ...Fact) error {
	return s.Update(ctx, id, func(tx *Tx) error { return tx.Remember(facts...) })
}

// ForgetFact removes one fact, and erases every value it had: from the
// profile, the history (whose events keep that a fact of this key was
// remembered, and when, with Event.Erased, but not the value), the compacted
// history, and those of every customer merged into this one. The customer's
// key is then replaced in the background, so that the old copies of the
// values in the store's files and in backups no longer open (see Compact).
// It returns ErrNotFound when the customer has no such fact.
func (s *Store) ForgetFact(ctx context.Context, id CustomerID, key string) error {
	return s.Update(ctx, id, func(tx *Tx) error { return tx.ForgetFact(key) })
}

// SetPreference sets one preference; an empty value clears it. The keys
// PrefChannel, PrefLanguage, PrefHours and PrefPauseUntil are checked and
// normalized; other keys are free.
func (s *Store) SetPreference(ctx context.Context, id CustomerID, key, value string) error {
	return s.Update(ctx, id, func(tx *Tx) error { return tx.SetPreference(key, value) })
}

// RecordConsent records the customer's answer for a purpose, on one channel
// or, with Channel empty, on all. The store enforces it: briefs leave out
// facts the answer does not allow, and MayContact refuses contact it does
// not allow.
func (s *Store) RecordConsent(ctx context.Context, id CustomerID, c Consent) error {
	return s.Update(ctx, id, func(tx *Tx) error { return tx.RecordConsent(c) })
}

// RecordSignal records evidence for the customer's influence score.
func (s *Store) RecordSignal(ctx context.Context, id CustomerID, sig Signal) error {
	return s.Update(ctx, id, func(tx *Tx) error { return tx.RecordSignal(sig) })
}
