//go:build !wasip1

package memory_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/memory/memorytest"
)

// wide returns text of n bytes that is as long as text can be in JSON:
// '<' is written \u003c. It starts with i, so that values differ.
func wide(n, i int) string { return memorytest.Wide(n, i) }

// token returns a key of n bytes, different for each i.
func token(n, i int) string { return memorytest.Token(n, i) }

// jsonValues counts the values in JSON: objects, arrays, strings, numbers,
// booleans and nulls, each once.
func jsonValues(t *testing.T, b []byte) int {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(b, &v))
	var count func(v any) int
	count = func(v any) int {
		n := 1
		switch x := v.(type) {
		case map[string]any:
			for _, c := range x {
				n += count(c)
			}
		case []any:
			for _, c := range x {
				n += count(c)
			}
		}
		return n
	}
	return count(v)
}

// TestSnapshotJSONBounds builds a customer at every limit that shows in a
// snapshot, every text as long as its bound and at its widest in JSON, and
// checks that Limits.SnapshotJSON bounds the JSON of its snapshot, closely;
// and that MaxChangeJSON and MaxChangeValues bound every change a Local
// memory keeps, each at its widest.
func TestSnapshotJSONBounds(t *testing.T) {
	ctx := context.Background()
	lim := memory.DefaultLimits()
	s, err := memory.Open(ctx, memory.InMemoryOptions().WithLimits(lim))
	require.NoError(t, err)
	defer s.Close()
	ids := make([]memory.Identifier, lim.Identifiers)
	for i := range ids {
		ids[i] = memory.Account(wide(256, i)).AsVerified()
	}
	r, err := s.Recognize(ctx, ids...)
	require.NoError(t, err)
	require.NoError(t, s.Update(ctx, r.Customer, func(tx *memory.Tx) error { return fillSnapshot(tx, lim) }))

	snap, err := s.Snapshot(ctx, r.Customer)
	require.NoError(t, err)
	require.Len(t, snap.Facts, lim.Facts)
	require.Len(t, snap.Consents, 4*(memory.MaxChannels+1))
	require.Len(t, snap.LastContacts, memory.MaxChannels)
	require.Len(t, snap.Drafts, lim.Drafts)
	b, err := json.Marshal(snap)
	require.NoError(t, err)
	bytes, values := lim.SnapshotJSON()
	got := jsonValues(t, b)
	t.Logf("snapshot: %d bytes of %d, %d values of %d", len(b), bytes, got, values)
	require.LessOrEqual(t, len(b), bytes)
	require.GreaterOrEqual(t, len(b), bytes*9/10, "a close bound")
	require.LessOrEqual(t, got, values)

	// Every kind of change a Local memory keeps, at its widest.
	now := time.Date(2026, 11, 2, 10, 0, 0, 123456789, time.UTC)
	l := memory.NewLocal(func() time.Time { return now }, "NL")
	require.NoError(t, l.Remember(memory.Fact{Key: token(64, 1), Value: wide(4096, 1), Channel: memory.Channel(token(32, 1)),
		Purpose: memory.PurposePersonalization, Retention: 1 << 40}))
	require.NoError(t, l.Claim(memory.Email(emailOf(254))))
	require.NoError(t, l.SetName(wide(256, 2)))
	require.NoError(t, l.SetPreference(token(64, 3), wide(256, 3)))
	require.NoError(t, l.RecordConsent(memory.Consent{Purpose: memory.PurposePersonalization, Channel: memory.Channel(token(32, 4)),
		Granted: true, Source: wide(256, 4)}))
	is, err := l.OpenIssue(wide(256, 5), memory.Channel(token(32, 5)))
	require.NoError(t, err)
	for range 2 { // the second escalates
		_, err := l.RecordContact(memory.Contact{Channel: memory.Channel(token(32, 6)), Issue: is.ID, Summary: wide(1024, 6)})
		require.NoError(t, err)
	}
	st := l.State()
	kinds := map[memory.EventKind]bool{}
	for _, e := range st.Pending {
		kinds[e.Kind] = true
		b, err := json.Marshal(e)
		require.NoError(t, err)
		require.LessOrEqual(t, len(b), memory.MaxChangeJSON, "%s", e.Kind)
		require.LessOrEqual(t, jsonValues(t, b), memory.MaxChangeValues, "%s", e.Kind)
	}
	require.True(t, kinds[memory.EventIssueEscalated], "an escalation is kept too")
}

// fillSnapshot fills what a snapshot shows, but the identifiers, to the
// limits.
func fillSnapshot(tx *memory.Tx, lim memory.Limits) error {
	if err := tx.Remember(memorytest.Facts(lim)...); err != nil {
		return err
	}
	if err := memorytest.Fill(tx, lim); err != nil {
		return err
	}
	for i := range lim.Drafts {
		if err := tx.SaveDraft(token(64, i), []byte("x")); err != nil {
			return err
		}
	}
	return nil
}
