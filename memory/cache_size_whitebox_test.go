//go:build !wasip1

package memory

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory/internal/codec"
	"github.com/herken/herken/memory/internal/seal"
)

// fullProfile returns a profile with every list at the default limits, each
// item as large as its bounds allow.
func fullProfile() *profile {
	lim := DefaultLimits()
	text := func(n, i int) string { return fmt.Sprintf("%04d", i) + strings.Repeat("x", n-4) }
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := newProfile(newCustomerID(), at)
	p.Name = text(256, 0)
	for i := range lim.Identifiers {
		p.Idents = append(p.Idents, link{Identifier: Identifier{Kind: Kind(text(32, i)), Value: text(256, i)}, At: at})
	}
	for i := range lim.Facts {
		p.Facts = append(p.Facts, Fact{Key: text(maxFactKey, i), Value: text(maxFactValue, i), Channel: ChannelWeb, Purpose: PurposeService, At: at})
	}
	for i := range lim.Preferences {
		p.Prefs = append(p.Prefs, Preference{Key: text(64, i), Value: text(maxPrefValue, i), At: at})
	}
	for i := range 4 * (MaxChannels + 1) {
		p.Consents = append(p.Consents, Consent{Purpose: PurposeMarketing, Channel: Channel(text(32, i)), Granted: true, At: at, Source: text(256, i)})
	}
	for i := range lim.OpenIssues {
		p.Open = append(p.Open, Issue{ID: IssueID(text(26, i)), Subject: text(maxSubject, i), Channel: ChannelChat, Opened: at, Status: IssueOpen, LastContact: at, LastChannel: ChannelChat})
	}
	for i := range MaxChannels {
		p.Last = append(p.Last, Contact{Channel: Channel(text(32, i)), At: at, Issue: IssueID(text(26, i)), Outcome: OutcomeNegative, Summary: text(maxSummary, i)})
	}
	for i := range lim.Drafts {
		p.Drafts = append(p.Drafts, draftRef{DraftInfo: DraftInfo{Name: text(64, i), Size: 1, Saved: at}, Owner: p.ID})
	}
	p.Negatives = []time.Time{at, at}
	return p
}

// TestCacheCostsBoundTheHeap decodes profiles as the store reads them and
// checks that the estimate the profile cache is bounded by is no less than
// what they take on the heap with a full memo of briefs, and not wildly more, for a customer at every
// limit and for a small one. The identifier and key caches' estimates are
// checked the same way.
func TestCacheCostsBoundTheHeap(t *testing.T) {
	small := newProfile(newCustomerID(), time.Now())
	small.Idents = []link{{Identifier: Email("ada@example.com").AsVerified(), At: time.Now()}}
	small.Facts = []Fact{{Key: "shipping.postcode", Value: "1011 AB", Channel: ChannelWeb, Purpose: PurposeService, At: time.Now()}}
	for name, p := range map[string]*profile{"at the limits": fullProfile(), "small": small} {
		b, err := codec.Marshal(p)
		require.NoError(t, err)
		n := 64
		if name == "small" {
			n = 4096 // enough that what other goroutines free is noise beside it
		}
		decode := func() *profile {
			p := new(profile)
			require.NoError(t, codec.Unmarshal(b, p))
			p.intern()
			fillMemo(p)
			return p
		}
		heap := heapGrowth(func() any {
			copies := make([]*profile, n)
			for i := range copies {
				copies[i] = decode()
			}
			return copies
		})
		per := heap / int64(n)
		one := decode()
		est := profileCost(one.ID, one)
		t.Logf("%s: %d bytes encoded, %d on the heap, estimated %d", name, len(b), per, est)
		require.GreaterOrEqual(t, est, per, name)
		require.Less(t, est, 2*per+1024, "%s: the estimate is not wildly high", name)
	}

	const n = 2048
	newKeys := func(i int) keyed {
		k, err := seal.NewKeys(bytes.Repeat([]byte{byte(i)}, 32), 1, bytes.Repeat([]byte{byte(i + 1)}, 32), 2)
		require.NoError(t, err)
		return keyed{ref: keyRef{Slot: 1, Old: 2}, keys: k}
	}
	keysHeap := heapGrowth(func() any {
		entries := make([]keyed, n)
		for i := range entries {
			entries[i] = newKeys(i)
		}
		return entries
	})
	t.Logf("a customer's keys, two of them: %d on the heap, estimated %d", keysHeap/n, keysCost("", newKeys(0)))
	require.GreaterOrEqual(t, keysCost("", newKeys(0)), keysHeap/n)

	k, v := identRef{KindEmail, strings.Repeat("a", 256)}, indexEntry{Customer: newCustomerID()}
	require.GreaterOrEqual(t, identCost(k, v), int64(256+len(v.Customer)))
}

// fillMemo gives p a memo with a brief for as many queries as it keeps,
// as a cached profile that briefs are asked of has.
func fillMemo(p *profile) {
	p.memo = new(briefMemo)
	now := time.Now().UTC()
	for _, q := range []BriefQuery{
		{Purpose: PurposeService},
		{Purpose: PurposePersonalization},
		{Purpose: PurposeMarketing, Channel: ChannelEmail},
		{Purpose: PurposeService, Channel: ChannelPhone},
	} {
		q.Now = now
		p.memoBrief(q, true, DefaultAtRiskWindow)
	}
}

// heapGrowth returns how much more of the heap is in use after fn than
// before, once the collector has run.
// What another goroutine frees meanwhile (a closed store's connections,
// say) makes the growth smaller, even negative: such a measure is taken
// again, a few times at most.
func heapGrowth(fn func() any) int64 {
	// The median of five: other goroutines allocate and free meanwhile.
	// What fn made is dropped before the next run.
	var grown []int64
	for range 5 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		made := fn()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(made)
		grown = append(grown, int64(after.HeapAlloc)-int64(before.HeapAlloc))
	}
	slices.Sort(grown)
	return grown[len(grown)/2]
}

// TestCachesBoundedInBytes briefs more customers than the caches may hold
// by their bound in bytes, though not by number: what they hold stays
// within WithCacheBytes, and every brief is still right.
func TestCachesBoundedInBytes(t *testing.T) {
	ctx := context.Background()
	const bound = 1 << 20 // 16 KiB a shard: one of these customers, with its briefs, each
	s, err := Open(ctx, InMemoryOptions().WithCacheBytes(bound).WithSyncWrites(false))
	require.NoError(t, err)
	defer s.Close()
	value := strings.Repeat("v", 1024)
	for i := range 100 {
		r, err := s.Recognize(ctx, Email(fmt.Sprintf("c%d@example.com", i)).AsVerified())
		require.NoError(t, err)
		var facts []Fact
		for j := range 4 {
			facts = append(facts, Fact{Key: fmt.Sprintf("k.%d", j), Value: value})
		}
		require.NoError(t, s.Remember(ctx, r.Customer, facts...))
		b, err := s.BriefFor(ctx, Email(fmt.Sprintf("c%d@example.com", i)), BriefQuery{Purpose: PurposeService})
		require.NoError(t, err)
		require.Len(t, b.Facts, 4)
		require.LessOrEqual(t, s.profiles.Bytes(), int64(bound))
		require.LessOrEqual(t, s.idents.Bytes()+s.ciphers.Bytes(), int64(bound/2))
	}
	t.Logf("profiles cached: %d, %d bytes", s.profiles.Len(), s.profiles.Bytes())
	require.Less(t, s.profiles.Len(), 100, "the bound in bytes came first")
	require.Positive(t, s.profiles.Len())

	_, err = Open(ctx, InMemoryOptions().WithCacheBytes(-1))
	require.ErrorIs(t, err, ErrInvalidInput)
}
