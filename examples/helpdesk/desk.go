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

// desk is the help desk: the store, the inbox of recent contacts, and the
// pages listening to the feed.
type desk struct {
	store *memory.Store

	mu    sync.Mutex // guards inbox and feeds
	inbox []inboxItem
	feeds map[chan feedItem]struct{}
}

// inboxItem is a contact as it arrived, and who it turned out to be.
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

// feedItem is an event shown in the live feed.
type feedItem struct {
	At       time.Time         `json:"at"`
	Kind     memory.EventKind  `json:"kind"`
	Customer memory.CustomerID `json:"customer"`
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
		b := tx.Brief(memory.BriefQuery{})
		issue := in.Issue
		if issue == "" {
			for _, is := range b.OpenIssues {
				if strings.EqualFold(is.Subject, in.Subject) {
					issue = is.ID
					break
				}
			}
		}
		if issue == "" {
			is, err := tx.OpenIssue(in.Subject, in.Channel)
			if err != nil {
				return err
			}
			if in.Outcome != "" && in.Outcome != memory.OutcomeNeutral {
				// How the first contact went; not a second contact about
				// the issue, so it does not escalate it.
				_, err = tx.RecordContact(memory.Contact{Channel: in.Channel, Outcome: in.Outcome, Summary: "how it went: " + is.Subject})
			}
			return err
		}
		res, err := tx.RecordContact(memory.Contact{Channel: in.Channel, Issue: issue, Outcome: in.Outcome, Summary: in.Subject})
		item.Escalated = res.Escalated
		return err
	})
	if err != nil {
		return inboxItem{}, err
	}
	if b, err := d.store.Brief(ctx, rec.Customer, memory.BriefQuery{}); err == nil {
		item.Name = b.Name
	}
	d.mu.Lock()
	d.inbox = append([]inboxItem{item}, d.inbox...)
	if len(d.inbox) > 50 {
		d.inbox = d.inbox[:50]
	}
	d.mu.Unlock()
	return item, nil
}

// watch turns the store's events into the live feed.
func (d *desk) watch(ctx context.Context) {
	w, err := d.store.Watch(ctx, memory.EventIssueEscalated, memory.EventMerged, memory.EventUnmerged,
		memory.EventIssueOpened, memory.EventIssueResolved, memory.EventAtRisk, memory.EventForgotten)
	if err != nil {
		return
	}
	defer w.Close()
	for {
		e, err := w.Next(ctx)
		if err != nil {
			return
		}
		d.publish(feedItem{At: e.At, Kind: e.Kind, Customer: e.Customer, Text: describe(e)})
	}
}

func describe(e memory.Event) string {
	switch e.Kind {
	case memory.EventIssueEscalated:
		return "escalated: " + e.Issue.Subject + " (the customer came back about it)"
	case memory.EventMerged:
		return "merged " + string(e.Merge.From) + " into this customer: " + e.Merge.Reason
	case memory.EventUnmerged:
		if e.Merge.From == e.Customer {
			return "restored as its own customer"
		}
		return "merge of " + string(e.Merge.From) + " undone"
	case memory.EventIssueOpened:
		return "new issue: " + e.Issue.Subject + " (" + string(e.Issue.Channel) + ")"
	case memory.EventIssueResolved:
		return "resolved: " + e.Issue.Subject
	case memory.EventAtRisk:
		return "at risk: two negative experiences in a short time"
	case memory.EventForgotten:
		return "forgotten on request (receipt " + e.Receipt.ID + ")"
	}
	return string(e.Kind)
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

// simulate sends a contact every so often: the same people on different
// channels, coming back about the same problems.
func (d *desk) simulate(ctx context.Context, every time.Duration) {
	script := []contactIn{
		{Channel: memory.ChannelEmail, From: []memory.Identifier{memory.Email("ada@example.com")}, Subject: "Parcel did not arrive"},
		{Channel: memory.ChannelChat, From: []memory.Identifier{memory.Device("chat-visitor-7f3a")}, Subject: "Which size fits me?"},
		{Channel: memory.ChannelPhone, From: []memory.Identifier{memory.Phone("+31 6 12345678")}, Subject: "Parcel did not arrive", Outcome: memory.OutcomeNegative},
		{Channel: memory.ChannelStore, From: []memory.Identifier{memory.Phone("06 87654321")}, Subject: "Return a jacket", Outcome: memory.OutcomePositive},
		{Channel: memory.ChannelChat, From: []memory.Identifier{memory.Device("chat-visitor-7f3a").AsVerified(), memory.Email("grace@example.com").AsVerified()}, Subject: "Which size fits me?"},
		{Channel: memory.ChannelEmail, From: []memory.Identifier{memory.Email("alan@example.com")}, Subject: "Invoice address is wrong", Outcome: memory.OutcomeNegative},
		{Channel: memory.ChannelPhone, From: []memory.Identifier{memory.Phone("+31611223344")}, Subject: "Invoice address is wrong", Outcome: memory.OutcomeNegative},
		{Channel: memory.ChannelEmail, From: []memory.Identifier{memory.Email("newcomer@example.com")}, Subject: "Do you ship to Belgium?"},
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if i > 0 && i%len(script) == 0 {
			// Between rounds the agents solve what came in.
			d.resolveAll(ctx)
		}
		in := script[i%len(script)]
		if i >= len(script) && rng.IntN(3) == 0 {
			in.Outcome = memory.OutcomeNeutral
		}
		_, _ = d.receive(ctx, in)
	}
}

// resolveAll resolves the open issues of the customers in the inbox.
func (d *desk) resolveAll(ctx context.Context) {
	seen := map[memory.CustomerID]bool{}
	for _, it := range d.inboxCopy() {
		if seen[it.Customer] {
			continue
		}
		seen[it.Customer] = true
		b, err := d.store.Brief(ctx, it.Customer, memory.BriefQuery{})
		if err != nil {
			continue
		}
		for _, is := range b.OpenIssues {
			_ = d.store.ResolveIssue(ctx, b.Customer, is.ID, "solved by the agent")
		}
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

func (d *desk) inboxCopy() []inboxItem {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.inbox)
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
