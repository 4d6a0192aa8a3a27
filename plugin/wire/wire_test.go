package wire

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

var at = time.Date(2026, 11, 2, 10, 0, 0, 123456789, time.UTC)

func richSnapshot() memory.Snapshot {
	return memory.Snapshot{
		Name:        "Ada \"<Lovelace>\" & co\u2028\n",
		Identifiers: []memory.Identifier{memory.Email("ada@example.com").AsVerified(), memory.Phone("+31612345678")},
		Facts: []memory.Fact{
			{Key: "shipping.postcode", Value: "1011 AB", Channel: memory.ChannelWeb, At: at, Purpose: memory.PurposeService},
			{Key: "order.number", Value: "A-1\t2", At: at, Purpose: memory.PurposeService, Expires: at.Add(time.Hour)},
		},
		Preferences:  []memory.Preference{{Key: "language", Value: "nl", At: at}},
		Consents:     []memory.Consent{{Purpose: memory.PurposeMarketing, Channel: memory.ChannelEmail, Granted: true, At: at, Source: "form"}},
		OpenIssues:   []memory.Issue{{ID: "abc", Subject: "late ☹", Channel: memory.ChannelChat, Opened: at, Status: memory.IssueOpen, Contacts: 2, Escalated: true, LastContact: at, LastChannel: memory.ChannelPhone}},
		LastContacts: []memory.Contact{{Channel: memory.ChannelPhone, At: at, Issue: "abc"}},
		Drafts:       []memory.DraftInfo{{Name: "cart", Size: 12, Saved: at}},
	}
}

func TestSnapshotMatchesEncodingJSON(t *testing.T) {
	for _, s := range []memory.Snapshot{richSnapshot(), {}} {
		std, err := json.Marshal(s)
		require.NoError(t, err)
		ours := AppendSnapshot(nil, &s)
		require.Equal(t, string(std), string(ours), "byte for byte")

		v, err := Parse(std)
		require.NoError(t, err)
		back, err := DecodeSnapshot(v)
		require.NoError(t, err)
		again, err := json.Marshal(back)
		require.NoError(t, err)
		require.Equal(t, string(std), string(again))
	}
}

func TestChangesRoundTrip(t *testing.T) {
	id := memory.Email("ada@example.com")
	f := memory.Fact{Key: "k", Value: "v", At: at, Purpose: memory.PurposeService}
	c := memory.Consent{Purpose: memory.PurposeMarketing, Granted: true, At: at}
	is := memory.Issue{ID: "local-3", Subject: "s", Channel: memory.ChannelWeb, Opened: at, Status: memory.IssueOpen}
	ct := memory.Contact{Channel: memory.ChannelWeb, At: at, Issue: "local-3", Outcome: memory.OutcomeNeutral, Summary: "hi"}
	es := []memory.Event{
		{Seq: 1, Kind: memory.EventIdentifierLinked, At: at, Identifier: &id},
		{Seq: 2, Kind: memory.EventFactRemembered, At: at, Fact: &f},
		{Seq: 3, Kind: memory.EventPreferenceSet, At: at, Key: "language", Value: "nl"},
		{Seq: 4, Kind: memory.EventConsentRecorded, At: at, Consent: &c},
		{Seq: 5, Kind: memory.EventIssueOpened, At: at, Issue: &is},
		{Seq: 6, Kind: memory.EventContactRecorded, At: at, Contact: &ct},
		{Seq: 7, Kind: memory.EventNamed, At: at, Name: "Ada"},
	}
	v, err := Parse(AppendChanges(nil, es))
	require.NoError(t, err)
	back, err := DecodeChanges(v)
	require.NoError(t, err)
	require.Equal(t, es, back)

	st := memory.LocalState{Base: richSnapshot(), Synced: memory.SyncBase{Applied: 4, Head: "hhhhhhhhhhhhhhhhhhhhhg"}, Pending: es, Next: 8}
	v, err = Parse(AppendLocalState(nil, &st))
	require.NoError(t, err)
	got, err := DecodeLocalState(v)
	require.NoError(t, err)
	require.Equal(t, st, got)

	// A state saved before sync bases has none: the zero base.
	v, err = Parse([]byte(`{"base":{},"pending":[],"next":3}`))
	require.NoError(t, err)
	got, err = DecodeLocalState(v)
	require.NoError(t, err)
	require.Equal(t, memory.LocalState{Next: 3}, got)

	for _, base := range []memory.SyncBase{{}, {Applied: 7, Head: "hhhhhhhhhhhhhhhhhhhhhg"}} {
		v, err = Parse(AppendSyncBase(nil, base))
		require.NoError(t, err)
		back, err := DecodeSyncBase(v)
		require.NoError(t, err)
		require.Equal(t, base, back)
	}
	require.Equal(t, `{"applied":0}`, string(AppendSyncBase(nil, memory.SyncBase{})))
}

func TestBriefLeavesOutInternals(t *testing.T) {
	b := memory.Brief{Customer: "secretcustomerid", Name: "Ada", AtRisk: true, Escalate: true}
	out := string(AppendBrief(nil, &b))
	require.NotContains(t, out, "secretcustomerid")
	require.NotContains(t, out, "at_risk")
	require.True(t, json.Valid([]byte(out)), out)
}

func TestParseRefuses(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)
	many := "[" + strings.Repeat("0,", MaxItems) + "0]"
	for name, in := range map[string]string{
		"empty": "", "trailing": "{} x", "bad literal": "tru", "unterminated": `{"a":"b`,
		"deep": deep, "many": many, "bad number": "01", "bad number 2": "1.", "bad number 3": "-",
		"control": "\"a\x01\"", "bad escape": `"\x"`, "bad utf8": "\"\xff\"", "key not string": "{1:2}",
	} {
		_, err := Parse([]byte(in))
		require.ErrorIs(t, err, ErrSyntax, name)
	}
	v, err := Parse([]byte(`{"name":7}`))
	require.NoError(t, err)
	_, err = DecodeSnapshot(v)
	require.ErrorIs(t, err, ErrShape)
	v, err = Parse([]byte(`[{"seq":-1}]`))
	require.NoError(t, err)
	_, err = DecodeChanges(v)
	require.ErrorIs(t, err, ErrShape)
}

func FuzzParse(f *testing.F) {
	snap := richSnapshot()
	f.Add(AppendSnapshot(nil, &snap))
	f.Add([]byte(`[{"seq":1,"kind":"fact.remembered","fact":{"key":"k"}}]`))
	f.Add([]byte(`"\ud83d\ude00\u00e9"`))
	f.Add([]byte(`-12.5e+3`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := Parse(b)
		if err != nil {
			return
		}
		require.True(t, json.Valid(b), "accepted what encoding/json refuses: %q", b)
		if v.Kind == String {
			var s string
			require.NoError(t, json.Unmarshal(b, &s))
			require.Equal(t, s, v.Str)
		}
		_, _ = DecodeSnapshot(v)
		_, _ = DecodeChanges(v)
		_, _ = DecodeLocalState(v)
		_, _ = DecodeSyncBase(v)
	})
}
