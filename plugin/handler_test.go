package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/herken/herken/memory"
	"github.com/herken/herken/plugin"
)

var secret = []byte("0123456789abcdef0123456789abcdef-test-secret")

type env struct {
	t     *testing.T
	store *memory.Store
	h     *plugin.Handler
	srv   *httptest.Server
}

func newEnv(t *testing.T, opts plugin.Options) *env {
	t.Helper()
	s, err := memory.Open(context.Background(), memory.InMemoryOptions())
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	if opts.Secret == nil {
		opts.Secret = secret
	}
	h, err := plugin.New(s, opts)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, store: s, h: h, srv: srv}
}

// browser is a client with a cookie jar and the CSRF token of its session.
type browser struct {
	e    *env
	c    *http.Client
	csrf string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{e: e, c: &http.Client{Jar: jar}}
	var res struct{ CSRF string }
	b.post("session", "", &res, http.StatusOK)
	b.csrf = res.CSRF
	require.NotEmpty(e.t, b.csrf)
	return b
}

func (b *browser) do(req *http.Request, out any, status int) *http.Response {
	b.e.t.Helper()
	resp, err := b.c.Do(req)
	require.NoError(b.e.t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(b.e.t, status, resp.StatusCode, "%s %s: %s", req.Method, req.URL.Path, body)
	if status >= 400 {
		require.Equal(b.e.t, "application/problem+json", resp.Header.Get("Content-Type"))
	}
	if out != nil {
		require.NoError(b.e.t, json.Unmarshal(body, out), "%s", body)
	}
	return resp
}

func (b *browser) post(path, body string, out any, status int) *http.Response {
	b.e.t.Helper()
	req, _ := http.NewRequest("POST", b.e.srv.URL+"/"+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if b.csrf != "" {
		req.Header.Set("X-Herken-CSRF", b.csrf)
	}
	return b.do(req, out, status)
}

type syncAnswer struct {
	Snapshot memory.Snapshot `json:"snapshot"`
	Applied  uint64          `json:"applied"`
}

func TestSyncThroughTheHandler(t *testing.T) {
	e := newEnv(t, plugin.Options{})
	b := e.browser()
	var res syncAnswer
	b.post("sync", `{"changes":[
		{"seq":1,"kind":"fact.remembered","fact":{"key":"shipping.postcode","value":"1011 AB","purpose":"service","channel":"web"}},
		{"seq":2,"kind":"identifier.linked","identifier":{"kind":"email","value":"ada@example.com"}}]}`, &res, http.StatusOK)
	require.Equal(t, uint64(2), res.Applied)
	require.Len(t, res.Snapshot.Facts, 1)
	require.Empty(t, res.Snapshot.Identifiers, "claims are not shown to the browser")
	_, err := e.store.Lookup(context.Background(), memory.Email("ada@example.com"))
	require.ErrorIs(t, err, memory.ErrNotFound, "a typed address recognizes nobody")

	// The same cookie in a fresh session sees the memory.
	var again struct {
		CSRF     string          `json:"csrf"`
		Snapshot memory.Snapshot `json:"snapshot"`
	}
	b.post("session", "", &again, http.StatusOK)
	require.Equal(t, "1011 AB", again.Snapshot.Facts[0].Value)
	require.Equal(t, b.csrf, again.CSRF)

	// Export, then forget: the device becomes a stranger.
	var exp memory.Export
	resp := b.post("export", "", &exp, http.StatusOK)
	require.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
	require.Len(t, exp.Customer.Facts, 1)
	var f struct {
		Forgotten bool
		CSRF      string
		Receipt   *memory.Receipt
	}
	b.post("forget", "", &f, http.StatusOK)
	require.True(t, f.Forgotten)
	require.NotNil(t, f.Receipt, "the answer holds the receipt")
	require.Equal(t, 1, f.Receipt.Erased["facts"])
	require.False(t, f.Receipt.At.IsZero())
	b.csrf = f.CSRF
	b.post("session", "", &again, http.StatusOK)
	require.Empty(t, again.Snapshot.Facts)
	f.Receipt = nil
	b.post("forget", "", &f, http.StatusOK)
	require.Nil(t, f.Receipt, "a stranger's forget erases nothing, and has no receipt")
	b.csrf = f.CSRF
	_, err = e.store.Lookup(context.Background(), memory.Email("ada@example.com"))
	require.ErrorIs(t, err, memory.ErrNotFound)
}

func TestHandlerRefusesBadInput(t *testing.T) {
	e := newEnv(t, plugin.Options{MaxBody: 1024})
	b := e.browser()
	problem := func(path, body string, status int, code string) {
		t.Helper()
		var p struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
			Detail string `json:"detail"`
			Change uint64 `json:"change"`
		}
		b.post(path, body, &p, status)
		require.Equal(t, status, p.Status)
		require.Equal(t, code, p.Code, p.Detail)
		require.NotEmpty(t, p.Detail)
	}
	problem("sync", `{"changes":[{"seq":1,"kind":"fact.remembered","fact":{"key":"k","value":"`+strings.Repeat("x", 2000)+`"}}]}`, 413, "too_large")
	problem("sync", `{"changes":[{"seq":1,"kind":"signal.recorded"}]}`, 422, "invalid")
	problem("sync", `{"changes":[{"seq":1,"kind":"contact.recorded","contact":{"channel":"phone","outcome":"neutral"}}]}`, 422, "invalid")
	problem("sync", `{"changes":[{"seq":1,"kind":"identifier.linked","identifier":{"kind":"account","value":"admin"}}]}`, 422, "invalid")
	problem("sync", `{"changes":[{"seq":1,"kind":"fact.remembered","fact":{"key":"Bad Key","value":"x","purpose":"service"}}]}`, 422, "invalid")
	problem("sync", `{"changes":[`, 400, "bad_json")
	problem("sync", `{"changes":"x"}`, 400, "bad_json")
	problem("sync", strings.Repeat("[", 40), 400, "bad_json")
	problem("identify", `{"token":"v1.forged.token.1.2.3"}`, 403, "identity")

	// Without the CSRF token, or from another site: refused.
	csrf := b.csrf
	b.csrf = ""
	problem("sync", `{"changes":[]}`, 403, "csrf")
	b.csrf = "wrong"
	problem("sync", `{"changes":[]}`, 403, "csrf")
	b.csrf = csrf
	req, _ := http.NewRequest("POST", e.srv.URL+"/sync", strings.NewReader(`{"changes":[]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Herken-CSRF", csrf)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	resp := b.do(req, nil, http.StatusForbidden)
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "CORS stays closed")

	// Nothing of the refused requests was kept.
	var res syncAnswer
	b.post("sync", `{"changes":[]}`, &res, http.StatusOK)
	require.Zero(t, res.Applied)
	require.Empty(t, res.Snapshot.Facts)
}

func TestHandlerRateLimitsADevice(t *testing.T) {
	e := newEnv(t, plugin.Options{Rate: 1, Burst: 3})
	b := e.browser() // counted for its address: it had no device yet
	for range 3 {
		b.post("sync", `{"changes":[]}`, nil, http.StatusOK)
	}
	resp := b.post("sync", `{"changes":[]}`, nil, http.StatusTooManyRequests)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	// Another device is not slowed by this one.
	e.browser().post("sync", `{"changes":[]}`, nil, http.StatusOK)
}

func TestIdentityTokens(t *testing.T) {
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	e := newEnv(t, plugin.Options{Now: clock})
	ctx := context.Background()
	account := memory.Account("cust-42").AsVerified()
	owner, err := e.store.Recognize(ctx, account)
	require.NoError(t, err)
	require.NoError(t, e.store.Remember(ctx, owner.Customer, memory.Fact{Key: "shipping.street", Value: "Keizersgracht 1"}))

	b := e.browser()
	device := cookie(t, b)
	token := plugin.SignIdentity(secret, memory.Account("cust-42"), device, now.Add(5*time.Minute))
	var res syncAnswer
	b.post("identify", `{"token":"`+token+`"}`, &res, http.StatusOK)
	require.Equal(t, "Keizersgracht 1", res.Snapshot.Facts[0].Value, "the device now is the customer")
	b.post("identify", `{"token":"`+token+`"}`, nil, http.StatusForbidden) // replayed

	other := e.browser()
	other.post("identify", `{"token":"`+token+`"}`, nil, http.StatusForbidden) // another device
	other.post("identify", `{"token":"`+plugin.SignIdentity(secret, memory.Account("cust-42"), cookie(t, other), now.Add(-time.Second))+`"}`, nil, http.StatusForbidden)
	other.post("identify", `{"token":"`+plugin.SignIdentity([]byte("another secret of thirty-two bytes!!"), memory.Account("cust-42"), cookie(t, other), now.Add(time.Minute))+`"}`, nil, http.StatusForbidden)
	other.post("identify", `{"token":"`+plugin.SignIdentity(secret, memory.Account("cust-42"), cookie(t, other), now.Add(time.Hour))+`"}`, nil, http.StatusForbidden)
	var snap syncAnswer
	other.post("sync", `{"changes":[]}`, &snap, http.StatusOK)
	require.Empty(t, snap.Snapshot.Facts, "refused tokens show nothing")
}

func cookie(t *testing.T, b *browser) string {
	u := b.e.srv.URL
	req, _ := http.NewRequest("GET", u, nil)
	for _, c := range b.c.Jar.Cookies(req.URL) {
		if c.Name == "herken_device" {
			return c.Value
		}
	}
	t.Fatal("no device cookie")
	return ""
}

func TestAssets(t *testing.T) {
	e := newEnv(t, plugin.Options{})
	get := func(path, enc string) *http.Response {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		return resp
	}
	r := get("/herken.wasm?v=1", "gzip, br")
	require.Equal(t, "application/wasm", r.Header.Get("Content-Type"))
	require.Equal(t, "br", r.Header.Get("Content-Encoding"))
	require.Contains(t, r.Header.Get("Cache-Control"), "immutable")
	r = get("/herken.wasm", "gzip")
	require.Equal(t, "gzip", r.Header.Get("Content-Encoding"))
	r = get("/herken.wasm", "")
	body, _ := io.ReadAll(r.Body)
	require.True(t, bytes.Equal(plugin.Module, body))
	r = get("/herken.js", "")
	require.Equal(t, "text/javascript; charset=utf-8", r.Header.Get("Content-Type"))
	js, _ := io.ReadAll(r.Body)
	require.NotContains(t, string(js), "eval(")
	r = get("/herken-worker.js", "")
	w, _ := io.ReadAll(r.Body)
	require.NotContains(t, string(w), "__HERKEN_WASM_VERSION__")
	etag := r.Header.Get("ETag")
	req, _ := http.NewRequest("GET", e.srv.URL+"/herken-worker.js", nil)
	req.Header.Set("If-None-Match", etag)
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotModified, r.StatusCode)
	gz := get("/herken.js", "gzip")
	n, _ := io.Copy(io.Discard, gz.Body)
	t.Logf("herken.js: %d bytes, %d gzip", len(js), n)
	require.Less(t, n, int64(10<<10), "the script stays under 10 KB gzip")
}

func TestCORSOpensForNamedOriginsOnly(t *testing.T) {
	e := newEnv(t, plugin.Options{AllowedOrigins: []string{"https://shop.example"}})
	for origin, want := range map[string]string{"https://shop.example": "https://shop.example", "https://evil.example": ""} {
		req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/sync", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		require.Equal(t, want, resp.Header.Get("Access-Control-Allow-Origin"))
		require.NotEqual(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
	}
	// Every method of the API is allowed to a named origin: DELETE ends a
	// draft.
	req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/drafts/cart", nil)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "DELETE")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "DELETE")
}
