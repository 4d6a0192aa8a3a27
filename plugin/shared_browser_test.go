package plugin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
	"github.com/herken/herken/plugin/wire"
)

// signIn identifies b as account, as the shop's login does.
func (b *browser) signIn(account string) syncAnswer {
	b.e.t.Helper()
	token := plugin.SignIdentity(secret, memory.Account(account), cookie(b.e.t, b), time.Now().Add(time.Minute))
	var res syncAnswer
	b.post("identify", `{"token":"`+token+`"}`, &res, http.StatusOK)
	return res
}

// sendOnStoreBase syncs changes as a worker that lost track of its base:
// on the zero base, and after a conflict once more, renumbered after the
// store's base. It returns the last answer.
func (b *browser) sendOnStoreBase(changes ...memory.Event) (int, []byte) {
	b.e.t.Helper()
	status, body := rawPost(b.e.t, b, "sync", []byte(`{"changes":`+string(wire.AppendChanges(nil, changes))+`}`))
	if status != http.StatusConflict {
		return status, body
	}
	var base memory.SyncBase
	require.NoError(b.e.t, json.Unmarshal(body, &base))
	for i := range changes {
		changes[i].Seq = base.Applied + 1 + uint64(i)
	}
	based, _ := json.Marshal(base)
	return rawPost(b.e.t, b, "sync", []byte(`{"base":`+string(based)+`,"changes":`+string(wire.AppendChanges(nil, changes))+`}`))
}

// send is sendOnStoreBase that wants status, and decodes the answer into out.
func (b *browser) send(out any, status int, changes ...memory.Event) {
	b.e.t.Helper()
	got, body := b.sendOnStoreBase(changes...)
	require.Equal(b.e.t, status, got, "%s", body)
	if out != nil {
		require.NoError(b.e.t, json.Unmarshal(body, out), "%s", body)
	}
}

func fact(key, value string, at time.Time) memory.Event {
	return memory.Event{Seq: 1, Kind: memory.EventFactRemembered, Fact: &memory.Fact{Key: key, Value: value,
		Purpose: memory.PurposeService, Channel: memory.ChannelWeb, At: at}}
}

func claim(addr string) memory.Event {
	return memory.Event{Seq: 1, Kind: memory.EventIdentifierLinked, Identifier: &memory.Identifier{Kind: memory.KindEmail, Value: addr}}
}

func (b *browser) remember(key, value string) {
	b.e.t.Helper()
	b.send(nil, http.StatusOK, fact(key, value, time.Time{}))
}

func (b *browser) logout() {
	b.e.t.Helper()
	var res struct {
		CSRF     string          `json:"csrf"`
		Snapshot memory.Snapshot `json:"snapshot"`
	}
	b.post("logout", "", &res, http.StatusOK)
	require.NotEmpty(b.e.t, res.CSRF)
	require.Empty(b.e.t, res.Snapshot.Facts)
	b.csrf = res.CSRF
}

func facts(s memory.Snapshot) map[string]string {
	m := map[string]string{}
	for _, f := range s.Facts {
		m[f.Key] = f.Value
	}
	return m
}

// TestSharedBrowserKeepsAccountsApart is the family computer: alice signs
// in, gives her street, signs out; bob signs in on the same browser.
func TestSharedBrowserKeepsAccountsApart(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	b := e.browser()
	b.remember("cart.size", "L") // anonymous, before anyone signs in
	a := b.signIn("alice")
	require.Equal(t, "L", facts(a.Snapshot)["cart.size"], "the anonymous memory follows alice")
	b.remember("shipping.street", "Alice Street 1")
	b.logout()

	// After the logout, the browser reaches nothing of alice.
	var s syncAnswer
	b.post("session", "", &s, http.StatusOK)
	require.Empty(t, s.Snapshot.Facts)
	var exp memory.Export
	b.post("export", "", &exp, http.StatusOK)
	require.Nil(t, exp.Customer, "the browser is nobody's")
	require.Empty(t, exp.History)

	bob := b.signIn("bob")
	require.Empty(t, facts(bob.Snapshot), "bob sees nothing of alice's")
	for _, id := range bob.Snapshot.Identifiers {
		require.NotEqual(t, "alice", id.Value)
	}
	aliceID, err := e.store.Lookup(ctx, memory.Account("alice"))
	require.NoError(t, err)
	bobID, err := e.store.Lookup(ctx, memory.Account("bob"))
	require.NoError(t, err)
	require.NotEqual(t, aliceID, bobID)

	// Bob on a new device sees only bob's.
	nb := e.browser()
	require.Empty(t, facts(nb.signIn("bob").Snapshot))

	// Bob forgets himself: alice stays.
	var f struct{ CSRF string }
	b.post("forget", "", &f, http.StatusOK)
	c, err := e.store.Customer(ctx, aliceID)
	require.NoError(t, err)
	require.Len(t, c.Facts, 2)
	require.NoError(t, e.store.Check(ctx))
}

// TestKioskWithoutLogout: alice walks away signed in; bob signs in. The
// device moves to bob, alice keeps hers.
func TestKioskWithoutLogout(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	b := e.browser()
	b.signIn("alice")
	b.remember("shipping.street", "Alice Street 1")
	bob := b.signIn("bob")
	require.Empty(t, facts(bob.Snapshot))
	var s syncAnswer
	b.post("session", "", &s, http.StatusOK)
	require.Empty(t, facts(s.Snapshot), "the browser is bob's now")

	aliceID, err := e.store.Lookup(ctx, memory.Account("alice"))
	require.NoError(t, err)
	bobID, err := e.store.Lookup(ctx, memory.Account("bob"))
	require.NoError(t, err)
	require.NotEqual(t, aliceID, bobID)
	c, err := e.store.Customer(ctx, aliceID)
	require.NoError(t, err)
	require.Len(t, c.Facts, 1)
}

// TestLogoutFromTheShopsServer: the shop's own logout handler calls
// Handler.Logout; the browser gets a new device cookie.
func TestLogoutFromTheShopsServer(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	b := e.browser()
	b.signIn("alice")
	b.remember("shipping.street", "Alice Street 1")
	before := cookie(t, b)

	rec := &cookieRecorder{header: http.Header{}}
	req, _ := http.NewRequest("POST", e.srv.URL+"/shop/logout", nil)
	req.AddCookie(&http.Cookie{Name: "herken_device", Value: before})
	require.NoError(t, e.h.Logout(rec, req))
	resp := http.Response{Header: rec.header}
	cs := resp.Cookies()
	require.Len(t, cs, 1)
	require.NotEqual(t, before, cs[0].Value, "a new device")

	aliceID, err := e.store.Lookup(ctx, memory.Account("alice"))
	require.NoError(t, err)
	d, err := e.h.Customer(req)
	require.ErrorIs(t, err, memory.ErrNotFound, "the old cookie reaches nobody: %s", d)
	c, err := e.store.Customer(ctx, aliceID)
	require.NoError(t, err)
	require.Len(t, c.Facts, 1)
}

type cookieRecorder struct{ header http.Header }

func (r *cookieRecorder) Header() http.Header         { return r.header }
func (r *cookieRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *cookieRecorder) WriteHeader(int)             {}

// TestClaimAtTheLimitAnswersTheSame fills the attacker's own customer with
// claims up to its identifier limit, then claims the address to test: the
// answer must be the same bytes whether or not anyone holds it.
func TestClaimAtTheLimitAnswersTheSame(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, plugin.Options{Rate: rate.Inf, ClaimFloor: -1})
	_, err := e.store.Recognize(ctx, memory.Email("held@example.com").AsVerified())
	require.NoError(t, err)
	limit := memory.DefaultLimits().Identifiers
	answer := func(addr string) (int, string) {
		b := e.browser()
		var changes []memory.Event
		for i := range limit - 1 { // the device is one
			c := claim(fmt.Sprintf("f%d@example.com", i))
			c.Seq = uint64(i + 1)
			changes = append(changes, c)
		}
		b.send(nil, http.StatusOK, changes...)
		status, body := b.sendOnStoreBase(claim(addr))
		return status, string(body)
	}
	for range 5 {
		hs, hb := answer("held@example.com")
		fs, fb := answer(fmt.Sprintf("free-%d@example.com", time.Now().UnixNano()))
		require.Equal(t, hs, fs)
		require.Equal(t, hb, fb)
	}
}

// TestClaimFloorHoldsTheWholeAnswer: with a memory large enough that the
// answer cannot sit in the server's write buffer, not a byte of it may
// arrive before the floor.
func TestClaimFloorHoldsTheWholeAnswer(t *testing.T) {
	const floor = 30 * time.Millisecond
	e := newEnv(t, plugin.Options{Rate: rate.Inf, ClaimFloor: floor})
	b := e.browser()
	var changes []memory.Event
	for i := range 40 {
		c := fact(fmt.Sprintf("note.n%d", i), strings.Repeat("x", 1000), time.Time{})
		c.Seq = uint64(i + 1)
		changes = append(changes, c)
	}
	b.send(nil, http.StatusOK, changes...)
	for i := range 5 {
		// The store's base, from a conflict, for a sync that applies.
		status, body := rawPost(t, b, "sync", []byte(`{"changes":[{"seq":1,"kind":"profile.named","name":"x"}]}`))
		require.Equal(t, http.StatusConflict, status, "%s", body)
		var base memory.SyncBase
		require.NoError(t, json.Unmarshal(body, &base))
		based, _ := json.Marshal(base)
		req, _ := http.NewRequest("POST", e.srv.URL+"/sync", strings.NewReader(
			fmt.Sprintf(`{"base":%s,"changes":[{"seq":%d,"kind":"identifier.linked","identifier":{"kind":"email","value":"probe%d@example.com"}}]}`,
				based, base.Applied+1, i)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Herken-CSRF", b.csrf)
		start := time.Now()
		resp, err := b.c.Do(req) // returns at the answer's first bytes
		require.NoError(t, err)
		first := time.Since(start)
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Greater(t, n, int64(32<<10), "an answer larger than any write buffer")
		require.GreaterOrEqual(t, first, floor, "the answer started before the floor")
	}
}

// TestFutureConsentFromABrowserIsRefused: a consent dated 9999 would win
// over every later withdrawal.
func TestFutureConsentFromABrowserIsRefused(t *testing.T) {
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	b := e.browser()
	b.remember("k", "v")
	var p struct{ Code string }
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	b.send(&p, http.StatusUnprocessableEntity, memory.Event{Seq: 1, Kind: memory.EventConsentRecorded, Consent: &memory.Consent{
		Purpose: memory.PurposeMarketing, Channel: memory.ChannelEmail, Granted: true, At: far, Source: "widget"}})
	require.Equal(t, "invalid", p.Code)
	b.send(&p, http.StatusUnprocessableEntity, fact("k", "w", far))
	var s syncAnswer
	b.post("sync", `{"changes":[]}`, &s, http.StatusOK)
	require.Empty(t, s.Snapshot.Consents)
	require.Equal(t, "v", facts(s.Snapshot)["k"])
}

// TestChangesBeforeTheDeviceExistedAreRefused: a device cannot say it did
// anything before its token was made.
func TestChangesBeforeTheDeviceExistedAreRefused(t *testing.T) {
	born := time.Now().UTC()
	e := newEnv(t, plugin.Options{Rate: rate.Inf, Now: func() time.Time { return born }})
	b := e.browser()
	old := born.Add(-time.Hour).Format(time.RFC3339)
	var p struct {
		Code   string
		Detail string
	}
	b.post("sync", `{"changes":[{"seq":1,"kind":"fact.remembered","fact":{"key":"k","value":"v","purpose":"service","channel":"web","at":"`+old+`"}}]}`, &p, http.StatusUnprocessableEntity)
	require.Contains(t, p.Detail, "before this device existed")
	b.post("sync", `{"changes":[{"seq":1,"kind":"consent.recorded","at":"`+old+`","consent":{"purpose":"marketing","channel":"email","granted":false,"source":"widget"}}]}`, &p, http.StatusUnprocessableEntity)
	// Within the clock skew: kept.
	recent := born.Add(-time.Minute).Format(time.RFC3339)
	var s syncAnswer
	b.post("sync", `{"changes":[{"seq":1,"kind":"fact.remembered","fact":{"key":"k","value":"v","purpose":"service","channel":"web","at":"`+recent+`"}}]}`, &s, http.StatusOK)
	require.Equal(t, "v", facts(s.Snapshot)["k"])
}

// post sends a request with exactly the given cookies, as a hostile page
// or a planted cookie makes a browser send them.
func postWith(t *testing.T, e *env, path, body, csrf string, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set("X-Herken-CSRF", csrf)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func deviceCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "herken_device") && c.MaxAge >= 0 {
			return c
		}
	}
	return nil
}

// TestPlantedCookieFixesNoDevice: on a secure site, an attacker plants
// their own device's token under the cookie's plain name (from a sibling
// subdomain, or over plain http), hoping the victim's browser adopts that
// device, so that what the victim signs in to and types is the attacker's
// to read with their own cookie.
func TestPlantedCookieFixesNoDevice(t *testing.T) {
	e := newEnv(t, plugin.Options{Rate: rate.Inf, SecureCookie: true})
	resp, _ := postWith(t, e, "session", "", "")
	attacker := deviceCookie(resp)
	require.Equal(t, "__Host-herken_device", attacker.Name)
	resp, body := postWith(t, e, "session", "", "", &http.Cookie{Name: "herken_device", Value: attacker.Value})
	victim := deviceCookie(resp)
	require.NotNil(t, victim, "the victim gets a device of their own")
	require.NotEqual(t, strings.Split(attacker.Value, ".")[0], strings.Split(victim.Value, ".")[0], "not the attacker's")
	var s struct{ CSRF string }
	require.NoError(t, json.Unmarshal([]byte(body), &s))
	vc := &http.Cookie{Name: victim.Name, Value: victim.Value}
	tok := plugin.SignIdentity(secret, memory.Account("victim"), victim.Value, time.Now().Add(time.Minute))
	resp, body = postWith(t, e, "identify", `{"token":"`+tok+`"}`, s.CSRF, vc)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	resp, body = postWith(t, e, "sync", `{"changes":[{"seq":1,"kind":"fact.remembered","fact":{"key":"shipping.street","value":"Victim Street 9","purpose":"service","channel":"web"}}]}`, s.CSRF, vc)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	_, body = postWith(t, e, "session", "", "", &http.Cookie{Name: attacker.Name, Value: attacker.Value})
	require.NotContains(t, body, "Victim Street")
	require.NotContains(t, body, "victim")
}

// TestSignedTokenCutToTheOldFormIsNoDevice: a signed token cut to its
// random part looks like an unsigned token of the release before; it must
// not pass for one (which would drop the time the device was made, and
// with it the bound on backdated changes).
func TestSignedTokenCutToTheOldFormIsNoDevice(t *testing.T) {
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	b := e.browser()
	b.remember("a", "1")
	old := time.Now().Add(-3 * 365 * 24 * time.Hour)
	status, body := b.sendOnStoreBase(fact("b", "backdated", old))
	require.Equal(t, http.StatusUnprocessableEntity, status, "%s", body)
	random, _, _ := strings.Cut(cookie(t, b), ".")
	resp, answer := postWith(t, e, "session", "", "", &http.Cookie{Name: "herken_device", Value: random})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, answer, `"a"`, "the cut token reaches nothing of the device")
	again := deviceCookie(resp)
	require.NotNil(t, again)
	require.False(t, strings.HasPrefix(again.Value, random), "a new device, not the old one reissued")
}

// TestLogoutOfAnAnonymousBrowserLeavesNothingBehind: a visitor who never
// signed in logs out; nothing could reach their memory after, so it is
// erased rather than left with no way to it.
func TestLogoutOfAnAnonymousBrowserLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	b := e.browser()
	b.remember("cart.size", "L")
	id, err := e.h.Customer(browserRequest(t, b))
	require.NoError(t, err)
	b.logout()
	_, err = e.store.Customer(ctx, id)
	require.ErrorIs(t, err, memory.ErrNotFound, "the anonymous memory is forgotten")
	rs, err := e.store.Receipts(ctx)
	require.NoError(t, err)
	require.Len(t, rs, 1)
}
