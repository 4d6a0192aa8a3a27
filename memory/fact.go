package memory

import "time"

// Fact is an answer the customer already gave, such as a shipping postcode
// or an order number: the basis of never asking twice. A key holds one
// current value; a newer fact replaces an older one, which stays in history
// until it expires or the fact is forgotten (Store.ForgetFact): then every
// value it had is erased.
type Fact struct {
	// Key names the fact: lowercase, dotted, such as "shipping.postcode".
	Key   string `json:"key" msgpack:"k"`
	Value string `json:"value" msgpack:"v"`
	// Channel is where the customer gave it.
	Channel Channel `json:"channel,omitempty" msgpack:"c,omitempty"`
	// At is when; zero means now.
	At time.Time `json:"at" msgpack:"t"`
	// Purpose is what it was given for; zero means PurposeService. A fact is
	// used for its own purpose, and a service fact also for purposes the
	// customer consented to.
	Purpose Purpose `json:"purpose" msgpack:"p"`
	// Retention is how long to keep it; zero keeps it until forgotten.
	// Remember turns it into Expires.
	Retention time.Duration `json:"-" msgpack:"-"`
	// Expires is when the fact stops being used and its value is erased,
	// from the profile and the history, whether or not the customer comes
	// back (see Store.ForgetFact); zero is never.
	Expires time.Time `json:"expires,omitzero" msgpack:"x,omitempty"`
}

const (
	maxFactKey   = 64
	maxFactValue = 4096
)

func (f *Fact) check() error {
	if err := checkToken("fact key", f.Key, maxFactKey); err != nil {
		return err
	}
	if f.Value == "" {
		return invalid("fact value", "empty for "+quote(f.Key)+"; use ForgetFact to remove a fact")
	}
	if err := checkText("fact value", f.Value, maxFactValue); err != nil {
		return err
	}
	if f.Channel != "" {
		if err := f.Channel.check("fact channel"); err != nil {
			return err
		}
	}
	if err := f.Purpose.check(); err != nil {
		return err
	}
	if f.Retention < 0 {
		return invalid("fact retention", "negative")
	}
	return nil
}

func (f *Fact) expired(now time.Time) bool {
	return !f.Expires.IsZero() && !now.Before(f.Expires)
}

// usableFor reports whether the fact may be used for purpose, given the
// customer's consent (on ch, or in general when ch is empty).
func (f *Fact) usableFor(purpose Purpose, ch Channel, cs []Consent) bool {
	if f.Purpose != purpose && f.Purpose != PurposeService {
		return false
	}
	if ok, _ := consentFor(cs, f.Purpose, ch); !ok {
		return false
	}
	ok, _ := consentFor(cs, purpose, ch)
	return ok
}
