//go:build !wasip1

package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// requireName checks that every reader of the customer gives the same name:
// the brief, the agent's view, the export, the browser's snapshot, and a
// browser's Local memory built from that snapshot.
func requireName(t *testing.T, s *memory.Store, clk *clock, id memory.CustomerID, want string) {
	t.Helper()
	ctx := context.Background()
	require.Equal(t, want, brief(t, s, id).Name, "brief")
	c, err := s.Customer(ctx, id)
	require.NoError(t, err)
	require.Equal(t, want, c.Name, "view")
	x, err := s.Export(ctx, id)
	require.NoError(t, err)
	require.Equal(t, want, x.Customer.Name, "export")
	snap, err := s.Snapshot(ctx, id)
	require.NoError(t, err)
	require.Equal(t, want, snap.Name, "snapshot")
	l := memory.NewLocal(clk.Now, "NL")
	l.ApplySnapshot(*snap, 0)
	require.Equal(t, want, l.Snapshot().Name, "local snapshot")
	require.Equal(t, want, l.Brief(memory.BriefQuery{}).Name, "local brief")
}

func TestNameIsOneNotion(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	requireName(t, s, clk, id, "")

	// Given in a form only: the fact is the name (the shop's agent page
	// said "(no name)" while the widget greeted her).
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: memory.FactName, Value: "Ada Lovelace", Channel: memory.ChannelWeb}))
	requireName(t, s, clk, id, "Ada Lovelace")

	// Set directly, later: the newer wins.
	clk.Advance(time.Minute)
	require.NoError(t, s.SetName(ctx, id, "Ada King"))
	requireName(t, s, clk, id, "Ada King")

	// Given again in a form, later still: the newer wins again.
	clk.Advance(time.Minute)
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: memory.FactName, Value: "Augusta Ada King", Channel: memory.ChannelWeb}))
	requireName(t, s, clk, id, "Augusta Ada King")

	// Forgetting the fact leaves the name set directly.
	require.NoError(t, s.ForgetFact(ctx, id, memory.FactName))
	requireName(t, s, clk, id, "Ada King")

	// Clearing the name set directly leaves no name; a fact shows through
	// an empty one.
	clk.Advance(time.Minute)
	require.NoError(t, s.SetName(ctx, id, ""))
	requireName(t, s, clk, id, "")
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: memory.FactName, Value: "Ada", At: clk.Now().Add(-time.Hour)}))
	requireName(t, s, clk, id, "Ada")

	// A tie goes to the name set directly.
	require.NoError(t, s.Update(ctx, id, func(tx *memory.Tx) error {
		if err := tx.SetName("Countess of Lovelace"); err != nil {
			return err
		}
		return tx.Remember(memory.Fact{Key: memory.FactName, Value: "Ada"})
	}))
	requireName(t, s, clk, id, "Countess of Lovelace")
}

func TestNameFromAFactExpiresWithIt(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: memory.FactName, Value: "Ada Lovelace", Retention: time.Hour}))
	requireName(t, s, clk, id, "Ada Lovelace")
	clk.Advance(time.Hour)
	requireName(t, s, clk, id, "")
}

// TestNameFollowsTheFactsPurpose: a name the customer gave only as a fact
// for service is not used by a brief for marketing she did not consent to;
// a name set directly is.
func TestNameFollowsTheFactsPurpose(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	id := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: memory.FactName, Value: "Ada Lovelace"}))
	marketing := func() memory.Brief {
		b, err := s.Brief(ctx, id, memory.BriefQuery{Purpose: memory.PurposeMarketing})
		require.NoError(t, err)
		return b
	}
	require.Empty(t, marketing().Facts)
	require.Empty(t, marketing().Name)
	require.NoError(t, s.RecordConsent(ctx, id, memory.Consent{Purpose: memory.PurposeMarketing, Granted: true}))
	require.Equal(t, "Ada Lovelace", marketing().Name)
	require.NoError(t, s.RecordConsent(ctx, id, memory.Consent{Purpose: memory.PurposeMarketing, Granted: false}))
	require.NoError(t, s.SetName(ctx, id, "Ada"))
	require.Equal(t, "Ada", marketing().Name)
}

// TestNameAcrossAMerge: the newest of both customers' names and name facts.
func TestNameAcrossAMerge(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	a := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	require.NoError(t, s.SetName(ctx, a, "Ada"))
	clk.Advance(time.Minute)
	b := recognize(t, s, memory.Account("ada").AsVerified()).Customer
	require.NoError(t, s.Remember(ctx, b, memory.Fact{Key: memory.FactName, Value: "Ada Lovelace"}))
	r := recognize(t, s, memory.Email("ada@example.com").AsVerified(), memory.Account("ada").AsVerified())
	require.Len(t, r.Merged, 1)
	requireName(t, s, clk, r.Customer, "Ada Lovelace")
	m, err := s.Customer(ctx, r.Customer)
	require.NoError(t, err)
	require.NoError(t, s.Unmerge(ctx, m.Merges[0].From))
	requireName(t, s, clk, a, "Ada")
	requireName(t, s, clk, b, "Ada Lovelace")
}

// TestLocalNameFollowsTheVisitor: a browser's memory, built from the
// store's snapshot, computes the name as the store does after the
// visitor's own changes, before the store answers.
func TestLocalNameFollowsTheVisitor(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: memory.FactName, Value: "Ada Lovelace"}))
	clk.Advance(time.Minute)
	require.NoError(t, s.SetName(ctx, id, "Ada King"))
	snap, err := s.Snapshot(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "Ada King", snap.Name)

	l := memory.NewLocal(clk.Now, "NL")
	l.ApplySnapshot(*snap, 0)
	require.Equal(t, "Ada King", l.Snapshot().Name)
	// Forgetting the fact in the browser leaves the name set directly.
	require.NoError(t, l.ForgetFact(memory.FactName))
	require.Equal(t, "Ada King", l.Snapshot().Name)

	// A name given in the browser later is the name, there and in the store.
	clk.Advance(time.Minute)
	l.ApplySnapshot(*snap, 0)
	require.NoError(t, l.Remember(memory.Fact{Key: memory.FactName, Value: "Augusta"}))
	require.Equal(t, "Augusta", l.Snapshot().Name)
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: memory.FactName, Value: "Augusta"}))
	requireName(t, s, clk, id, "Augusta")

	// A snapshot whose name is its fact's: forgetting the fact in the
	// browser leaves no name, as in the store.
	require.NoError(t, s.SetName(ctx, id, ""))
	snap, err = s.Snapshot(ctx, id)
	require.NoError(t, err)
	l.ApplySnapshot(*snap, 0)
	require.Equal(t, "Augusta", l.Snapshot().Name)
	require.NoError(t, l.ForgetFact(memory.FactName))
	require.Empty(t, l.Snapshot().Name)
	require.NoError(t, s.ForgetFact(ctx, id, memory.FactName))
	requireName(t, s, clk, id, "")
}
