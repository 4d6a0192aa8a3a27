package plugin_test

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

const rememberStreet = `{"changes":[{"seq":1,"kind":"fact.remembered","fact":{"key":"shipping.street","value":"Keizersgracht 1","purpose":"service","channel":"web"}}]}`

// randomToken returns a value of the shape of a device token of the
// releases before tokens were signed: 32 random bytes.
func randomToken() string {
	raw := make([]byte, 32)
	_, _ = crand.Read(raw)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// call sends one API request with the given cookies and CSRF token, and
// returns the answer and its body.
func (e *env) call(path, body, csrf string, cookies ...*http.Cookie) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if csrf != "" {
		req.Header.Set("X-Herken-CSRF", csrf)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := e.srv.Client().Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func setCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestSelfMadeCookieGetsNoState presents a cookie the handler did not
// make, of the shape of a real one: the answer gives the browser a new
// device, the made-up one gets no customer, no rate bucket, and no CSRF
// token that works with it, whatever it sends.
func TestSelfMadeCookieGetsNoState(t *testing.T) {
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	ctx := context.Background()
	for _, made := range []string{randomToken(), randomToken() + "." + randomToken()[:22]} {
		forged := &http.Cookie{Name: "herken_device", Value: made}
		resp, body := e.call("session", "", "", forged)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		issued := setCookie(resp, "herken_device")
		require.NotNil(t, issued, "a new device")
		require.NotEqual(t, made, issued.Value)
		var sess struct{ CSRF string }
		mustJSON(t, body, &sess)

		// The CSRF token is the new device's: with the made-up cookie
		// it is refused, and nothing is created.
		resp, body = e.call("sync", rememberStreet, sess.CSRF, forged)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
		resp, body = e.call("drafts/cart", `{"data":"x"}`, sess.CSRF, forged)
		require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
		random, _, _ := strings.Cut(made, ".")
		_, err := e.store.Lookup(ctx, e.h.DeviceIdentifier(random))
		require.ErrorIs(t, err, memory.ErrNotFound, "the made-up device is unknown to the store")
	}
	_, devices := e.h.Buckets()
	require.Zero(t, devices, "no made-up device has a rate bucket")
}

// TestLegacyDeviceKeepsItsMemory presents the cookie of a device from the
// release before tokens were signed: 32 random bytes, which the store
// knows. The device keeps its memory, and its cookie is reissued signed,
// naming the same device. A token of that shape the store does not know is
// no device.
func TestLegacyDeviceKeepsItsMemory(t *testing.T) {
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	ctx := context.Background()
	legacy := randomToken()
	r, err := e.store.Recognize(ctx, e.h.DeviceIdentifier(legacy))
	require.NoError(t, err)
	require.NoError(t, e.store.Remember(ctx, r.Customer, memory.Fact{Key: "shipping.street", Value: "Keizersgracht 1"}))

	resp, body := e.call("session", "", "", &http.Cookie{Name: "herken_device", Value: legacy})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "Keizersgracht 1", "the device keeps its memory")
	signed := setCookie(resp, "herken_device")
	require.NotNil(t, signed, "the cookie is reissued")
	require.True(t, strings.HasPrefix(signed.Value, legacy+"."), "signed, for the same device: %s", signed.Value)
	var sess struct{ CSRF string }
	mustJSON(t, body, &sess)

	// The signed cookie works, and is not reissued again.
	resp, body = e.call("sync", `{"changes":[]}`, sess.CSRF, &http.Cookie{Name: "herken_device", Value: signed.Value})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "Keizersgracht 1")
	require.Nil(t, setCookie(resp, "herken_device"))
	id, err := e.h.Customer(cookieRequest(signed))
	require.NoError(t, err)
	require.Equal(t, r.Customer, id)

	// An unknown token of the legacy shape is replaced.
	unknown := randomToken()
	resp, body = e.call("session", "", "", &http.Cookie{Name: "herken_device", Value: unknown})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.NotContains(t, body, "Keizersgracht")
	require.False(t, strings.HasPrefix(setCookie(resp, "herken_device").Value, unknown))
	_, err = e.store.Lookup(ctx, e.h.DeviceIdentifier(unknown))
	require.ErrorIs(t, err, memory.ErrNotFound)
}

func cookieRequest(cs ...*http.Cookie) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range cs {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

// TestTwoDeviceCookiesAreRefused sends two device cookies, as a sibling
// subdomain that planted one would make a browser send: the request is
// refused with a clear problem, and changes nothing for either device.
func TestTwoDeviceCookiesAreRefused(t *testing.T) {
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	a, b := e.browser(), e.browser()
	ca := &http.Cookie{Name: "herken_device", Value: cookie(t, a)}
	cb := &http.Cookie{Name: "herken_device", Value: cookie(t, b)}
	for _, path := range []string{"session", "sync", "drafts/cart", "forget"} {
		body := map[string]string{"sync": rememberStreet, "drafts/cart": `{"data":"x"}`}[path]
		resp, got := e.call(path, body, a.csrf, ca, cb)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", path, got)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		require.Contains(t, got, `"code":"two_cookies"`)
		require.Nil(t, setCookie(resp, "herken_device"), "no new device either")
	}
	_, err := e.h.Customer(cookieRequest(ca, cb))
	require.Error(t, err)
	_, err = e.h.IdentityToken(cookieRequest(ca, cb), memory.Account("cust-1"))
	require.Error(t, err)
	for _, br := range []*browser{a, b} {
		var res syncAnswer
		br.post("sync", `{"changes":[]}`, &res, http.StatusOK)
		require.Empty(t, res.Snapshot.Facts, "nothing was changed")
	}
}

// TestHostPrefixedCookie checks the cookie's name and attributes: over
// HTTPS, or with SecureCookie behind a TLS proxy, it is
// __Host-herken_device, Secure, on Path=/ and without Domain, which no
// subdomain can set; over plain http it keeps its name. A device of the
// release before, whose cookie had the plain name over HTTPS, keeps its
// memory and gets the new cookie, the old one cleared.
func TestHostPrefixedCookie(t *testing.T) {
	ctx := context.Background()
	s, err := memory.Open(ctx, memory.InMemoryOptions())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	h, err := plugin.New(s, plugin.Options{Secret: secret, Rate: rate.Inf})
	require.NoError(t, err)
	tlsSrv := httptest.NewTLSServer(h)
	t.Cleanup(tlsSrv.Close)
	e := &env{t: t, store: s, h: h, srv: tlsSrv}

	resp, body := e.call("session", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	c := setCookie(resp, "__Host-herken_device")
	require.NotNil(t, c, "named with the prefix over HTTPS")
	require.True(t, c.Secure)
	require.Equal(t, "/", c.Path)
	require.Empty(t, c.Domain)
	require.True(t, c.HttpOnly)
	require.Nil(t, setCookie(resp, "herken_device"))

	// The prefixed cookie names the device.
	var sess struct{ CSRF string }
	mustJSON(t, body, &sess)
	resp, body = e.call("sync", rememberStreet, sess.CSRF, &http.Cookie{Name: c.Name, Value: c.Value})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)

	// A cookie of the plain name, from the release before: kept, moved.
	legacy := randomToken()
	r, err := s.Recognize(ctx, h.DeviceIdentifier(legacy))
	require.NoError(t, err)
	require.NoError(t, s.Remember(ctx, r.Customer, memory.Fact{Key: "shipping.city", Value: "Amsterdam"}))
	resp, body = e.call("session", "", "", &http.Cookie{Name: "herken_device", Value: legacy})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, "Amsterdam")
	moved := setCookie(resp, "__Host-herken_device")
	require.NotNil(t, moved)
	require.True(t, strings.HasPrefix(moved.Value, legacy+"."))
	cleared := setCookie(resp, "herken_device")
	require.NotNil(t, cleared, "the old cookie is cleared")
	require.Negative(t, cleared.MaxAge)
	// Two of the prefixed name are refused here too.
	resp, body = e.call("session", "", "", &http.Cookie{Name: c.Name, Value: c.Value}, &http.Cookie{Name: c.Name, Value: moved.Value})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, body)

	// Behind a TLS proxy, SecureCookie does the same; plain http keeps
	// the plain name.
	for secure, name := range map[bool]string{true: "__Host-herken_device", false: "herken_device"} {
		pe := newEnv(t, plugin.Options{Rate: rate.Inf, SecureCookie: secure})
		resp, body := pe.call("session", "", "")
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		got := setCookie(resp, name)
		require.NotNil(t, got, name)
		require.Equal(t, secure, got.Secure)
	}
	_, err = plugin.New(s, plugin.Options{Secret: secret, CookieName: "__Host-mine"})
	require.Error(t, err, "the handler adds the prefix itself")
}

// TestIdentityTokenUsedOnceAcrossHandlers uses an identity token on one
// handler and presents it again to another on the same store, as two
// instances of a shop behind a load balancer would see it: the second
// refuses it.
func TestIdentityTokenUsedOnceAcrossHandlers(t *testing.T) {
	e := newEnv(t, plugin.Options{Rate: rate.Inf})
	h2, err := plugin.New(e.store, plugin.Options{Secret: secret, Rate: rate.Inf})
	require.NoError(t, err)
	srv2 := httptest.NewServer(h2)
	t.Cleanup(srv2.Close)
	second := &env{t: t, store: e.store, h: h2, srv: srv2}
	ctx := context.Background()
	_, err = e.store.Recognize(ctx, memory.Account("cust-42").AsVerified())
	require.NoError(t, err)

	b := e.browser()
	device := &http.Cookie{Name: "herken_device", Value: cookie(t, b)}
	token, err := e.h.IdentityToken(cookieRequest(device), memory.Account("cust-42"))
	require.NoError(t, err)
	b.post("identify", `{"token":"`+token+`"}`, nil, http.StatusOK)
	resp, body := second.call("identify", `{"token":"`+token+`"}`, b.csrf, device)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	require.Contains(t, body, "used already")

	// A fresh token for the same device is good on the second handler.
	token, err = h2.IdentityToken(cookieRequest(device), memory.Account("cust-42"))
	require.NoError(t, err)
	resp, body = second.call("identify", `{"token":"`+token+`"}`, b.csrf, device)
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
}

func mustJSON(t *testing.T, body string, out any) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(body), out), body)
}
