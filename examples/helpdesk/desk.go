package main

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/herken/herken/memory"
)

// desk is the help desk: the store, and the pages listening to the feed.
// The inbox is the store's work queue and the feed's history is rebuilt
// from the store, so that both are the same after a reload or a restart;
// the desk keeps in its own memory only who is listening.
type desk struct {
	store *memory.Store

	mu    sync.Mutex // guards feeds
	feeds map[chan feedItem]struct{}
}

// inboxItem is a contact as it arrived, and who it turned out to be: the
// answer to a contact received.
type inboxItem struct {
	At        time.Time           `json:"at"`
	Channel   memory.Channel      `json:"channel"`
	From      []memory.Identifier `json:"from"`
	Subject   string              `json:"subject"`
	Customer  memory.CustomerID   `json:"customer"`
	Name      string              `json:"name"`
	New       bool                `json:"new"`
	Escalated bool                `json:"escalated"`
	Merged    []memory.CustomerID `json:"merged,omitempty"`
	Conflicts []memory.Identifier `json:"conflicts,omitempty"`
}

// feedItem is an event shown in the live feed. Name is how the desk shows
// the customer: their name, or the identifier they are known by.
type feedItem struct {
	At       time.Time         `json:"at"`
	Kind     memory.EventKind  `json:"kind"`
	Customer memory.CustomerID `json:"customer"`
	Name     string            `json:"name,omitempty"`
	Text     string            `json:"text"`
}

func newDesk(s *memory.Store) *desk {
	return &desk{store: s, feeds: map[chan feedItem]struct{}{}}
}

// contactIn is a contact arriving on a channel.
type contactIn struct {
	Channel memory.Channel      `json:"channel"`
	From    []memory.Identifier `json:"from"`
	Subject string              `json:"subject"`
	Outcome memory.Outcome      `json:"outcome"`
	// Issue is the open issue the contact is about; empty: the customer's
	// open issue of the same subject, or a new one.
	Issue memory.IssueID `json:"issue"`
}

// receive recognizes who is contacting, and records the contact on the
// issue it is about: the one named, or an open issue of the same subject,
// or a new one. A repeat contact about an open issue escalates it.
func (d *desk) receive(ctx context.Context, in contactIn) (inboxItem, error) {
	if len(in.From) == 0 {
		return inboxItem{}, errors.New("a contact needs an identifier: who is it from?")
	}
	in.Subject = strings.TrimSpace(in.Subject)
	if in.Subject == "" {
		return inboxItem{}, errors.New("a contact needs a subject")
	}
	rec, err := d.store.Recognize(ctx, in.From...)
	if err != nil {
		return inboxItem{}, err
	}
	item := inboxItem{At: time.Now().UTC(), Channel: in.Channel, From: in.From, Subject: in.Subject,
		Customer: rec.Customer, New: rec.Created, Merged: rec.Merged, Conflicts: rec.Conflicts}
	err = d.store.Update(ctx, rec.Customer, func(tx *memory.Tx) error {
		if in.Issue != "" {
			res, err := tx.RecordContact(memory.Contact{Channel: in.Channel, Issue: in.Issue, Outcome: in.Outcome, Summary: in.Subject})
			item.Escalated = res.Escalated
			return err
		}
		// The store's rule finds the open issue this is about (the same
		// subject once "Re:" and case are set aside, or the same order
		// number): opening it again is a contact on that one, which
		// escalates it.
		is, err := tx.OpenIssue(in.Subject, in.Channel)
		if err != nil {
			return err
		}
		item.Escalated = is.Escalated
		if in.Outcome != "" && in.Outcome != memory.OutcomeNeutral {
			// How the contact went: a record of its own, which names no
			// issue and has no subject, so that it never counts as the
			// customer coming back.
			_, err = tx.RecordContact(memory.Contact{Channel: in.Channel, Outcome: in.Outcome, Summary: "how it went: " + is.Subject})
		}
		return err
	})
	if err != nil {
		return inboxItem{}, err
	}
	item.Name = d.label(ctx, rec.Customer)
	return item, nil
}

// label is how the desk names a customer: their name, or else the
// identifier they are best known by (verified first); "" when they are not
// in memory (forgotten).
func (d *desk) label(ctx context.Context, id memory.CustomerID) string {
	b, err := d.store.Brief(ctx, id, memory.BriefQuery{})
	if err != nil {
		return ""
	}
	if b.Name != "" {
		return b.Name
	}
	c, err := d.store.Customer(ctx, id)
	if err != nil || len(c.Identifiers) == 0 {
		return "unnamed customer"
	}
	best := c.Identifiers[0]
	for _, i := range c.Identifiers {
		if i.Verified && !best.Verified {
			best = i
		}
	}
	if best.Kind == memory.KindDevice {
		return "unnamed visitor" // a device token says nothing to an agent
	}
	return best.Value
}

// inboxEntry is a customer of the inbox, and how the desk names them.
type inboxEntry struct {
	memory.QueueEntry
	Label string `json:"label"`
}

// inboxPage is a page of the inbox.
type inboxPage struct {
	Entries []inboxEntry `json:"entries"`
	Next    string       `json:"next,omitempty"`
}

// waitingFor is how long without a contact makes a customer "waiting".
const waitingFor = time.Hour

// inbox returns a page of the work queue: show is "" (everyone with work),
// "escalated", "at-risk" or "waiting" (no contact for waitingFor); after
// is the page's cursor.
func (d *desk) inbox(ctx context.Context, show, after string, limit int) (inboxPage, error) {
	q := memory.QueueQuery{After: after, Limit: limit}
	switch show {
	case "", "all":
	case "escalated":
		q.Escalated = true
	case "at-risk":
		q.AtRisk = true
	case "waiting":
		// A minute's grain, so that the cursor of one page is good for the
		// next within the minute (the filter is part of the cursor).
		q.Open, q.NotContactedSince = true, time.Now().Add(-waitingFor).Truncate(time.Minute)
	default:
		return inboxPage{}, &badRequest{"show must be all, escalated, at-risk or waiting"}
	}
	page, err := d.store.Queue(ctx, q)
	if err != nil {
		return inboxPage{}, err
	}
	out := inboxPage{Entries: make([]inboxEntry, 0, len(page.Entries)), Next: page.Next}
	for _, e := range page.Entries {
		label := e.Name
		if label == "" {
			label = d.label(ctx, e.Customer)
		}
		out.Entries = append(out.Entries, inboxEntry{QueueEntry: e, Label: label})
	}
	return out, nil
}

// feedKinds are the events the feed shows.
var feedKinds = []memory.EventKind{memory.EventIssueEscalated, memory.EventMerged, memory.EventUnmerged,
	memory.EventIssueOpened, memory.EventIssueResolved, memory.EventAtRisk, memory.EventForgotten}

// watch turns the store's events into the live feed, watching again when
// it fell behind (the pages then rebuild from the store).
func (d *desk) watch(ctx context.Context) {
	for ctx.Err() == nil {
		w, err := d.store.Watch(ctx, feedKinds...)
		if err != nil {
			return
		}
		for {
			e, err := w.Next(ctx)
			if err != nil {
				break
			}
			d.publish(d.feedItem(ctx, e))
		}
		w.Close()
	}
}

func (d *desk) feedItem(ctx context.Context, e memory.Event) feedItem {
	f := feedItem{At: e.At, Kind: e.Kind, Customer: e.Customer, Text: d.describe(ctx, e)}
	if e.Kind != memory.EventForgotten {
		f.Name = d.label(ctx, e.Customer)
	}
	return f
}

func (d *desk) describe(ctx context.Context, e memory.Event) string {
	switch e.Kind {
	case memory.EventIssueEscalated:
		return "escalated: " + e.Issue.Subject + " (came back about it)"
	case memory.EventMerged:
		return "recognized as one person with another record: " + e.Merge.Reason
	case memory.EventUnmerged:
		if e.Merge.From == e.Customer {
			return "separated again from the record it was merged into"
		}
		return "a merge was undone"
	case memory.EventIssueOpened:
		return "new issue on " + string(e.Issue.Channel) + ": " + e.Issue.Subject
	case memory.EventIssueResolved:
		return "resolved: " + e.Issue.Subject
	case memory.EventAtRisk:
		return "at risk: two negative experiences in a short time"
	case memory.EventForgotten:
		return "a customer was forgotten on request (receipt " + e.Receipt.ID + ")"
	}
	return string(e.Kind)
}

// recentActivity rebuilds what the feed showed before the page (or the
// desk) started: the feed's events in the histories of the customers in
// the work queue, and the receipts of forgets, newest first, at most n.
// The events of a customer who has left the queue since (all issues
// resolved) are not in it.
func (d *desk) recentActivity(ctx context.Context, n int) ([]feedItem, error) {
	page, err := d.store.Queue(ctx, memory.QueueQuery{Limit: n})
	if err != nil {
		return nil, err
	}
	var out []feedItem
	for _, e := range page.Entries {
		events, err := d.store.History(ctx, e.Customer)
		if err != nil {
			continue // forgotten meanwhile
		}
		for _, ev := range events {
			if slices.Contains(feedKinds, ev.Kind) {
				f := feedItem{At: ev.At, Kind: ev.Kind, Customer: e.Customer, Name: e.Name, Text: d.describe(ctx, ev)}
				if f.Name == "" {
					f.Name = d.label(ctx, e.Customer)
				}
				out = append(out, f)
			}
		}
	}
	receipts, err := d.store.Receipts(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range receipts {
		out = append(out, feedItem{At: r.At, Kind: memory.EventForgotten, Customer: r.Customer,
			Text: "a customer was forgotten on request (receipt " + r.ID + ")"})
	}
	slices.SortStableFunc(out, func(a, b feedItem) int { return b.At.Compare(a.At) })
	if len(out) > n {
		out = out[:n]
	}
	if out == nil {
		out = []feedItem{}
	}
	return out, nil
}

func (d *desk) publish(f feedItem) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for ch := range d.feeds {
		select {
		case ch <- f:
		default: // a slow page misses an item rather than slowing the desk
		}
	}
}

func (d *desk) closeFeeds() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for ch := range d.feeds {
		close(ch)
		delete(d.feeds, ch)
	}
}

// seed makes the demo's known customers on the first start.
func (d *desk) seed(ctx context.Context) error {
	if _, err := d.store.Lookup(ctx, memory.Email("ada@example.com")); err == nil {
		return nil
	}
	people := []struct {
		name         string
		email, phone string
		facts        []memory.Fact
		prefs        [][2]string
		signals      []memory.Signal
		consent      []memory.Consent
	}{
		{"Ada Lovelace", "ada@example.com", "+31612345678",
			[]memory.Fact{{Key: "shipping.street", Value: "Keizersgracht 1"}, {Key: "shipping.postcode", Value: "1015 CJ"}, {Key: "order.number", Value: "A-1042", Channel: memory.ChannelWeb}},
			[][2]string{{memory.PrefChannel, "email"}, {memory.PrefHours, "mon-fri 09:00-18:00 Europe/Amsterdam"}},
			[]memory.Signal{{Kind: memory.SignalReview, Count: 4}, {Kind: memory.SignalAudience, Count: 12000}},
			[]memory.Consent{{Purpose: memory.PurposeMarketing, Channel: memory.ChannelEmail, Granted: true, Source: "newsletter form"}}},
		{"Grace Hopper", "grace@example.com", "+31687654321",
			[]memory.Fact{{Key: "shipping.street", Value: "Prinsengracht 2"}, {Key: "order.size", Value: "M"}},
			[][2]string{{memory.PrefChannel, "phone"}},
			[]memory.Signal{{Kind: memory.SignalReferral, Count: 2}},
			nil},
		{"Alan Turing", "alan@example.com", "+31611223344",
			[]memory.Fact{{Key: "shipping.street", Value: "Herengracht 3"}},
			[][2]string{{memory.PrefPauseUntil, "2099-01-01"}},
			nil,
			[]memory.Consent{{Purpose: memory.PurposeProfiling, Granted: false, Source: "privacy settings"}}},
	}
	for _, p := range people {
		rec, err := d.store.Recognize(ctx, memory.Email(p.email).AsVerified(), memory.Phone(p.phone).AsVerified())
		if err != nil {
			return err
		}
		err = d.store.Update(ctx, rec.Customer, func(tx *memory.Tx) error {
			if err := tx.SetName(p.name); err != nil {
				return err
			}
			if err := tx.Remember(p.facts...); err != nil {
				return err
			}
			for _, pr := range p.prefs {
				if err := tx.SetPreference(pr[0], pr[1]); err != nil {
					return err
				}
			}
			for _, s := range p.signals {
				if err := tx.RecordSignal(s); err != nil {
					return err
				}
			}
			for _, c := range p.consent {
				if err := tx.RecordConsent(c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// script is what the simulation plays: the same people on different
// channels, coming back about the same problems.
var script = []contactIn{
	{Channel: memory.ChannelEmail, From: []memory.Identifier{memory.Email("ada@example.com")}, Subject: "Parcel did not arrive"},
	{Channel: memory.ChannelChat, From: []memory.Identifier{memory.Device("chat-visitor-7f3a")}, Subject: "Which size fits me?"},
	{Channel: memory.ChannelPhone, From: []memory.Identifier{memory.Phone("+31 6 12345678")}, Subject: "Parcel did not arrive", Outcome: memory.OutcomeNegative},
	{Channel: memory.ChannelStore, From: []memory.Identifier{memory.Phone("06 87654321")}, Subject: "Return a jacket", Outcome: memory.OutcomePositive},
	{Channel: memory.ChannelChat, From: []memory.Identifier{memory.Device("chat-visitor-7f3a").AsVerified(), memory.Email("grace@example.com").AsVerified()}, Subject: "Which size fits me?"},
	{Channel: memory.ChannelEmail, From: []memory.Identifier{memory.Email("alan@example.com")}, Subject: "Invoice address is wrong", Outcome: memory.OutcomeNegative},
	{Channel: memory.ChannelPhone, From: []memory.Identifier{memory.Phone("+31611223344")}, Subject: "Invoice address is wrong", Outcome: memory.OutcomeNegative},
	{Channel: memory.ChannelEmail, From: []memory.Identifier{memory.Email("newcomer@example.com")}, Subject: "Do you ship to Belgium?"},
}

// resolvesPerBreak bounds how many issues the agents solve between two
// rounds of the script, one a step.
const resolvesPerBreak = 4

// simulator plays the script one step at a time, as people and agents
// would: a step is one contact, or one issue an agent solves. It is not
// safe for concurrent use.
type simulator struct {
	d       *desk
	rng     *rand.Rand
	played  int // contacts played
	solving int // issues left to solve in this break
}

func newSimulator(d *desk, seed uint64) *simulator {
	return &simulator{d: d, rng: rand.New(rand.NewPCG(seed, 1))}
}

// step makes one thing happen and says what.
func (s *simulator) step(ctx context.Context) (string, error) {
	if s.solving > 0 {
		s.solving--
		// The agent takes the issue that has waited longest.
		page, err := s.d.store.Queue(ctx, memory.QueueQuery{Open: true, Limit: memory.MaxQueuePage})
		if err != nil {
			return "", err
		}
		if n := len(page.Entries); n > 0 {
			e := page.Entries[n-1]
			is := e.OpenIssues[len(e.OpenIssues)-1]
			return "resolved " + is.Subject, s.d.store.ResolveIssue(ctx, e.Customer, is.ID, "solved by the agent")
		}
		s.solving = 0
	}
	in := script[s.played%len(script)]
	if s.played >= len(script) && s.rng.IntN(3) == 0 {
		in.Outcome = memory.OutcomeNeutral
	}
	s.played++
	if s.played%len(script) == 0 {
		// Between rounds the agents solve what came in, one at a time.
		s.solving = resolvesPerBreak
	}
	_, err := s.d.receive(ctx, in)
	return "contact about " + in.Subject, err
}

// simulate runs the simulator until ctx ends, a step about every so often
// (between half and one and a half times every, at random), so that the
// feed reads like work happening.
func (d *desk) simulate(ctx context.Context, every time.Duration) {
	s := newSimulator(d, uint64(time.Now().UnixNano()))
	for {
		wait := every/2 + time.Duration(s.rng.Int64N(int64(every)+1))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		_, _ = s.step(ctx)
	}
}

// view is everything the console shows about a customer.
type view struct {
	Brief     memory.Brief      `json:"brief"`
	Customer  *memory.Customer  `json:"customer"`
	Influence *memory.Influence `json:"influence,omitempty"`
	NoProfile string            `json:"no_profiling,omitempty"`
	Decision  memory.Decision   `json:"may_contact_marketing"`
}

func (d *desk) view(ctx context.Context, id memory.CustomerID) (*view, error) {
	b, err := d.store.Brief(ctx, id, memory.BriefQuery{})
	if err != nil {
		return nil, err
	}
	c, err := d.store.Customer(ctx, id)
	if err != nil {
		return nil, err
	}
	v := &view{Brief: b, Customer: c}
	if in, err := d.store.Influence(ctx, b.Customer); err == nil {
		v.Influence = &in
	} else if errors.Is(err, memory.ErrNoConsent) {
		v.NoProfile = "the customer refused profiling: no influence score"
	}
	ch := memory.ChannelEmail
	if p, ok := b.Preference(memory.PrefChannel); ok {
		ch = memory.Channel(p)
	}
	if v.Decision, err = d.store.MayContact(ctx, b.Customer, ch, memory.PurposeMarketing, time.Time{}); err != nil {
		return nil, err
	}
	return v, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, memory.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, memory.ErrInvalidInput), errors.Is(err, memory.ErrInvalidIdentifier), errors.Is(err, memory.ErrNotMerged), errors.Is(err, memory.ErrLimit):
		status = http.StatusUnprocessableEntity
	case strings.HasPrefix(err.Error(), "a contact needs"):
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
