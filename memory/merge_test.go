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

// issueBy returns the customer's issue id as Customer shows it.
func issueBy(t *testing.T, s *memory.Store, c memory.CustomerID, id memory.IssueID) memory.Issue {
	t.Helper()
	v, err := s.Customer(context.Background(), c)
	require.NoError(t, err)
	for _, is := range v.Issues {
		if is.ID == id {
			return is
		}
	}
	t.Fatalf("customer %s has no issue %s: %+v", c, id, v.Issues)
	return memory.Issue{}
}

// TestMergeJoinsIssuesAboutTheSameThing is the help desk's report:
// "Refund for order Z-77" by email and then by phone, on two records of one
// person, became two open issues after the merge, and only one escalated.
// A merge makes them one issue with both contacts, escalated; an issue
// about something else stays apart; the next contact about it finds the
// one issue; and unmerge puts every contact back where it was.
func TestMergeJoinsIssuesAboutTheSameThing(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	email := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	byMail, err := s.OpenIssue(ctx, email, "Refund for order Z-77", memory.ChannelEmail)
	require.NoError(t, err)
	clk.Advance(time.Hour)
	phone := recognize(t, s, memory.Phone("+31612345678").AsVerified()).Customer
	byPhone, err := s.OpenIssue(ctx, phone, "Refund for order Z-77", memory.ChannelPhone)
	require.NoError(t, err)
	address, err := s.OpenIssue(ctx, phone, "Delivery address change", memory.ChannelPhone)
	require.NoError(t, err)
	require.NotEqual(t, byMail.ID, byPhone.ID, "two records, two issues")

	clk.Advance(time.Hour)
	r := recognize(t, s, memory.Email("ada@example.com").AsVerified(), memory.Phone("+31612345678").AsVerified())
	require.Equal(t, email, r.Customer)
	require.Equal(t, []memory.CustomerID{phone}, r.Merged)

	b := brief(t, s, email)
	require.Len(t, b.OpenIssues, 2, "the refund, and the address change apart")
	refund := b.OpenIssues[1]
	require.Equal(t, byMail.ID, refund.ID, "the issue opened first is kept")
	require.Equal(t, 2, refund.Contacts, "with both contacts")
	require.True(t, refund.Escalated, "the customer came about it twice")
	require.Equal(t, memory.ChannelPhone, refund.LastChannel)
	require.Equal(t, address.ID, b.OpenIssues[0].ID)
	require.False(t, b.OpenIssues[0].Escalated)

	h, err := s.History(ctx, email)
	require.NoError(t, err)
	var joined *memory.Event
	for i := range h {
		if h[i].Kind == memory.EventIssueJoined {
			joined = &h[i]
		}
	}
	require.NotNil(t, joined, "the join is an event")
	require.Equal(t, byMail.ID, joined.Issue.ID)
	require.Equal(t, string(byPhone.ID), joined.Key)
	require.Equal(t, string(memory.MatchReference), joined.Reason)

	// The third contact, by chat, finds the one issue.
	clk.Advance(time.Hour)
	res, err := s.RecordContact(ctx, email, memory.Contact{Channel: memory.ChannelChat, Subject: "Re: Refund for order Z-77"})
	require.NoError(t, err)
	require.Equal(t, byMail.ID, res.Issue.ID)
	require.Equal(t, 3, res.Issue.Contacts)

	// Undo: each record gets back its own issue and its contacts; the
	// chat contact was about the issue opened by email.
	require.NoError(t, s.Unmerge(ctx, phone))
	mail := issueBy(t, s, email, byMail.ID)
	require.Equal(t, 2, mail.Contacts, "its opening and the chat")
	require.True(t, mail.Escalated)
	back := issueBy(t, s, phone, byPhone.ID)
	require.Equal(t, 1, back.Contacts)
	require.False(t, back.Escalated)
	require.Len(t, brief(t, s, phone).OpenIssues, 2)
	require.Len(t, brief(t, s, email).OpenIssues, 1)
}

// TestMergeLeavesDifferentIssuesApart: open issues that only look alike
// stay two after a merge.
func TestMergeLeavesDifferentIssuesApart(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"Refund for order Z-77", "Refund for order Z-78"},
		{"Refund for order Z-77", "Refund for order Z-770"},
		{"Delivery late", "Delivery address change"},
	} {
		t.Run(c.a+" / "+c.b, func(t *testing.T) {
			ctx := context.Background()
			s, clk := openClocked(t)
			a := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
			_, err := s.OpenIssue(ctx, a, c.a, memory.ChannelEmail)
			require.NoError(t, err)
			clk.Advance(time.Hour)
			b := recognize(t, s, memory.Phone("+31612345678").AsVerified()).Customer
			_, err = s.OpenIssue(ctx, b, c.b, memory.ChannelPhone)
			require.NoError(t, err)
			_, err = s.Merge(ctx, a, b, "agent confirmed")
			require.NoError(t, err)
			br := brief(t, s, a)
			require.Len(t, br.OpenIssues, 2)
			require.False(t, br.Escalate)
		})
	}
	t.Run("months apart", func(t *testing.T) {
		ctx := context.Background()
		s, clk := openClocked(t)
		a := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
		_, err := s.OpenIssue(ctx, a, "Delivery late", memory.ChannelEmail)
		require.NoError(t, err)
		clk.Advance(memory.IssueMatchWindow + time.Hour)
		b := recognize(t, s, memory.Phone("+31612345678").AsVerified()).Customer
		_, err = s.OpenIssue(ctx, b, "Delivery late", memory.ChannelPhone)
		require.NoError(t, err)
		_, err = s.Merge(ctx, a, b, "agent confirmed")
		require.NoError(t, err)
		require.Len(t, brief(t, s, a).OpenIssues, 2)
	})
}

// TestUnmergeGivesBackTheContactsAboutTheAbsorbedIssue is the help desk's
// report: after "Undo merge", a customer who had written twice from the
// same verified email had one contact and no escalation on the issue,
// because the second contact, made while merged, stayed on the other
// record. Contacts made while merged about the absorbed customer's issue
// go back with it; those about the survivor's own stay.
func TestUnmergeGivesBackTheContactsAboutTheAbsorbedIssue(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	older := recognize(t, s, memory.Phone("+31612345678").AsVerified()).Customer
	own, err := s.OpenIssue(ctx, older, "Invoice address wrong", memory.ChannelPhone)
	require.NoError(t, err)
	clk.Advance(time.Hour)
	mail := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	parcel, err := s.OpenIssue(ctx, mail, "Parcel did not arrive", memory.ChannelEmail)
	require.NoError(t, err)

	clk.Advance(time.Hour)
	r := recognize(t, s, memory.Email("ada@example.com").AsVerified(), memory.Phone("+31612345678").AsVerified())
	require.Equal(t, older, r.Customer, "the older record survives")

	// She writes again from the same verified email, and calls about the
	// survivor's own issue.
	clk.Advance(time.Hour)
	again := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	require.Equal(t, older, again)
	res, err := s.RecordContact(ctx, again, memory.Contact{Channel: memory.ChannelEmail, Subject: "Re: Parcel did not arrive", Outcome: memory.OutcomeNegative})
	require.NoError(t, err)
	require.Equal(t, parcel.ID, res.Issue.ID)
	require.True(t, res.Escalated)
	_, err = s.RecordContact(ctx, again, memory.Contact{Channel: memory.ChannelPhone, Issue: own.ID, Summary: "called"})
	require.NoError(t, err)

	require.NoError(t, s.Unmerge(ctx, mail))

	b := brief(t, s, mail)
	require.Len(t, b.OpenIssues, 1)
	require.Equal(t, parcel.ID, b.OpenIssues[0].ID)
	require.Equal(t, 2, b.OpenIssues[0].Contacts, "both of her contacts about it")
	require.True(t, b.OpenIssues[0].Escalated, "and escalated: she came back")
	v, err := s.Customer(ctx, mail)
	require.NoError(t, err)
	require.Len(t, v.Contacts, 2)
	require.Equal(t, memory.OutcomeNegative, v.Contacts[0].Outcome, "the contact as it was made")

	bo := brief(t, s, older)
	require.Len(t, bo.OpenIssues, 1)
	require.Equal(t, own.ID, bo.OpenIssues[0].ID)
	require.Equal(t, 2, bo.OpenIssues[0].Contacts, "the survivor keeps the contact about its own issue")
	vo, err := s.Customer(ctx, older)
	require.NoError(t, err)
	for _, c := range vo.Contacts {
		require.NotEqual(t, parcel.ID, c.Issue, "the contact about her issue is hers alone now")
	}
	require.Len(t, vo.Contacts, 2)

	// Merged again and undone again: nothing counted twice.
	clk.Advance(time.Hour)
	_, err = s.Merge(ctx, older, mail, "agent confirmed")
	require.NoError(t, err)
	require.Equal(t, 2, issueBy(t, s, older, parcel.ID).Contacts)
	require.NoError(t, s.Unmerge(ctx, mail))
	require.Equal(t, 2, issueBy(t, s, mail, parcel.ID).Contacts)
	require.NoError(t, s.Check(ctx))
}

// TestUnmergeGivesBackManyContacts: what the survivor's unmerge event says
// went back stays small however many contacts there were (a list of them
// grew with each one, past the largest event at about 2,700), and the
// absorbed customer's issue counts every one.
func TestUnmergeGivesBackManyContacts(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	older := recognize(t, s, memory.Phone("+31612345678").AsVerified()).Customer
	clk.Advance(time.Hour)
	mail := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	is, err := s.OpenIssue(ctx, mail, "Parcel did not arrive", memory.ChannelEmail)
	require.NoError(t, err)
	_, err = s.Merge(ctx, older, mail, "agent confirmed")
	require.NoError(t, err)
	const contacts = 3000
	for range contacts / 100 {
		clk.Advance(time.Minute)
		require.NoError(t, s.Update(ctx, older, func(tx *memory.Tx) error {
			for range 100 {
				if _, err := tx.RecordContact(memory.Contact{Channel: memory.ChannelEmail, Issue: is.ID, Summary: "still nothing"}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	require.NoError(t, s.Unmerge(ctx, mail))
	require.Equal(t, contacts+1, issueBy(t, s, mail, is.ID).Contacts)
	h, err := s.History(ctx, older)
	require.NoError(t, err)
	last := h[len(h)-1]
	require.Equal(t, memory.EventUnmerged, last.Kind)
	require.Equal(t, []memory.IssueID{is.ID}, last.Moved.Issues)
	v, err := s.Customer(ctx, older)
	require.NoError(t, err)
	require.Empty(t, v.Contacts, "none of them stays with the survivor")
}
