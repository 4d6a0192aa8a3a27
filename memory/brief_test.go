//go:build !wasip1

package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
)

func TestRememberReplacesAndKeepsHistory(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer

	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: "shipping.postcode", Value: "1011 AB", Channel: memory.ChannelWeb}))
	clk.Advance(time.Minute)
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: "shipping.postcode", Value: "1012 CD", Channel: memory.ChannelPhone}))
	// An older answer arriving late does not replace a newer one.
	require.NoError(t, s.Remember(ctx, id, memory.Fact{Key: "shipping.postcode", Value: "9999 ZZ", At: clk.Now().Add(-time.Hour)}))

	b := brief(t, s, id)
	require.Len(t, b.Facts, 1, "one value per key")
	require.Equal(t, "1012 CD", b.Facts[0].Value)
	require.Equal(t, memory.ChannelPhone, b.Facts[0].Channel)

	h, err := s.History(ctx, id)
	require.NoError(t, err)
	var values []string
	for _, e := range h {
		if e.Kind == memory.EventFactRemembered {
			values = append(values, e.Fact.Value)
		}
	}
	require.Equal(t, []string{"1011 AB", "1012 CD", "9999 ZZ"}, values)

	require.NoError(t, s.ForgetFact(ctx, id, "shipping.postcode"))
	require.Empty(t, brief(t, s, id).Facts)
	require.ErrorIs(t, s.ForgetFact(ctx, id, "shipping.postcode"), memory.ErrNotFound)
}

func TestRememberRefusesBadFactsAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	for name, f := range map[string]memory.Fact{
		"empty key":     {Key: "", Value: "x"},
		"upper key":     {Key: "Shipping", Value: "x"},
		"empty value":   {Key: "k", Value: ""},
		"long value":    {Key: "k", Value: string(make([]byte, 5000))},
		"bad purpose":   {Key: "k", Value: "x", Purpose: "selling"},
		"bad channel":   {Key: "k", Value: "x", Channel: "E Mail"},
		"neg retention": {Key: "k", Value: "x", Retention: -time.Second},
	} {
		err := s.Remember(ctx, id, memory.Fact{Key: "good", Value: "1"}, f)
		require.ErrorIs(t, err, memory.ErrInvalidInput, name)
		var ie *memory.InputError
		require.ErrorAs(t, err, &ie, name)
	}
	require.Empty(t, brief(t, s, id).Facts, "a bad fact fails the whole call")
}

func TestFactRetention(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	require.NoError(t, s.Remember(ctx, id,
		memory.Fact{Key: "order.number", Value: "A-1", Retention: 24 * time.Hour},
		memory.Fact{Key: "size", Value: "M"}))
	require.Len(t, brief(t, s, id).Facts, 2)
	clk.Advance(25 * time.Hour)
	b := brief(t, s, id)
	require.Len(t, b.Facts, 1, "an expired fact is not used")
	require.Equal(t, "size", b.Facts[0].Key)
	// The next write drops it for good.
	require.NoError(t, s.SetName(ctx, id, "Ada"))
	c, err := s.Customer(ctx, id)
	require.NoError(t, err)
	require.Len(t, c.Facts, 1)
}

func TestBriefFollowsPurposeAndConsent(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	require.NoError(t, s.Remember(ctx, id,
		memory.Fact{Key: "shipping.postcode", Value: "1011 AB"},
		memory.Fact{Key: "shoe.size", Value: "38", Purpose: memory.PurposePersonalization}))

	keysOf := func(q memory.BriefQuery) []string {
		b, err := s.Brief(ctx, id, q)
		require.NoError(t, err)
		var ks []string
		for _, f := range b.Facts {
			ks = append(ks, f.Key)
		}
		return ks
	}
	require.Equal(t, []string{"shipping.postcode"}, keysOf(memory.BriefQuery{}), "personalization needs consent")
	require.Empty(t, keysOf(memory.BriefQuery{Purpose: memory.PurposeMarketing}))

	require.NoError(t, s.RecordConsent(ctx, id, memory.Consent{Purpose: memory.PurposePersonalization, Granted: true, Source: "preferences page"}))
	require.Equal(t, []string{"shipping.postcode"}, keysOf(memory.BriefQuery{}), "a personalization fact is not for service")
	require.Equal(t, []string{"shipping.postcode", "shoe.size"}, keysOf(memory.BriefQuery{Purpose: memory.PurposePersonalization}))

	// Marketing on email only.
	require.NoError(t, s.RecordConsent(ctx, id, memory.Consent{Purpose: memory.PurposeMarketing, Channel: memory.ChannelEmail, Granted: true}))
	require.Empty(t, keysOf(memory.BriefQuery{Purpose: memory.PurposeMarketing}))
	require.Equal(t, []string{"shipping.postcode"}, keysOf(memory.BriefQuery{Purpose: memory.PurposeMarketing, Channel: memory.ChannelEmail}))

	// Refusing service hides service facts.
	require.NoError(t, s.RecordConsent(ctx, id, memory.Consent{Purpose: memory.PurposeService, Granted: false}))
	require.Empty(t, keysOf(memory.BriefQuery{}))

	_, err := s.Brief(ctx, id, memory.BriefQuery{Purpose: "spam"})
	require.ErrorIs(t, err, memory.ErrInvalidInput)
}

func TestMayContact(t *testing.T) {
	ctx := context.Background()
	s, clk := openClocked(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	monday10 := clk.Now() // Monday 10:00 UTC = 11:00 in Amsterdam

	d, err := s.MayContact(ctx, id, memory.ChannelEmail, memory.PurposeMarketing, monday10)
	require.NoError(t, err)
	require.False(t, d.Allowed)
	require.Equal(t, memory.ReasonNoConsent, d.Reason)
	require.Equal(t, "no consent for marketing on email", d.Explain)

	d, err = s.MayContact(ctx, id, memory.ChannelEmail, memory.PurposeService, monday10)
	require.NoError(t, err)
	require.True(t, d.Allowed)

	require.NoError(t, s.SetPreference(ctx, id, memory.PrefHours, "Mon-Fri 09:00-17:00 Europe/Amsterdam"))
	require.NoError(t, s.SetPreference(ctx, id, memory.PrefChannel, "email"))
	saturday := monday10.Add(5 * 24 * time.Hour)
	d, err = s.MayContact(ctx, id, memory.ChannelEmail, memory.PurposeService, saturday)
	require.NoError(t, err)
	require.Equal(t, memory.ReasonQuietHours, d.Reason)
	require.Contains(t, d.Explain, "mon,tue,wed,thu,fri 09:00-17:00 Europe/Amsterdam")
	evening := monday10.Add(7 * time.Hour) // 18:00 in Amsterdam
	d, err = s.MayContact(ctx, id, memory.ChannelEmail, memory.PurposeService, evening)
	require.NoError(t, err)
	require.Equal(t, memory.ReasonQuietHours, d.Reason)

	d, err = s.MayContact(ctx, id, memory.ChannelPhone, memory.PurposeService, monday10)
	require.NoError(t, err)
	require.Equal(t, memory.ReasonOtherChannel, d.Reason)
	require.Equal(t, "prefers email", d.Explain)

	require.NoError(t, s.SetPreference(ctx, id, memory.PrefPauseUntil, "2026-12-01"))
	d, err = s.MayContact(ctx, id, memory.ChannelEmail, memory.PurposeService, monday10)
	require.NoError(t, err)
	require.Equal(t, memory.ReasonPaused, d.Reason)
	b := brief(t, s, id)
	require.True(t, b.DoNotContact)
	require.Contains(t, b.DoNotContactReason, "2026-12-01")

	_, err = s.MayContact(ctx, id, memory.ChannelEmail, "spam", monday10)
	require.ErrorIs(t, err, memory.ErrInvalidInput)
	for _, bad := range []string{"always", "25:00-26:00", "mon-fri 9-5", "09:00-17:00 Mars/Olympus"} {
		require.ErrorIs(t, s.SetPreference(ctx, id, memory.PrefHours, bad), memory.ErrInvalidInput, bad)
	}
	require.ErrorIs(t, s.SetPreference(ctx, id, memory.PrefLanguage, "english please"), memory.ErrInvalidInput)
	require.NoError(t, s.SetPreference(ctx, id, memory.PrefLanguage, "en_gb"))
	v, _ := brief(t, s, id).Preference(memory.PrefLanguage)
	require.Equal(t, "en-GB", v)
}

func TestInfluence(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	id := recognize(t, s, memory.Email("ada@example.com")).Customer
	in, err := s.Influence(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, in.Score)

	for range 3 {
		require.NoError(t, s.RecordSignal(ctx, id, memory.Signal{Kind: memory.SignalReview}))
	}
	require.NoError(t, s.RecordSignal(ctx, id, memory.Signal{Kind: memory.SignalAudience, Count: 500}))
	require.NoError(t, s.RecordSignal(ctx, id, memory.Signal{Kind: memory.SignalAudience, Count: 25_000, Note: "blog"}))
	in, err = s.Influence(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 4, in.Score) // 1 + reviews 1 + audience 2
	require.Contains(t, in.Reasons, "3 reviews written (+1)")
	require.Contains(t, in.Reasons, "audience of 25000 (+2)")

	require.NoError(t, s.RecordSignal(ctx, id, memory.Signal{Kind: memory.SignalPublicComplaint}))
	require.NoError(t, s.RecordSignal(ctx, id, memory.Signal{Kind: memory.SignalReferral, Count: 5}))
	in, err = s.Influence(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 5, in.Score, "capped at 5")

	require.ErrorIs(t, s.RecordSignal(ctx, id, memory.Signal{Kind: "likes"}), memory.ErrInvalidInput)

	require.NoError(t, s.RecordConsent(ctx, id, memory.Consent{Purpose: memory.PurposeProfiling, Granted: false}))
	_, err = s.Influence(ctx, id)
	require.ErrorIs(t, err, memory.ErrNoConsent)
}
