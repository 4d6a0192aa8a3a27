package memory

import (
	"strconv"
	"time"
)

// SignalKind is a kind of evidence of how far a customer's voice reaches.
type SignalKind string

// Signal kinds.
const (
	SignalReview          SignalKind = "review"           // a review the customer wrote
	SignalReferral        SignalKind = "referral"         // a customer they brought
	SignalAudience        SignalKind = "audience"         // followers or readers; Count is the size
	SignalPublicComplaint SignalKind = "public_complaint" // a complaint made in public
)

func (k SignalKind) check() error {
	switch k {
	case SignalReview, SignalReferral, SignalAudience, SignalPublicComplaint:
		return nil
	}
	return invalid("signal kind", quote(string(k))+" is not review, referral, audience or public_complaint")
}

// Signal is evidence the application records for the influence score. For
// an audience, Count is the audience's size and the newest one counts; for
// the others, Count is how many (zero means one) and they add up.
type Signal struct {
	Kind  SignalKind `json:"kind" msgpack:"k"`
	Count int64      `json:"count" msgpack:"n"`
	At    time.Time  `json:"at" msgpack:"t"`
	Note  string     `json:"note,omitempty" msgpack:"s,omitempty"`
}

// signalTotal is a profile's sum of one kind of signal.
type signalTotal struct {
	Kind  SignalKind `msgpack:"k"`
	Count int64      `msgpack:"n"`
	At    time.Time  `msgpack:"t"`
}

func addSignal(ts []signalTotal, s Signal) []signalTotal {
	for i := range ts {
		if ts[i].Kind != s.Kind {
			continue
		}
		if s.Kind == SignalAudience {
			if !s.At.Before(ts[i].At) {
				ts[i].Count, ts[i].At = s.Count, s.At
			}
			return ts
		}
		ts[i].Count += s.Count
		if s.At.After(ts[i].At) {
			ts[i].At = s.At
		}
		return ts
	}
	return append(ts, signalTotal{Kind: s.Kind, Count: s.Count, At: s.At})
}

// Influence ranks, 1 to 5, how far a customer's voice reaches others, so the
// organization knows whom to involve early and whom to treat with extra care.
// It is internal: never show it to the customer.
type Influence struct {
	Score   int      `json:"score"`
	Reasons []string `json:"reasons"`
}

// influenceOf scores the signals: 1, plus up to 2 for reviews, 2 for
// referrals, 3 for audience and 1 for public complaints, at most 5.
func influenceOf(ts []signalTotal) Influence {
	in := Influence{Score: 1}
	add := func(points int, why string) {
		if points > 0 {
			in.Score += points
			in.Reasons = append(in.Reasons, why+" (+"+strconv.Itoa(points)+")")
		}
	}
	for _, t := range ts {
		n := t.Count
		count := strconv.FormatInt(n, 10)
		switch t.Kind {
		case SignalReview:
			add(step(n, 3, 10), count+" reviews written")
		case SignalReferral:
			add(step(n, 1, 5), count+" customers referred")
		case SignalAudience:
			add(step(n, 1_000, 10_000, 100_000), "audience of "+count)
		case SignalPublicComplaint:
			add(step(n, 1), count+" public complaints")
		}
	}
	in.Score = min(in.Score, 5)
	if len(in.Reasons) == 0 {
		in.Reasons = []string{"no signals of reach recorded"}
	}
	return in
}

// step returns how many of the thresholds n reaches.
func step(n int64, thresholds ...int64) int {
	p := 0
	for _, t := range thresholds {
		if n >= t {
			p++
		}
	}
	return p
}
