package memory

import "time"

// Purpose is what the organization uses what it remembers for. Consent is
// recorded and enforced per purpose.
type Purpose string

// The purposes. Service is allowed unless the customer refused it; the
// others need the customer's consent.
const (
	PurposeService         Purpose = "service"         // helping with what the customer came for
	PurposePersonalization Purpose = "personalization" // tailoring pages and offers
	PurposeMarketing       Purpose = "marketing"       // contact the customer did not ask for
	PurposeProfiling       Purpose = "profiling"       // scoring, such as influence
)

func (p Purpose) check() error {
	switch p {
	case PurposeService, PurposePersonalization, PurposeMarketing, PurposeProfiling:
		return nil
	case "":
		return invalid("purpose", "empty")
	}
	return invalid("purpose", "unknown purpose "+quote(string(p))+"; use service, personalization, marketing or profiling")
}

// Consent is the customer's answer for one purpose, on one channel or, with
// Channel empty, on every channel. The newest answer for a purpose and
// channel replaces older ones; a channel's own answer overrides the answer
// for every channel.
type Consent struct {
	Purpose Purpose   `json:"purpose" msgpack:"p"`
	Channel Channel   `json:"channel,omitempty" msgpack:"c,omitempty"`
	Granted bool      `json:"granted" msgpack:"g"`
	At      time.Time `json:"at" msgpack:"t"`
	Source  string    `json:"source,omitempty" msgpack:"s,omitempty"` // where the customer said it, such as "checkout form"
}

func (c *Consent) check() error {
	if err := c.Purpose.check(); err != nil {
		return err
	}
	if c.Channel != "" {
		if err := c.Channel.check("consent channel"); err != nil {
			return err
		}
	}
	return checkText("consent source", c.Source, 256)
}

// consentFor returns whether purpose is allowed on ch ("" for in general),
// and the answer it rests on, if any.
func consentFor(cs []Consent, purpose Purpose, ch Channel) (bool, *Consent) {
	var general *Consent
	for i := range cs {
		c := &cs[i]
		if c.Purpose != purpose {
			continue
		}
		if ch != "" && c.Channel == ch {
			return c.Granted, c
		}
		if c.Channel == "" {
			general = c
		}
	}
	if general != nil {
		return general.Granted, general
	}
	return purpose == PurposeService, nil
}

// refused reports whether the customer explicitly refused purpose in general.
func refused(cs []Consent, purpose Purpose) bool {
	ok, c := consentFor(cs, purpose, "")
	return c != nil && !ok
}

// consentChannels returns how many channels cs names, with extra ("" for
// none) among them.
func consentChannels(cs []Consent, extra ...Channel) int {
	seen := map[Channel]bool{"": true}
	for _, e := range extra {
		seen[e] = true
	}
	for _, c := range cs {
		seen[c.Channel] = true
	}
	return len(seen) - 1
}

// upsertConsent keeps one answer per purpose and channel, the newest.
// applyConsent applies a recorded consent in commit order: a withdrawal
// always wins over what was recorded before it, whatever time the grant
// gave; a grant wins only over older records.
func applyConsent(cs []Consent, c Consent) []Consent {
	return setConsent(cs, c, func(old Consent) bool { return !c.Granted || !c.At.Before(old.At) })
}

// joinConsent joins consent c of another customer, when two are merged:
// their records are in no commit order with each other, and a time a grant
// gives may be ahead of the withdrawal that came after it, so a withdrawal
// wins over a grant whatever their times; between two of a kind the newest
// wins. The customer may grant again.
func joinConsent(cs []Consent, c Consent) []Consent {
	return setConsent(cs, c, func(old Consent) bool {
		if old.Granted != c.Granted {
			return !c.Granted
		}
		return !c.At.Before(old.At)
	})
}

// upsertConsent keeps the newest consent of each purpose and channel.
func upsertConsent(cs []Consent, c Consent) []Consent {
	return setConsent(cs, c, func(old Consent) bool { return !c.At.Before(old.At) })
}

// setConsent sets c in cs, over the consent of its purpose and channel
// when wins says so.
func setConsent(cs []Consent, c Consent, wins func(old Consent) bool) []Consent {
	for i := range cs {
		if cs[i].Purpose == c.Purpose && cs[i].Channel == c.Channel {
			if wins(cs[i]) {
				cs[i] = c
			}
			return cs
		}
	}
	return append(cs, c)
}
