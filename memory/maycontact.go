package memory

import "time"

// Reason says why contact is not allowed.
type Reason string

// Reasons MayContact gives for no.
const (
	ReasonNoConsent    Reason = "no_consent"    // no consent for the purpose on the channel
	ReasonQuietHours   Reason = "quiet_hours"   // outside the customer's contact hours
	ReasonOtherChannel Reason = "other_channel" // the customer prefers another channel
	ReasonPaused       Reason = "paused"        // the customer asked for no contact until a date
)

// Decision answers whether the customer may be contacted.
type Decision struct {
	Allowed bool   `json:"allowed"`
	Reason  Reason `json:"reason,omitempty"`  // empty when allowed
	Explain string `json:"explain,omitempty"` // for people, such as "no consent for marketing on email"
}

// mayContact applies the contact rules in order: consent, pause, contact
// hours, preferred channel. An empty channel skips the channel rules.
func (p *profile) mayContact(ch Channel, purpose Purpose, at time.Time) Decision {
	if ok, _ := consentFor(p.Consents, purpose, ch); !ok {
		where := ""
		if ch != "" {
			where = " on " + string(ch)
		}
		return Decision{Reason: ReasonNoConsent, Explain: "no consent for " + string(purpose) + where}
	}
	if v, ok := findPref(p.Prefs, PrefPauseUntil); ok {
		if until, ok := parsePause(v); ok && at.Before(until) {
			return Decision{Reason: ReasonPaused, Explain: "asked not to be contacted until " + v}
		}
	}
	if v, ok := findPref(p.Prefs, PrefHours); ok {
		if h, err := parseHours(v); err == nil && !h.contains(at) {
			return Decision{Reason: ReasonQuietHours, Explain: "outside contact hours " + v}
		}
	}
	if v, ok := findPref(p.Prefs, PrefChannel); ok && ch != "" && Channel(v) != ch {
		return Decision{Reason: ReasonOtherChannel, Explain: "prefers " + v}
	}
	return Decision{Allowed: true}
}
