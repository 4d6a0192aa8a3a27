//go:build !wasip1

package memory_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// mistakenMerge is two people an agent merged by mistake ("looked alike"):
// Bob survives; while merged, Ada wrote about her own issue ("ship to
// Herengracht 1"); then the agent parted them with Unmerge, which gives her
// contact back to her (Event.Moved).
func mistakenMerge(t *testing.T) (s *memory.Store, bob, ada memory.CustomerID, hers memory.IssueID) {
	t.Helper()
	ctx := context.Background()
	s, clk := openClocked(t)
	bob = recognize(t, s, memory.Phone("+31612345678").AsVerified()).Customer
	clk.Advance(time.Hour)
	ada = recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	is, err := s.OpenIssue(ctx, ada, "Order Z-991", memory.ChannelEmail)
	require.NoError(t, err)
	clk.Advance(time.Hour)
	_, err = s.Merge(ctx, bob, ada, "looked alike")
	require.NoError(t, err)
	clk.Advance(time.Hour)
	_, err = s.RecordContact(ctx, ada, memory.Contact{Channel: memory.ChannelEmail, Issue: is.ID,
		Subject: "Re: Order Z-991", Summary: "Ada: please ship discreetly to Herengracht 1"})
	require.NoError(t, err)
	require.NoError(t, s.Unmerge(ctx, ada), "the agent saw they are two people")
	return s, bob, ada, is.ID
}

// TestUnmergeTakesTheOthersContactsOutOfTheExport: after a mistaken merge
// is undone, the survivor's view and its Export (which POST /export hands
// to the survivor's browser) hold none of what the other wrote while
// merged: one customer never reads another's memory.
func TestUnmergeTakesTheOthersContactsOutOfTheExport(t *testing.T) {
	ctx := context.Background()
	s, bob, _, hers := mistakenMerge(t)
	c, err := s.Customer(ctx, bob)
	require.NoError(t, err)
	for _, ct := range c.Contacts {
		require.NotEqual(t, hers, ct.Issue, "the survivor's view has none of hers")
	}
	x, err := s.Export(ctx, bob)
	require.NoError(t, err)
	raw, err := json.Marshal(x)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "Herengracht 1", "what Ada wrote is hers after the unmerge")
	for _, e := range x.History {
		if e.Contact != nil {
			require.NotEqual(t, hers, e.Contact.Issue, "Bob's export history holds Ada's contact (seq %d)", e.Seq)
		}
	}
}

// TestForgetAfterUnmergeLeavesNoWordOnTheSurvivor: the contacts an unmerge
// gave back to the absorbed customer were recorded in the survivor's
// history, under the survivor's key; the unmerge erases their text there.
// When she then asks to be forgotten, nothing she wrote is read back from
// the survivor.
func TestForgetAfterUnmergeLeavesNoWordOnTheSurvivor(t *testing.T) {
	ctx := context.Background()
	s, bob, ada, _ := mistakenMerge(t)
	_, err := s.Forget(ctx, ada)
	require.NoError(t, err)
	h, err := s.History(ctx, bob)
	require.NoError(t, err)
	raw, err := json.Marshal(h)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "Herengracht 1", "Ada was forgotten; her words are read back from Bob's history")
}
