//go:build !wasip1

package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestRecognizeCreatesLinksAndFinds(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)

	r := recognize(t, s, memory.Email("Ada@Example.com").AsVerified())
	require.True(t, r.Created)
	require.Len(t, r.Linked, 1)
	require.Equal(t, "ada@example.com", r.Linked[0].Value)
	require.True(t, r.Linked[0].Verified)

	// The same address in another form finds the same customer.
	again := recognize(t, s, memory.Email(" ADA@example.com"))
	require.False(t, again.Created)
	require.Equal(t, r.Customer, again.Customer)
	require.Empty(t, again.Linked)

	// A new identifier with a known verified one is linked to the same customer.
	withPhone := recognize(t, s, memory.Email("ada@example.com").AsVerified(), memory.Phone("06 12345678"))
	require.Equal(t, r.Customer, withPhone.Customer)
	require.Equal(t, []memory.Identifier{memory.Phone("+31612345678")}, withPhone.Linked)

	id, err := s.Lookup(ctx, memory.Phone("+31 6 1234 5678"))
	require.NoError(t, err)
	require.Equal(t, r.Customer, id)

	_, err = s.Lookup(ctx, memory.Email("nobody@example.com"))
	require.ErrorIs(t, err, memory.ErrNotFound)
}

func TestRecognizeRefusesBadIdentifiersAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	_, err := s.Recognize(ctx, memory.Email("ada@example.com"), memory.Account("undefined"))
	require.ErrorIs(t, err, memory.ErrInvalidIdentifier)
	require.Contains(t, err.Error(), "account")
	_, err = s.Lookup(ctx, memory.Email("ada@example.com"))
	require.ErrorIs(t, err, memory.ErrNotFound, "a failed call must not link anything")

	_, err = s.Recognize(ctx)
	require.ErrorIs(t, err, memory.ErrInvalidInput)
}

func TestPlaceholdersNeverGlueStrangers(t *testing.T) {
	s := openStore(t)
	for _, v := range []string{"null", "0", "-1", "undefined", "anonymous", "", "---"} {
		_, err := s.Recognize(context.Background(), memory.Email("a@example.com"), memory.Account(v))
		require.ErrorIs(t, err, memory.ErrInvalidIdentifier, v)
	}
}

func TestClaimNeverRevealsOrTakesAnotherCustomer(t *testing.T) {
	s := openStore(t)
	owner := recognize(t, s, memory.Email("ada@example.com").AsVerified(), memory.Device("owner-device-1"))

	// A stranger's device types the owner's email: a claim.
	stranger := recognize(t, s, memory.Device("stranger-device-1"))
	r := recognize(t, s, memory.Device("stranger-device-1"), memory.Email("ada@example.com"))
	require.Equal(t, stranger.Customer, r.Customer, "the device decides who this is")
	require.Equal(t, []memory.Identifier{memory.Email("ada@example.com")}, r.Conflicts)
	require.Empty(t, r.Merged)
	require.NotEqual(t, owner.Customer, r.Customer)

	// The email still belongs to the owner.
	id, err := s.Lookup(context.Background(), memory.Email("ada@example.com"))
	require.NoError(t, err)
	require.Equal(t, owner.Customer, id)
}

func TestVerifiedIdentifierTakesOverAClaim(t *testing.T) {
	s := openStore(t)
	// A stranger claimed the address first.
	stranger := recognize(t, s, memory.Device("stranger-device-1"), memory.Email("ada@example.com"))
	// The owner proves it.
	owner := recognize(t, s, memory.Account("acct-1").AsVerified(), memory.Email("ada@example.com").AsVerified())
	require.True(t, owner.Created)
	require.NotEqual(t, stranger.Customer, owner.Customer)
	require.Empty(t, owner.Merged, "a claim is no proof: nothing is merged")

	id, err := s.Lookup(context.Background(), memory.Email("ada@example.com"))
	require.NoError(t, err)
	require.Equal(t, owner.Customer, id)

	c, err := s.Customer(context.Background(), stranger.Customer)
	require.NoError(t, err)
	require.Equal(t, []memory.Identifier{memory.Device("stranger-device-1")}, c.Identifiers)
}

func TestVerifyUpgradesAClaimOfTheSameCustomer(t *testing.T) {
	s := openStore(t)
	first := recognize(t, s, memory.Device("device-abcdefgh").AsVerified(), memory.Email("ada@example.com"))
	r := recognize(t, s, memory.Device("device-abcdefgh").AsVerified(), memory.Email("ada@example.com").AsVerified())
	require.Equal(t, first.Customer, r.Customer)
	require.Equal(t, []memory.Identifier{memory.Email("ada@example.com").AsVerified()}, r.Linked)
	c, err := s.Customer(context.Background(), r.Customer)
	require.NoError(t, err)
	require.Contains(t, c.Identifiers, memory.Email("ada@example.com").AsVerified())
}

func TestLookupNeverCreates(t *testing.T) {
	s := openStore(t)
	_, err := s.Lookup(context.Background(), memory.Device("device-abcdefgh"))
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.BriefFor(context.Background(), memory.Device("device-abcdefgh"), memory.BriefQuery{})
	require.ErrorIs(t, err, memory.ErrNotFound)
	_, err = s.Lookup(context.Background(), memory.Device("device-abcdefgh"))
	require.ErrorIs(t, err, memory.ErrNotFound)
}

func TestLinkToKnownCustomer(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := recognize(t, s, memory.Email("ada@example.com"))
	b := recognize(t, s, memory.Email("bob@example.com"))
	r, err := s.Link(ctx, a.Customer, memory.Phone("+31612345678"), memory.Email("bob@example.com"))
	require.NoError(t, err)
	require.Equal(t, []memory.Identifier{memory.Phone("+31612345678")}, r.Linked)
	require.Equal(t, []memory.Identifier{memory.Email("bob@example.com")}, r.Conflicts)
	id, err := s.Lookup(ctx, memory.Email("bob@example.com"))
	require.NoError(t, err)
	require.Equal(t, b.Customer, id)
}

func TestIdentifierLimit(t *testing.T) {
	s := openStore(t, func(o memory.Options) memory.Options {
		l := memory.DefaultLimits()
		l.Identifiers = 2
		return o.WithLimits(l)
	})
	r := recognize(t, s, memory.Email("a@example.com").AsVerified(), memory.Device("device-abcdefgh"))
	_, err := s.Recognize(context.Background(), memory.Email("a@example.com").AsVerified(), memory.Account("acct-9"))
	require.ErrorIs(t, err, memory.ErrLimit)
	var le *memory.LimitError
	require.ErrorAs(t, err, &le)
	require.Equal(t, "identifiers", le.What)
	c, err := s.Customer(context.Background(), r.Customer)
	require.NoError(t, err)
	require.Len(t, c.Identifiers, 2)
}

func TestClaimsRecognizeButNeverLink(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	ada := recognize(t, s, memory.Email("ada@example.com").AsVerified())

	// An inbound email (a claim) recognizes Ada for the help desk...
	r := recognize(t, s, memory.Email("ada@example.com"), memory.Phone("+31612345678"))
	require.Equal(t, ada.Customer, r.Customer)
	require.False(t, r.Created)
	// ...but the phone number that came with it is not linked to her.
	require.Equal(t, []memory.Identifier{memory.Phone("+31612345678")}, r.Unproven)
	require.Empty(t, r.Linked)
	_, err := s.Lookup(ctx, memory.Phone("+31612345678"))
	require.ErrorIs(t, err, memory.ErrNotFound)

	// A fresh device the server vouches for, with Ada's email typed in:
	// a new customer, and the email is a conflict.
	dev := recognize(t, s, memory.Device("fresh-device-token").AsVerified(), memory.Email("ada@example.com"))
	require.True(t, dev.Created)
	require.NotEqual(t, ada.Customer, dev.Customer)
	require.Equal(t, []memory.Identifier{memory.Email("ada@example.com")}, dev.Conflicts)

	// Claims that match nobody make a customer with all of them.
	fresh := recognize(t, s, memory.Email("new@example.com"), memory.Phone("+31687654321"))
	require.True(t, fresh.Created)
	require.Len(t, fresh.Linked, 2)
}

func TestVerifiedAnchorsChooseEvenWhenClaimsMatch(t *testing.T) {
	s := openStore(t)
	device := recognize(t, s, memory.Device("device-of-visitor").AsVerified())
	// The visitor types an email nobody has: it is linked to their device.
	r := recognize(t, s, memory.Device("device-of-visitor").AsVerified(), memory.Email("visitor@example.com"))
	require.Equal(t, device.Customer, r.Customer)
	require.Equal(t, []memory.Identifier{memory.Email("visitor@example.com")}, r.Linked)
}

// TestSignInOnBrowserAfterBrowser is the customer whose browser clears its
// cookies at every close: each visit is a new device, proven by her
// sign-in. Past the identifier limit her oldest devices are retired (they
// are strangers from then on) instead of the sign-in failing, which left
// the new browser a second record of her that the agent found, and that
// "forget me" on it forgot alone. What a visit did before she signed in
// joins her; her other identifiers stay.
func TestSignInOnBrowserAfterBrowser(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	lim := s.Limits().Identifiers
	email := memory.Email("ada@example.com").AsVerified()
	ada := recognize(t, s, email, memory.Phone("+31612345678").AsVerified()).Customer
	device := func(i int) memory.Identifier {
		return memory.Device(fmt.Sprintf("browser-%03d-of-ada", i)).AsVerified()
	}
	visits := lim + 8
	for i := range visits {
		clk.Advance(time.Hour)
		if i%4 == 0 {
			// Before signing in, she left her cart: an anonymous memory.
			anon := recognize(t, s, device(i)).Customer
			require.NoError(t, s.Remember(ctx, anon, memory.Fact{Key: "cart.item", Value: fmt.Sprint("item ", i)}))
		}
		r, err := s.Recognize(ctx, device(i), email)
		require.NoError(t, err, "visit %d", i)
		require.Equal(t, ada, r.Customer, "visit %d", i)
	}
	c, err := s.Customer(ctx, ada)
	require.NoError(t, err)
	require.Len(t, c.Identifiers, lim, "bounded")
	require.Contains(t, c.Identifiers, email)
	require.Contains(t, c.Identifiers, memory.Phone("+31612345678").AsVerified())
	// The newest browsers are hers; the oldest are strangers.
	for i := visits - (lim - 2); i < visits; i++ {
		id, err := s.Lookup(ctx, device(i))
		require.NoError(t, err, "device %d", i)
		require.Equal(t, ada, id)
	}
	for i := range visits - (lim - 2) {
		_, err := s.Lookup(ctx, device(i))
		require.ErrorIs(t, err, memory.ErrNotFound, "device %d is retired", i)
	}
	b := brief(t, s, ada)
	v, ok := b.Fact("cart.item")
	require.True(t, ok)
	require.Equal(t, fmt.Sprint("item ", (visits-1)/4*4), v, "the last cart before a sign-in is hers")

	// "Forget me" from the newest browser forgets her: nothing is found by
	// any of her browsers or her address.
	_, err = s.Forget(ctx, ada)
	require.NoError(t, err)
	for i := range visits {
		_, err := s.Lookup(ctx, device(i))
		require.ErrorIs(t, err, memory.ErrNotFound, "device %d", i)
	}
	_, err = s.Lookup(ctx, email)
	require.ErrorIs(t, err, memory.ErrNotFound)
}

// TestOnlyDevicesAreRetired: a customer whose identifiers other than
// devices fill the limit gets no new device: the sign-in fails with
// ErrLimit, and nothing of hers is dropped.
func TestOnlyDevicesAreRetired(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	lim := s.Limits().Identifiers
	ids := []memory.Identifier{}
	for i := range lim {
		ids = append(ids, memory.Email(fmt.Sprintf("ada-%d@example.com", i)).AsVerified())
	}
	ada := recognize(t, s, ids...).Customer
	_, err := s.Recognize(ctx, memory.Device("one-more-browser").AsVerified(), ids[0])
	require.ErrorIs(t, err, memory.ErrLimit)
	c, err := s.Customer(ctx, ada)
	require.NoError(t, err)
	require.Len(t, c.Identifiers, lim)
}
