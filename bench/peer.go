package main

import (
	"slices"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/herken/herken/memory"
)

// What a skilled user who keeps customers in Redis or PostgreSQL would
// store: the part of the profile a brief reads as one msgpack document
// (name, facts sorted by key, preferences, open issues newest first, the
// times of the newest negative outcomes), the newest contact on each
// channel beside it as a msgpack value of its own (so that recording a
// contact writes one of them and never the document), the contact timeline
// apart, and an index from identifier to customer. The writer keeps the
// document as herken's rules would (peerDocOf), so that the reader only
// decodes, filters by time and sorts, and answers the brief herken answers
// (TestPeerBriefIsHerkens).

type peerDoc struct {
	Name      string              `msgpack:"n"`
	Facts     []memory.Fact       `msgpack:"f"`
	Prefs     []memory.Preference `msgpack:"p"`
	Open      []memory.Issue      `msgpack:"o"`
	Negatives []time.Time         `msgpack:"ng"` // oldest first, the newest eight
}

// peerNegativesKept is how many negative outcomes the document keeps: two
// within the at-risk window make a customer at risk.
const peerNegativesKept = 8

// channelIndex numbers the bench's channels from 1, for PostgreSQL's array
// of last contacts.
func channelIndex(ch memory.Channel) int { return slices.Index(channels, ch) + 1 }

// peerDocOf returns what a peer stores for c, loaded at epoch: the
// document, the newest contact on each channel and the timeline, each
// msgpack. It applies the customer's history as herkenPut records it, at
// the same instant: facts, preferences, contacts, then the issues.
func peerDocOf(c customer) (doc []byte, last map[memory.Channel][]byte, timeline [][]byte) {
	d := peerDoc{Name: c.name}
	for _, f := range c.facts {
		f.Purpose, f.At = memory.PurposeService, f.At.UTC()
		if f.Retention > 0 {
			f.Expires = f.At.Add(f.Retention)
		}
		f.Retention = 0
		i, found := slices.BinarySearchFunc(d.Facts, f.Key, func(x memory.Fact, k string) int { return strings.Compare(x.Key, k) })
		if found {
			d.Facts[i] = f
		} else {
			d.Facts = slices.Insert(d.Facts, i, f)
		}
	}
	for _, p := range c.prefs {
		if i := slices.IndexFunc(d.Prefs, func(x memory.Preference) bool { return x.Key == p[0] }); i >= 0 {
			d.Prefs[i] = memory.Preference{Key: p[0], Value: p[1], At: epoch}
		} else {
			d.Prefs = append(d.Prefs, memory.Preference{Key: p[0], Value: p[1], At: epoch})
		}
	}
	var lasts []memory.Contact
	add := func(ct memory.Contact) {
		b, _ := msgpack.Marshal(&ct)
		timeline = append(timeline, b)
		lasts = peerUpsertLast(lasts, ct)
		if ct.Outcome == memory.OutcomeNegative {
			d.Negatives = append(d.Negatives, ct.At)
			slices.SortStableFunc(d.Negatives, func(x, y time.Time) int { return x.Compare(y) })
			if len(d.Negatives) > peerNegativesKept {
				d.Negatives = d.Negatives[len(d.Negatives)-peerNegativesKept:]
			}
		}
	}
	for _, ct := range c.contacts {
		ct.At = ct.At.UTC()
		add(ct)
	}
	for k, g := range c.issues {
		is := memory.Issue{ID: memory.IssueID("i" + string(rune('a'+k))), Subject: g.subject, Channel: g.channel,
			Opened: epoch, Status: memory.IssueOpen, Contacts: 1, LastContact: epoch, LastChannel: g.channel}
		add(memory.Contact{Channel: g.channel, At: epoch, Issue: is.ID, Outcome: memory.OutcomeNeutral, Summary: g.subject})
		for range g.repeats {
			add(memory.Contact{Channel: g.channel, At: epoch, Issue: is.ID, Outcome: memory.OutcomeNeutral, Summary: "again about " + g.subject})
			is.Contacts++
			is.Escalated = is.Escalated || is.Contacts >= 2
		}
		if !g.resolved {
			// Newest first; equal times keep the order they came in.
			i := slices.IndexFunc(d.Open, func(x memory.Issue) bool { return x.Opened.Before(is.Opened) })
			if i < 0 {
				i = len(d.Open)
			}
			d.Open = slices.Insert(d.Open, i, is)
		}
	}
	last = map[memory.Channel][]byte{}
	for _, ct := range lasts {
		last[ct.Channel], _ = msgpack.Marshal(&ct)
	}
	doc, _ = msgpack.Marshal(&d)
	return doc, last, timeline
}

// peerUpsertLast keeps the newest contact of each channel, newest first.
func peerUpsertLast(last []memory.Contact, c memory.Contact) []memory.Contact {
	if i := slices.IndexFunc(last, func(x memory.Contact) bool { return x.Channel == c.Channel }); i >= 0 {
		if c.At.Before(last[i].At) {
			return last
		}
		last = slices.Delete(last, i, i+1)
	}
	i := slices.IndexFunc(last, func(x memory.Contact) bool { return x.At.Before(c.At) })
	if i < 0 {
		i = len(last)
	}
	return slices.Insert(last, i, c)
}

// peerBrief is what a peer's user builds from what they stored: the
// brief herken answers, for service on any channel, at now. last holds
// the newest contact of each channel, in any order; nil ones are skipped.
func peerBrief(doc []byte, last [][]byte, now time.Time) (memory.Brief, error) {
	var d peerDoc
	if err := msgpack.Unmarshal(doc, &d); err != nil {
		return memory.Brief{}, err
	}
	b := memory.Brief{Name: d.Name, OpenIssues: d.Open, Preferences: d.Prefs}
	for _, f := range d.Facts {
		if f.Expires.IsZero() || now.Before(f.Expires) {
			b.Facts = append(b.Facts, f)
		}
	}
	for _, raw := range last {
		if raw == nil {
			continue
		}
		var ct memory.Contact
		if err := msgpack.Unmarshal(raw, &ct); err != nil {
			return memory.Brief{}, err
		}
		b.LastContacts = append(b.LastContacts, ct)
	}
	slices.SortFunc(b.LastContacts, func(x, y memory.Contact) int { return y.At.Compare(x.At) })
	for _, is := range b.OpenIssues {
		b.Escalate = b.Escalate || is.Escalated
	}
	negatives, from := 0, now.Add(-memory.DefaultAtRiskWindow)
	for _, t := range d.Negatives {
		if t.After(from) && !t.After(now) {
			negatives++
		}
	}
	b.AtRisk = negatives >= 2
	return b, nil
}

func identKeyOf(id memory.Identifier) string {
	n, err := memory.Normalize(id, "NL")
	if err != nil {
		return string(id.Kind) + ":" + strings.ToLower(id.Value)
	}
	return string(n.Kind) + ":" + n.Value
}
