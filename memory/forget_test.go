//go:build !wasip1

package memory_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestForgetErasesEverything(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := recognize(t, s, memory.Email("ada@example.com"), memory.Device("device-of-ada-1"))
	b := recognize(t, s, memory.Phone("+31612345678"))
	other := recognize(t, s, memory.Email("bob@example.com"))
	require.NoError(t, s.SetName(ctx, a.Customer, "Ada"))
	require.NoError(t, s.Remember(ctx, a.Customer, memory.Fact{Key: "shipping.street", Value: "Keizersgracht 1"}))
	require.NoError(t, s.SaveDraft(ctx, b.Customer, "cart", []byte("secret cart")))
	_, err := s.OpenIssue(ctx, b.Customer, "late", memory.ChannelPhone)
	require.NoError(t, err)
	_, err = s.Merge(ctx, a.Customer, b.Customer, "same person")
	require.NoError(t, err)

	w, err := s.Watch(ctx, memory.EventForgotten)
	require.NoError(t, err)
	defer w.Close()

	r, err := s.Forget(ctx, b.Customer) // the absorbed ID forgets the person
	require.NoError(t, err)
	require.Equal(t, a.Customer, r.Customer)
	require.Equal(t, 2, r.Erased["customers"])
	require.Equal(t, 3, r.Erased["identifiers"])
	require.Equal(t, 1, r.Erased["facts"])
	require.Equal(t, 1, r.Erased["drafts"])
	require.Equal(t, 1, r.Erased["issues"])
	require.Equal(t, 1, r.Erased["contacts"])
	require.Positive(t, r.Erased["events"])
	require.False(t, r.At.IsZero())

	js, err := json.Marshal(r)
	require.NoError(t, err)
	for _, pii := range []string{"ada", "Ada", "Keizersgracht", "3161234", "secret", "device-of"} {
		require.NotContains(t, string(js), pii, "a receipt holds no personal data")
	}

	for _, id := range []memory.Identifier{memory.Email("ada@example.com"), memory.Device("device-of-ada-1"), memory.Phone("+31612345678")} {
		_, err := s.Lookup(ctx, id)
		require.ErrorIs(t, err, memory.ErrNotFound)
	}
	for _, id := range []memory.CustomerID{a.Customer, b.Customer} {
		_, err := s.Brief(ctx, id, memory.BriefQuery{})
		require.ErrorIs(t, err, memory.ErrNotFound)
		_, err = s.History(ctx, id)
		require.ErrorIs(t, err, memory.ErrNotFound)
		_, err = s.Export(ctx, id)
		require.ErrorIs(t, err, memory.ErrNotFound)
		_, err = s.Forget(ctx, id)
		require.ErrorIs(t, err, memory.ErrNotFound)
	}

	// A returning device is a stranger.
	back := recognize(t, s, memory.Device("device-of-ada-1"))
	require.True(t, back.Created)
	require.NotEqual(t, a.Customer, back.Customer)
	require.Empty(t, brief(t, s, back.Customer).Facts)

	// Others are untouched.
	require.Equal(t, other.Customer, brief(t, s, other.Customer).Customer)

	e, err := w.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, memory.EventForgotten, e.Kind)
	require.Equal(t, r.ID, e.Receipt.ID)

	rs, err := s.Receipts(ctx)
	require.NoError(t, err)
	require.Len(t, rs, 1)
	require.Equal(t, r.ID, rs[0].ID)
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	require.NoError(t, s.SetName(ctx, id, "Ada"))
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: "size", Value: "M"}))
	require.NoError(t, s.SaveDraft(ctx, id, "cart", []byte("cart-data")))
	is, err := s.OpenIssue(ctx, id, "late", memory.ChannelEmail)
	require.NoError(t, err)
	require.NoError(t, s.ResolveIssue(ctx, id, is.ID, "found"))
	require.NoError(t, s.RecordSignal(ctx, id, memory.Signal{Kind: memory.SignalReview}))

	x, err := s.Export(ctx, id)
	require.NoError(t, err)
	require.Equal(t, memory.ExportFormat, x.Format)
	require.Equal(t, "Ada", x.Customer.Name)
	require.Len(t, x.Customer.Issues, 1)
	require.Equal(t, memory.IssueResolved, x.Customer.Issues[0].Status)
	require.Equal(t, "found", x.Customer.Issues[0].Resolution)
	require.Len(t, x.Drafts, 1)
	require.Equal(t, "cart-data", string(x.Drafts[0].Data))
	require.NotNil(t, x.Influence)

	js, err := json.Marshal(x)
	require.NoError(t, err)
	var generic map[string]any
	require.NoError(t, json.Unmarshal(js, &generic))
	for _, k := range []string{"format", "exported", "customer", "drafts", "history", "influence"} {
		require.Contains(t, generic, k)
	}
	require.True(t, strings.Contains(string(js), `"kind":"fact.remembered"`))
	h, err := s.History(ctx, id)
	require.NoError(t, err)
	require.Len(t, x.History, len(h))
}
