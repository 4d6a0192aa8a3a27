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

// TestUnmergeTakesTheOthersContactsOutOfTheExport: two people an agent
// merged by mistake ("looked alike"), then parted with Unmerge. While they
// were merged, the absorbed one wrote about her own issue; the unmerge gives
// those contacts back to her (Event.Moved). The survivor's view and its
// Export (which POST /export hands to the survivor's browser) hold none of
// them: one customer never reads another's memory.
func TestUnmergeTakesTheOthersContactsOutOfTheExport(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	bob := recognize(t, s, memory.Phone("+31612345678").AsVerified()).Customer
	clk.Advance(time.Hour)
	ada := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	hers, err := s.OpenIssue(ctx, ada, "Pregnancy test order Z-991", memory.ChannelEmail)
	require.NoError(t, err)
	clk.Advance(time.Hour)
	_, err = s.Merge(ctx, bob, ada, "looked alike")
	require.NoError(t, err)

	clk.Advance(time.Hour)
	_, err = s.RecordContact(ctx, ada, memory.Contact{Channel: memory.ChannelEmail, Issue: hers.ID,
		Subject: "Re: Pregnancy test order Z-991", Summary: "Ada: please ship discreetly to Herengracht 1"})
	require.NoError(t, err)

	require.NoError(t, s.Unmerge(ctx, ada), "the agent saw they are two people")

	c, err := s.Customer(ctx, bob)
	require.NoError(t, err)
	for _, ct := range c.Contacts {
		require.NotEqual(t, hers.ID, ct.Issue, "the survivor's view has none of hers (holds)")
	}

	x, err := s.Export(ctx, bob)
	require.NoError(t, err)
	raw, err := json.Marshal(x)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "Herengracht 1", "what Ada wrote is hers after the unmerge")
	for _, e := range x.History {
		if e.Contact != nil {
			require.NotEqual(t, hers.ID, e.Contact.Issue, "Bob's export history holds Ada's contact (seq %d)", e.Seq)
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
	s, clk := openClocked(t)
	bob := recognize(t, s, memory.Phone("+31612345678").AsVerified()).Customer
	clk.Advance(time.Hour)
	ada := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	hers, err := s.OpenIssue(ctx, ada, "Order Z-991", memory.ChannelEmail)
	require.NoError(t, err)
	clk.Advance(time.Hour)
	_, err = s.Merge(ctx, bob, ada, "looked alike")
	require.NoError(t, err)
	clk.Advance(time.Hour)
	_, err = s.RecordContact(ctx, ada, memory.Contact{Channel: memory.ChannelEmail, Issue: hers.ID,
		Subject: "Re: Order Z-991", Summary: "Ada: ship to Herengracht 1"})
	require.NoError(t, err)
	require.NoError(t, s.Unmerge(ctx, ada))

	_, err = s.Forget(ctx, ada)
	require.NoError(t, err)

	h, err := s.History(ctx, bob)
	require.NoError(t, err)
	raw, err := json.Marshal(h)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "Herengracht 1", "Ada was forgotten; her words are read back from Bob's history")
}
