//go:build !wasip1

package memory_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// shows reports whether anything a reader gets of customer id (the view,
// the export, the history, the brief) holds s.
func shows(t *testing.T, st *memory.Store, id memory.CustomerID, s string) []string {
	t.Helper()
	ctx := context.Background()
	var where []string
	c, err := st.Customer(ctx, id)
	require.NoError(t, err)
	x, err := st.Export(ctx, id)
	require.NoError(t, err)
	h, err := st.History(ctx, id)
	require.NoError(t, err)
	b, err := st.Brief(ctx, id, memory.BriefQuery{})
	require.NoError(t, err)
	for name, v := range map[string]any{"Customer": c, "Export": x, "History": h, "Brief": b} {
		js, err := json.Marshal(v)
		require.NoError(t, err)
		if strings.Contains(string(js), s) {
			where = append(where, name)
		}
	}
	return where
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// erasedEvents returns the fact.remembered events of key in id's history,
// and how many of them had their value erased.
func erasedEvents(t *testing.T, s *memory.Store, id memory.CustomerID, key string) (all, erased int) {
	t.Helper()
	h, err := s.History(context.Background(), id)
	require.NoError(t, err)
	for _, e := range h {
		if e.Kind == memory.EventFactRemembered && e.Fact.Key == key {
			all++
			if !e.Erased.IsZero() {
				require.Empty(t, e.Fact.Value, "an erased event keeps no value")
				erased++
			}
		}
	}
	return all, erased
}

func hasEvent(t *testing.T, s *memory.Store, id memory.CustomerID, kind memory.EventKind, key string) bool {
	t.Helper()
	h, err := s.History(context.Background(), id)
	require.NoError(t, err)
	for _, e := range h {
		if e.Kind == kind && e.Key == key {
			return true
		}
	}
	return false
}

// TestExpiredFactLeavesEverything keeps a fact for an hour. Once the hour
// is over, nothing a reader gets holds its value, at once; and without any
// write to the customer, the store erases the value from the history itself,
// keeping that a fact of that key was remembered, and when.
func TestExpiredFactLeavesEverything(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	require.NoError(t, s.Remember(ctx, id,
		memory.Fact{Key: "shipping.street", Value: "Keizersgracht 12", Retention: time.Hour},
		memory.Fact{Key: "size", Value: "M"}))
	require.ElementsMatch(t, []string{"Customer", "Export", "History", "Brief"}, shows(t, s, id, "Keizersgracht 12"))

	clk.Advance(59 * time.Minute)
	require.NotEmpty(t, shows(t, s, id, "Keizersgracht 12"), "kept until it expires")
	clk.Advance(2 * time.Minute)
	require.Empty(t, shows(t, s, id, "Keizersgracht 12"), "gone from every read the moment it expires")

	waitFor(t, "the store's own write that erases the expired value", func() bool {
		return hasEvent(t, s, id, memory.EventFactExpired, "shipping.street")
	})
	all, erased := erasedEvents(t, s, id, "shipping.street")
	require.Equal(t, 1, all)
	require.Equal(t, 1, erased)
	require.Empty(t, shows(t, s, id, "Keizersgracht 12"))
	got, ok := brief(t, s, id).Fact("size")
	require.True(t, ok)
	require.Equal(t, "M", got, "other facts stay")
}

// TestReplacedValueExpiresToo: a value that was replaced stays in the
// history only until its own expiry.
func TestReplacedValueExpiresToo(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: "order", Value: "Z-77", Retention: time.Hour}))
	clk.Advance(time.Minute)
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: "order", Value: "Z-78"}))
	require.Contains(t, shows(t, s, id, "Z-77"), "History")
	clk.Advance(2 * time.Hour)
	require.Empty(t, shows(t, s, id, "Z-77"))
	_, erased := erasedEvents(t, s, id, "order")
	require.Equal(t, 1, erased, "a read hides it at once")
	waitFor(t, "the store's own write that erases the expired value", func() bool {
		h, err := s.History(ctx, id)
		require.NoError(t, err)
		// A read hides an expired value as erased at its expiry; the
		// store's write erased it later, when it ran.
		for _, e := range h {
			if e.Kind == memory.EventFactRemembered && e.Fact.Key == "order" && e.Erased.After(e.Fact.Expires) {
				return true
			}
		}
		return false
	})
	got, _ := brief(t, s, id).Fact("order")
	require.Equal(t, "Z-78", got, "the value that replaced it stays")
	require.ElementsMatch(t, []string{"Customer", "Export", "History", "Brief"}, shows(t, s, id, "Z-78"))
}

// TestForgetFactErasesEveryValue forgets a fact that had two values: both
// leave the history, the event of the forget says when, and a value
// remembered afterwards is kept.
func TestForgetFactErasesEveryValue(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: "shipping.street", Value: "Keizersgracht 12"}))
	clk.Advance(time.Minute)
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: "shipping.street", Value: "Herengracht 3"}, memory.Fact{Key: "size", Value: "M"}))
	require.NoError(t, s.ForgetFact(ctx, id, "shipping.street"))
	for _, v := range []string{"Keizersgracht 12", "Herengracht 3"} {
		require.Empty(t, shows(t, s, id, v), v)
	}
	all, erased := erasedEvents(t, s, id, "shipping.street")
	require.Equal(t, 2, all)
	require.Equal(t, 2, erased)
	require.True(t, hasEvent(t, s, id, memory.EventFactForgotten, "shipping.street"))

	clk.Advance(time.Minute)
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: "shipping.street", Value: "Prinsengracht 9"}))
	require.Contains(t, shows(t, s, id, "Prinsengracht 9"), "Brief", "a later value is kept")
	all, erased = erasedEvents(t, s, id, "shipping.street")
	require.Equal(t, 3, all)
	require.Equal(t, 2, erased)

	// In one Update: a value remembered after the forget stays.
	require.NoError(t, s.Update(ctx, id, func(tx *memory.Tx) error {
		if err := tx.ForgetFact("size"); err != nil {
			return err
		}
		return tx.Remember(memory.Fact{Key: "size", Value: "L"})
	}))
	got, _ := brief(t, s, id).Fact("size")
	require.Equal(t, "L", got)
	require.Empty(t, shows(t, s, id, `"M"`))
}

// TestForgetFactReachesMergedCustomers forgets a fact that a customer
// brought into a merge: it is erased from that customer's own record too,
// so an unmerge does not bring it back.
func TestForgetFactReachesMergedCustomers(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	a := recognize(t, s, memory.Email("ada@example.com").AsVerified()).Customer
	b := recognize(t, s, memory.Phone("+31612345678").AsVerified()).Customer
	require.NoError(t, s.Remember(ctx, b, memory.Fact{Key: "shipping.street", Value: "Keizersgracht 12"}))
	_, err := s.Merge(ctx, a, b, "same person")
	require.NoError(t, err)
	require.Contains(t, shows(t, s, a, "Keizersgracht 12"), "Brief")
	require.NoError(t, s.ForgetFact(ctx, a, "shipping.street"))
	require.Empty(t, shows(t, s, a, "Keizersgracht 12"))

	require.NoError(t, s.Unmerge(ctx, b))
	require.Empty(t, shows(t, s, b, "Keizersgracht 12"), "the merged customer's own record forgot it too")
	require.Empty(t, shows(t, s, a, "Keizersgracht 12"))
	_, erased := erasedEvents(t, s, b, "shipping.street")
	require.Equal(t, 1, erased)
}

// TestForgetFactInACompactedHistory forgets a fact that compaction folded
// into the compacted state.
func TestForgetFactInACompactedHistory(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t, func(o memory.Options) memory.Options {
		l := memory.DefaultLimits()
		l.History = 64
		return o.WithLimits(l)
	})
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: "shipping.street", Value: "Keizersgracht 12"}))
	busyCustomer(t, s, clk, id, 100)
	h, err := s.History(ctx, id)
	require.NoError(t, err)
	require.Equal(t, memory.EventCompacted, h[0].Kind, "the fact is in the compacted state")
	require.Contains(t, shows(t, s, id, "Keizersgracht 12"), "Brief")
	require.NoError(t, s.ForgetFact(ctx, id, "shipping.street"))
	require.Empty(t, shows(t, s, id, "Keizersgracht 12"))
	busyCustomer(t, s, clk, id, 100) // and through the next compactions
	require.Empty(t, shows(t, s, id, "Keizersgracht 12"))
}
