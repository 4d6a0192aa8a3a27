//go:build !wasip1

package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestVerifiedIdentifiersMergeAndUnmergeRestores(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)

	// Two profiles of one person: the shop account, and the help desk phone.
	a := recognize(t, s, memory.Account("acct-1").AsVerified(), memory.Email("ada@example.com").AsVerified())
	require.NoError(t, s.SetName(ctx, a.Customer, "Ada"))
	require.NoError(t, s.Remember(ctx, a.Customer, memory.Fact{Key: "shipping.postcode", Value: "1011 AB", Channel: memory.ChannelWeb}))
	require.NoError(t, s.SaveDraft(ctx, a.Customer, "cart", []byte("a-cart")))
	clk.Advance(time.Hour)

	b := recognize(t, s, memory.Phone("+31612345678").AsVerified())
	require.NoError(t, s.SetName(ctx, b.Customer, "Ada Lovelace"))
	require.NoError(t, s.Remember(ctx, b.Customer, memory.Fact{Key: "shipping.postcode", Value: "1012 CD", Channel: memory.ChannelPhone}))
	issue, err := s.OpenIssue(ctx, b.Customer, "parcel late", memory.ChannelPhone)
	require.NoError(t, err)
	require.NoError(t, s.SaveDraft(ctx, b.Customer, "form", []byte("b-form")))
	clk.Advance(time.Hour)

	// The customer proves both: they are one person.
	r := recognize(t, s, memory.Email("ada@example.com").AsVerified(), memory.Phone("+31612345678").AsVerified())
	require.Equal(t, a.Customer, r.Customer, "the older customer survives")
	require.Equal(t, []memory.CustomerID{b.Customer}, r.Merged)

	br := brief(t, s, a.Customer)
	require.Equal(t, "Ada Lovelace", br.Name, "newest wins")
	v, _ := br.Fact("shipping.postcode")
	require.Equal(t, "1012 CD", v, "newest wins")
	require.Len(t, br.OpenIssues, 1)
	require.Equal(t, issue.ID, br.OpenIssues[0].ID)

	// The absorbed ID leads to the survivor.
	viaB := brief(t, s, b.Customer)
	require.Equal(t, a.Customer, viaB.Customer)
	id, err := s.Lookup(ctx, memory.Phone("+31612345678"))
	require.NoError(t, err)
	require.Equal(t, a.Customer, id)
	d, err := s.LoadDraft(ctx, a.Customer, "form")
	require.NoError(t, err)
	require.Equal(t, "b-form", string(d.Data))

	// Changes after the merge.
	clk.Advance(time.Hour)
	require.NoError(t, s.Remember(ctx, a.Customer, memory.Fact{Key: "size", Value: "M"}))
	require.NoError(t, s.ResolveIssue(ctx, a.Customer, issue.ID, "delivered"))

	// Undo.
	require.NoError(t, s.Unmerge(ctx, b.Customer))
	ba := brief(t, s, a.Customer)
	require.Equal(t, "Ada", ba.Name)
	v, _ = ba.Fact("shipping.postcode")
	require.Equal(t, "1011 AB", v)
	v, ok := ba.Fact("size")
	require.True(t, ok, "changes after the merge stay on the survivor")
	require.Equal(t, "M", v)
	require.Empty(t, ba.OpenIssues)
	_, err = s.LoadDraft(ctx, a.Customer, "form")
	require.ErrorIs(t, err, memory.ErrNotFound)

	bb := brief(t, s, b.Customer)
	require.Equal(t, b.Customer, bb.Customer)
	require.Equal(t, "Ada Lovelace", bb.Name)
	v, _ = bb.Fact("shipping.postcode")
	require.Equal(t, "1012 CD", v)
	// Its issue was resolved on the survivor while merged: it goes back
	// resolved, the resolution with it, rather than open again and the
	// resolution lost.
	require.Empty(t, bb.OpenIssues, "the resolution made while merged goes back with the issue")
	vb, err := s.Customer(ctx, b.Customer)
	require.NoError(t, err)
	require.Len(t, vb.Issues, 1)
	require.Equal(t, issue.ID, vb.Issues[0].ID)
	require.Equal(t, memory.IssueResolved, vb.Issues[0].Status)
	require.Equal(t, "delivered", vb.Issues[0].Resolution)
	va, err := s.Customer(ctx, a.Customer)
	require.NoError(t, err)
	require.Empty(t, va.Issues, "the issue is the absorbed customer's alone")
	d, err = s.LoadDraft(ctx, b.Customer, "form")
	require.NoError(t, err)
	require.Equal(t, "b-form", string(d.Data))

	id, err = s.Lookup(ctx, memory.Phone("+31612345678"))
	require.NoError(t, err)
	require.Equal(t, b.Customer, id)
	id, err = s.Lookup(ctx, memory.Email("ada@example.com"))
	require.NoError(t, err)
	require.Equal(t, a.Customer, id)

	require.ErrorIs(t, s.Unmerge(ctx, b.Customer), memory.ErrNotMerged)

	// The history tells it all.
	h, err := s.History(ctx, a.Customer)
	require.NoError(t, err)
	var kinds []memory.EventKind
	for _, e := range h {
		kinds = append(kinds, e.Kind)
	}
	require.Contains(t, kinds, memory.EventMerged)
	require.Contains(t, kinds, memory.EventUnmerged)
}

func TestExplicitMergeChainAndUnmergeFromTheMiddle(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	x := recognize(t, s, memory.Email("x@example.com")).Customer
	clk.Advance(time.Minute)
	y := recognize(t, s, memory.Email("y@example.com")).Customer
	clk.Advance(time.Minute)
	z := recognize(t, s, memory.Email("z@example.com")).Customer
	require.NoError(t, s.Remember(ctx, z, memory.Fact{Key: "from.z", Value: "1"}))

	_, err := s.Merge(ctx, y, z, "agent confirmed")
	require.NoError(t, err)
	_, err = s.Merge(ctx, x, y, "agent confirmed")
	require.NoError(t, err)
	_, err = s.Merge(ctx, x, z, "")
	require.ErrorIs(t, err, memory.ErrInvalidInput, "already one")

	for _, e := range []string{"x@example.com", "y@example.com", "z@example.com"} {
		id, err := s.Lookup(ctx, memory.Email(e))
		require.NoError(t, err)
		require.Equal(t, x, id)
	}
	_, ok := brief(t, s, x).Fact("from.z")
	require.True(t, ok)

	// Undo the first merge: z leaves y, and so leaves x too.
	require.NoError(t, s.Unmerge(ctx, z))
	_, ok = brief(t, s, x).Fact("from.z")
	require.False(t, ok)
	id, err := s.Lookup(ctx, memory.Email("z@example.com"))
	require.NoError(t, err)
	require.Equal(t, z, id)
	id, err = s.Lookup(ctx, memory.Email("y@example.com"))
	require.NoError(t, err)
	require.Equal(t, x, id)
}

func TestMergeLimit(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, func(o memory.Options) memory.Options {
		l := memory.DefaultLimits()
		l.Merges = 1
		return o.WithLimits(l)
	})
	a := recognize(t, s, memory.Email("a@example.com")).Customer
	b := recognize(t, s, memory.Email("b@example.com")).Customer
	c := recognize(t, s, memory.Email("c@example.com")).Customer
	_, err := s.Merge(ctx, a, b, "")
	require.NoError(t, err)
	_, err = s.Merge(ctx, a, c, "")
	require.ErrorIs(t, err, memory.ErrLimit)
}

func TestUnmergeAfterChangesToAbsorbedIdentifiers(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	a := recognize(t, s, memory.Email("a@example.com").AsVerified()).Customer
	b := recognize(t, s, memory.Email("b@example.com")).Customer
	require.NoError(t, s.Remember(ctx, b, memory.Fact{Key: "short", Value: "lived", Retention: time.Hour}))
	clk.Advance(2 * time.Hour) // b's fact expires before the merge
	_, err := s.Merge(ctx, a, b, "")
	require.NoError(t, err)
	// b's claimed email is verified on the survivor, then its phone moves away.
	r := recognize(t, s, memory.Email("a@example.com").AsVerified(), memory.Email("b@example.com").AsVerified())
	require.Equal(t, a, r.Customer)
	require.NoError(t, s.Unmerge(ctx, b))
	id, err := s.Lookup(ctx, memory.Email("b@example.com"))
	require.NoError(t, err)
	require.Equal(t, b, id)
	require.NoError(t, s.Check(ctx))
}
