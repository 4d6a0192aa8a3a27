//go:build !wasip1

package memory_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// TestUnmergeAfterAJoinGivesNobodyTheOthersWords: an agent merges two
// people who "looked alike"; both had an open "Parcel late" issue, which
// the merge joins (MatchSubject) into the survivor's, his, though hers was
// opened first. He then writes again about his parcel; the rule attaches
// his contact to the kept issue. The agent sees the mistake and unmerges:
// her issue comes back as it was at the merge, and his keeps his repeat
// contact, escalated: neither record holds the other's words.
func TestUnmergeAfterAJoinGivesNobodyTheOthersWords(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	ada := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	_, err := s.OpenIssue(ctx, ada, "Parcel late", memory.ChannelEmail)
	require.NoError(t, err)
	clk.Advance(time.Hour)
	bob := recognize(t, s, memory.Phone("+31612345678").AsVerified()).Customer
	his, err := s.OpenIssue(ctx, bob, "Parcel late", memory.ChannelPhone)
	require.NoError(t, err)

	clk.Advance(time.Hour)
	_, err = s.Merge(ctx, bob, ada, "looked alike")
	require.NoError(t, err)
	clk.Advance(time.Hour)
	_, err = s.RecordContact(ctx, bob, memory.Contact{Channel: memory.ChannelPhone, Subject: "Parcel late",
		Summary: "Bob: my parcel to Damrak 5 is still missing"})
	require.NoError(t, err)

	require.NoError(t, s.Unmerge(ctx, ada))

	x, err := s.Export(ctx, ada)
	require.NoError(t, err)
	raw, err := json.Marshal(x)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "Damrak 5", "Bob's words are not Ada's")
	b := brief(t, s, bob)
	require.Len(t, b.OpenIssues, 1)
	require.Equal(t, his.ID, b.OpenIssues[0].ID)
	require.Equal(t, 2, b.OpenIssues[0].Contacts, "Bob's own repeat contact stays with Bob")
	require.True(t, b.OpenIssues[0].Escalated, "and Bob came back: escalated")
	a := brief(t, s, ada)
	require.Len(t, a.OpenIssues, 1)
	require.Equal(t, 1, a.OpenIssues[0].Contacts, "Ada's issue as it was at the merge")
	require.False(t, a.OpenIssues[0].Escalated, "Ada never came back")
}
