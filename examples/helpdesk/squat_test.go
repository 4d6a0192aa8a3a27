package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

// TestClaimSquattingGainsNothing runs the shop's plugin and the help desk
// on one store, as a shop with its own help desk does. An attacker's
// browser types the victim's address before the victim ever wrote; then
// the victim's mail arrives at the help desk, and an agent records what
// the victim said. The attacker's browser must see none of it.
func TestClaimSquattingGainsNothing(t *testing.T) {
	ctx := context.Background()
	store, err := memory.Open(ctx, memory.InMemoryOptions())
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	h, err := plugin.New(store, plugin.Options{Secret: []byte("a secret of at least thirty-two bytes, for tests"), ClaimFloor: -1})
	require.NoError(t, err)
	shop := httptest.NewServer(h)
	t.Cleanup(shop.Close)
	d := newDesk(store)
	desk := httptest.NewServer(d.routes())
	t.Cleanup(desk.Close)

	// The attacker's browser claims the address.
	jar, _ := cookiejar.New(nil)
	attacker := &http.Client{Jar: jar}
	call := func(path, csrf, body string) map[string]any {
		req, _ := http.NewRequest("POST", shop.URL+"/"+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Herken-CSRF", csrf)
		resp, err := attacker.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
		var out map[string]any
		require.NoError(t, json.Unmarshal(b, &out))
		return out
	}
	csrf := call("session", "", "")["csrf"].(string)
	call("sync", csrf, `{"changes":[{"seq":1,"kind":"identifier.linked","identifier":{"kind":"email","value":"victim@example.com"}}]}`)

	// The victim writes to the help desk; an agent notes the order.
	var item inboxItem
	require.Equal(t, 200, post(t, desk.URL+"/api/contacts",
		`{"channel":"email","from":[{"kind":"email","value":"Victim@Example.com"}],"subject":"Refund for order Z-77"}`, &item))
	require.True(t, item.New, "the mail is a customer of its own")
	require.NoError(t, store.Remember(ctx, item.Customer, memory.Fact{Key: "order.number", Value: "Z-77", Channel: memory.ChannelEmail}))

	// The attacker's next session shows nothing of it.
	got := call("session", "", "")
	snap, _ := json.Marshal(got["snapshot"])
	require.NotContains(t, string(snap), "Refund")
	require.NotContains(t, string(snap), "Z-77")
	attackerID, err := h.Customer(&http.Request{Header: http.Header{"Cookie": {cookieHeader(jar, shop.URL)}}})
	require.NoError(t, err)
	require.NotEqual(t, attackerID, item.Customer)

	// A second mail finds the victim's record, not the attacker's.
	var again inboxItem
	require.Equal(t, 200, post(t, desk.URL+"/api/contacts",
		`{"channel":"email","from":[{"kind":"email","value":"victim@example.com"}],"subject":"Refund for order Z-77"}`, &again))
	require.Equal(t, item.Customer, again.Customer)
	require.True(t, again.Escalated)
	require.NoError(t, store.Check(ctx))
}

func cookieHeader(jar http.CookieJar, base string) string {
	req, _ := http.NewRequest("GET", base, nil)
	var parts []string
	for _, c := range jar.Cookies(req.URL) {
		parts = append(parts, c.Name+"="+c.Value)
	}
	return strings.Join(parts, "; ")
}
