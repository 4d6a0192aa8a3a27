//go:build !wasip1

package memory

import (
	"context"
	"fmt"
	"time"
)

// update runs fn on the customer that holds id now, in a write.
func (s *Store) update(ctx context.Context, id CustomerID, fn func(w *wtx, c *wcust) error) error {
	if err := id.check(); err != nil {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		c, err := w.load(id)
		if err != nil {
			return err
		}
		return fn(w, c)
	})
}

// SetName sets the customer's display name; an empty name clears it.
func (s *Store) SetName(ctx context.Context, id CustomerID, name string) error {
	if err := checkText("name", name, 256); err != nil {
		return err
	}
	return s.update(ctx, id, func(w *wtx, c *wcust) error {
		if c.p.Name == name {
			return nil
		}
		return w.emit(c, Event{Kind: EventNamed, Name: name}, nil)
	})
}

// Remember records facts the customer gave, so that nobody asks for them
// again. A fact replaces the customer's fact of the same key if it is at
// least as new; the replaced value stays in history. Facts are checked
// first: one bad fact fails the call and nothing is remembered.
func (s *Store) Remember(ctx context.Context, id CustomerID, facts ...Fact) error {
	if len(facts) == 0 {
		return invalid("facts", "none given")
	}
	now := s.now()
	fs := make([]Fact, len(facts))
	for i, f := range facts {
		if f.Purpose == "" {
			f.Purpose = PurposeService
		}
		if err := f.check(); err != nil {
			return err
		}
		if f.At.IsZero() {
			f.At = now
		}
		f.At = f.At.UTC()
		if f.Retention > 0 {
			f.Expires = f.At.Add(f.Retention)
		}
		f.Retention = 0
		fs[i] = f
	}
	return s.update(ctx, id, func(w *wtx, c *wcust) error {
		added := 0
		for _, f := range fs {
			if _, ok := c.p.fact(f.Key); !ok {
				added++
			}
		}
		if len(c.p.Facts)+added > w.s.opts.limits.Facts {
			return &LimitError{What: "facts", Limit: w.s.opts.limits.Facts}
		}
		for i := range fs {
			f := fs[i]
			if old, ok := c.p.fact(f.Key); ok && old.Value == f.Value && old.Purpose == f.Purpose &&
				old.Channel == f.Channel && old.Expires.Equal(f.Expires) {
				continue // already known; nothing to record
			}
			if err := w.emit(c, Event{Kind: EventFactRemembered, Fact: &f}, nil); err != nil {
				return err
			}
		}
		return nil
	})
}

// ForgetFact removes one fact; it stays in history until the customer is
// forgotten. It returns ErrNotFound when the customer has no such fact.
func (s *Store) ForgetFact(ctx context.Context, id CustomerID, key string) error {
	if err := checkToken("fact key", key, maxFactKey); err != nil {
		return err
	}
	return s.update(ctx, id, func(w *wtx, c *wcust) error {
		if _, ok := c.p.fact(key); !ok {
			return fmt.Errorf("%w: fact %q", ErrNotFound, key)
		}
		return w.emit(c, Event{Kind: EventFactForgotten, Key: key}, nil)
	})
}

// SetPreference sets one preference; an empty value clears it. The keys
// PrefChannel, PrefLanguage, PrefHours and PrefPauseUntil are checked and
// normalized; other keys are free.
func (s *Store) SetPreference(ctx context.Context, id CustomerID, key, value string) error {
	v, err := checkPreference(key, value)
	if err != nil {
		return err
	}
	return s.update(ctx, id, func(w *wtx, c *wcust) error {
		old, ok := findPref(c.p.Prefs, key)
		if ok && old == v || !ok && v == "" {
			return nil
		}
		if !ok && len(c.p.Prefs) >= w.s.opts.limits.Preferences {
			return &LimitError{What: "preferences", Limit: w.s.opts.limits.Preferences}
		}
		return w.emit(c, Event{Kind: EventPreferenceSet, Key: key, Value: v}, nil)
	})
}

// RecordConsent records the customer's answer for a purpose, on one channel
// or, with Channel empty, on all. The store enforces it: briefs leave out
// facts the answer does not allow, and MayContact refuses contact it does
// not allow.
func (s *Store) RecordConsent(ctx context.Context, id CustomerID, c Consent) error {
	if err := c.check(); err != nil {
		return err
	}
	if c.At.IsZero() {
		c.At = s.now()
	}
	c.At = c.At.UTC()
	return s.update(ctx, id, func(w *wtx, cu *wcust) error {
		return w.emit(cu, Event{Kind: EventConsentRecorded, Consent: &c}, nil)
	})
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
	return s.update(ctx, id, func(w *wtx, c *wcust) error {
		return w.emit(c, Event{Kind: EventSignalRecorded, Signal: &sig}, nil)
	})
}

// checkWhen refuses times in the future beyond clock skew.
func checkWhen(field string, t, now time.Time) error {
	if t.After(now.Add(5 * time.Minute)) {
		return invalid(field, "in the future")
	}
	return nil
}
