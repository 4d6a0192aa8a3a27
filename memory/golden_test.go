//go:build !wasip1

package memory_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// writeGolden writes a new golden set, under testdata/golden/<name>, with
// the current code: run it once when the stored format changes, and commit
// the set beside the old ones, which stay and keep passing.
//
//	go test ./memory -run TestGoldenData -golden.write=v5
var writeGolden = flag.String("golden.write", "", "write a golden set of this name under testdata/golden")

// goldenExpect is what a golden set holds: every customer's export and
// how each identifier finds them, as the version that wrote it saw them.
type goldenExpect struct {
	Written     string                       `json:"written"` // the format the set was written in
	Customers   map[memory.CustomerID]any    `json:"customers"`
	Identifiers map[string]memory.CustomerID `json:"identifiers"` // "kind:value" → customer
	Forgotten   []string                     `json:"forgotten"`   // identifiers of forgotten customers
	Receipts    int                          `json:"receipts"`
	// Queue is the work queue, newest contact first (from store format 4).
	Queue []memory.CustomerID `json:"queue,omitempty"`
}

// TestGoldenData opens every golden set, each a store directory and a
// backup of it written by an earlier version, with the current code, and
// checks every customer against what that version exported.
func TestGoldenData(t *testing.T) {
	if *writeGolden != "" {
		writeGoldenSet(t, filepath.Join("testdata", "golden", *writeGolden))
	}
	sets, err := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, sets, "no golden data under testdata/golden")
	for _, dir := range sets {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			ctx := context.Background()
			raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			require.NoError(t, err)
			var want goldenExpect
			require.NoError(t, json.Unmarshal(raw, &want))
			require.NotEmpty(t, want.Customers)

			t.Run("store", func(t *testing.T) {
				// Open writes (the format may be upgraded): open a copy.
				work := t.TempDir()
				require.NoError(t, os.CopyFS(work, os.DirFS(filepath.Join(dir, "store"))))
				s, err := memory.Open(ctx, memory.DefaultOptions(work))
				require.NoError(t, err)
				defer s.Close()
				checkGolden(t, s, want)
			})
			t.Run("backup", func(t *testing.T) {
				data, err := os.Open(filepath.Join(dir, "backup.data"))
				require.NoError(t, err)
				defer data.Close()
				keys, err := os.Open(filepath.Join(dir, "backup.keys"))
				require.NoError(t, err)
				defer keys.Close()
				s, err := memory.Restore(ctx, memory.DefaultOptions(t.TempDir()), data, keys)
				require.NoError(t, err)
				defer s.Close()
				checkGolden(t, s, want)
			})
		})
	}
}

func checkGolden(t *testing.T, s *memory.Store, want goldenExpect) {
	ctx := context.Background()
	require.NoError(t, s.Check(ctx), "the store opens without repair")
	for id, exp := range want.Customers {
		got, err := s.Export(ctx, id)
		require.NoError(t, err, "customer %s", id)
		b, err := json.Marshal(got)
		require.NoError(t, err)
		var gotAny any
		require.NoError(t, json.Unmarshal(b, &gotAny))
		delete(exp.(map[string]any), "exported")
		jsonSubset(t, string(id), exp, gotAny)
	}
	for key, id := range want.Identifiers {
		kind, value := splitIdent(key)
		got, err := s.Lookup(ctx, memory.Identifier{Kind: memory.Kind(kind), Value: value})
		require.NoError(t, err, key)
		require.Equal(t, id, got, key)
	}
	for _, key := range want.Forgotten {
		kind, value := splitIdent(key)
		_, err := s.Lookup(ctx, memory.Identifier{Kind: memory.Kind(kind), Value: value})
		require.ErrorIs(t, err, memory.ErrNotFound, "%s was forgotten", key)
	}
	rs, err := s.Receipts(ctx)
	require.NoError(t, err)
	require.Len(t, rs, want.Receipts)
	checkGoldenQueue(t, s, want)
	checkGoldenSync(t, s)
}

// checkGoldenQueue: the work queue, which a migration builds for a set
// written before it, lists the customers whose briefs have open issues or
// are at risk, and from format 4 on, what the version that wrote it listed.
func checkGoldenQueue(t *testing.T, s *memory.Store, want goldenExpect) {
	ctx := context.Background()
	page, err := s.Queue(ctx, memory.QueueQuery{Limit: memory.MaxQueuePage})
	require.NoError(t, err)
	require.Empty(t, page.Next)
	var got []memory.CustomerID
	for _, e := range page.Entries {
		got = append(got, e.Customer)
	}
	var expect []memory.CustomerID
	for id := range want.Customers {
		b, err := s.Brief(ctx, id, memory.BriefQuery{})
		require.NoError(t, err)
		if (len(b.OpenIssues) > 0 || b.AtRisk) && b.Customer == id {
			expect = append(expect, id)
		}
	}
	require.NotEmpty(t, expect, "the golden set has someone with work to do")
	require.ElementsMatch(t, expect, got)
	if want.Queue != nil {
		require.Equal(t, want.Queue, got)
	}
}

// checkGoldenSync: the device whose two changes came by sync keeps syncing,
// whether a release without digests applied them or not. Its next change,
// numbered on no base, is a conflict that names the store's base; on that
// base, it is applied.
func checkGoldenSync(t *testing.T, s *memory.Store) {
	ctx := context.Background()
	dev := memory.Device("d-browser-1").AsVerified()
	stored, err := s.Sync(ctx, dev, memory.SyncBase{}, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(2), stored.Applied)
	change := memory.Event{Seq: 1, Kind: memory.EventPreferenceSet, Key: "golden.sync", Value: "yes"}
	_, err = s.Sync(ctx, dev, memory.SyncBase{}, []memory.Event{change})
	var ce *memory.ConflictError
	require.True(t, errors.As(err, &ce), "%v", err)
	require.Equal(t, stored.SyncBase, ce.Base)
	change.Seq = ce.Base.Applied + 1
	res, err := s.Sync(ctx, dev, ce.Base, []memory.Event{change})
	require.NoError(t, err)
	require.Equal(t, uint64(3), res.Applied)
	require.NotEmpty(t, res.Head)
	i := slices.IndexFunc(res.Snapshot.Preferences, func(p memory.Preference) bool { return p.Key == "golden.sync" })
	require.GreaterOrEqual(t, i, 0, "the change was applied")
	require.Equal(t, "yes", res.Snapshot.Preferences[i].Value)
}

func splitIdent(key string) (kind, value string) {
	kind, value, _ = strings.Cut(key, ":")
	return kind, value
}

// jsonSubset requires every member of want to be in got with the same
// value; got may hold members a later version added.
func jsonSubset(t *testing.T, path string, want, got any) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		require.True(t, ok, "%s: want an object, got %v", path, got)
		for k, v := range w {
			gv, ok := g[k]
			require.True(t, ok, "%s.%s is missing", path, k)
			jsonSubset(t, path+"."+k, v, gv)
		}
	case []any:
		g, ok := got.([]any)
		require.True(t, ok, "%s: want an array, got %v", path, got)
		require.Len(t, g, len(w), path)
		for i := range w {
			jsonSubset(t, fmt.Sprintf("%s[%d]", path, i), w[i], g[i])
		}
	default:
		require.True(t, reflect.DeepEqual(want, got), "%s: want %v, got %v", path, want, got)
	}
}

// writeGoldenSet builds a small store that holds every kind of thing a
// customer can have, closes it, backs it up and writes what it exports.
func writeGoldenSet(t *testing.T, dir string) {
	ctx := context.Background()
	_, err := os.Stat(dir)
	require.ErrorIs(t, err, fs.ErrNotExist, "golden sets are never rewritten; choose a new name")
	c := newClock()
	s, err := memory.Open(ctx, memory.DefaultOptions(filepath.Join(dir, "store")).WithClock(c.Now).WithDefaultRegion("NL"))
	require.NoError(t, err)
	tick := func() { c.Advance(time.Hour) }

	want := goldenExpect{Written: "store format 5, value format 1", Customers: map[memory.CustomerID]any{}, Identifiers: map[string]memory.CustomerID{}}
	idents := map[memory.CustomerID][]memory.Identifier{}
	rec := func(ids ...memory.Identifier) memory.CustomerID {
		r, err := s.Recognize(ctx, ids...)
		require.NoError(t, err)
		idents[r.Customer] = append(idents[r.Customer], ids...)
		tick()
		return r.Customer
	}
	ok := func(err error) { t.Helper(); require.NoError(t, err); tick() }

	// A customer with one of everything.
	ada := rec(memory.Email("Ada@Example.com").AsVerified(), memory.Phone("020 555 0100"), memory.Account("cust-1").AsVerified())
	ok(s.SetName(ctx, ada, "Ada Lovelace"))
	ok(s.Remember(ctx, ada,
		memory.Fact{Key: "shipping.postcode", Value: "1011 AB", Purpose: memory.PurposeService, Channel: memory.ChannelWeb},
		memory.Fact{Key: "size", Value: "M", Purpose: memory.PurposePersonalization, Channel: memory.ChannelStore}))
	ok(s.Remember(ctx, ada, memory.Fact{Key: "size", Value: "L", Purpose: memory.PurposePersonalization, Channel: memory.ChannelChat}))
	ok(s.ForgetFact(ctx, ada, "size"))
	ok(s.SetPreference(ctx, ada, memory.PrefLanguage, "nl"))
	ok(s.SetPreference(ctx, ada, memory.PrefChannel, "email"))
	ok(s.SetPreference(ctx, ada, memory.PrefHours, "mon-fri 09:00-17:30 Europe/Amsterdam"))
	ok(s.SetPreference(ctx, ada, memory.PrefPauseUntil, "2026-12-24"))
	ok(s.RecordConsent(ctx, ada, memory.Consent{Purpose: memory.PurposeMarketing, Channel: memory.ChannelEmail, Granted: true}))
	ok(s.RecordConsent(ctx, ada, memory.Consent{Purpose: memory.PurposeMarketing, Channel: memory.ChannelPhone, Granted: false}))
	late, err := s.OpenIssue(ctx, ada, "parcel late", memory.ChannelEmail)
	ok(err)
	_, err = s.RecordContact(ctx, ada, memory.Contact{Channel: memory.ChannelPhone, Issue: late.ID, Outcome: memory.OutcomeNegative, Summary: "no parcel yet"})
	ok(err)
	ok(s.ResolveIssue(ctx, ada, late.ID, "sent again"))
	_, err = s.OpenIssue(ctx, ada, "wrong size", memory.ChannelChat)
	ok(err)
	_, err = s.RecordContact(ctx, ada, memory.Contact{Channel: memory.ChannelChat, Outcome: memory.OutcomePositive})
	ok(err)
	ok(s.RecordSignal(ctx, ada, memory.Signal{Kind: memory.SignalReview, Count: 1, Note: "five stars"}))
	ok(s.RecordSignal(ctx, ada, memory.Signal{Kind: memory.SignalAudience, Count: 1200}))
	ok(s.SaveDraft(ctx, ada, "cart", []byte("two books, one lamp")))
	ok(s.SaveDraft(ctx, ada, "return-form", bytes.Repeat([]byte{0, 1, 2, 255}, 300)))

	// Two merged into one, and a merge undone.
	grace := rec(memory.Email("grace@example.com").AsVerified())
	ok(s.Remember(ctx, grace, memory.Fact{Key: "size", Value: "S"}))
	hopper := rec(memory.Phone("+31 6 1234 5678").AsVerified(), memory.Device("d-grace-laptop").AsVerified())
	ok(s.SaveDraft(ctx, hopper, "cart", []byte("a compiler book")))
	_, err = s.Merge(ctx, grace, hopper, "same person, told the help desk")
	ok(err)
	linus := rec(memory.Email("linus@example.com").AsVerified())
	torvalds := rec(memory.Account("cust-9").AsVerified())
	_, err = s.Merge(ctx, linus, torvalds, "looked alike")
	ok(err)
	ok(s.Unmerge(ctx, torvalds))

	// A device whose changes came by sync.
	dev := memory.Device("d-browser-1").AsVerified()
	web := rec(dev)
	_, err = s.Sync(ctx, dev, memory.SyncBase{}, []memory.Event{
		{Seq: 1, Kind: memory.EventFactRemembered, Fact: &memory.Fact{Key: "shipping.city", Value: "Utrecht", Purpose: memory.PurposeService, Channel: memory.ChannelWeb}},
		{Seq: 2, Kind: memory.EventIdentifierLinked, Identifier: &memory.Identifier{Kind: memory.KindEmail, Value: "web@example.com"}},
	})
	ok(err) // the typed address is kept on the customer and recognizes nobody

	// A shared browser: an anonymous memory that followed the first to
	// sign in, and a device that moved to the next.
	kiosk := memory.Device("d-kiosk-1").AsVerified()
	anon := rec(kiosk)
	ok(s.Remember(ctx, anon, memory.Fact{Key: "cart.size", Value: "M"}))
	first := rec(kiosk, memory.Account("cust-21").AsVerified())
	require.Equal(t, anon, first)
	second := rec(kiosk, memory.Account("cust-22").AsVerified())
	ok(s.Remember(ctx, second, memory.Fact{Key: "shipping.city", Value: "Delft"}))
	idents[first] = slices.DeleteFunc(idents[first], func(id memory.Identifier) bool { return id == kiosk })

	// Retention: a value that expired, erased by the store itself, and a
	// customer whose key was replaced for it; a draft kept in parts.
	keeper := rec(memory.Email("keeper@example.com").AsVerified())
	ok(s.Remember(ctx, keeper,
		memory.Fact{Key: "shipping.street", Value: "Keizersgracht 12", Retention: time.Hour},
		memory.Fact{Key: "size", Value: "XL"}))
	ok(s.SaveDraft(ctx, keeper, "layout", bytes.Repeat([]byte("0123456789abcdef"), 256<<10/16+1))) // just over a part
	c.Advance(2 * time.Hour)
	require.NoError(t, s.Compact(ctx)) // erases the expired value and replaces the key

	// Work for the queue: an issue the customer had to come back about,
	// and two negative outcomes (at risk while they are recent).
	again := rec(memory.Email("again@example.com").AsVerified())
	ok(s.SetName(ctx, again, "Edsger Dijkstra"))
	refund, err := s.OpenIssue(ctx, again, "refund for order Z-77", memory.ChannelEmail)
	ok(err)
	_, err = s.RecordContact(ctx, again, memory.Contact{Channel: memory.ChannelPhone, Issue: refund.ID, Outcome: memory.OutcomeNegative, Summary: "still no refund"})
	ok(err)
	_, err = s.RecordContact(ctx, again, memory.Contact{Channel: memory.ChannelChat, Outcome: memory.OutcomeNegative, Summary: "a curt reply"})
	ok(err)

	// A long history, one contact a write: packs of events, a full one
	// and the next block's (from store format 5).
	long := rec(memory.Email("long@example.com").AsVerified())
	for i := range 40 {
		_, err = s.RecordContact(ctx, long, memory.Contact{Channel: memory.ChannelPhone, Outcome: memory.OutcomePositive, Summary: fmt.Sprintf("call %d", i)})
		ok(err)
	}

	// A customer forgotten.
	gone := rec(memory.Email("gone@example.com").AsVerified(), memory.Phone("+31 20 555 0199"))
	ok(s.Remember(ctx, gone, memory.Fact{Key: "secret", Value: "remember me not"}))
	_, err = s.Forget(ctx, gone)
	ok(err)
	want.Forgotten = []string{"email:gone@example.com", "phone:+31205550199"}
	want.Receipts = 1

	require.NoError(t, s.Compact(ctx)) // the forgotten customer's data purged
	for _, id := range []memory.CustomerID{ada, grace, linus, torvalds, web, keeper, first, second, again, long} {
		e, err := s.Export(ctx, id)
		require.NoError(t, err)
		b, err := json.Marshal(e)
		require.NoError(t, err)
		var v any
		require.NoError(t, json.Unmarshal(b, &v))
		want.Customers[id] = v
	}
	for id, ids := range idents {
		if id == gone {
			continue
		}
		for _, ident := range ids {
			n, err := memory.Normalize(ident, "NL")
			require.NoError(t, err)
			holder, err := s.Lookup(ctx, n)
			require.NoError(t, err)
			want.Identifiers[string(n.Kind)+":"+n.Value] = holder
		}
	}
	require.NoError(t, s.Check(ctx))
	page, err := s.Queue(ctx, memory.QueueQuery{Limit: memory.MaxQueuePage})
	require.NoError(t, err)
	for _, e := range page.Entries {
		want.Queue = append(want.Queue, e.Customer)
	}

	data, err := os.Create(filepath.Join(dir, "backup.data"))
	require.NoError(t, err)
	keys, err := os.Create(filepath.Join(dir, "backup.keys"))
	require.NoError(t, err)
	require.NoError(t, s.Backup(ctx, data, keys))
	require.NoError(t, data.Close())
	require.NoError(t, keys.Close())
	require.NoError(t, s.Close())

	b, err := json.MarshalIndent(want, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "expected.json"), append(b, '\n'), 0o644))
	t.Logf("wrote the golden set %s", dir)
}

// TestGoldenOldHistoryPacked writes to customers of a store written before
// packs of events (format 4): their events, kept one a key, are packed with
// the new ones, and every event before and after reads as it was, in the
// store and in a backup of it.
func TestGoldenOldHistoryPacked(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	require.NoError(t, os.CopyFS(work, os.DirFS(filepath.Join("testdata", "golden", "v4", "store"))))
	s, err := memory.Open(ctx, memory.DefaultOptions(work))
	require.NoError(t, err)
	defer s.Close()
	for _, email := range []string{"ada@example.com", "again@example.com"} {
		id, err := s.Lookup(ctx, memory.Email(email))
		require.NoError(t, err)
		before, err := s.Export(ctx, id)
		require.NoError(t, err)
		for i := range 70 { // across three blocks of packs
			_, err := s.RecordContact(ctx, id, memory.Contact{Channel: memory.ChannelChat, Summary: fmt.Sprintf("packed %d", i)})
			require.NoError(t, err)
		}
		after, err := s.Export(ctx, id)
		require.NoError(t, err)
		require.Len(t, after.History, len(before.History)+70)
		require.Equal(t, before.History, after.History[:len(before.History)], "the old events read as they were")
		for i, e := range after.History[len(before.History):] {
			require.Equal(t, memory.EventContactRecorded, e.Kind)
			require.Equal(t, fmt.Sprintf("packed %d", i), e.Contact.Summary)
		}
	}
	require.NoError(t, s.Check(ctx))
}
