//go:build !wasip1

package memory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// TestSharedDeviceNeverMergesTwoPeople signs alice and then bob in on one
// browser, as on a family computer or a shop's kiosk: the device moves to
// bob, and nothing of alice's becomes bob's.
func TestSharedDeviceNeverMergesTwoPeople(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	dev := memory.Device("kiosk-device").AsVerified()
	alice, bob := memory.Account("alice").AsVerified(), memory.Account("bob").AsVerified()

	// Before anyone signs in, the browser's memory is anonymous.
	anon := recognize(t, s, dev)
	require.NoError(t, s.Remember(ctx, anon.Customer, memory.Fact{Key: "cart.size", Value: "L"}))

	// Alice signs in: the anonymous memory is hers now.
	a := recognize(t, s, dev, alice)
	require.Equal(t, anon.Customer, a.Customer)
	require.NoError(t, s.Remember(ctx, a.Customer, memory.Fact{Key: "shipping.street", Value: "Alice Street 1"}))

	// Bob signs in on the same browser, without alice signing out.
	b := recognize(t, s, dev, bob)
	require.NotEqual(t, a.Customer, b.Customer, "two accounts never become one through a device")
	require.True(t, b.Created)
	require.Empty(t, b.Merged)
	require.Equal(t, []memory.Identifier{dev}, b.Moved)

	aliceID, err := s.Lookup(ctx, alice)
	require.NoError(t, err)
	bobID, err := s.Lookup(ctx, bob)
	require.NoError(t, err)
	require.NotEqual(t, aliceID, bobID)
	devID, err := s.Lookup(ctx, dev)
	require.NoError(t, err)
	require.Equal(t, bobID, devID, "the device is bob's now")

	bb := brief(t, s, bobID)
	_, ok := bb.Fact("shipping.street")
	require.False(t, ok, "bob sees nothing of alice's")
	ab := brief(t, s, aliceID)
	v, _ := ab.Fact("shipping.street")
	require.Equal(t, "Alice Street 1", v, "alice keeps all that is hers")
	v, _ = ab.Fact("cart.size")
	require.Equal(t, "L", v)

	// Alice again: the device moves back; still two customers.
	again := recognize(t, s, dev, alice)
	require.Equal(t, aliceID, again.Customer)
	require.Equal(t, []memory.Identifier{dev}, again.Moved)
	bobNow, err := s.Lookup(ctx, bob)
	require.NoError(t, err)
	require.Equal(t, bobID, bobNow)

	// Forgetting bob leaves alice.
	_, err = s.Forget(ctx, bobID)
	require.NoError(t, err)
	v, _ = brief(t, s, aliceID).Fact("shipping.street")
	require.Equal(t, "Alice Street 1", v)
	require.NoError(t, s.Check(ctx))
}

// TestDevicesAloneNeverMergeTwoPeople: two devices, each of someone, named
// together prove nothing about the people.
func TestDevicesAloneNeverMergeTwoPeople(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	d1, d2 := memory.Device("device-1").AsVerified(), memory.Device("device-2").AsVerified()
	a := recognize(t, s, d1, memory.Email("a@example.com").AsVerified())
	b := recognize(t, s, d2, memory.Email("b@example.com").AsVerified())
	r := recognize(t, s, d1, d2)
	require.Equal(t, a.Customer, r.Customer)
	require.Empty(t, r.Merged)
	require.Equal(t, []memory.Identifier{d2}, r.Conflicts)
	id, err := s.Lookup(ctx, d2)
	require.NoError(t, err)
	require.Equal(t, b.Customer, id, "the second device stays with its person")

	// An anonymous device named with a person's device joins the person.
	d3 := memory.Device("device-3").AsVerified()
	anon := recognize(t, s, d3)
	r = recognize(t, s, d3, d1)
	require.Equal(t, a.Customer, r.Customer)
	require.Equal(t, []memory.CustomerID{anon.Customer}, r.Merged)
	require.NoError(t, s.Check(ctx))
}

// TestUnlinkDetachesADevice is what a logout does.
func TestUnlinkDetachesADevice(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	dev := memory.Device("shared-device").AsVerified()
	r := recognize(t, s, dev, memory.Account("alice").AsVerified())
	require.NoError(t, s.Remember(ctx, r.Customer, memory.Fact{Key: "shipping.street", Value: "Alice Street 1"}))

	require.NoError(t, s.Unlink(ctx, r.Customer, dev))
	_, err := s.Lookup(ctx, dev)
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.Sync(ctx, dev, memory.SyncBase{}, nil)
	require.ErrorIs(t, err, memory.ErrNotFound, "the browser reaches nothing of hers")
	v, _ := brief(t, s, r.Customer).Fact("shipping.street")
	require.Equal(t, "Alice Street 1", v)

	// Not hers (any more): refused, nothing changes.
	require.ErrorIs(t, s.Unlink(ctx, r.Customer, dev), memory.ErrNotFound)
	other := recognize(t, s, memory.Email("b@example.com").AsVerified())
	require.ErrorIs(t, s.Unlink(ctx, r.Customer, memory.Email("b@example.com")), memory.ErrNotFound)
	id, err := s.Lookup(ctx, memory.Email("b@example.com"))
	require.NoError(t, err)
	require.Equal(t, other.Customer, id)
	require.NoError(t, s.Check(ctx))
}

// TestTypedClaimsRecognizeNobody is the squatter's attack: a browser types
// the victim's address before the victim ever wrote; when the server later
// recognizes mail from it, the mail must not land with the squatter.
func TestTypedClaimsRecognizeNobody(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	dev := device(t, s, "squatter")
	local := memory.NewLocal(clk.Now, "")
	require.NoError(t, local.Claim(memory.Email("victim@example.com")))
	require.NoError(t, local.Remember(memory.Fact{Key: "note", Value: "the squatter's"}))
	res, err := s.Sync(ctx, dev, local.Synced(), local.Pending())
	require.NoError(t, err)
	squatter := res.Customer

	// The help desk recognizes the victim's mail by its sender, a claim.
	mail := recognize(t, s, memory.Email("victim@example.com"))
	require.True(t, mail.Created, "a customer of its own")
	require.NotEqual(t, squatter, mail.Customer)
	issue, err := s.OpenIssue(ctx, mail.Customer, "My refund", memory.ChannelEmail)
	require.NoError(t, err)
	require.NoError(t, s.Remember(ctx, mail.Customer, memory.Fact{Key: "order", Value: "Z-77"}))

	// The squatter's next sync shows nothing of it.
	res, err = s.Sync(ctx, dev, memory.SyncBase{}, nil)
	require.NoError(t, err)
	for _, is := range res.Snapshot.OpenIssues {
		require.NotEqual(t, issue.ID, is.ID)
	}
	for _, f := range res.Snapshot.Facts {
		require.NotEqual(t, "Z-77", f.Value)
	}
	// Verified, the address is the victim's; the squatter's claim stays
	// on the squatter's own record, harmless.
	v := recognize(t, s, memory.Email("victim@example.com").AsVerified())
	require.NotEqual(t, squatter, v.Customer)
	b, err := s.BriefFor(ctx, memory.Email("victim@example.com"), memory.BriefQuery{})
	require.NoError(t, err)
	require.Equal(t, v.Customer, b.Customer)
	require.NoError(t, s.Check(ctx))

	// When the customer who typed an address proves it, it is theirs.
	own := device(t, s, "honest-device")
	l2 := memory.NewLocal(clk.Now, "")
	require.NoError(t, l2.Claim(memory.Email("honest@example.com")))
	r2, err := s.Sync(ctx, own, l2.Synced(), l2.Pending())
	require.NoError(t, err)
	linked, err := s.Link(ctx, r2.Customer, memory.Email("honest@example.com").AsVerified())
	require.NoError(t, err)
	require.Equal(t, r2.Customer, linked.Customer)
	id, err := s.Lookup(ctx, memory.Email("honest@example.com"))
	require.NoError(t, err)
	require.Equal(t, r2.Customer, id)
	c, err := s.Customer(ctx, r2.Customer)
	require.NoError(t, err)
	require.Contains(t, c.Identifiers, memory.Email("honest@example.com").AsVerified())
	require.NoError(t, s.Check(ctx))
}

// TestClaimsAtTheLimitRevealNothing fills a device's customer with claims
// up to its identifier limit and claims one more: the answer must be the
// same whether somebody holds that address or not.
func TestClaimsAtTheLimitRevealNothing(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	recognize(t, s, memory.Email("held@example.com").AsVerified())
	limit := memory.DefaultLimits().Identifiers
	answer := func(addr string) string {
		dev := device(t, s, "attacker-"+addr)
		local := memory.NewLocal(clk.Now, "")
		for i := range limit - 1 { // the device is one
			require.NoError(t, local.Claim(memory.Email(fmt.Sprintf("filler-%d@example.com", i))))
		}
		_, err := s.Sync(ctx, dev, local.Synced(), local.Pending())
		require.NoError(t, err)
		last := memory.Event{Seq: uint64(limit), Kind: memory.EventIdentifierLinked,
			Identifier: &memory.Identifier{Kind: memory.KindEmail, Value: addr}}
		_, err = syncOnStoreBase(ctx, s, dev, last)
		return fmt.Sprint(err)
	}
	held, free := answer("held@example.com"), answer("free@example.com")
	require.Equal(t, held, free)
	require.Contains(t, held, "at most")
}

// TestBrowserTimesAreBounded: a consent or fact dated far in the future
// would win over every later change; such changes are refused, and a
// withdrawal always wins over a grant recorded before it.
func TestBrowserTimesAreBounded(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	dev := device(t, s, "future-device")
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, e := range map[string]memory.Event{
		"consent": {Seq: 1, Kind: memory.EventConsentRecorded, Consent: &memory.Consent{
			Purpose: memory.PurposeMarketing, Channel: memory.ChannelEmail, Granted: true, At: far, Source: "widget"}},
		"fact": {Seq: 1, Kind: memory.EventFactRemembered, Fact: &memory.Fact{
			Key: "shipping.street", Value: "X", Purpose: memory.PurposeService, Channel: memory.ChannelWeb, At: far}},
		"contact": {Seq: 1, Kind: memory.EventContactRecorded, Contact: &memory.Contact{
			Channel: memory.ChannelWeb, Outcome: memory.OutcomeNeutral, At: far}},
	} {
		_, err := syncOnStoreBase(ctx, s, dev, e)
		var ce *memory.ChangeError
		require.ErrorAs(t, err, &ce, name)
		require.ErrorIs(t, err, memory.ErrInvalidInput, name)
	}
	id, err := s.Lookup(ctx, dev)
	require.NoError(t, err)
	c, err := s.Customer(ctx, id)
	require.NoError(t, err)
	require.Empty(t, c.Facts)
	require.Empty(t, c.Consents)
	// The application's own calls are bounded the same way.
	require.ErrorIs(t, s.RecordConsent(ctx, id, memory.Consent{Purpose: memory.PurposeMarketing,
		Channel: memory.ChannelEmail, Granted: true, At: far, Source: "agent"}), memory.ErrInvalidInput)
	require.ErrorIs(t, s.Remember(ctx, id, memory.Fact{Key: "k", Value: "v", At: far}), memory.ErrInvalidInput)

	// A grant dated a little ahead (within the skew), then a withdrawal
	// that says an earlier time: the withdrawal wins, as it came later.
	ahead := clk.Now().Add(4 * time.Minute)
	grant := memory.Event{Seq: 2, Kind: memory.EventConsentRecorded, Consent: &memory.Consent{
		Purpose: memory.PurposeMarketing, Channel: memory.ChannelEmail, Granted: true, At: ahead, Source: "widget"}}
	_, err = syncOnStoreBase(ctx, s, dev, grant)
	require.NoError(t, err)
	require.NoError(t, s.RecordConsent(ctx, id, memory.Consent{Purpose: memory.PurposeMarketing,
		Channel: memory.ChannelEmail, Granted: false, Source: "agent"}))
	d, err := s.MayContact(ctx, id, memory.ChannelEmail, memory.PurposeMarketing, clk.Now().Add(time.Hour))
	require.NoError(t, err)
	require.False(t, d.Allowed, "the withdrawal wins: %+v", d)
}

// syncOnStoreBase syncs changes as a device that lost track of its base
// does: on the zero base, and after a conflict once more, renumbered after
// the store's base.
func syncOnStoreBase(ctx context.Context, s *memory.Store, dev memory.Identifier, changes ...memory.Event) (memory.SyncResult, error) {
	res, err := s.Sync(ctx, dev, memory.SyncBase{}, changes)
	var ce *memory.ConflictError
	if !errors.As(err, &ce) {
		return res, err
	}
	for i := range changes {
		changes[i].Seq = ce.Base.Applied + 1 + uint64(i)
	}
	return s.Sync(ctx, dev, ce.Base, changes)
}

// TestWithdrawalWinsWhenCustomersMerge: a grant a browser dated a little
// ahead, then a withdrawal the shop recorded, on two customers that a
// sign-in merges: the withdrawal must still win.
func TestWithdrawalWinsWhenCustomersMerge(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	dev := device(t, s, "consent-device")
	grant := memory.Event{Seq: 1, Kind: memory.EventConsentRecorded, Consent: &memory.Consent{Purpose: memory.PurposeMarketing,
		Channel: memory.ChannelEmail, Granted: true, At: clk.Now().Add(4 * time.Minute), Source: "widget"}}
	_, err := syncOnStoreBase(ctx, s, dev, grant)
	require.NoError(t, err)
	alice := recognize(t, s, memory.Account("alice-consent").AsVerified())
	require.NoError(t, s.RecordConsent(ctx, alice.Customer, memory.Consent{Purpose: memory.PurposeMarketing,
		Channel: memory.ChannelEmail, Granted: false, Source: "agent"}))
	for _, order := range [][]memory.Identifier{{dev, memory.Account("alice-consent").AsVerified()}} {
		r := recognize(t, s, order...)
		require.Equal(t, alice.Customer, r.Customer)
		d, err := s.MayContact(ctx, r.Customer, memory.ChannelEmail, memory.PurposeMarketing, clk.Now().Add(time.Hour))
		require.NoError(t, err)
		require.False(t, d.Allowed, "the withdrawal wins: %+v", d)
	}
	require.NoError(t, s.Check(ctx))
}
