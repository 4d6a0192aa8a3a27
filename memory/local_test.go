//go:build !wasip1

package memory_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// device makes a device known to the store, as the plugin does on a first
// visit, and returns its identifier.
func device(t *testing.T, s *memory.Store, token string) memory.Identifier {
	t.Helper()
	d := memory.Device(token).AsVerified()
	recognize(t, s, d)
	return d
}

func TestLocalMemoryRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	dev := device(t, s, "browser-token-1")
	local := memory.NewLocal(clk.Now, "NL")

	// First visit: the checkout form is filled once.
	require.NoError(t, local.Remember(
		memory.Fact{Key: "shipping.postcode", Value: "1011 AB", Channel: memory.ChannelWeb},
		memory.Fact{Key: "shipping.city", Value: "Amsterdam", Channel: memory.ChannelWeb}))
	require.NoError(t, local.Claim(memory.Email("Ada@Example.com")))
	require.NoError(t, local.SetName("Ada"))
	require.Equal(t, map[string]string{"shipping.postcode": "1011 AB"}, local.Prefill([]string{"shipping.postcode", "email"}))
	require.Len(t, local.Pending(), 4)

	res, err := s.Sync(ctx, dev, local.Synced(), local.Pending())
	require.NoError(t, err)
	require.Equal(t, uint64(4), res.Applied)
	local.ApplySnapshot(res.Snapshot, res.Applied)
	require.Empty(t, local.Pending())
	require.Equal(t, res.SyncBase, local.Synced(), "the memory follows the store's chain itself")

	// The server now knows what the browser knows.
	b := brief(t, s, res.Customer)
	require.Equal(t, "Ada", b.Name)
	v, _ := b.Fact("shipping.city")
	require.Equal(t, "Amsterdam", v)
	// The typed address is kept with the customer, as a claim, but nobody
	// is recognized by it until the application links it.
	_, err = s.Lookup(ctx, memory.Email("ada@example.com"))
	require.ErrorIs(t, err, memory.ErrNotFound)
	c, err := s.Customer(ctx, res.Customer)
	require.NoError(t, err)
	require.Contains(t, c.Identifiers, memory.Email("ada@example.com"))

	// A new browser with the same cookie and empty storage gets it all back.
	fresh := memory.NewLocal(clk.Now, "NL")
	res2, err := s.Sync(ctx, dev, memory.SyncBase{}, nil)
	require.NoError(t, err)
	fresh.ApplySnapshot(res2.Snapshot, res2.Applied)
	require.Equal(t, local.Prefill([]string{"shipping.postcode", "shipping.city"}), fresh.Prefill([]string{"shipping.postcode", "shipping.city"}))
	require.JSONEq(t, jsonOf(t, local.Brief(memory.BriefQuery{Now: clk.Now()})), jsonOf(t, fresh.Brief(memory.BriefQuery{Now: clk.Now()})))

	// Persisted and restored.
	restored := memory.NewLocal(clk.Now, "NL")
	require.NoError(t, restored.Restore(local.State()))
	require.JSONEq(t, jsonOf(t, local.Snapshot()), jsonOf(t, restored.Snapshot()))
}

func TestSyncIsIdempotentAndEscalatesOnTheServer(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	dev := device(t, s, "browser-token-2")
	local := memory.NewLocal(clk.Now, "")

	is, err := local.OpenIssue("my parcel is late", memory.ChannelChat)
	require.NoError(t, err)
	require.Contains(t, string(is.ID), "local-")
	batch := local.Pending()
	res, err := s.Sync(ctx, dev, local.Synced(), batch)
	require.NoError(t, err)
	// The same batch again (the answer was lost): nothing twice.
	again, err := s.Sync(ctx, dev, local.Synced(), batch)
	require.NoError(t, err)
	require.Equal(t, res.Applied, again.Applied)
	require.Len(t, again.Snapshot.OpenIssues, 1)
	local.ApplySnapshot(again.Snapshot, again.Applied)
	serverIssue := again.Snapshot.OpenIssues[0]
	require.NotContains(t, string(serverIssue.ID), "local-")

	// The customer comes back to the widget about the same issue, offline.
	clk.Advance(time.Hour)
	_, err = local.RecordContact(memory.Contact{Channel: memory.ChannelChat, Issue: serverIssue.ID, Summary: "still nothing"})
	require.NoError(t, err)
	require.True(t, local.Brief(memory.BriefQuery{}).Escalate, "escalated locally too")
	pending := local.Pending()
	require.Len(t, pending, 1, "the escalation is not sent: the server derives it")
	res, err = s.Sync(ctx, dev, local.Synced(), pending)
	require.NoError(t, err)
	local.ApplySnapshot(res.Snapshot, res.Applied)
	require.Equal(t, res.SyncBase, local.Synced(), "past the escalation it derived and did not send")
	require.True(t, brief(t, s, res.Customer).Escalate)
	require.True(t, res.Snapshot.OpenIssues[0].Escalated)
	c, err := s.Customer(ctx, res.Customer)
	require.NoError(t, err)
	require.Len(t, c.Contacts, 2, "one opening contact, one repeat; none twice")
}

func TestSyncNeverRevealsOrLinksSomeoneElse(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	owner := recognize(t, s, memory.Email("ada@example.com").AsVerified())
	require.NoError(t, s.Remember(ctx, owner.Customer, memory.Fact{Key: "shipping.street", Value: "Keizersgracht 1"}))

	sync := func(email string) memory.Snapshot {
		dev := device(t, s, "device-of-"+email)
		local := memory.NewLocal(clk.Now, "")
		require.NoError(t, local.Claim(memory.Email(email)))
		require.NoError(t, local.Remember(memory.Fact{Key: "shipping.postcode", Value: "9999 ZZ"}))
		res, err := s.Sync(ctx, dev, local.Synced(), local.Pending())
		require.NoError(t, err)
		return res.Snapshot
	}
	known := sync("ada@example.com")
	unknown := sync("nobody@example.com")
	for _, f := range known.Facts {
		require.NotEqual(t, "Keizersgracht 1", f.Value)
	}
	// The answers do not tell a known address from a free one.
	require.Empty(t, known.Identifiers)
	require.Empty(t, unknown.Identifiers, "claims are not shown")
	require.Equal(t, len(known.Facts), len(unknown.Facts))
	require.Equal(t, jsonOf(t, known), jsonOf(t, unknown), "the same answer")
	_, err := s.Lookup(ctx, memory.Email("nobody@example.com"))
	require.ErrorIs(t, err, memory.ErrNotFound, "a typed address is no one's to be recognized by")

	id, err := s.Lookup(ctx, memory.Email("ada@example.com"))
	require.NoError(t, err)
	require.Equal(t, owner.Customer, id)
}

func TestSyncRefusesWhatACustomerCannotDo(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	dev := device(t, s, "browser-token-3")
	good := memory.Event{Seq: 1, Kind: memory.EventNamed, Name: "Ada"}
	for name, bad := range map[string]memory.Event{
		"influence":   {Seq: 2, Kind: memory.EventSignalRecorded, Signal: &memory.Signal{Kind: memory.SignalAudience, Count: 1e6}},
		"escalation":  {Seq: 2, Kind: memory.EventIssueEscalated, Issue: &memory.Issue{ID: "x"}},
		"merge":       {Seq: 2, Kind: memory.EventMerged, Merge: &memory.Merge{}},
		"verified":    {Seq: 2, Kind: memory.EventIdentifierLinked, Identifier: &memory.Identifier{Kind: memory.KindEmail, Value: "a@example.com", Verified: true}},
		"device":      {Seq: 2, Kind: memory.EventIdentifierLinked, Identifier: &memory.Identifier{Kind: memory.KindDevice, Value: "another-device"}},
		"negative":    {Seq: 2, Kind: memory.EventContactRecorded, Contact: &memory.Contact{Channel: memory.ChannelWeb, Outcome: memory.OutcomeNegative}},
		"empty fact":  {Seq: 2, Kind: memory.EventFactRemembered, Fact: &memory.Fact{Key: "k", Purpose: memory.PurposeService}},
		"no fact":     {Seq: 2, Kind: memory.EventFactRemembered},
		"future":      {Seq: 2, Kind: memory.EventNamed, Name: "x", At: clk.Now().Add(time.Hour)},
		"order":       {Seq: 1, Kind: memory.EventNamed, Name: "x"},
		"unnormal":    {Seq: 2, Kind: memory.EventIdentifierLinked, Identifier: &memory.Identifier{Kind: memory.KindEmail, Value: "A@Example.com"}},
		"placeholder": {Seq: 2, Kind: memory.EventIdentifierLinked, Identifier: &memory.Identifier{Kind: memory.KindAccount, Value: "undefined"}},
	} {
		_, err := s.Sync(ctx, dev, memory.SyncBase{}, []memory.Event{good, bad})
		require.Error(t, err, name)
		var ce *memory.ChangeError
		require.True(t, errors.As(err, &ce), name)
		require.Equal(t, bad.Seq, ce.Seq, name)
	}
	res, err := s.Sync(ctx, dev, memory.SyncBase{}, nil)
	require.NoError(t, err)
	require.Empty(t, res.Snapshot.Name, "a refused batch changes nothing")
	require.Zero(t, res.Applied)

	_, err = s.Sync(ctx, memory.Device("never-seen-device"), memory.SyncBase{}, []memory.Event{good})
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.Sync(ctx, memory.Email("a@example.com"), memory.SyncBase{}, nil)
	require.ErrorIs(t, err, memory.ErrInvalidInput)
}

func TestSnapshotLeavesOutWhatIsInternal(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	r := recognize(t, s, memory.Email("ada@example.com").AsVerified(), memory.Device("device-abcdefgh").AsVerified(), memory.Custom("crm", "C-1"))
	require.NoError(t, s.RecordSignal(ctx, r.Customer, memory.Signal{Kind: memory.SignalAudience, Count: 50000}))
	is, err := s.OpenIssue(ctx, r.Customer, "broken", memory.ChannelPhone)
	require.NoError(t, err)
	_, err = s.RecordContact(ctx, r.Customer, memory.Contact{Channel: memory.ChannelPhone, Issue: is.ID, Outcome: memory.OutcomeNegative, Summary: "agent: very rude caller"})
	require.NoError(t, err)
	snap, err := s.Snapshot(ctx, r.Customer)
	require.NoError(t, err)
	require.Equal(t, []memory.Identifier{memory.Email("ada@example.com").AsVerified()}, snap.Identifiers)
	for _, c := range snap.LastContacts {
		require.Empty(t, c.Summary)
		require.Empty(t, c.Outcome)
	}
	local := memory.NewLocal(nil, "")
	local.ApplySnapshot(*snap, 0)
	require.False(t, local.Brief(memory.BriefQuery{}).AtRisk)
}

func TestLocalRefusesBadInput(t *testing.T) {
	local := memory.NewLocal(nil, "")
	require.ErrorIs(t, local.Remember(memory.Fact{Key: "Bad Key", Value: "x"}), memory.ErrInvalidInput)
	require.ErrorIs(t, local.Claim(memory.Email("null")), memory.ErrInvalidIdentifier)
	_, err := local.RecordContact(memory.Contact{Channel: memory.ChannelWeb, Outcome: memory.OutcomeNegative})
	require.ErrorIs(t, err, memory.ErrInvalidInput)
	_, err = local.RecordContact(memory.Contact{Channel: memory.ChannelWeb, Issue: "nope"})
	require.ErrorIs(t, err, memory.ErrNotFound)
	require.Empty(t, local.Pending())
	require.Error(t, local.Restore(memory.LocalState{Pending: []memory.Event{{Seq: 1, Kind: memory.EventMerged}}}))
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
