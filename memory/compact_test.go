//go:build !wasip1

package memory_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// busy gives a customer a long life: contacts, facts changed again and
// again, preferences, issues opened and resolved, signals.
type busy struct {
	s    *memory.Store
	c    *clock
	id   memory.CustomerID
	open []memory.IssueID
	i    int
}

func (b *busy) steps(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	outcomes := []memory.Outcome{memory.OutcomePositive, memory.OutcomeNeutral, memory.OutcomeNegative}
	for range n {
		i := b.i
		b.i++
		b.c.Advance(time.Hour)
		var err error
		switch i % 7 {
		case 0, 1, 2:
			_, err = b.s.RecordContact(ctx, b.id, memory.Contact{Channel: memory.ChannelChat, Outcome: outcomes[i%3], Summary: fmt.Sprint("contact ", i)})
		case 3:
			err = b.s.Remember(ctx, b.id, memory.Fact{Key: fmt.Sprint("fact.", i%5), Value: fmt.Sprint("value ", i)})
		case 4:
			err = b.s.SetPreference(ctx, b.id, memory.PrefLanguage, []string{"nl", "en", "de"}[i%3])
		case 5:
			var is memory.Issue
			is, err = b.s.OpenIssue(ctx, b.id, fmt.Sprint("issue ", i), memory.ChannelEmail)
			b.open = append(b.open, is.ID)
		case 6:
			if len(b.open) > 0 {
				err = b.s.ResolveIssue(ctx, b.id, b.open[0], fmt.Sprint("resolved at ", i))
				b.open = b.open[1:]
			} else {
				err = b.s.RecordSignal(ctx, b.id, memory.Signal{Kind: memory.SignalReview, Count: 1})
			}
		}
		require.NoError(t, err, "step %d", i)
	}
}

func busyCustomer(t *testing.T, s *memory.Store, c *clock, id memory.CustomerID, n int) {
	t.Helper()
	(&busy{s: s, c: c, id: id}).steps(t, n)
}

// comparable returns the view as JSON with what differs between two stores
// running the same script (random IDs) blanked.
func comparableView(t *testing.T, c *memory.Customer) string {
	t.Helper()
	c.ID = ""
	for i := range c.Issues {
		c.Issues[i].ID = ""
	}
	for i := range c.Contacts {
		c.Contacts[i].Issue = ""
	}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	return string(b)
}

func TestHistoryIsCompacted(t *testing.T) {
	ctx := context.Background()
	lim := memory.DefaultLimits()
	lim.History, lim.Contacts, lim.Issues = 64, 40, 10
	small, sc := openClocked(t, func(o memory.Options) memory.Options { return o.WithLimits(lim) })
	lim.History = 1 << 20
	whole, wc := openClocked(t, func(o memory.Options) memory.Options { return o.WithLimits(lim) })

	a := &busy{s: small, c: sc, id: recognize(t, small, memory.Email("ada@example.com").AsVerified()).Customer}
	b := &busy{s: whole, c: wc, id: recognize(t, whole, memory.Email("ada@example.com").AsVerified()).Customer}
	// In steps, so that every phase of the compaction cycle is compared.
	for range 70 {
		a.steps(t, 10)
		b.steps(t, 10)

		// Nothing a reader sees is lost: the view, its timelines up to
		// their limits, and the brief are those of the store that kept
		// everything.
		va, err := small.Customer(ctx, a.id)
		require.NoError(t, err)
		vb, err := whole.Customer(ctx, b.id)
		require.NoError(t, err)
		require.Equal(t, comparableView(t, vb), comparableView(t, va), "after %d steps", a.i)
		ba, bb := brief(t, small, a.id), brief(t, whole, b.id)
		require.Equal(t, bb.Facts, ba.Facts)
		require.Equal(t, bb.AtRisk, ba.AtRisk)
		require.Equal(t, len(bb.OpenIssues), len(ba.OpenIssues))
	}

	hist, err := small.History(ctx, a.id)
	require.NoError(t, err)
	require.LessOrEqual(t, len(hist), 64, "the history stays within its limit")
	require.Equal(t, memory.EventCompacted, hist[0].Kind)
	full, err := whole.History(ctx, b.id)
	require.NoError(t, err)
	require.Equal(t, len(full), hist[0].Compaction.Events+len(hist)-1, "the compacted event counts what it stands for")
	require.Equal(t, full[0].At, hist[0].Compaction.From)
	require.Equal(t, full[len(full)-1].Seq, hist[len(hist)-1].Seq, "the sequence numbers go on")

	ex, err := small.Export(ctx, a.id)
	require.NoError(t, err)
	require.Equal(t, memory.EventCompacted, ex.History[0].Kind)
	require.NoError(t, small.Check(ctx))
}

func TestCompactionKeepsUnmergeUntilTwiceTheLimit(t *testing.T) {
	ctx := context.Background()
	lim := memory.DefaultLimits()
	lim.History = 64
	s, c := openClocked(t, func(o memory.Options) memory.Options { return o.WithLimits(lim) })
	x := recognize(t, s, memory.Email("x@example.com").AsVerified()).Customer
	busyCustomer(t, s, c, x, 100) // compacted before the merge
	y := recognize(t, s, memory.Email("y@example.com").AsVerified()).Customer
	require.NoError(t, s.Remember(ctx, y, memory.Fact{Key: "size", Value: "S"}))

	_, err := s.Merge(ctx, x, y, "one person")
	require.NoError(t, err)
	busyCustomer(t, s, c, x, 100) // past the limit, short of twice it
	hist, err := s.History(ctx, x)
	require.NoError(t, err)
	require.Greater(t, len(hist), 64, "the merge in force stops the fold")
	require.NoError(t, s.Unmerge(ctx, y))
	id, err := s.Lookup(ctx, memory.Email("y@example.com"))
	require.NoError(t, err)
	require.Equal(t, y, id)
	v, _ := brief(t, s, y).Fact("size")
	require.Equal(t, "S", v)
	_, has := brief(t, s, x).Fact("size")
	require.False(t, has, "the unmerged customer's fact left the survivor")
	require.NoError(t, s.Check(ctx))

	// Merged again, and on for long: the merge is folded, and final.
	_, err = s.Merge(ctx, x, y, "one person after all")
	require.NoError(t, err)
	busyCustomer(t, s, c, x, 300)
	hist, err = s.History(ctx, x)
	require.NoError(t, err)
	require.LessOrEqual(t, len(hist), 128, "no history grows past twice the limit")
	require.NotEmpty(t, hist[0].Compaction.FinalMerges)
	err = s.Unmerge(ctx, y)
	require.ErrorIs(t, err, memory.ErrMergeFinal)
	v, _ = brief(t, s, x).Fact("size")
	require.Equal(t, "S", v, "the refused unmerge changed nothing")
}

// TestEventSizeIsBounded: every field of a change has its bound, so that
// the largest events still fit in MaxEventSize, and a field past its bound
// is refused with an error that names it.
func TestEventSizeIsBounded(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	id := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	key := strings.Repeat("k", 64)
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: key, Value: strings.Repeat("é", 2048), Purpose: memory.PurposePersonalization, Channel: memory.ChannelSocial}))
	is, err := s.OpenIssue(ctx, id, strings.Repeat("s", 256), memory.ChannelEmail)
	require.NoError(t, err)
	_, err = s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelPhone, Issue: is.ID, Outcome: memory.OutcomeNegative, Summary: strings.Repeat("x", 1024)})
	require.NoError(t, err)
	require.NoError(t, s.ResolveIssue(ctx, id, is.ID, strings.Repeat("r", 1024)))

	err = s.Remember(ctx, id, memory.Fact{Key: "k", Value: strings.Repeat("v", 4097)})
	var ie *memory.InputError
	require.ErrorAs(t, err, &ie)
	require.Contains(t, ie.Error(), "fact value")
	_, err = s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelPhone, Summary: strings.Repeat("x", 1025)})
	require.ErrorIs(t, err, memory.ErrInvalidInput)

	hist, err := s.History(ctx, id)
	require.NoError(t, err)
	for _, e := range hist {
		b, err := json.Marshal(e)
		require.NoError(t, err)
		require.Less(t, len(b), memory.MaxEventSize, "%s", e.Kind)
	}
}
