package wire

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// stdBrief is a brief as encoding/json writes it, without the internals
// AppendBrief leaves out (TestBriefLeavesOutInternals).
func stdBrief(t *testing.T, b *memory.Brief) string {
	t.Helper()
	v := struct {
		Name               string              `json:"name,omitempty"`
		OpenIssues         []memory.Issue      `json:"open_issues"`
		LastContacts       []memory.Contact    `json:"last_contacts"`
		Facts              []memory.Fact       `json:"facts"`
		Preferences        []memory.Preference `json:"preferences"`
		Escalate           bool                `json:"escalate"`
		DoNotContact       bool                `json:"do_not_contact"`
		DoNotContactReason string              `json:"do_not_contact_reason,omitempty"`
	}{b.Name, b.OpenIssues, b.LastContacts, b.Facts, b.Preferences, b.Escalate, b.DoNotContact, b.DoNotContactReason}
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return string(out)
}

var zones = []*time.Location{time.UTC, time.FixedZone("", 0), time.FixedZone("X", 5*3600+30*60), time.FixedZone("Y", -9*3600-30),
	time.FixedZone("Z", 45), time.FixedZone("W", -45)}

// randTime returns a time in the years encoding/json writes, in one of zones.
func randTime(r *rand.Rand) time.Time {
	var t time.Time
	switch r.IntN(4) {
	case 0: // zero: TimeOmit leaves it out, TimeMember writes it
	case 1:
		t = time.Unix(r.Int64N(4_000_000_000), 0)
	default:
		t = time.Date(r.IntN(10000), time.Month(1+r.IntN(12)), 1+r.IntN(31), r.IntN(24), r.IntN(60), r.IntN(60),
			[]int{0, 100_000_000, 120_000_000, 123_456_789, 1, r.IntN(1e9)}[r.IntN(6)], time.UTC)
	}
	return t.In(zones[r.IntN(len(zones))])
}

// randText returns text with what JSON must escape in it.
func randText(r *rand.Rand) string {
	parts := []string{"", "a", "Keizersgracht 1", `"`, `\`, "<", ">", "&", "\n", "\r", "\t", "\x01", "\x1f", "\x7f",
		"é", "☹", "\U0001F600", "\u2028", "\u2029", "\xff", "\xe2\x82", "1011 AB"}
	var b strings.Builder
	for range r.IntN(8) {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

func randBrief(r *rand.Rand) memory.Brief {
	b := memory.Brief{Name: randText(r), Escalate: r.IntN(2) == 0, DoNotContact: r.IntN(2) == 0, DoNotContactReason: randText(r)}
	n := func() int { return r.IntN(4) - 1 } // -1: nil, which encoding/json writes as null
	if k := n(); k >= 0 {
		b.OpenIssues = make([]memory.Issue, k)
		for i := range b.OpenIssues {
			b.OpenIssues[i] = memory.Issue{ID: memory.IssueID(randText(r)), Subject: randText(r), Channel: memory.Channel(randText(r)),
				Opened: randTime(r), Status: memory.IssueStatus(randText(r)), Contacts: r.IntN(1000) - 10, Escalated: r.IntN(2) == 0,
				LastContact: randTime(r), LastChannel: memory.ChannelWeb, Resolved: randTime(r), Resolution: randText(r)}
		}
	}
	if k := n(); k >= 0 {
		b.LastContacts = make([]memory.Contact, k)
		for i := range b.LastContacts {
			b.LastContacts[i] = memory.Contact{Channel: memory.ChannelChat, At: randTime(r), Issue: memory.IssueID(randText(r)),
				Outcome: memory.Outcome(randText(r)), Summary: randText(r)}
		}
	}
	if k := n(); k >= 0 {
		b.Facts = make([]memory.Fact, k)
		for i := range b.Facts {
			b.Facts[i] = memory.Fact{Key: randText(r), Value: randText(r), Channel: memory.Channel(randText(r)), At: randTime(r),
				Purpose: memory.PurposeService, Expires: randTime(r)}
		}
	}
	if k := n(); k >= 0 {
		b.Preferences = make([]memory.Preference, k)
		for i := range b.Preferences {
			b.Preferences[i] = memory.Preference{Key: randText(r), Value: randText(r), At: randTime(r)}
		}
	}
	return b
}

func TestBriefMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 1))
	for range 5000 {
		b := randBrief(r)
		require.Equal(t, stdBrief(t, &b), string(AppendBrief(nil, &b)))
	}
}

func TestStringsMatchEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 2))
	for range 2000 {
		keys := make([]string, r.IntN(5))
		m := map[string]string{}
		for i := range keys {
			keys[i] = randText(r)
			m[keys[i]] = randText(r)
		}
		want := "{"
		for i, k := range keys {
			if i > 0 {
				want += ","
			}
			kj, err := json.Marshal(k)
			require.NoError(t, err)
			vj, err := json.Marshal(m[k])
			require.NoError(t, err)
			want += string(kj) + ":" + string(vj)
		}
		require.Equal(t, want+"}", string(AppendStrings(nil, keys, m)))
	}
}

func TestTimeMatchesFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 3))
	for range 20000 {
		tm := randTime(r)
		require.Equal(t, tm.Format(time.RFC3339Nano), string(AppendTime(nil, tm)))
	}
	// Years encoding/json refuses, which Format still writes.
	for _, y := range []int{-1, -10000, 10000, 123456} {
		tm := time.Date(y, 3, 4, 5, 6, 7, 8, time.UTC)
		require.Equal(t, tm.Format(time.RFC3339Nano), string(AppendTime(nil, tm)))
	}
}

func FuzzTime(f *testing.F) {
	f.Add(int64(0), int64(0), int32(0))
	f.Add(int64(1_700_000_000), int64(123_456_789), int32(-30))
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int32) {
		tm := time.Unix(sec, nsec).In(time.FixedZone("", int(offset%(48*3600))))
		require.Equal(t, tm.Format(time.RFC3339Nano), string(AppendTime(nil, tm)))
	})
}

func FuzzString(f *testing.F) {
	f.Add("Ada \"<Lovelace>\" & co\u2028\n\xff")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendString(nil, s)))
	})
}

func FuzzBrief(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		br := randBrief(rand.New(rand.NewPCG(a, b)))
		require.Equal(t, stdBrief(t, &br), string(AppendBrief(nil, &br)))
	})
}
