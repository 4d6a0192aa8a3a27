package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

// exportOf posts to /export as b and decodes the file.
func exportOf(t *testing.T, b *browser) (*memory.Export, *http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", b.e.srv.URL+"/export", nil)
	req.Header.Set("X-Herken-CSRF", b.csrf)
	resp, err := b.c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body bytes.Buffer
	_, err = body.ReadFrom(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%.300s", body.String())
	var x memory.Export
	require.NoError(t, json.Unmarshal(body.Bytes(), &x), "%.300s", body.String())
	return &x, resp, body.Bytes()
}

// TestExportIsTheAccessRequest: the file a customer downloads is what the
// store holds about them, history, drafts and what agents wrote included,
// with the internal fields (influence, signals, at-risk, outcomes, agents'
// notes) and the
// browsers' cookie hashes withheld, and said so.
func TestExportIsTheAccessRequest(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	b := e.browser()
	b.remember("shipping.postcode", "1011 AB")
	b.remember("shipping.postcode", "2022 CD") // the old value stays in the history
	b.post("drafts/cart", `{"data":"{\"item\":\"trail-jacket\"}"}`, nil, http.StatusOK)
	id := browserCustomer(t, b)
	require.NoError(t, e.store.Update(ctx, id, func(tx *memory.Tx) error {
		is, err := tx.OpenIssue("Parcel late", memory.ChannelEmail)
		if err != nil {
			return err
		}
		_, err = tx.RecordContact(memory.Contact{Channel: memory.ChannelPhone, Issue: is.ID, Summary: "Agent: promised a refund", Outcome: memory.OutcomeNegative})
		if err != nil {
			return err
		}
		_, err = tx.RecordContact(memory.Contact{Channel: memory.ChannelEmail, Issue: is.ID, Summary: "Still no parcel", Outcome: memory.OutcomeNegative})
		if err != nil {
			return err
		}
		return tx.RecordSignal(memory.Signal{Kind: memory.SignalReview, Count: 3, Note: "wrote three reviews"})
	}))

	x, resp, raw := exportOf(t, b)
	require.Contains(t, resp.Header.Get("Content-Disposition"), `attachment; filename="herken-export-`)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Equal(t, memory.ExportFormat, x.Format)
	require.Equal(t, id, x.Customer.ID)
	require.Len(t, x.Drafts, 1)
	require.JSONEq(t, `{"item":"trail-jacket"}`, string(x.Drafts[0].Data))
	require.Contains(t, string(raw), "1011 AB", "the history holds the earlier answer")
	require.NotContains(t, string(raw), "Agent: promised a refund", "an agent's note stays on the server, as in the snapshot")
	require.NotEmpty(t, x.History)
	for _, internal := range []string{`"influence":`, `"signals":[{`, "wrote three reviews", string(memory.EventSignalRecorded), string(memory.EventAtRisk), `"outcome":"negative"`} {
		require.NotContains(t, string(raw), internal, "what stays on the server is withheld")
	}
	var file map[string]any
	require.NoError(t, json.Unmarshal(raw, &file))
	require.Contains(t, file, "withheld", "the file says what it leaves out")
	require.Contains(t, fmt.Sprint(file["withheld"]), "influence")

	// The store's file, encoded by encoding/json, and the handler's, written
	// a piece at a time, are the same but for the withheld device values.
	want, err := e.store.Export(ctx, id)
	require.NoError(t, err)
	require.NotNil(t, want.Influence, "the store's own export has the influence score")
	require.Contains(t, kinds(want.History), memory.EventAtRisk, "and the customer is at risk")
	want.Influence, want.Customer.Signals = nil, nil
	for i := range want.Customer.Contacts {
		want.Customer.Contacts[i].Outcome, want.Customer.Contacts[i].Summary = "", ""
	}
	kept := want.History[:0:0]
	for _, ev := range want.History {
		if ev.Kind == memory.EventSignalRecorded || ev.Kind == memory.EventAtRisk {
			continue
		}
		if ev.Contact != nil {
			ct := *ev.Contact
			ct.Outcome, ct.Summary = "", ""
			ev.Contact = &ct
		}
		kept = append(kept, ev)
	}
	want.History = kept
	dev := e.h.DeviceIdentifier(cookie(t, b)).Value
	require.NotContains(t, string(raw), dev, "the cookie's hash is withheld")
	devices := 0
	for _, ident := range x.Customer.Identifiers {
		if ident.Kind == memory.KindDevice {
			devices++
			require.Equal(t, "device-1", ident.Value)
		}
	}
	require.Equal(t, 1, devices)
	require.Len(t, x.History, len(want.History))
	for i := range want.History {
		if w := want.History[i].Identifier; w != nil && w.Kind == memory.KindDevice {
			require.Equal(t, dev, w.Value, "the store's own export is left as it was")
			require.Equal(t, "device-1", x.History[i].Identifier.Value, "the same device has the same name everywhere")
		}
	}
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	var a, g map[string]any
	require.NoError(t, json.Unmarshal([]byte(strings.ReplaceAll(string(wantJSON), dev, "device-1")), &a))
	require.NoError(t, json.Unmarshal(raw, &g))
	delete(a, "exported")
	delete(g, "exported")
	delete(g, "withheld")
	require.Equal(t, a, g, "everything else as the store gives it (but the time it was made)")
}

// TestExportAttacks is the attacker's side of /export: without the device's
// cookie and its CSRF token, from another site, for another customer, too
// often, or with a body it never reads, nothing of anyone's comes back.
func TestExportAttacks(t *testing.T) {
	clock := newStoppedClock()
	e := newEnv(t, plugin.Options{Rate: rate.Inf, Now: clock.Now})
	victim := e.browser()
	victim.remember("shipping.street", "Victim street 1")
	victimCookie := cookie(t, victim)

	refused := func(name string, status int, code string, csrf string, cookies []*http.Cookie, headers map[string]string) {
		t.Helper()
		req, _ := http.NewRequest("POST", e.srv.URL+"/export", nil)
		if csrf != "" {
			req.Header.Set("X-Herken-CSRF", csrf)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body bytes.Buffer
		_, _ = body.ReadFrom(resp.Body)
		require.Equal(t, status, resp.StatusCode, "%s: %s", name, body.String())
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), name)
		require.Contains(t, body.String(), `"code":"`+code+`"`, name)
		require.NotContains(t, body.String(), "Victim street", name)
	}
	dc := func(v string) []*http.Cookie { return []*http.Cookie{{Name: "herken_device", Value: v}} }
	refused("no cookie, the victim's CSRF token", http.StatusForbidden, "csrf", victim.csrf, nil, nil)
	refused("the victim's cookie, no CSRF token", http.StatusForbidden, "csrf", "", dc(victimCookie), nil)
	refused("a cookie made up", http.StatusForbidden, "csrf", victim.csrf, dc(randomToken()+".abc.def"), nil)
	forged := []byte(victimCookie)
	forged[len(forged)-2] ^= 1
	refused("the victim's cookie altered", http.StatusForbidden, "csrf", victim.csrf, dc(string(forged)), nil)
	refused("a cross-site request with the victim's cookie and token", http.StatusForbidden, "cross_origin", victim.csrf, dc(victimCookie),
		map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})

	// Another customer's browser gets its own memory, never the victim's;
	// a browser nobody knows gets an empty file.
	other := e.browser()
	x, _, raw := exportOf(t, other)
	require.Nil(t, x.Customer, "a device nobody is known by is held nothing about")
	require.Empty(t, x.History)
	require.NotContains(t, string(raw), "Victim street")
	other.remember("shipping.street", "Other road 2")
	x, _, raw = exportOf(t, other)
	require.NotNil(t, x.Customer)
	require.NotEqual(t, browserCustomer(t, victim), x.Customer.ID)
	require.NotContains(t, string(raw), "Victim street")
	require.Contains(t, string(raw), "Other road 2")

	// Two downloads, then the device waits: the API's limits apply, and
	// the export's own on top.
	exportOf(t, victim)
	exportOf(t, victim)
	refused("a third download at once", http.StatusTooManyRequests, "rate_limited", victim.csrf, dc(victimCookie), nil)
	clock.Advance(31 * time.Second)
	x, _, _ = exportOf(t, victim)
	require.Equal(t, browserCustomer(t, victim), x.Customer.ID, "the bucket refills")

	// A body is never read past the API's limit.
	status, _ := rawPost(t, other, "export", bytes.Repeat([]byte("{"), 1<<20))
	require.Equal(t, http.StatusRequestEntityTooLarge, status)
}

// TestExportSizeIsBounded: however long a customer's history grows, the
// file holds at most twice Limits.History events (older ones are folded),
// and it is complete.
func TestExportSizeIsBounded(t *testing.T) {
	ctx := context.Background()
	lim := memory.DefaultLimits()
	lim.History = 64
	s, err := memory.Open(ctx, memory.InMemoryOptions().WithLimits(lim))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	h, err := plugin.New(s, plugin.Options{Secret: secret, Rate: rate.Inf})
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, store: s, h: h, srv: srv}
	b := e.browser()
	b.remember("seed", "1")
	id := browserCustomer(t, b)
	for i := range 10 * lim.History {
		require.NoError(t, s.Update(ctx, id, func(tx *memory.Tx) error {
			return tx.Remember(memory.Fact{Key: fmt.Sprintf("k%d", i%8), Value: wide(4096, i)})
		}))
	}
	x, _, raw := exportOf(t, b)
	require.LessOrEqual(t, len(x.History), 2*lim.History, "the history is bounded by the store's limits")
	require.Len(t, x.Customer.Facts, 9)
	t.Logf("export of a history written %d times over its limit of %d: %d events, %d bytes", 10, lim.History, len(x.History), len(raw))
}

// TestExportOfACustomerAtTheLimits downloads the export of a customer at
// every documented limit, every text at its widest in JSON: the file is
// complete, and streamed (it has no Content-Length: the handler writes it
// a piece at a time, never holding it encoded whole). It measured 59 MB.
func TestExportOfACustomerAtTheLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("a customer of 40 MB; skipped with -short")
	}
	ctx := context.Background()
	s, err := memory.Open(ctx, memory.InMemoryOptions())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	var logs bytes.Buffer
	e := limitsEnv(t, s, &logs)
	b := e.browser()
	lim := s.Limits()
	syncFacts(t, b, lim)
	id := browserCustomer(t, b)
	fillToTheLimits(t, s, id)

	req, _ := http.NewRequest("POST", e.srv.URL+"/export", nil)
	req.Header.Set("X-Herken-CSRF", b.csrf)
	resp, err := b.c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Content-Length"), "streamed, not held whole to be measured")
	var x memory.Export
	n := &countingReader{r: resp.Body}
	require.NoError(t, json.NewDecoder(n).Decode(&x))
	require.Len(t, x.Customer.Facts, lim.Facts)
	require.Len(t, x.Drafts, lim.Drafts)
	for _, d := range x.Drafts {
		require.Len(t, d.Data, lim.DraftSize)
	}
	require.Empty(t, logs.String())
	t.Logf("export of a customer at the limits: %d bytes, %d events", n.n, len(x.History))
}

type countingReader struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestExportNamesEveryDevice: a customer signed in on two browsers sees two
// devices, each by its name, and neither hash.
func TestExportNamesEveryDevice(t *testing.T) {
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	one, two := e.browser(), e.browser()
	one.signIn("cust-9")
	two.signIn("cust-9")
	x, _, raw := exportOf(t, one)
	var names []string
	for _, id := range x.Customer.Identifiers {
		if id.Kind == memory.KindDevice {
			names = append(names, id.Value)
		}
	}
	require.ElementsMatch(t, []string{"device-1", "device-2"}, names)
	for _, b := range []*browser{one, two} {
		require.NotContains(t, string(raw), e.h.DeviceIdentifier(cookie(t, b)).Value)
	}
	require.Contains(t, string(raw), `"cust-9"`, "the account is the customer's own")
}

// kinds lists the kinds of events.
func kinds(events []memory.Event) []memory.EventKind {
	var k []memory.EventKind
	for _, e := range events {
		k = append(k, e.Kind)
	}
	return k
}
