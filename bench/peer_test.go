package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// TestPeerBriefIsHerkens checks that a peer answers the brief herken
// answers for the same customer: what the peers store and how they read it
// is a fair comparison only if the work ends in the same brief. The clock
// stands at epoch while herken takes the customers in, as the peers'
// documents are made; the briefs are asked for then and later, when facts
// have expired and negatives left the at-risk window.
func TestPeerBriefIsHerkens(t *testing.T) {
	ctx := context.Background()
	clock := epoch
	s, err := memory.Open(ctx, memory.InMemoryOptions().WithDefaultRegion("NL").WithClock(func() time.Time { return clock }))
	require.NoError(t, err)
	defer s.Close()
	const n = 300
	for i := range n {
		require.NoError(t, herkenPut(ctx, s, generate(1, i)))
	}
	norm := func(b memory.Brief) memory.Brief {
		b.Customer = ""
		// Empty or nil, the same brief.
		if len(b.OpenIssues) == 0 {
			b.OpenIssues = nil
		}
		if len(b.Facts) == 0 {
			b.Facts = nil
		}
		if len(b.Preferences) == 0 {
			b.Preferences = nil
		}
		b.OpenIssues = slices.Clone(b.OpenIssues)
		for k := range b.OpenIssues {
			b.OpenIssues[k].ID = ""
		}
		b.LastContacts = slices.Clone(b.LastContacts)
		for k := range b.LastContacts {
			b.LastContacts[k].Issue = ""
		}
		// Contacts at the same instant come in any order.
		slices.SortStableFunc(b.LastContacts, func(x, y memory.Contact) int {
			if c := y.At.Compare(x.At); c != 0 {
				return c
			}
			return strings.Compare(string(x.Channel), string(y.Channel))
		})
		return b
	}
	var escalated, atRisk, expired int
	for _, now := range []time.Time{epoch, epoch.Add(24 * time.Hour), epoch.Add(200 * 24 * time.Hour)} {
		for i := range n {
			want, err := s.BriefFor(ctx, memory.Email(emailOf(i)), memory.BriefQuery{Now: now})
			require.NoError(t, err)
			doc, last, _ := peerDocOf(generate(1, i))
			var lasts [][]byte
			for _, b := range last {
				lasts = append(lasts, b)
			}
			got, err := peerBrief(doc, lasts, now)
			require.NoError(t, err)
			require.Equal(t, norm(want), norm(got), "customer %d at %s", i, now)
			if want.Escalate {
				escalated++
			}
			if want.AtRisk {
				atRisk++
			}
			if len(want.Facts) < len(generate(1, i).facts) {
				expired++
			}
		}
	}
	// The comparison covered the brief's time-dependent parts.
	require.Positive(t, escalated)
	require.Positive(t, atRisk)
	require.Positive(t, expired)
}
