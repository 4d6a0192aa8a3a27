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

// SetName sets the customer's display name; an empty name clears it.
func (s *Store) SetName(ctx context.Context, id CustomerID, name string) error {
	if err := checkText("name", name, 256); err != nil {
		return err
	}
	return s.update(ctx, id, func(r onCustomer) error { return setName(r, name) })
}

// Remember records facts the customer gave, so that nobody asks for them
// again. A fact replaces the customer's fact of the same key if it is at
// least as new; the replaced value stays in history. Facts are checked
// first: one bad fact fails the call and nothing is remembered.
func (s *Store) Remember(ctx context.Context, id CustomerID, facts ...Fact) error {
	fs, err := prepareFacts(s.now(), facts)
	if err != nil {
		return err
	}
	return s.update(ctx, id, func(r onCustomer) error { return rememberFacts(r, fs) })
}

// ForgetFact removes one fact; it stays in history until the customer is
// forgotten. It returns ErrNotFound when the customer has no such fact.
func (s *Store) ForgetFact(ctx context.Context, id CustomerID, key string) error {
	if err := checkToken("fact key", key, maxFactKey); err != nil {
		return err
	}
	return s.update(ctx, id, func(r onCustomer) error { return forgetFact(r, key) })
}

// SetPreference sets one preference; an empty value clears it. The keys
// PrefChannel, PrefLanguage, PrefHours and PrefPauseUntil are checked and
// normalized; other keys are free.
func (s *Store) SetPreference(ctx context.Context, id CustomerID, key, value string) error {
	v, err := checkPreference(key, value)
	if err != nil {
		return err
	}
	return s.update(ctx, id, func(r onCustomer) error { return setPreference(r, key, v) })
}

// RecordConsent records the customer's answer for a purpose, on one channel
// or, with Channel empty, on all. The store enforces it: briefs leave out
// facts the answer does not allow, and MayContact refuses contact it does
// not allow.
func (s *Store) RecordConsent(ctx context.Context, id CustomerID, c Consent) error {
	c, err := prepareConsent(s.now(), c)
	if err != nil {
		return err
	}
	return s.update(ctx, id, func(r onCustomer) error { return recordConsent(r, c) })
}

// RecordSignal records evidence for the customer's influence score.
func (s *Store) RecordSignal(ctx context.Context, id CustomerID, sig Signal) error {
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
		sig.At = s.now()
	}
	sig.At = sig.At.UTC()
	return s.update(ctx, id, func(r onCustomer) error {
		return r.record(Event{Kind: EventSignalRecorded, Signal: &sig})
	})
}
