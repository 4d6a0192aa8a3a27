//go:build !wasip1

package memory_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"sync/atomic"
	"time"

	"github.com/herken/herken/memory"
)

func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "herken-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := memory.Open(ctx, memory.DefaultOptions(dir).WithDefaultRegion("NL"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	r, err := s.Recognize(ctx, memory.Phone("06 12345678"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Created, r.Linked[0])
	// Output: true phone:+31612345678
}

func ExampleStore_Recognize() {
	ctx := context.Background()
	s, err := memory.Open(ctx, memory.InMemoryOptions())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// A visitor on the web shop, and later the same person calling in.
	web, _ := s.Recognize(ctx, memory.Account("acct-42").AsVerified(), memory.Email("ada@example.com").AsVerified())
	call, _ := s.Recognize(ctx, memory.Phone("+31 6 12345678").AsVerified())
	fmt.Println("two customers:", web.Customer != call.Customer)

	// The customer proves both the email and the phone: one person.
	both, _ := s.Recognize(ctx, memory.Email("ADA@example.com").AsVerified(), memory.Phone("+31612345678").AsVerified())
	fmt.Println("merged:", len(both.Merged), "survivor is the older:", both.Customer == web.Customer)

	// Someone types that email on another device, whose token the server
	// issued and so vouches for: a claim reveals and links nothing.
	other, _ := s.Recognize(ctx, memory.Device("another-device-token").AsVerified(), memory.Email("ada@example.com"))
	fmt.Println("conflicts:", other.Conflicts, "same customer:", other.Customer == web.Customer)
	// Output:
	// two customers: true
	// merged: 1 survivor is the older: true
	// conflicts: [email:ada@example.com] same customer: false
}

func ExampleStore_Brief() {
	ctx := context.Background()
	s, err := memory.Open(ctx, memory.InMemoryOptions())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	r, _ := s.Recognize(ctx, memory.Email("ada@example.com"))
	_ = s.SetName(ctx, r.Customer, "Ada")
	_ = s.Remember(ctx, r.Customer, memory.Fact{Key: "shipping.postcode", Value: "1011 AB", Channel: memory.ChannelWeb})
	issue, _ := s.OpenIssue(ctx, r.Customer, "parcel did not arrive", memory.ChannelEmail)
	res, _ := s.RecordContact(ctx, r.Customer, memory.Contact{Channel: memory.ChannelPhone, Issue: issue.ID, Outcome: memory.OutcomeNegative})
	fmt.Println("escalated by the second contact:", res.Escalated)

	b, err := s.BriefFor(ctx, memory.Email("ada@example.com"), memory.BriefQuery{})
	if err != nil {
		log.Fatal(err)
	}
	last, _ := b.LastContact()
	postcode, _ := b.Fact("shipping.postcode")
	fmt.Println(b.Name, "|", b.OpenIssues[0].Subject, "|", last.Channel, "|", postcode, "| escalate:", b.Escalate)
	// Output:
	// escalated by the second contact: true
	// Ada | parcel did not arrive | phone | 1011 AB | escalate: true
}

func ExampleStore_Queue() {
	ctx := context.Background()
	// A clock that moves a second at each reading, so that the order is
	// the same on every machine.
	var ticks atomic.Int64
	start := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return start.Add(time.Duration(ticks.Add(1)) * time.Second) }
	s, err := memory.Open(ctx, memory.InMemoryOptions().WithClock(clock))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	for _, who := range []struct{ email, name, subject string }{
		{"ada@example.com", "Ada", "parcel did not arrive"},
		{"grace@example.com", "Grace", "invoice address"},
		{"alan@example.com", "Alan", "which size fits?"},
	} {
		r, _ := s.Recognize(ctx, memory.Email(who.email).AsVerified())
		_ = s.SetName(ctx, r.Customer, who.name)
		_, _ = s.OpenIssue(ctx, r.Customer, who.subject, memory.ChannelEmail)
	}
	ada, _ := s.Lookup(ctx, memory.Email("ada@example.com"))
	b, _ := s.Brief(ctx, ada, memory.BriefQuery{})
	_, _ = s.RecordContact(ctx, ada, memory.Contact{Channel: memory.ChannelPhone, Issue: b.OpenIssues[0].ID, Summary: "still nothing"})

	// The inbox, two at a time, newest contact first.
	q := memory.QueueQuery{Limit: 2}
	for {
		page, err := s.Queue(ctx, q)
		if err != nil {
			log.Fatal(err)
		}
		for _, e := range page.Entries {
			fmt.Println(e.Name, "|", e.OpenIssues[0].Subject, "| escalate:", e.Escalate)
		}
		if page.Next == "" {
			break
		}
		q.After = page.Next
	}
	escalated, _ := s.Queue(ctx, memory.QueueQuery{Escalated: true})
	fmt.Println("escalated:", len(escalated.Entries), escalated.Entries[0].Name)
	// Output:
	// Ada | parcel did not arrive | escalate: true
	// Alan | which size fits? | escalate: false
	// Grace | invoice address | escalate: false
	// escalated: 1 Ada
}

func ExampleStore_MayContact() {
	ctx := context.Background()
	s, _ := memory.Open(ctx, memory.InMemoryOptions())
	defer s.Close()

	r, _ := s.Recognize(ctx, memory.Email("ada@example.com"))
	d, _ := s.MayContact(ctx, r.Customer, memory.ChannelEmail, memory.PurposeMarketing, time.Time{})
	fmt.Println(d.Allowed, d.Explain)

	_ = s.RecordConsent(ctx, r.Customer, memory.Consent{Purpose: memory.PurposeMarketing, Channel: memory.ChannelEmail, Granted: true, Source: "newsletter form"})
	d, _ = s.MayContact(ctx, r.Customer, memory.ChannelEmail, memory.PurposeMarketing, time.Time{})
	fmt.Println(d.Allowed)
	// Output:
	// false no consent for marketing on email
	// true
}

func ExampleStore_Forget() {
	ctx := context.Background()
	s, _ := memory.Open(ctx, memory.InMemoryOptions())
	defer s.Close()

	r, _ := s.Recognize(ctx, memory.Email("ada@example.com"), memory.Device("browser-token-1"))
	_ = s.Remember(ctx, r.Customer, memory.Fact{Key: "shipping.street", Value: "Keizersgracht 1"})

	receipt, err := s.Forget(ctx, r.Customer)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("identifiers:", receipt.Erased["identifiers"], "facts:", receipt.Erased["facts"])

	_, err = s.Lookup(ctx, memory.Email("ada@example.com"))
	fmt.Println(errors.Is(err, memory.ErrNotFound))
	back, _ := s.Recognize(ctx, memory.Device("browser-token-1"))
	fmt.Println("a returning device is a stranger:", back.Created)
	// Output:
	// identifiers: 2 facts: 1
	// true
	// a returning device is a stranger: true
}

func ExampleStore_Backup() {
	ctx := context.Background()
	s, _ := memory.Open(ctx, memory.InMemoryOptions())
	defer s.Close()
	r, _ := s.Recognize(ctx, memory.Email("ada@example.com"))
	_ = s.Remember(ctx, r.Customer, memory.Fact{Key: "size", Value: "M"})

	// Online: reads and writes may go on meanwhile. Keep the keys apart,
	// for a short time: without them, a forgotten customer's data in an old
	// backup does not open.
	var data, keys bytes.Buffer
	if err := s.Backup(ctx, &data, &keys); err != nil {
		log.Fatal(err)
	}

	restored, err := memory.Restore(ctx, memory.InMemoryOptions(), &data, &keys)
	if err != nil {
		log.Fatal(err)
	}
	defer restored.Close()
	b, _ := restored.BriefFor(ctx, memory.Email("ada@example.com"), memory.BriefQuery{})
	size, _ := b.Fact("size")
	fmt.Println(size)
	// Output: M
}
