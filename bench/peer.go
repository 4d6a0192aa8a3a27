package main

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/herken/herken/memory"
)

// What a user who keeps customers in Redis or PostgreSQL would store: the
// profile as one JSON document, the last contact on each channel beside it,
// the contact timeline apart, and an index from identifier to customer.

type doc struct {
	Name   string            `json:"name"`
	Facts  []memory.Fact     `json:"facts"`
	Prefs  map[string]string `json:"prefs,omitempty"`
	Issues []memory.Issue    `json:"issues,omitempty"` // open ones
}

func docOf(c customer) (profile []byte, last map[string][]byte, timeline [][]byte) {
	d := doc{Name: c.name, Facts: c.facts}
	for _, p := range c.prefs {
		if d.Prefs == nil {
			d.Prefs = map[string]string{}
		}
		d.Prefs[p[0]] = p[1]
	}
	last = map[string][]byte{}
	add := func(ct memory.Contact) {
		b, _ := json.Marshal(ct)
		timeline = append(timeline, b)
		last[string(ct.Channel)] = b
	}
	for _, ct := range c.contacts {
		add(ct)
	}
	for k, g := range c.issues {
		is := memory.Issue{ID: memory.IssueID("i" + string(rune('a'+k))), Subject: g.subject, Channel: g.channel,
			Opened: epoch, Status: memory.IssueOpen, Contacts: 1 + g.repeats, LastContact: epoch, LastChannel: g.channel}
		add(memory.Contact{Channel: g.channel, At: epoch, Issue: is.ID, Outcome: memory.OutcomeNeutral, Summary: g.subject})
		if !g.resolved {
			d.Issues = append(d.Issues, is)
		}
	}
	profile, _ = json.Marshal(d)
	return profile, last, timeline
}

// peerBrief is what a peer's user builds from what they stored: the same
// brief herken answers.
func peerBrief(profile []byte, last map[string]string, now time.Time) (memory.Brief, error) {
	var d doc
	if err := json.Unmarshal(profile, &d); err != nil {
		return memory.Brief{}, err
	}
	b := memory.Brief{Name: d.Name, OpenIssues: d.Issues}
	slices.SortFunc(b.OpenIssues, func(x, y memory.Issue) int { return y.Opened.Compare(x.Opened) })
	for _, f := range d.Facts {
		if f.Expires.IsZero() || now.Before(f.Expires) {
			b.Facts = append(b.Facts, f)
		}
	}
	for k, v := range d.Prefs {
		b.Preferences = append(b.Preferences, memory.Preference{Key: k, Value: v})
	}
	for _, raw := range last {
		var ct memory.Contact
		if err := json.Unmarshal([]byte(raw), &ct); err != nil {
			return memory.Brief{}, err
		}
		b.LastContacts = append(b.LastContacts, ct)
	}
	slices.SortFunc(b.LastContacts, func(x, y memory.Contact) int { return y.At.Compare(x.At) })
	for _, is := range b.OpenIssues {
		b.Escalate = b.Escalate || is.Escalated || is.Contacts >= 2
	}
	return b, nil
}

func identKeyOf(id memory.Identifier) string {
	n, err := memory.Normalize(id, "NL")
	if err != nil {
		return string(id.Kind) + ":" + strings.ToLower(id.Value)
	}
	return string(n.Kind) + ":" + n.Value
}
