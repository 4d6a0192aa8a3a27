//go:build !wasip1

package memory_test

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// TestLocalKeptBriefIsTheOneBuiltFresh: a Local memory keeps the briefs it
// builds; at every instant of a moving clock, through writes and the
// changes time alone makes (expiries, the at-risk window, pauses, contact
// hours), the brief it gives equals one a fresh memory of the same state
// builds, and a brief's key holds exactly while its brief is still the one
// its query gets.
func TestLocalKeptBriefIsTheOneBuiltFresh(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 7))
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l := memory.NewLocal(clock, "")
	purposes := []memory.Purpose{"", memory.PurposeService, memory.PurposeMarketing, memory.PurposePersonalization}
	type kept struct {
		key   memory.BriefKey
		q     memory.BriefQuery
		brief memory.Brief
	}
	var keys []kept
	for step := range 3000 {
		switch r.IntN(10) {
		case 0:
			f := memory.Fact{Key: "k" + strconv.Itoa(r.IntN(4)), Value: strconv.Itoa(step), Channel: memory.ChannelWeb}
			if r.IntN(2) == 0 {
				f.Retention = time.Duration(1+r.IntN(600)) * time.Second
			}
			_ = l.Remember(f)
		case 1:
			_, _ = l.RecordContact(memory.Contact{Channel: memory.ChannelChat, Outcome: memory.OutcomeNegative, Summary: "late " + strconv.Itoa(r.IntN(3))})
		case 2:
			_ = l.SetPreference(memory.PrefPauseUntil, now.Add(time.Duration(r.IntN(3600))*time.Second).Format(time.RFC3339))
		case 3:
			_ = l.SetPreference(memory.PrefHours, "09:00-17:00")
		case 4:
			_, _ = l.OpenIssue("parcel "+strconv.Itoa(r.IntN(3)), memory.ChannelWeb)
		case 5:
			_ = l.RecordConsent(memory.Consent{Purpose: memory.PurposeMarketing, Granted: r.IntN(2) == 0, Channel: memory.ChannelEmail})
		case 6:
			now = now.Add(-time.Duration(r.IntN(5)) * time.Second) // a clock that steps back
		default:
			now = now.Add(time.Duration(r.Int64N(int64(2 * time.Hour))))
		}
		fresh := memory.NewLocal(clock, "")
		require.NoError(t, fresh.Restore(l.State()))
		for _, k := range keys {
			// A key holds only while its brief is the one its query gets.
			if l.Holds(k.key) {
				require.Equal(t, fresh.Brief(k.q), k.brief, "step %d: a key holds for a brief that changed", step)
			}
		}
		keys = keys[:0]
		for _, p := range purposes {
			q := memory.BriefQuery{Purpose: p}
			want := fresh.Brief(q)
			require.Equal(t, want, l.Brief(q), "step %d, purpose %q", step, p)
			shared, key := l.SharedBrief(q)
			require.Equal(t, want, shared)
			require.True(t, l.Holds(key), "step %d: a key holds as it is given", step)
			keys = append(keys, kept{key, q, want})
		}
	}
	require.False(t, l.Holds(memory.BriefKey{}), "the zero key names no brief")
}

// TestLocalBriefIsTheCallersToChange: Brief gives copies, so a caller that
// changes its brief changes neither the memory nor the next brief.
func TestLocalBriefIsTheCallersToChange(t *testing.T) {
	l := memory.NewLocal(nil, "")
	require.NoError(t, l.Remember(memory.Fact{Key: "a", Value: "1", Channel: memory.ChannelWeb}))
	_, err := l.OpenIssue("late", memory.ChannelWeb)
	require.NoError(t, err)
	b := l.Brief(memory.BriefQuery{})
	b.Facts[0].Value = "changed"
	b.OpenIssues[0].Subject = "changed"
	again := l.Brief(memory.BriefQuery{})
	require.Equal(t, "1", again.Facts[0].Value)
	require.Equal(t, "late", again.OpenIssues[0].Subject)
}
