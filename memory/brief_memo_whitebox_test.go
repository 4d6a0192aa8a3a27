//go:build !wasip1

package memory

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// briefQueries are the queries the memo tests ask: more than a memo keeps.
var briefQueries = []BriefQuery{
	{},
	{Purpose: PurposeService, Channel: ChannelEmail},
	{Purpose: PurposePersonalization},
	{Purpose: PurposeMarketing, Channel: ChannelEmail},
	{Purpose: PurposeMarketing, Channel: ChannelPhone},
	{Purpose: PurposeProfiling},
}

// TestBriefFromMemoIsBriefBuiltNow writes at random to a few customers
// what makes a brief depend on the time (facts that expire, the name as a
// fact that expires, negative contacts in and out of the at-risk window,
// pauses, contact hours in zones with summer time, consent), moves the
// clock at random, mostly forwards and often to the very instants at which
// something changes, and just before and after, and checks at every step that every
// brief the store serves, from its memo or not, is the one built from the
// customer's stored profile at that instant.
func TestBriefFromMemoIsBriefBuiltNow(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC) // Europe's summer time begins at 01:00 UTC
	clock := &fakeClock{now: start}
	s, err := Open(ctx, InMemoryOptions().WithClock(clock.Now).WithAtRiskWindow(time.Hour))
	require.NoError(t, err)
	defer s.Close()

	const customers = 4
	ids := make([]CustomerID, customers)
	for i := range ids {
		r, err := s.Recognize(ctx, Email(fmt.Sprintf("memo-%d@example.com", i)).AsVerified())
		require.NoError(t, err)
		ids[i] = r.Customer
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var moments []time.Time // instants at which a brief changes
	ahead := func() time.Duration { return time.Duration(rng.Int64N(int64(90 * time.Minute))) }
	purposes := []Purpose{PurposeService, PurposePersonalization, PurposeMarketing, PurposeProfiling}
	channels := []Channel{"", ChannelEmail, ChannelPhone}
	hours := []string{"09:00-17:30", "mon-fri 01:15-02:45 Europe/Amsterdam", "22:00-06:00 America/New_York", "sat-sun 00:00-23:59 Asia/Kolkata"}

	var expiries []time.Time // when facts expire: the eraser may have erased them since
	for step := range 1500 {
		now := clock.Now()
		id := ids[rng.IntN(customers)]
		switch rng.IntN(16) {
		case 0, 1:
			f := Fact{Key: fmt.Sprintf("k.%d", rng.IntN(3)), Value: fmt.Sprint(step), Purpose: purposes[rng.IntN(2)]}
			if rng.IntN(2) == 0 {
				f.Key = FactName
			}
			if rng.IntN(3) > 0 {
				f.Expires = now.Add(ahead())
				moments = append(moments, f.Expires)
				expiries = append(expiries, f.Expires)
			}
			require.NoError(t, s.Remember(ctx, id, f))
		case 2, 8, 9:
			at := now.Add(-time.Duration(rng.Int64N(int64(70 * time.Minute))))
			_, err := s.RecordContact(ctx, id, Contact{Channel: ChannelPhone, At: at, Outcome: OutcomeNegative})
			require.NoError(t, err)
			moments = append(moments, at.Add(time.Hour))
		case 3:
			until := now.Add(ahead())
			require.NoError(t, s.SetPreference(ctx, id, PrefPauseUntil, until.Format(time.RFC3339)))
			moments = append(moments, until.Truncate(time.Second))
		case 4:
			require.NoError(t, s.SetPreference(ctx, id, PrefHours, hours[rng.IntN(len(hours))]))
		case 5:
			require.NoError(t, s.SetPreference(ctx, id, PrefChannel, string(channels[1+rng.IntN(2)])))
		case 6:
			require.NoError(t, s.RecordConsent(ctx, id, Consent{Purpose: purposes[rng.IntN(len(purposes))], Channel: channels[rng.IntN(len(channels))], Granted: rng.IntN(2) == 0}))
		case 7:
			require.NoError(t, s.SetName(ctx, id, fmt.Sprint("name ", step)))
		default:
			// No write: only time passes.
		}

		// Move the clock, mostly forwards: to the next moment at which
		// something changes, or just before or after it; a little or far
		// ahead; or back, as far as no fact expired in between.
		next := clock.Now()
		switch rng.IntN(8) {
		case 0, 1, 2:
			var soon time.Time
			for _, m := range moments {
				if m.After(next) && (soon.IsZero() || m.Before(soon)) {
					soon = m
				}
			}
			if !soon.IsZero() {
				next = soon.Add(time.Duration(rng.IntN(3)-1) * time.Nanosecond)
			}
		case 3, 4:
			next = next.Add(time.Duration(rng.Int64N(int64(time.Minute))))
		case 5:
			next = next.Add(ahead())
		case 6:
			back := next.Add(-time.Duration(rng.Int64N(int64(10 * time.Minute))))
			if !slices.ContainsFunc(expiries, func(e time.Time) bool { return e.After(back) && !e.After(next) }) {
				next = back
			}
		}
		clock.Set(next)

		for c, id := range ids {
			for _, q := range briefQueries[:1+rng.IntN(len(briefQueries))] {
				got, err := s.Brief(ctx, id, q)
				if rng.IntN(2) == 0 {
					got, err = s.BriefFor(ctx, Email(fmt.Sprintf("memo-%d@example.com", c)), q)
				}
				require.NoError(t, err)
				require.Equal(t, built(t, s, id, q, clock.Now()), got, "step %d, %s at %s, %+v", step, id, clock.Now(), q)
			}
		}
	}
}

// built returns the brief of customer id for q at now, built from the
// stored profile, as no cache has it.
func built(t *testing.T, s *Store, id CustomerID, q BriefQuery, now time.Time) Brief {
	t.Helper()
	require.NoError(t, s.checkQuery(&q))
	var p *profile
	require.NoError(t, s.view(context.Background(), func(r *reader) error {
		var err error
		p, err = r.s.readProfile(r.t, r.start, id)
		return err
	}))
	q.Now = now.UTC()
	return p.brief(q, s.opts.atRiskWindow)
}

// TestBriefChangesNoLaterThanTheBrief checks briefChanges against the
// brief itself: at every instant before the change it names the brief is
// the one at its start, on profiles with every kind of time in a brief.
func TestBriefChangesNoLaterThanTheBrief(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC) // Europe's summer time ends at 01:00 UTC
	window := time.Hour
	for range 300 {
		p := newProfile("c", base)
		for i := range rng.IntN(4) {
			f := Fact{Key: fmt.Sprintf("k.%d", i), Value: "v", Purpose: PurposeService, At: base}
			if i == 0 {
				f.Key = FactName
			}
			if rng.IntN(2) == 0 {
				f.Expires = base.Add(time.Duration(rng.Int64N(int64(3 * time.Hour))))
			}
			p.Facts = upsertFact(p.Facts, f)
		}
		for range rng.IntN(4) {
			p.Negatives = append(p.Negatives, base.Add(time.Duration(rng.Int64N(int64(3*time.Hour)))-time.Hour))
		}
		if rng.IntN(2) == 0 {
			p.Prefs = upsertPref(p.Prefs, Preference{Key: PrefPauseUntil, Value: base.Add(time.Duration(rng.Int64N(int64(3 * time.Hour)))).Format(time.RFC3339)})
		}
		if rng.IntN(2) == 0 {
			p.Prefs = upsertPref(p.Prefs, Preference{Key: PrefHours, Value: "00:30-01:45 Europe/London"})
		}
		p.Name = "set"
		q := BriefQuery{Purpose: PurposeService, Now: base.Add(time.Duration(rng.Int64N(int64(2 * time.Hour))))}
		want := p.brief(q, window)
		next := p.briefChanges(q, window)
		if next.IsZero() {
			next = q.Now.Add(4 * time.Hour)
		}
		require.True(t, next.After(q.Now))
		for _, at := range []time.Time{q.Now.Add(1), next.Add(-1), q.Now.Add(time.Duration(rng.Int64N(int64(next.Sub(q.Now)))))} {
			later := q
			later.Now = at
			require.Equal(t, want, p.brief(later, window), "at %s, next change %s", at, next)
		}
	}
}

// TestPointedBriefLeavesWithItsProfile briefs more customers by email
// than the profile cache holds, and writes to some of them: an
// identifier's cache entry points only at a brief of a profile the cache
// holds now, so that what the entries keep is what the profile cache
// counts, and a brief served through the pointer is never one of a
// profile a write replaced.
func TestPointedBriefLeavesWithItsProfile(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, InMemoryOptions().WithCacheSize(128).WithSyncWrites(false))
	require.NoError(t, err)
	defer s.Close()
	email := func(i int) Identifier { return Email(fmt.Sprintf("pointed-%d@example.com", i)) }
	const customers = 600
	ids := make([]CustomerID, customers)
	for i := range customers {
		r, err := s.Recognize(ctx, email(i).AsVerified())
		require.NoError(t, err)
		ids[i] = r.Customer
	}
	rng := rand.New(rand.NewPCG(5, 6))
	pointed := 0
	for round := range 5 {
		for range 4 * customers {
			i := rng.IntN(customers)
			if rng.IntN(10) == 0 {
				require.NoError(t, s.Remember(ctx, ids[i], Fact{Key: "size", Value: fmt.Sprint(round)}))
			}
			b, err := s.BriefFor(ctx, email(i), BriefQuery{})
			require.NoError(t, err)
			require.Equal(t, ids[i], b.Customer)
		}
		for i := range customers {
			e, ok := s.idents.Get(identKey(email(i)))
			if !ok || e.hot == nil {
				continue
			}
			pointed++
			p, ok := s.profiles.Get(e.Customer)
			require.True(t, ok, "an entry points at a brief of a profile the cache dropped")
			require.Same(t, p.memo, e.hot.memo, "an entry points at a brief of a profile a write replaced")
		}
	}
	require.Positive(t, pointed, "no entry pointed at a brief: the test saw nothing")
}

// TestBriefFromMemoDoesNotAllocate guards the warm path: a brief of a
// cached customer by an identifier, when nothing changed, allocates
// nothing.
func TestBriefFromMemoDoesNotAllocate(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, InMemoryOptions())
	require.NoError(t, err)
	defer s.Close()
	email := Email("warm@example.com")
	r, err := s.Recognize(ctx, email.AsVerified())
	require.NoError(t, err)
	require.NoError(t, s.Remember(ctx, r.Customer, Fact{Key: "size", Value: "M"}, Fact{Key: FactName, Value: "Ada"}))
	_, err = s.OpenIssue(ctx, r.Customer, "parcel late", ChannelEmail)
	require.NoError(t, err)
	_, err = s.BriefFor(ctx, email, BriefQuery{})
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := s.BriefFor(ctx, email, BriefQuery{}); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "allocations a warm brief")
}
