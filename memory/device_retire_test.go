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

// TestTypedClaimsNeverRetireTheSignerInsDevices: a shared browser (a kiosk,
// a library computer) is prepared by an attacker, who types addresses into
// the page's forms: each is a claim the browser's sync keeps on the
// anonymous customer, typed. The victim then signs in on that browser.
// Room is made among her identifiers only for what the browser's memory
// proves (its device), never for the typed claims, which are no proof and
// link nothing: her other browsers stay hers.
func TestTypedClaimsNeverRetireTheSignerInsDevices(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	lim := s.Limits().Identifiers
	email := memory.Email("victim@example.com").AsVerified()
	victim := recognize(t, s, email).Customer
	var hers []memory.Identifier
	for i := range 3 {
		clk.Advance(time.Hour)
		d := memory.Device(fmt.Sprintf("victims-browser-%d", i)).AsVerified()
		r, err := s.Recognize(ctx, d, email)
		require.NoError(t, err)
		require.Equal(t, victim, r.Customer)
		hers = append(hers, d)
	}

	// The attacker's browser: anonymous, with claims typed into its page.
	kiosk := memory.Device("kiosk-browser").AsVerified()
	recognize(t, s, kiosk)
	var changes []memory.Event
	for i := range lim - 1 {
		changes = append(changes, memory.Event{Seq: uint64(i + 1), Kind: memory.EventIdentifierLinked,
			Identifier: &memory.Identifier{Kind: memory.KindEmail, Value: fmt.Sprintf("typed-%d@example.org", i)}})
	}
	_, err := s.Sync(ctx, kiosk, memory.SyncBase{}, changes)
	require.NoError(t, err, "a browser may type claims")

	// The victim signs in on the kiosk.
	clk.Advance(time.Hour)
	r, err := s.Recognize(ctx, kiosk, email)
	require.NoError(t, err)
	require.Equal(t, victim, r.Customer)

	for _, d := range hers {
		id, err := s.Lookup(ctx, d)
		require.NoError(t, err, "the victim's %s was retired by claims an attacker typed on another browser", d.Value)
		require.Equal(t, victim, id)
	}
}
