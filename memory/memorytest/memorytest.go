//go:build !wasip1

// Package memorytest fills a customer to the documented limits, for tests
// of whatever holds a customer's memory (a store, a handler, a browser):
// every count at its limit and every text as long as its bound, written at
// its widest in JSON.
package memorytest

import (
	"fmt"
	"strings"

	"github.com/herken/herken/memory"
)

// Wide returns text of n bytes (n at least 4), different for each i, whose
// JSON is as long as text of n bytes can be: all but its first four bytes
// are "<", which JSON writes as \u003c.
func Wide(n, i int) string { return fmt.Sprintf("%04d", i) + strings.Repeat("<", n-4) }

// Token returns a key of n bytes (n at least 5), different for each i.
func Token(n, i int) string { return "k" + fmt.Sprintf("%04d", i) + strings.Repeat("k", n-5) }

// Facts returns lim.Facts facts at their largest, kept for a long time.
func Facts(lim memory.Limits) []memory.Fact {
	fs := make([]memory.Fact, lim.Facts)
	for i := range fs {
		fs[i] = memory.Fact{Key: Token(64, i), Value: Wide(4096, i), Channel: memory.Channel(Token(32, i)),
			Purpose: memory.PurposePersonalization, Retention: 1 << 40}
	}
	return fs
}

// Fill takes the customer of tx to the limits of what a snapshot shows,
// but its identifiers, facts and drafts: the name, preferences, consent on
// MaxChannels channels and on none for every purpose, open issues, and
// last contacts on MaxChannels channels.
func Fill(tx *memory.Tx, lim memory.Limits) error {
	if err := tx.SetName(Wide(256, 0)); err != nil {
		return err
	}
	for i := range lim.Preferences {
		if err := tx.SetPreference(Token(64, i), Wide(256, i)); err != nil {
			return err
		}
	}
	for _, p := range []memory.Purpose{memory.PurposeService, memory.PurposePersonalization, memory.PurposeMarketing, memory.PurposeProfiling} {
		for i := range memory.MaxChannels + 1 {
			c := memory.Consent{Purpose: p, Channel: memory.Channel(Token(32, i)), Granted: true, Source: Wide(256, i)}
			if i == memory.MaxChannels {
				c.Channel = ""
			}
			if err := tx.RecordConsent(c); err != nil {
				return err
			}
		}
	}
	var issue memory.IssueID
	for i := range lim.OpenIssues {
		is, err := tx.OpenIssue(Wide(256, i), memory.Channel(Token(32, i%memory.MaxChannels)))
		if err != nil {
			return err
		}
		issue = is.ID
	}
	for i := range memory.MaxChannels {
		if _, err := tx.RecordContact(memory.Contact{Channel: memory.Channel(Token(32, i)), Issue: issue, Summary: Wide(1024, i)}); err != nil {
			return err
		}
	}
	return nil
}

// Accounts returns n verified accounts at their longest.
func Accounts(n int) []memory.Identifier {
	ids := make([]memory.Identifier, n)
	for i := range ids {
		ids[i] = memory.Account(Wide(256, i)).AsVerified()
	}
	return ids
}
