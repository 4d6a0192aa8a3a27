package memory

import "time"

// Outcome is how a contact went for the customer.
type Outcome string

// Outcomes. Two negative outcomes within the store's at-risk window mark the
// customer at risk: act before the third.
const (
	OutcomePositive Outcome = "positive"
	OutcomeNeutral  Outcome = "neutral"
	OutcomeNegative Outcome = "negative"
)

func (o Outcome) check() error {
	switch o {
	case OutcomePositive, OutcomeNeutral, OutcomeNegative:
		return nil
	}
	return invalid("contact outcome", quote(string(o))+" is not positive, neutral or negative")
}

// Contact is one interaction with the customer on a channel.
type Contact struct {
	Channel Channel   `json:"channel" msgpack:"c"`
	At      time.Time `json:"at" msgpack:"t"` // zero means now
	// Issue is the issue the contact is about. Left empty, the rules
	// attach the contact to the customer's open issue its Subject matches
	// (see Match), if any, and set Issue and Matched.
	Issue   IssueID `json:"issue,omitempty" msgpack:"i,omitempty"`
	Outcome Outcome `json:"outcome" msgpack:"o"` // zero means neutral
	Summary string  `json:"summary,omitempty" msgpack:"s,omitempty"`
	// Subject is what the customer came about, in their words: an email's
	// subject line, the question typed in a widget, the reason for a call.
	// It is what the rules match; Summary, the organization's note, is not.
	Subject string `json:"subject,omitempty" msgpack:"sj,omitempty"`
	// Matched is how the rules attached the contact to Issue when it was
	// recorded without one (or as a new issue about an open one); empty
	// when Issue was given. It is decided once, when the contact is
	// recorded, so that a history replays to the same profile whatever the
	// rules become.
	Matched Match `json:"matched,omitempty" msgpack:"mt,omitempty"`
}

const maxSummary = 1024

func (c *Contact) check() error {
	if err := c.Channel.check("contact channel"); err != nil {
		return err
	}
	if err := c.Outcome.check(); err != nil {
		return err
	}
	if c.Matched != "" {
		if c.Issue == "" {
			return invalid("contact match", "names no issue")
		}
		if err := c.Matched.check(); err != nil {
			return err
		}
	}
	if err := checkText("contact subject", c.Subject, maxSubject); err != nil {
		return err
	}
	return checkText("contact summary", c.Summary, maxSummary)
}

// ContactResult is what recording a contact changed.
type ContactResult struct {
	// Issue is the issue the contact was about, after it, if any.
	Issue *Issue
	// Escalated is true when the issue is escalated: this was a repeat
	// contact about it (or it already was).
	Escalated bool
	// AtRisk is true when the customer is at risk after this contact.
	AtRisk bool
}

// upsertLast keeps the newest contact per channel, newest first, for the
// newest MaxChannels channels.
func upsertLast(last []Contact, c Contact) []Contact {
	for i := range last {
		if last[i].Channel == c.Channel {
			if c.At.Before(last[i].At) {
				return last
			}
			last = append(last[:i], last[i+1:]...)
			break
		}
	}
	last = insertBefore(last, c, func(x Contact) bool { return x.At.Before(c.At) })
	if len(last) > MaxChannels {
		last = last[:MaxChannels]
	}
	return last
}

// negativesKept is how many negative outcomes a profile remembers for the
// at-risk rule.
const negativesKept = 8

func addNegative(ns []time.Time, t time.Time) []time.Time {
	ns = insertBefore(ns, t, func(x time.Time) bool { return x.After(t) })
	if len(ns) > negativesKept {
		ns = ns[len(ns)-negativesKept:]
	}
	return ns
}

// atRisk reports whether at least two negatives fall within window before now.
func atRisk(ns []time.Time, now time.Time, window time.Duration) bool {
	n := 0
	from := now.Add(-window)
	for _, t := range ns {
		if t.After(from) && !t.After(now) {
			n++
		}
	}
	return n >= 2
}
