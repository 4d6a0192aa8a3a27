//go:build !wasip1

package memory

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestUnmergeErasesTheTextItGivesBack: the contacts an unmerge gives back
// to the absorbed customer stay in the survivor's stored history only as
// erased traces: no summary, no subject, Erased set. (Reads leave them out
// too; this is what the store keeps, which Forget of the absorbed customer
// cannot reach.)
func TestUnmergeErasesTheTextItGivesBack(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, InMemoryOptions())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	r, err := s.Recognize(ctx, Phone("+31612345678").AsVerified())
	require.NoError(t, err)
	bob := r.Customer
	r, err = s.Recognize(ctx, Email("ada@example.com").AsVerified())
	require.NoError(t, err)
	ada := r.Customer
	hers, err := s.OpenIssue(ctx, ada, "Order Z-991", ChannelEmail)
	require.NoError(t, err)
	_, err = s.Merge(ctx, bob, ada, "looked alike")
	require.NoError(t, err)
	_, err = s.RecordContact(ctx, ada, Contact{Channel: ChannelEmail, Issue: hers.ID, At: time.Now().Add(time.Second),
		Subject: "Re: Order Z-991", Summary: "Ada: ship to Herengracht 1"})
	require.NoError(t, err)
	require.NoError(t, s.Unmerge(ctx, ada))

	var stored []Event
	require.NoError(t, s.view(ctx, func(r *reader) error {
		var err error
		stored, err = s.readHistory(r.t, r.start, bob)
		return err
	}))
	traces := 0
	for _, e := range stored {
		if e.Contact == nil || e.Contact.Issue != hers.ID {
			continue
		}
		traces++
		require.Empty(t, e.Contact.Summary, "the survivor keeps no word of hers")
		require.Empty(t, e.Contact.Subject)
		require.False(t, e.Erased.IsZero(), "the trace says it was erased")
	}
	require.Equal(t, 1, traces, "her contact, recorded on the survivor while merged")
	h, err := s.History(ctx, ada)
	require.NoError(t, err)
	found := false
	for _, e := range h {
		found = found || e.Contact != nil && e.Contact.Summary == "Ada: ship to Herengracht 1"
	}
	require.True(t, found, "her words are in her own history")
	require.NoError(t, s.Check(ctx))
}
