// Command embed shows the memory package in a few calls: it opens a store in
// a temporary directory, recognizes a customer by email, records a phone
// contact about an issue and a second one that escalates it, prints the
// brief, exports everything held, and forgets the customer.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/herken/herken/memory"
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "herken-embed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	store, err := memory.Open(ctx, memory.DefaultOptions(dir).WithDefaultRegion("NL"))
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintf(out, "Store opened in %s\n\n", dir)

	// The customer logs in to the shop: their email is verified.
	rec, err := store.Recognize(ctx, memory.Email("Ada.Lovelace@Example.com").AsVerified())
	if err != nil {
		return err
	}
	id := rec.Customer
	fmt.Fprintf(out, "Recognized ada.lovelace@example.com as customer %s (new: %v)\n", id, rec.Created)
	if err := store.SetName(ctx, id, "Ada Lovelace"); err != nil {
		return err
	}
	err = store.Remember(ctx, id,
		memory.Fact{Key: "shipping.postcode", Value: "1011 AB", Channel: memory.ChannelWeb},
		memory.Fact{Key: "order.number", Value: "A-1042", Channel: memory.ChannelWeb})
	if err != nil {
		return err
	}
	// She gives her phone number at checkout and confirms it with a code.
	if _, err := store.Link(ctx, id, memory.Phone("06 12345678").AsVerified()); err != nil {
		return err
	}

	// She calls: the parcel did not arrive.
	caller, err := store.Lookup(ctx, memory.Phone("+31 6 1234 5678"))
	if err != nil {
		return err
	}
	issue, err := store.OpenIssue(ctx, caller, "parcel A-1042 did not arrive", memory.ChannelPhone)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Phone call from +31612345678: customer %s, opened issue %q\n", caller, issue.Subject)

	// Two days later she calls again about the same parcel.
	res, err := store.RecordContact(ctx, caller, memory.Contact{
		Channel: memory.ChannelPhone, Issue: issue.ID, Outcome: memory.OutcomeNegative,
		Summary: "still no parcel",
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Second call about it: escalated=%v (contacts about the issue: %d)\n\n", res.Escalated, res.Issue.Contacts)

	// What the next agent sees.
	b, err := store.BriefFor(ctx, memory.Phone("0612345678"), memory.BriefQuery{})
	if err != nil {
		return err
	}
	printBrief(out, b)

	// Everything held, as the customer may ask for it.
	x, err := store.Export(ctx, id)
	if err != nil {
		return err
	}
	js, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nExport: %d bytes of JSON (%s), %d events of history; it begins:\n", len(js), x.Format, len(x.History))
	lines := strings.SplitN(string(js), "\n", 9)
	fmt.Fprintln(out, strings.Join(lines[:8], "\n")+"\n  ...")

	// She asks to be forgotten.
	receipt, err := store.Forget(ctx, id)
	if err != nil {
		return err
	}
	var erased []string
	for _, k := range []struct{ one, many string }{{"customer", "customers"}, {"identifier", "identifiers"},
		{"fact", "facts"}, {"issue", "issues"}, {"contact", "contacts"}, {"event", "events"}} {
		n, word := receipt.Erased[k.many], k.many
		if n == 1 {
			word = k.one
		}
		erased = append(erased, fmt.Sprintf("%d %s", n, word))
	}
	fmt.Fprintf(out, "\nForgotten at %s. Receipt %s erased %s.\n",
		receipt.At.Format("2006-01-02 15:04:05"), receipt.ID, strings.Join(erased, ", "))
	if _, err := store.Lookup(ctx, memory.Phone("+31612345678")); err != nil {
		fmt.Fprintf(out, "Looking her up by phone now: %v\n", err)
	}
	return nil
}

func printBrief(out io.Writer, b memory.Brief) {
	fmt.Fprintf(out, "Brief for the agent\n")
	fmt.Fprintf(out, "  name:         %s\n", b.Name)
	for _, is := range b.OpenIssues {
		fmt.Fprintf(out, "  open issue:   %s (opened on %s, %d contacts, escalated: %v)\n", is.Subject, is.Channel, is.Contacts, is.Escalated)
	}
	if last, ok := b.LastContact(); ok {
		fmt.Fprintf(out, "  last contact: %s, %s, outcome %s\n", last.Channel, last.Summary, last.Outcome)
	}
	for _, f := range b.Facts {
		fmt.Fprintf(out, "  do not ask:   %s = %s (given on %s)\n", f.Key, f.Value, f.Channel)
	}
	fmt.Fprintf(out, "  flags:        escalate=%v at-risk=%v do-not-contact=%v\n", b.Escalate, b.AtRisk, b.DoNotContact)
}
