//go:build !wasip1

package memory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

// contactSummaries returns how many times each contact summary is in the
// history of the customer that holds id.
func contactSummaries(t *testing.T, s *memory.Store, id memory.Identifier) map[string]int {
	t.Helper()
	ctx := context.Background()
	c, err := s.Lookup(ctx, id)
	require.NoError(t, err)
	exp, err := s.Export(ctx, c)
	require.NoError(t, err)
	seen := map[string]int{}
	for _, e := range exp.History {
		if e.Kind == memory.EventContactRecorded {
			seen[e.Contact.Summary]++
		}
	}
	return seen
}

// syncUntilAcknowledged sends a Local memory's pending changes until the
// store acknowledges them, renumbering them after each conflict, as the
// plugin's worker does. It gives up after tries attempts.
func syncUntilAcknowledged(ctx context.Context, s *memory.Store, dev memory.Identifier, l *memory.Local, tries int) (conflicts int, err error) {
	for range tries {
		res, err := s.Sync(ctx, dev, l.Synced(), l.Pending())
		var ce *memory.ConflictError
		switch {
		case err == nil:
			l.ApplySnapshot(res.Snapshot, res.Applied)
			if l.Synced() != res.SyncBase {
				return conflicts, fmt.Errorf("the memory's base %v is not the store's %v", l.Synced(), res.SyncBase)
			}
			return conflicts, nil
		case errors.As(err, &ce):
			conflicts++
			if err := l.Renumber(ce.Base); err != nil {
				return conflicts, err
			}
		case !errors.Is(err, memory.ErrBusy):
			return conflicts, err
		}
	}
	return conflicts, fmt.Errorf("not acknowledged after %d tries", tries)
}

// TestSyncFromManyCopiesOfOneDeviceLosesNothing restores one saved Local
// state in many goroutines, as tabs of one browser load the same saved
// memory; each records its own contacts, numbered alike from that base,
// and syncs them at once on one device. Invariants afterwards:
//
//   - every change the store acknowledged is in the customer's history,
//     exactly once;
//   - the store's base for the device follows the last of them;
//   - the store's invariants hold (Check, at cleanup).
func TestSyncFromManyCopiesOfOneDeviceLosesNothing(t *testing.T) {
	copies, each := 64, 10
	if testing.Short() {
		copies = 16
	}
	ctx := context.Background()
	s, clk := openClocked(t, func(o memory.Options) memory.Options { return o.WithSyncWrites(false) })
	dev := device(t, s, "one-browser")
	first := memory.NewLocal(clk.Now, "")
	require.NoError(t, first.SetName("Ada"))
	_, err := syncUntilAcknowledged(ctx, s, dev, first, 1)
	require.NoError(t, err)
	saved := first.State()

	var wg sync.WaitGroup
	errs := make([]error, copies)
	var mu sync.Mutex
	conflicts := 0
	for g := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := memory.NewLocal(clk.Now, "")
			if errs[g] = l.Restore(saved); errs[g] != nil {
				return
			}
			for i := range each {
				if _, errs[g] = l.RecordContact(memory.Contact{Channel: memory.ChannelWeb, Summary: fmt.Sprintf("copy %d, change %d", g, i)}); errs[g] != nil {
					return
				}
			}
			// Each round acknowledges at least one copy's changes: copies
			// rounds are enough, with room for ErrBusy.
			n, err := syncUntilAcknowledged(ctx, s, dev, l, 4*copies+16)
			errs[g] = err
			mu.Lock()
			conflicts += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	for g, err := range errs {
		require.NoError(t, err, "copy %d", g)
	}
	t.Logf("%d copies, %d changes each: %d conflicts renumbered", copies, each, conflicts)

	seen := contactSummaries(t, s, dev)
	for g := range copies {
		for i := range each {
			require.Equal(t, 1, seen[fmt.Sprintf("copy %d, change %d", g, i)], "copy %d, change %d", g, i)
		}
	}
	require.Len(t, seen, copies*each)
	res, err := s.Sync(ctx, dev, memory.SyncBase{}, nil)
	require.NoError(t, err)
	require.Equal(t, uint64(1+copies*each), res.Applied, "one name, then every contact, numbered one after the other")
}

// TestSyncTakesNoChangeForAnother: a change is skipped as applied only when
// it is that very change, sent again on the base it was sent on.
func TestSyncTakesNoChangeForAnother(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	dev := device(t, s, "browser-with-tabs")
	contact := func(seq uint64, summary string) memory.Event {
		return memory.Event{Seq: seq, Kind: memory.EventContactRecorded, At: clk.Now(),
			Contact: &memory.Contact{Channel: memory.ChannelWeb, Outcome: memory.OutcomeNeutral, Summary: summary}}
	}
	one, two := contact(1, "one"), contact(2, "two")
	res, err := s.Sync(ctx, dev, memory.SyncBase{}, []memory.Event{one, two})
	require.NoError(t, err)
	require.Equal(t, uint64(2), res.Applied)
	require.Len(t, res.Head, 22)
	applied := res.SyncBase

	// Sent again (the answer was lost): skipped, and answered the same.
	again, err := s.Sync(ctx, dev, memory.SyncBase{}, []memory.Event{one, two})
	require.NoError(t, err)
	require.Equal(t, applied, again.SyncBase)
	// Sent again with a change made since: only that one is applied.
	three := contact(3, "three")
	again, err = s.Sync(ctx, dev, memory.SyncBase{}, []memory.Event{one, two, three})
	require.NoError(t, err)
	require.Equal(t, uint64(3), again.Applied)
	applied = again.SyncBase
	require.Equal(t, map[string]int{"one": 1, "two": 1, "three": 1}, contactSummaries(t, s, dev))

	// Another tab's changes, numbered alike on an older base: refused, with
	// the store's base, and nothing applied; after renumbering, applied.
	for name, batch := range map[string]struct {
		base    memory.SyncBase
		changes []memory.Event
	}{
		"same numbers, other content":    {memory.SyncBase{}, []memory.Event{contact(1, "one"), contact(2, "other")}},
		"a prefix of what was applied":   {memory.SyncBase{}, []memory.Event{one}},
		"numbered past the store's last": {memory.SyncBase{Applied: 1}, []memory.Event{contact(4, "four")}},
		"on the store's Seq, other head": {memory.SyncBase{Applied: 3, Head: strings.Repeat("A", 22)}, []memory.Event{contact(4, "four")}},
		"on a base from the future":      {memory.SyncBase{Applied: 1 << 40, Head: applied.Head}, []memory.Event{contact(1<<40+1, "four")}},
	} {
		_, err := s.Sync(ctx, dev, batch.base, batch.changes)
		require.ErrorIs(t, err, memory.ErrSeqConflict, name)
		var ce *memory.ConflictError
		require.True(t, errors.As(err, &ce), name)
		require.Equal(t, applied, ce.Base, name)
	}
	require.Equal(t, map[string]int{"one": 1, "two": 1, "three": 1}, contactSummaries(t, s, dev), "the conflicts changed nothing")

	tab := memory.NewLocal(clk.Now, "")
	_, err = tab.RecordContact(memory.Contact{Channel: memory.ChannelWeb, Summary: "from the other tab"})
	require.NoError(t, err)
	_, err = s.Sync(ctx, dev, tab.Synced(), tab.Pending())
	var ce *memory.ConflictError
	require.True(t, errors.As(err, &ce))
	require.NoError(t, tab.Renumber(ce.Base))
	require.Equal(t, uint64(4), tab.Pending()[0].Seq)
	res, err = s.Sync(ctx, dev, tab.Synced(), tab.Pending())
	require.NoError(t, err)
	require.Equal(t, uint64(4), res.Applied)
	require.Equal(t, map[string]int{"one": 1, "two": 1, "three": 1, "from the other tab": 1}, contactSummaries(t, s, dev))
}

// TestSyncRefusesBadBases: a base that no store gave is refused as input,
// or as a conflict, and changes nothing; none makes the store fail.
func TestSyncRefusesBadBases(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	dev := device(t, s, "browser-forging-bases")
	named := func(seq uint64) []memory.Event {
		return []memory.Event{{Seq: seq, Kind: memory.EventNamed, Name: "Mallory", At: clk.Now()}}
	}
	for name, c := range map[string]struct {
		base    memory.SyncBase
		changes []memory.Event
		want    error
	}{
		"short head":         {memory.SyncBase{Head: "abc"}, named(1), memory.ErrInvalidInput},
		"head not base64url": {memory.SyncBase{Head: strings.Repeat("+", 22)}, named(1), memory.ErrInvalidInput},
		"head not canonical": {memory.SyncBase{Head: "AAAAAAAAAAAAAAAAAAAAAB"}, named(1), memory.ErrInvalidInput},
		"head too long":      {memory.SyncBase{Head: strings.Repeat("A", 4096)}, named(1), memory.ErrInvalidInput},
		"largest applied":    {memory.SyncBase{Applied: ^uint64(0)}, nil, memory.ErrInvalidInput},
		"change at its base": {memory.SyncBase{Applied: 5}, named(5), memory.ErrInvalidInput},
		"change before base": {memory.SyncBase{Applied: 5}, named(2), memory.ErrInvalidInput},
		"forged head":        {memory.SyncBase{Applied: 0, Head: "xxxxxxxxxxxxxxxxxxxxxA"}, named(1), memory.ErrSeqConflict},
		"forged applied":     {memory.SyncBase{Applied: 1 << 62}, named(1<<62 + 1), memory.ErrSeqConflict},
		"last seq there is":  {memory.SyncBase{Applied: ^uint64(0) - 1}, named(^uint64(0)), memory.ErrSeqConflict},
	} {
		_, err := s.Sync(ctx, dev, c.base, c.changes)
		require.ErrorIs(t, err, c.want, name)
	}
	res, err := s.Sync(ctx, dev, memory.SyncBase{}, nil)
	require.NoError(t, err)
	require.Equal(t, memory.SyncBase{}, res.SyncBase, "nothing applied")
	require.Empty(t, res.Snapshot.Name)
}

func TestLocalRenumbersAndDrops(t *testing.T) {
	local := memory.NewLocal(nil, "")
	is, err := local.OpenIssue("parcel late", memory.ChannelChat)
	require.NoError(t, err)
	for _, s := range []string{"a", "b"} {
		_, err := local.RecordContact(memory.Contact{Channel: memory.ChannelChat, Issue: is.ID, Summary: s})
		require.NoError(t, err)
	}
	seqs := func() (out []uint64) {
		for _, e := range local.Pending() {
			out = append(out, e.Seq)
		}
		return out
	}
	require.Equal(t, []uint64{1, 2, 4}, seqs(), "3 is the escalation, which is not sent")

	store := memory.SyncBase{Applied: 10, Head: strings.Repeat("A", 22)}
	require.NoError(t, local.Renumber(store))
	require.Equal(t, store, local.Synced())
	require.Equal(t, []uint64{11, 12, 14}, seqs(), "in order, after the store's base")
	require.True(t, local.Brief(memory.BriefQuery{}).Escalate, "the memory is as it was")

	// Renumbered down, the next issue still gets an ID of its own.
	require.NoError(t, local.Renumber(memory.SyncBase{}))
	require.Equal(t, []uint64{1, 2, 4}, seqs())
	other, err := local.OpenIssue("wrong size", memory.ChannelChat)
	require.NoError(t, err)
	require.NotEqual(t, is.ID, other.ID)
	require.Greater(t, local.Pending()[3].Seq, uint64(4))

	before := local.State()
	require.ErrorIs(t, local.Renumber(memory.SyncBase{Head: "forged"}), memory.ErrInvalidInput)
	require.ErrorIs(t, local.Renumber(memory.SyncBase{Applied: ^uint64(0) - 2}), memory.ErrInvalidInput, "no room after it")
	require.Equal(t, before, local.State(), "a refused base changes nothing")

	require.NoError(t, local.Drop(2))
	require.Equal(t, []uint64{1, 4, local.Pending()[2].Seq}, seqs())
	require.ErrorIs(t, local.Drop(2), memory.ErrNotFound)

	// Persisted with its base; a state whose changes do not follow its base
	// is refused.
	restored := memory.NewLocal(nil, "")
	require.NoError(t, restored.Restore(local.State()))
	require.Equal(t, local.State(), restored.State())
	st := local.State()
	st.Synced = memory.SyncBase{Applied: 1}
	require.ErrorIs(t, restored.Restore(st), memory.ErrInvalidInput)
	st.Synced = memory.SyncBase{Head: "not a head"}
	require.ErrorIs(t, restored.Restore(st), memory.ErrInvalidInput)
	require.Equal(t, local.State(), restored.State(), "a refused state changes nothing")
}
