//go:build !wasip1

package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestRepeatContactEscalates(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer

	is, err := s.OpenIssue(ctx, id, "parcel did not arrive", memory.ChannelEmail)
	require.NoError(t, err)
	require.Equal(t, 1, is.Contacts, "opening counts as the first contact")
	require.False(t, is.Escalated)

	clk.Advance(2 * time.Hour)
	res, err := s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelPhone, Issue: is.ID, Summary: "called again"})
	require.NoError(t, err)
	require.True(t, res.Escalated, "the second contact escalates")
	require.Equal(t, 2, res.Issue.Contacts)
	require.Equal(t, memory.ChannelPhone, res.Issue.LastChannel)

	b := brief(t, s, id)
	require.True(t, b.Escalate)
	require.Len(t, b.OpenIssues, 1)
	last, ok := b.LastContact()
	require.True(t, ok)
	require.Equal(t, memory.ChannelPhone, last.Channel)
	require.Len(t, b.LastContacts, 2, "one per channel")

	require.NoError(t, s.ResolveIssue(ctx, id, is.ID, "resent"))
	require.NoError(t, s.ResolveIssue(ctx, id, is.ID, "again"), "resolving twice is harmless")
	b = brief(t, s, id)
	require.False(t, b.Escalate)
	require.Empty(t, b.OpenIssues)

	// The problem comes back: reopened and escalated at once.
	clk.Advance(24 * time.Hour)
	res, err = s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelChat, Issue: is.ID, Outcome: memory.OutcomeNegative})
	require.NoError(t, err)
	require.True(t, res.Escalated)
	require.Equal(t, memory.IssueOpen, res.Issue.Status)

	_, err = s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelChat, Issue: "nosuchissue"})
	require.ErrorIs(t, err, memory.ErrNotFound)
	require.ErrorIs(t, s.ResolveIssue(ctx, id, "nosuchissue", ""), memory.ErrNotFound)

	c, err := s.Customer(ctx, id)
	require.NoError(t, err)
	require.Len(t, c.Contacts, 3)
	require.Equal(t, memory.ChannelChat, c.Contacts[0].Channel, "newest first")
}

func TestOpenIssuesNewestFirst(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	for _, subj := range []string{"first", "second", "third"} {
		_, err := s.OpenIssue(ctx, id, subj, memory.ChannelEmail)
		require.NoError(t, err)
		clk.Advance(time.Minute)
	}
	b := brief(t, s, id)
	require.Equal(t, "third", b.OpenIssues[0].Subject)
	require.Equal(t, "first", b.OpenIssues[2].Subject)
}

func TestTwoNegativeOutcomesMarkAtRisk(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t, func(o memory.Options) memory.Options { return o.WithAtRiskWindow(30 * 24 * time.Hour) })
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	w, err := s.Watch(ctx, memory.EventAtRisk)
	require.NoError(t, err)
	defer w.Close()

	res, err := s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelPhone, Outcome: memory.OutcomeNegative})
	require.NoError(t, err)
	require.False(t, res.AtRisk)
	clk.Advance(40 * 24 * time.Hour)
	res, err = s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelEmail, Outcome: memory.OutcomeNegative})
	require.NoError(t, err)
	require.False(t, res.AtRisk, "outside the window")
	clk.Advance(24 * time.Hour)
	res, err = s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelChat, Outcome: memory.OutcomeNegative})
	require.NoError(t, err)
	require.True(t, res.AtRisk)
	require.True(t, brief(t, s, id).AtRisk)

	e, err := w.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, memory.EventAtRisk, e.Kind)
	require.Equal(t, id, e.Customer)

	clk.Advance(31 * 24 * time.Hour)
	require.False(t, brief(t, s, id).AtRisk, "the window moved on")
}

func TestContactValidation(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	for name, c := range map[string]memory.Contact{
		"no channel":  {},
		"bad outcome": {Channel: memory.ChannelEmail, Outcome: "meh"},
		"future":      {Channel: memory.ChannelEmail, At: clk.Now().Add(time.Hour)},
		"long":        {Channel: memory.ChannelEmail, Summary: string(make([]byte, 2000))},
	} {
		_, err := s.RecordContact(ctx, id, c)
		require.ErrorIs(t, err, memory.ErrInvalidInput, name)
	}
	_, err := s.OpenIssue(ctx, id, "", memory.ChannelEmail)
	require.ErrorIs(t, err, memory.ErrInvalidInput)
	require.Empty(t, brief(t, s, id).LastContacts)
}

func TestContactTimelineIsBounded(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, func(o memory.Options) memory.Options {
		l := memory.DefaultLimits()
		l.Contacts = 5
		return o.WithLimits(l)
	})
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	for i := range 12 {
		_, err := s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelWeb, Summary: string(rune('a' + i))})
		require.NoError(t, err)
	}
	c, err := s.Customer(ctx, id)
	require.NoError(t, err)
	require.Len(t, c.Contacts, 5)
	h, err := s.History(ctx, id)
	require.NoError(t, err)
	n := 0
	for _, e := range h {
		if e.Kind == memory.EventContactRecorded {
			n++
		}
	}
	require.Equal(t, 12, n, "older contacts stay in history")
}
